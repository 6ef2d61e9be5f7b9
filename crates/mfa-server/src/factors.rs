//! Checking the factors a `POST /v1/auth` carries: the password (argon2id, with the password
//! policy's ages), a TOTP code, a recovery code. Each check that must happen once (a TOTP
//! step, a recovery code, a password change) is one conditional statement in the store.

use mfa_core::Alias;
use mfa_core::policy::PasswordState;
use mfa_secrets::{PasswordHash, TokenHash};
use mfa_store::App;

use crate::{ApiError, AppState};

/// Why a factor was refused, and what that means for the caller.
pub struct Refusal {
    /// The factor refused, as the audit log names it.
    pub method: &'static str,
    pub reason: String,
    /// Counts against the user's and address's lockouts (a wrong secret, not a policy matter).
    pub failure: bool,
    /// The password was right but has expired: send it again with `new_password`.
    pub change_password: bool,
}

impl Refusal {
    pub fn wrong(method: &'static str, reason: &str) -> Self {
        Self {
            method,
            reason: reason.to_owned(),
            failure: true,
            change_password: false,
        }
    }

    fn policy(reason: String) -> Self {
        Self {
            method: "password",
            reason,
            failure: false,
            change_password: false,
        }
    }
}

pub struct PasswordOk {
    pub client: Alias,
    pub warning: Option<String>,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Argon2 takes tens of milliseconds of CPU: off the async executor.
async fn verify(hash: PasswordHash, password: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || hash.verify(&password))
        .await
        .map_err(internal)
}

async fn hash(password: String) -> Result<PasswordHash, ApiError> {
    tokio::task::spawn_blocking(move || PasswordHash::new(&password))
        .await
        .map_err(internal)?
        .map_err(internal)
}

/// Checks `password` against the route's clients' passwords, then the password policy; with
/// `new_password`, changes it (when the policy lets the person).
pub async fn check_password(
    state: &AppState,
    route: &App,
    password: &str,
    new_password: Option<&str>,
) -> Result<Result<PasswordOk, Refusal>, ApiError> {
    let policy = state.config.password.policy();
    let now = state.clock.now();
    for client in &route.clients {
        let Some(stored) = state.store.client_password(client).await? else {
            continue;
        };
        if !verify(stored.hash.clone(), password.to_owned()).await? {
            continue;
        }
        let age = policy.state(stored.changed_at, now);
        if let PasswordState::Inactive { expired_at } = age {
            return Ok(Err(Refusal::policy(mfa_core::policy::inactive_message(
                expired_at,
            ))));
        }
        let Some(new) = new_password else {
            if let PasswordState::Expired {
                expired_at,
                usable_until,
            } = age
            {
                return Ok(Err(Refusal {
                    method: "password",
                    reason: format!(
                        "the password expired on {expired_at}: send it again with new_password to change it (possible until {usable_until})"
                    ),
                    failure: false,
                    change_password: true,
                }));
            }
            return Ok(Ok(PasswordOk {
                client: client.clone(),
                warning: age.warning(now),
            }));
        };
        if let Err(why) = policy.may_change(stored.changed_at, now) {
            return Ok(Err(Refusal::policy(why)));
        }
        if let Err(why) = policy.check_new(new) {
            return Ok(Err(Refusal::policy(format!("new_password: {why}"))));
        }
        if new == password {
            return Ok(Err(Refusal::policy(
                "new_password: the new password must differ from the old one".into(),
            )));
        }
        let new_hash = hash(new.to_owned()).await?;
        if !state
            .store
            .change_client_password(client, &stored.hash, &new_hash, now)
            .await?
        {
            return Ok(Err(Refusal::policy(
                "the password was changed meanwhile: try again with the new one".into(),
            )));
        }
        tracing::info!(%client, "password changed");
        return Ok(Ok(PasswordOk {
            client: client.clone(),
            warning: None,
        }));
    }
    Ok(Err(Refusal::wrong("password", "wrong password")))
}

/// A code from any of the route's clients counts; the matched step is burned atomically, so a
/// code works once even when it is submitted many times at once.
pub async fn check_totp(
    state: &AppState,
    route: &App,
    code: &str,
) -> Result<Option<Alias>, ApiError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let now = state.clock.now().unix_secs();
    for client in &route.clients {
        let (totp, last) = state.store.client_totp(client).await?;
        let Some(step) = totp.verify(&code, now, state.config.totp.skew, last) else {
            continue;
        };
        if state.store.accept_totp_step(client, step).await? {
            return Ok(Some(client.clone()));
        }
    }
    Ok(None)
}

/// Uses up a recovery code of any of the route's clients (one DELETE: once, however many
/// race); returns the client and how many codes it has left.
pub async fn check_recovery(
    state: &AppState,
    route: &App,
    code: &TokenHash,
) -> Result<Option<(Alias, i64)>, ApiError> {
    for client in &route.clients {
        if state.store.use_recovery_code(client, code).await? {
            let left = state.store.recovery_codes_left(client).await?;
            return Ok(Some((client.clone(), left)));
        }
    }
    Ok(None)
}
