//! Argument parsing every command shares. Like `output` and `context`, it imports no command
//! module: commands depend on it, never the other way round.

use mfa_core::Alias;

/// A client alias, login user or group name, as the store takes it.
pub fn parse_alias(s: &str) -> anyhow::Result<Alias> {
    Ok(Alias::new(s)?)
}
