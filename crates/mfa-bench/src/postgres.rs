//! A schema of its own on the PostgreSQL server, `mfa_bench_<pid>`, made before and dropped
//! after (mfad is pointed at it through `search_path` in the URL), with `psql`.

use std::process::Command;

use anyhow::{Context as _, bail};

pub struct Schema {
    server: String,
    name: String,
}

fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let out = Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .env("PGCONNECT_TIMEOUT", "5")
        .env("PGOPTIONS", "-c client_min_messages=warning")
        .output()
        .context("cannot run psql (Debian: postgresql-client)")?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

impl Schema {
    /// Creates the schema, or says why PostgreSQL cannot be used.
    pub fn create(server: &str) -> anyhow::Result<Self> {
        let name = format!("mfa_bench_{}", std::process::id());
        psql(
            server,
            &format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"),
        )
        .with_context(|| format!("PostgreSQL at {server} does not answer"))?;
        Ok(Self {
            server: server.to_owned(),
            name,
        })
    }

    /// The server's URL with `search_path` set to the schema.
    pub fn url(&self) -> String {
        let join = if self.server.contains('?') { '&' } else { '?' };
        format!(
            "{}{join}options=-c%20search_path%3D{}",
            self.server, self.name
        )
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Err(e) = psql(
            &self.server,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        ) {
            eprintln!("mfa-bench: could not drop schema {}: {e:#}", self.name);
        }
    }
}
