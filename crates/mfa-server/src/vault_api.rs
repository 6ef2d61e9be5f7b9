//! The shared TOTP vault (`/v1/vault/apps`): `vault:write` adds and removes seeds, `vault:read`
//! lists apps and fetches current codes. A token limited to some apps (`mfac token add --apps`)
//! sees and touches only those. Seeds never leave the server; every code fetch is audited.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mfa_core::Scope;
use mfa_store::{ApiToken, AuditEntry, VaultApp, VaultSeedInput};
use mfa_wire::{NewVaultApp, VaultCode};

use crate::extract::{ApiJson, ApiPath, AuthToken, PeerIp};
use crate::otp_api::text;
use crate::{ApiError, AppState};

fn view(a: &VaultApp) -> mfa_wire::VaultApp {
    mfa_wire::VaultApp {
        id: a.id,
        name: a.name.clone(),
        attribute: a.attribute.clone(),
        algorithm: a.totp.algorithm.to_string(),
        digits: a.totp.digits.get(),
        period: a.totp.period,
        created_at: a.created_at.to_string(),
    }
}

/// The app id in the path: a number, and one the token may use.
fn app_id(token: &ApiToken, raw: &str) -> Result<i64, ApiError> {
    let id: i64 = raw
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("vault app id must be a number, got {raw:?}")))?;
    if token.may_use_vault_app(id) {
        Ok(id)
    } else {
        Err(ApiError::Forbidden(format!(
            "API token {} may not use vault app {id}",
            token.name
        )))
    }
}

/// `POST /v1/vault/apps` (`vault:write`).
pub async fn add(
    State(state): State<AppState>,
    token: AuthToken,
    body: Result<ApiJson<NewVaultApp>, ApiError>,
) -> Result<(StatusCode, Json<mfa_wire::VaultApp>), ApiError> {
    token.require(Scope::VaultWrite)?;
    let ApiJson(body) = body?;
    let name = text("name", Some(body.name.as_str()))?
        .ok_or_else(|| ApiError::BadRequest("name must not be empty".into()))?;
    let attribute = text("attribute", body.attribute.as_deref())?;
    let (secret, params) = mfa_store::parse_vault_seed(VaultSeedInput {
        secret: body.secret.as_deref(),
        uri: body.uri.as_deref(),
        algorithm: body.algorithm.as_deref(),
        digits: body.digits,
        period: body.period,
    })
    .map_err(ApiError::BadRequest)?;
    let app = state
        .store
        .add_vault_app(
            &name,
            attribute.as_deref(),
            &secret,
            params,
            state.clock.now(),
        )
        .await?;
    tracing::info!(id = app.id, name = %app.name, token = %token.0.name, "vault app added");
    Ok((StatusCode::CREATED, Json(view(&app))))
}

/// `GET /v1/vault/apps` (`vault:read`): the apps this token may use, never their seeds.
pub async fn list(
    State(state): State<AppState>,
    token: AuthToken,
) -> Result<Json<Vec<mfa_wire::VaultApp>>, ApiError> {
    let token = token.require(Scope::VaultRead)?;
    let apps = state.store.vault_apps().await?;
    Ok(Json(
        apps.iter()
            .filter(|a| token.may_use_vault_app(a.id))
            .map(view)
            .collect(),
    ))
}

/// `GET /v1/vault/apps/{id}` (`vault:read`).
pub async fn show(
    State(state): State<AppState>,
    token: AuthToken,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<mfa_wire::VaultApp>, ApiError> {
    let id = app_id(token.require(Scope::VaultRead)?, &raw)?;
    Ok(Json(view(&state.store.vault_app(id).await?)))
}

/// `GET /v1/vault/apps/{id}/code` (`vault:read`): the current code and how long it stays valid.
/// Audited before it is handed out: user = the token's name, method `vault`, result `code`.
pub async fn code(
    State(state): State<AppState>,
    token: AuthToken,
    PeerIp(peer): PeerIp,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<VaultCode>, ApiError> {
    let token = token.require(Scope::VaultRead)?;
    let id = app_id(token, &raw)?;
    let (app, totp) = state.store.vault_totp(id).await?;
    let now = state.clock.now();
    state
        .store
        .audit(
            &AuditEntry {
                user: token.name.to_string(),
                client_ip: Some(peer.to_string()),
                method: Some("vault".into()),
                result: "code".into(),
                reason: Some(format!("vault app {} ({})", app.id, app.name)),
                ..AuditEntry::default()
            },
            now,
        )
        .await?;
    let unix = now.unix_secs();
    Ok(Json(VaultCode {
        id: app.id,
        name: app.name,
        code: totp.code_at(unix),
        valid_for_seconds: totp.remaining(unix),
    }))
}

/// `DELETE /v1/vault/apps/{id}` (`vault:write`).
pub async fn remove(
    State(state): State<AppState>,
    token: AuthToken,
    ApiPath(raw): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = app_id(token.require(Scope::VaultWrite)?, &raw)?;
    state.store.remove_vault_app(id).await?;
    tracing::info!(id, token = %token.0.name, "vault app removed");
    Ok(StatusCode::NO_CONTENT)
}
