//! mfa persistence: one SQL code path over SQLite (the embedded default) and PostgreSQL.
//!
//! Queries go through sqlx's `Any` driver with portable SQL (`$1` placeholders, `RETURNING`,
//! `ON CONFLICT`), so both backends run the very same statements; only the DDL differs, in
//! `migrations/sqlite` and `migrations/postgres`. Secrets are sealed here, on the way in, so no
//! caller can store a seed in the clear by mistake. Every decision that must happen once (a
//! TOTP step, a push approval, an expiry) is one conditional UPDATE.

mod admins;
mod apps;
mod audit;
mod backup;
mod clients;
mod counts;
mod credentials;
mod duo;
mod enrol;
mod error;
mod events;
mod groups;
mod lock;
mod lockouts;
mod open;
mod otp;
mod params;
mod passkeys;
mod policy;
mod purge;
mod record;
mod requests;
mod revocation;
mod rotate;
mod rows;
mod rules;
mod servers;
mod sessions;
mod tokens;
mod vault;
mod writer;

pub use admins::{Admin, AdminCredentials, AdminSession};
pub use apps::{App, NewApp};
pub use audit::{AuditEntry, AuditFilter};
pub use clients::{Client, NewClient, Notify};
pub use credentials::StoredPassword;
pub use duo::{DuoAnswer, DuoIntegration, DuoLogin, NewDuoIntegration, is_duo_ikey};
pub use enrol::{
    CLIENT_KEY_PREFIX, Confirmation, ENROL_TOKEN_PREFIX, EnrolLink, LinkClosed, MAX_ENROL_ATTEMPTS,
    NewEnrolLink,
};
pub use error::StoreError;
pub use events::{EVENTS_CHANNEL, EventListener};
pub use groups::{Group, HostGroup, User};
pub use lockouts::{Attempt, LockKind, LockSubject, Lockout, LockoutChange, LockoutRule};
pub use mfa_core::PushState;
pub use open::{Backend, Store};
pub use otp::{
    CodeCheck, NewOneTimeCode, NewOtpCredential, OtpCredential, OtpMatch, OtpVerdict, Throttle,
};
pub use params::{
    MAX_TEXT_CHARS, NON_BLANK_TEXT_REGEX, TEXT_REGEX, TOTP_PERIODS, VaultSeedInput, check_period,
    check_text, parse_algorithm, parse_digits, parse_vault_seed,
};
pub use passkeys::{Ceremony, NewPasskey, PASSKEY_TOKEN_PREFIX, PasskeyLink, StoredPasskey};
pub use policy::PolicyInputs;
pub use purge::{KEEP_DECIDED_SECS, Purged, Retention};
pub use record::{Recorded, Verdict};
pub use requests::{ApproveLink, AuthRequest, Remember};
pub use revocation::REVOKED_EVENT;
pub use rotate::{KeyRotation, Resealed, RotatePoint, new_key_path, old_key_path};
pub use rules::{NewRule, PolicyRule, RuleHost, describe_match};
pub use servers::Server;
pub use sessions::{NewSession, Session};
pub use tokens::{ApiToken, NewApiToken};
pub use vault::VaultApp;
