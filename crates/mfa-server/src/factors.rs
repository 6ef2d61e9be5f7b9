//! The I/O of checking the factors a `POST /v1/auth` carries: the password (argon2id), a TOTP
//! code, a recovery code. Each check that must happen once (a TOTP step, a recovery code, a
//! password change) is one conditional statement in the store.

use mfa_core::Alias;
use mfa_secrets::{PasswordHash, TokenHash};
use mfa_store::{App, StoredPassword};

use crate::{ApiError, AppState};

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

/// The routed client whose password `password` is (argon2id, one client after another), with
/// its stored hash; the password policy's judgement is the login's (`mfa_core::login`).
pub async fn find_password(
    state: &AppState,
    route: &App,
    password: &str,
) -> Result<Option<(Alias, StoredPassword)>, ApiError> {
    for client in &route.clients {
        let Some(stored) = state.store.client_password(client).await? else {
            continue;
        };
        if verify(stored.hash.clone(), password.to_owned()).await? {
            return Ok(Some((client.clone(), stored)));
        }
    }
    Ok(None)
}

/// Replaces `client`'s password `old` by `new`, in one conditional statement: false when
/// another change came first.
pub async fn change_password(
    state: &AppState,
    client: &Alias,
    old: &PasswordHash,
    new: &str,
) -> Result<bool, ApiError> {
    let new_hash = hash(new.to_owned()).await?;
    let changed = state
        .store
        .change_client_password(client, old, &new_hash, state.clock.now())
        .await?;
    if changed {
        tracing::info!(%client, "password changed");
    }
    Ok(changed)
}

/// A code from any of the route's clients counts; the matched step is burned atomically, so a
/// code works once even when it is submitted many times at once. Eight digits may also be a
/// scratch code imported from pam_google_authenticator (`mfac import google-authenticator`),
/// kept with the recovery codes and used up the same way: then the codes left come back too.
pub async fn check_totp(
    state: &AppState,
    route: &App,
    code: &str,
) -> Result<Option<(Alias, Option<i64>)>, ApiError> {
    if let Some(scratch) = mfa_secrets::scratch_hash(code)
        && let Some((client, left)) = check_recovery(state, route, &scratch).await?
    {
        tracing::info!(%client, left, "scratch code used");
        return Ok(Some((client, Some(left))));
    }
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let now = state.clock.now().unix_secs();
    for client in &route.clients {
        let Some((totp, last)) = state.store.client_totp(client).await? else {
            continue; // waiting for its enrolment link's code
        };
        let Some(step) = totp.verify(&code, now, state.config.totp.skew, last) else {
            continue;
        };
        if state.store.accept_totp_step(client, step).await? {
            return Ok(Some((client.clone(), None)));
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
