//! mfa-store
