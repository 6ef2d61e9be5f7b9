//! mfa-config
