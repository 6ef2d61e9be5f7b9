//! The mfa domain model, free of I/O: names, methods, host/service patterns, routing and time.
//!
//! Everything here is a pure function of its inputs so it tests without a server or a database.

mod alias;
mod clock;
mod error;
pub mod login;
mod method;
mod network;
mod pattern;
pub mod policy;
pub mod push;
mod routing;
mod scope;
mod template;

pub use alias::Alias;
pub use clock::{Clock, FixedClock, SystemClock, Timestamp};
pub use error::DomainError;
pub use method::{Method, Methods};
pub use network::{client_addr, in_networks, lockout_subject, parse_client_ip};
pub use pattern::Pattern;
pub use push::PushState;
pub use routing::{Route, best_route};
pub use scope::{Scope, Scopes};
pub use template::render_template;
