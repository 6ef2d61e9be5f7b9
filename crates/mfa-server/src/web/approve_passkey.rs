//! Approving a push with a passkey (issue 15): a client that has registered passkeys approves
//! on the web page with one of them (user verification required) **as well as** the number; its
//! plain form's Approve is refused (Deny and "this was not me" need no passkey). The page's
//! script asks `POST /approve/{token}/passkey/options` for a challenge over the client's
//! passkeys and sends the browser's assertion to `POST /approve/{token}/passkey`, which checks
//! it with webauthn-rs, records the passkey's new signature counter and decides the push
//! (decided by `passkey:<client>`). The challenge is bound to the push and answered once.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use data_encoding::BASE64URL_NOPAD;
use mfa_core::Alias;
use mfa_store::{AuthRequest, StoredPasskey};
use mfa_wire::{ClientDecision, Decision, DecisionResult};
use serde::Deserialize;
use serde_json::Value;
use webauthn_rs::prelude::{Passkey, PasskeyAuthentication, PublicKeyCredential};

use crate::client_api::request_for_token;
use crate::extract::{ApiJson, ApiPath, PeerIp};
use crate::openapi::doc::*;
use crate::push::{self, Channel};
use crate::{ApiError, AppState};

use super::passkey::{PasskeyOptions, begin_ceremony, end_ceremony, same_site, to_json, webauthn};

/// A challenge waits this long: about as long as a push.
const CEREMONY_SECS: i64 = 120;

/// The client's passkeys, parsed, with their stored form.
pub(crate) async fn client_passkeys(
    state: &AppState,
    client: &Alias,
) -> Result<Vec<(StoredPasskey, Passkey)>, ApiError> {
    let stored = state.store.passkeys(client).await?;
    stored
        .into_iter()
        .map(|s| {
            let key: Passkey = serde_json::from_str(&s.passkey)
                .map_err(|e| ApiError::Internal(format!("stored passkey: {e}")))?;
            Ok((s, key))
        })
        .collect()
}

/// The push a link's token belongs to, while it can be answered.
async fn open_push(
    state: &AppState,
    peer: std::net::IpAddr,
    token: &str,
) -> Result<(AuthRequest, Alias), ApiError> {
    let (request, client) = request_for_token(state, peer, token).await?;
    if !request.is_open(state.clock.now()) {
        return Err(ApiError::Gone(
            "this login was decided or has expired".into(),
        ));
    }
    Ok((request, client))
}

fn purpose(request: &AuthRequest) -> String {
    format!("approve:{}", request.txid)
}

/// `POST /approve/{token}/passkey/options`.
#[utoipa::path(
    post,
    path = "/approve/{token}/passkey/options",
    tag = "approve",
    operation_id = "approve_passkey_options",
    summary = "A passkey challenge for approving a push",
    description = "For a client with passkeys: a WebAuthn challenge over them (user verification\n\
        required), bound to this push, valid for 2 minutes and answered once. Sent by the\n\
        approve page's script (same origin).",
    params(("token" = String, Path, description = "The single-use approve token of the link.")),
    responses(
        (status = 200, description = "The challenge.", body = PasskeyOptions),
        (status = 400, description = "`bad_request`: the client has no passkey, or passkeys are not available (`host_addr` names no DNS host).", body = ErrorBody),
        (status = 403, description = "Sent from another site (`Origin`, `Sec-Fetch-Site`).", body = ErrorBody),
        (status = 404, description = "Unknown link; counts as a failure of the caller's address.", body = ErrorBody),
        (status = 410, description = "The push was decided or has expired.", body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
pub async fn options(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    ApiPath(token): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Json<PasskeyOptions>, ApiError> {
    same_site(&state, &headers)?;
    let (request, client) = open_push(&state, peer, &token).await?;
    let webauthn = webauthn(&state)?;
    let keys: Vec<Passkey> = client_passkeys(&state, &client)
        .await?
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    if keys.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "client {client} has no passkey"
        )));
    }
    let (rcr, authentication) = webauthn
        .start_passkey_authentication(&keys)
        .map_err(|e| ApiError::Internal(format!("WebAuthn authentication: {e}")))?;
    let started = (&client, purpose(&request), CEREMONY_SECS);
    Ok(Json(
        begin_ceremony(&state, started, &authentication, &rcr).await?,
    ))
}

/// What the approve page's script sends.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyApproval {
    /// From `POST /approve/{token}/passkey/options`.
    pub ceremony: String,
    /// The number shown at the login prompt (when the push has number matching).
    #[serde(default)]
    pub number: Option<u8>,
    /// The `PublicKeyCredential` assertion the browser made, binary fields base64url.
    #[schema(value_type = Object)]
    pub credential: Value,
}

/// `POST /approve/{token}/passkey`.
#[utoipa::path(
    post,
    path = "/approve/{token}/passkey",
    tag = "approve",
    operation_id = "approve_with_passkey",
    summary = "Approve a push with a passkey",
    description = "Checks the assertion against the ceremony's challenge (once; user verification\n\
        required), records the passkey's signature counter, and approves the push with the\n\
        number, as `POST /v1/client/requests/{txid}` would (a wrong number denies).",
    params(("token" = String, Path, description = "The single-use approve token of the link.")),
    request_body = PasskeyApproval,
    responses(
        (status = 200, description = "Decided (or decided before): the push's state.", body = DecisionResult),
        (status = 400, description = "`bad_request`: an unknown or spent ceremony, an assertion that does not check out, a missing number; or the body is not what the schema says.", body = ErrorBody),
        (status = 403, description = "Sent from another site (`Origin`, `Sec-Fetch-Site`).", body = ErrorBody),
        (status = 404, description = "Unknown link; counts as a failure of the caller's address.", body = ErrorBody),
        (status = 410, description = "The push was decided or has expired.", body = ErrorBody),
        (status = 413, description = TOO_LARGE, body = ErrorBody),
        (status = 415, description = NOT_JSON, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
pub async fn approve(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    ApiPath(token): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(answer): ApiJson<PasskeyApproval>,
) -> Result<Json<DecisionResult>, ApiError> {
    same_site(&state, &headers)?;
    let (request, client) = open_push(&state, peer, &token).await?;
    let webauthn = webauthn(&state)?;
    let wanted = purpose(&request);
    let authentication: PasskeyAuthentication = end_ceremony(
        &state,
        &answer.ceremony,
        (&client, &wanted),
        "open the link again",
    )
    .await?;
    let credential: PublicKeyCredential = serde_json::from_value(answer.credential)
        .map_err(|e| ApiError::BadRequest(format!("credential: {e}")))?;
    let checked = webauthn
        .finish_passkey_authentication(&credential, &authentication)
        .map_err(|e| ApiError::BadRequest(format!("credential: it does not check out ({e})")))?;
    if !checked.user_verified() {
        return Err(ApiError::BadRequest(
            "credential: the passkey did not verify its user (fingerprint, face or PIN)".into(),
        ));
    }
    record_use(&state, &client, &checked).await?;
    let decision = ClientDecision {
        decision: Decision::Approve,
        number: answer.number,
    };
    let result = push::decide(&state, &request, &client, Channel::Passkey, &decision).await?;
    Ok(Json(result))
}

/// Stores the passkey's new signature counter (and when it was used).
async fn record_use(
    state: &AppState,
    client: &Alias,
    checked: &webauthn_rs::prelude::AuthenticationResult,
) -> Result<(), ApiError> {
    let id = BASE64URL_NOPAD.encode(checked.cred_id());
    for (stored, mut key) in client_passkeys(state, client).await? {
        if stored.credential_id == id {
            key.update_credential(checked);
            let json = to_json(&key)?;
            state
                .store
                .passkey_used(&id, &json, state.clock.now())
                .await?;
        }
    }
    Ok(())
}
