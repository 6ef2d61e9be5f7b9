//! mfa-core
