use thiserror::Error;

/// Input that does not fit the domain model. Messages are one line and say what to do.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error(
        "invalid alias {0:?}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    )]
    Alias(String),
    #[error("unknown method {0:?}: expected one of push, totp, password, passkey")]
    Method(String),
    #[error("no methods given: expected one or more of push, totp, password, passkey")]
    NoMethods,
    #[error(
        "invalid requirement {0:?}: expected none, any, or the factors that must all be given, e.g. totp or password,totp"
    )]
    Requirement(String),
    #[error(
        "invalid pattern {0:?}: use an exact name, '*' for any, or '*.example.org' for a domain's hosts"
    )]
    Pattern(String),
    #[error("unknown scope {0:?}: expected one or more of otp, vault:read, vault:write")]
    Scope(String),
    #[error("no scopes given: expected one or more of otp, vault:read, vault:write")]
    NoScopes,
}
