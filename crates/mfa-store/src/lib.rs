//! mfa persistence: one SQL code path over SQLite (the embedded default) and PostgreSQL.
//!
//! Queries go through sqlx's `Any` driver with portable SQL (`$1` placeholders, `RETURNING`,
//! `ON CONFLICT`), so both backends run the very same statements; only the DDL differs, in
//! `migrations/sqlite` and `migrations/postgres`. Secrets are sealed here, on the way in, so no
//! caller can store a seed in the clear by mistake.

mod apps;
mod clients;
mod error;
mod open;

pub use apps::{App, NewApp};
pub use clients::{Client, NewClient};
pub use error::StoreError;
pub use open::{Backend, Store};
