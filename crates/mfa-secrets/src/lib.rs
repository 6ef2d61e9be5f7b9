//! mfa-secrets
