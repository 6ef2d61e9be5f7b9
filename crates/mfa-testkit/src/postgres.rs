//! A PostgreSQL schema of its own for a test that runs the binaries, on the server
//! `MFA_TEST_POSTGRES_URL` names; dropped on drop (scripts/test.sh drops `mfa_test_*` schemas a
//! crashed run leaves).

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs one statement with psql and insists it succeeds.
pub fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .env("PGOPTIONS", "-c client_min_messages=warning")
        .output()
        .expect("run psql (Debian: postgresql-client)");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs one query with psql; its unaligned output.
pub fn psql_value(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-qtA", url, "-c", sql])
        .output()
        .expect("run psql (Debian: postgresql-client)");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub struct PgSchema {
    /// The server's URL, as `MFA_TEST_POSTGRES_URL` gives it.
    pub server: String,
    pub name: String,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl PgSchema {
    /// A new schema `mfa_test_<purpose>_...`, or `None` (saying SKIPPED) when
    /// `MFA_TEST_POSTGRES_URL` is not set.
    pub fn from_env(purpose: &str) -> Option<Self> {
        match std::env::var("MFA_TEST_POSTGRES_URL") {
            Ok(server) if !server.is_empty() => Some(Self::create(&server, purpose)),
            _ => {
                eprintln!(
                    "SKIPPED PostgreSQL: MFA_TEST_POSTGRES_URL is not set (scripts/test.sh sets \
                     it when PostgreSQL answers on 127.0.0.1:5432)"
                );
                None
            }
        }
    }

    pub fn create(server: &str, purpose: &str) -> Self {
        let name = format!(
            "mfa_test_{purpose}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        psql(server, &format!("CREATE SCHEMA {name}"));
        Self {
            server: server.to_owned(),
            name,
        }
    }

    /// A database URL whose connections use this schema.
    pub fn url(&self) -> String {
        let join = if self.server.contains('?') { '&' } else { '?' };
        format!(
            "{}{join}options=-c%20search_path%3D{}",
            self.server, self.name
        )
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        psql(
            &self.server,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}
