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
use crate::fields::text;
use crate::openapi::doc::*;
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
#[utoipa::path(
    post,
    path = "/v1/vault/apps",
    tag = "vault",
    operation_id = "add_vault_app",
    summary = "Add a seed to the vault",
    description = "As base32 (`secret`, with optional `algorithm`, `digits`, `period`) or as a whole\n\
        `otpauth://totp/...` URI (`uri`, which carries its own parameters). Sealed at rest; it\n\
        never leaves the server again.",
    security(("api_token" = ["vault:write"])),
    request_body = mfa_wire::NewVaultApp,
    responses(
        (status = 201, description = "The new app (never its seed).", body = mfa_wire::VaultApp),
        (status = 400, description = "`bad_request`: as for every JSON body, or an empty `name`, bad base32, \
            neither or both of `secret` and `uri`, a malformed or `hotp` URI, parameters given with `uri`, \
            an unknown `algorithm`, `digits` or `period` out of range. A seed never appears in the message.",
            body = ErrorBody),
        (status = 401, description = NO_API_TOKEN, body = ErrorBody),
        (status = 403, description = "`forbidden`: the token lacks the `vault:write` scope (checked before the body is read).",
            body = ErrorBody),
        (status = 413, description = TOO_LARGE, body = ErrorBody),
        (status = 415, description = NOT_JSON, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
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
#[utoipa::path(
    get,
    path = "/v1/vault/apps",
    tag = "vault",
    operation_id = "list_vault_apps",
    summary = "The vault's apps",
    description = "Those this token may use (all, or its `--apps`); never a seed.",
    security(("api_token" = ["vault:read"])),
    responses(
        (status = 200, description = "The apps (maybe none).", body = Vec<mfa_wire::VaultApp>),
        (status = 401, description = NO_API_TOKEN, body = ErrorBody),
        (status = 403, description = "`forbidden`: the token lacks the `vault:read` scope.", body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
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
#[utoipa::path(
    get,
    path = "/v1/vault/apps/{id}",
    tag = "vault",
    operation_id = "get_vault_app",
    summary = "One vault app",
    security(("api_token" = ["vault:read"])),
    params(("id" = i64, Path, description = "The app's id.")),
    responses(
        (status = 200, description = "The app (never its seed).", body = mfa_wire::VaultApp),
        (status = 400, description = VAULT_ID, body = ErrorBody),
        (status = 401, description = NO_API_TOKEN, body = ErrorBody),
        (status = 403, description = "`forbidden`: the token lacks the `vault:read` scope, or may not use this app (`--apps`).",
            body = ErrorBody),
        (status = 404, description = VAULT_NOT_FOUND, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
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
#[utoipa::path(
    get,
    path = "/v1/vault/apps/{id}/code",
    tag = "vault",
    operation_id = "get_vault_code",
    summary = "A vault app's current code",
    description = "Audited before it is handed out: user = the token's name, method `vault`, result\n\
        `code`, the caller's address.",
    security(("api_token" = ["vault:read"])),
    params(("id" = i64, Path, description = "The app's id.")),
    responses(
        (status = 200, description = "The code and how long it stays valid.", body = mfa_wire::VaultCode),
        (status = 400, description = VAULT_ID, body = ErrorBody),
        (status = 401, description = NO_API_TOKEN, body = ErrorBody),
        (status = 403, description = "`forbidden`: the token lacks the `vault:read` scope, or may not use this app (`--apps`).",
            body = ErrorBody),
        (status = 404, description = VAULT_NOT_FOUND, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
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
#[utoipa::path(
    delete,
    path = "/v1/vault/apps/{id}",
    tag = "vault",
    operation_id = "remove_vault_app",
    summary = "Remove a vault app",
    security(("api_token" = ["vault:write"])),
    params(("id" = i64, Path, description = "The app's id.")),
    responses(
        (status = 204, description = "Removed (with its seed)."),
        (status = 400, description = VAULT_ID, body = ErrorBody),
        (status = 401, description = NO_API_TOKEN, body = ErrorBody),
        (status = 403, description = "`forbidden`: the token lacks the `vault:write` scope, or may not use this app (`--apps`).",
            body = ErrorBody),
        (status = 404, description = VAULT_NOT_FOUND, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
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
