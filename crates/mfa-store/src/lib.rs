//! mfa persistence: one SQL code path over SQLite (the embedded default) and PostgreSQL.
//!
//! Queries go through sqlx's `Any` driver with portable SQL (`$1` placeholders, `RETURNING`,
//! `ON CONFLICT`), so both backends run the very same statements; only the DDL differs, in
//! `migrations/sqlite` and `migrations/postgres`. Secrets are sealed here, on the way in, so no
//! caller can store a seed in the clear by mistake. Every decision that must happen once (a
//! TOTP step, a push approval, an expiry) is one conditional UPDATE.

mod apps;
mod audit;
mod clients;
mod error;
mod events;
mod lockouts;
mod open;
mod requests;
mod servers;

pub use apps::{App, NewApp};
pub use audit::{AuditEntry, AuditFilter};
pub use clients::{Client, NewClient, Notify};
pub use error::StoreError;
pub use events::{EVENTS_CHANNEL, EventListener};
pub use lockouts::{FRAUD_REASON, LockKind, Lockout, LockoutRule};
pub use open::{Backend, Store};
pub use requests::{ApproveLink, AuthRequest, RequestState};
pub use servers::Server;
