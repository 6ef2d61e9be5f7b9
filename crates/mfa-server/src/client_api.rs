//! The API enrolled clients call with their client key, and the single-use approve-token
//! endpoint ntfy action buttons call.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use mfa_secrets::Token;
use mfa_wire::{ClientDecision, DecisionResult, EnrollResponse, PendingRequest};

use crate::extract::{ApiJson, ApiPath, AuthClient, PeerIp};
use crate::push::{self, Channel};
use crate::{ApiError, AppState};

/// `GET /v1/client/requests`: the pushes waiting for this client.
pub async fn pending(
    State(state): State<AppState>,
    AuthClient(client, _): AuthClient,
) -> Result<Json<Vec<PendingRequest>>, ApiError> {
    let now = state.clock.now();
    let requests = state.store.pending_requests_for(&client.alias, now).await?;
    Ok(Json(requests.iter().map(push::pending_view).collect()))
}

/// `POST /v1/client/requests/{txid}`: approve, deny, or report "not me".
pub async fn decide(
    State(state): State<AppState>,
    AuthClient(client, _): AuthClient,
    ApiPath(txid): ApiPath<String>,
    ApiJson(answer): ApiJson<ClientDecision>,
) -> Result<Json<DecisionResult>, ApiError> {
    let request = state.store.request(&txid).await?;
    Ok(Json(
        push::decide(&state, &request, &client.alias, Channel::Client, &answer).await?,
    ))
}

/// `POST /v1/client/enroll`: hands this client its TOTP seed, once. The store marks it
/// delivered in the same statement that reads it, so of racing calls exactly one gets it;
/// the rest, and every later call, get 410 until an admin resets the seed. A client key stolen
/// after enrolment thus yields no TOTP codes.
pub async fn enroll(
    State(state): State<AppState>,
    AuthClient(client, _): AuthClient,
) -> Result<impl IntoResponse, ApiError> {
    let alias = &client.alias;
    let Some(totp) = state
        .store
        .deliver_client_totp(alias, state.clock.now())
        .await?
    else {
        tracing::warn!(client = %alias, "TOTP seed asked for again after it was delivered");
        return Err(ApiError::Gone(format!(
            "the TOTP seed of client {alias} was delivered before (to the first `mfa enroll`); \
             it is handed out once: ask an admin for `mfac client reset-totp {alias}`, then run \
             `mfa enroll` again"
        )));
    };
    tracing::info!(client = %alias, "TOTP seed delivered");
    let body = EnrollResponse {
        alias: alias.to_string(),
        totp_secret: totp.secret.to_base32(),
        algorithm: totp.params.algorithm.to_string(),
        digits: totp.params.digits.get(),
        period: totp.params.period,
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)))
}

/// `POST /v1/notify/{token}`: a decision carried by a single-use approve token (ntfy action
/// buttons). Unknown tokens count as failures of the caller's address.
pub async fn decide_by_token(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    ApiPath(token): ApiPath<String>,
    ApiJson(answer): ApiJson<ClientDecision>,
) -> Result<Json<DecisionResult>, ApiError> {
    let (request, client) = request_for_token(&state, peer, &token).await?;
    Ok(Json(
        push::decide(&state, &request, &client, Channel::Ntfy, &answer).await?,
    ))
}

/// The request a presented approve token belongs to. A wrong token counts against the
/// caller's address (and a locked address is told so); a right one is never refused for it.
pub async fn request_for_token(
    state: &AppState,
    peer: std::net::IpAddr,
    token: &str,
) -> Result<(mfa_store::AuthRequest, mfa_core::Alias), ApiError> {
    let found = state
        .store
        .request_by_link(&Token::from_presented(token).hash())
        .await?;
    if let Some(found) = found {
        return Ok(found);
    }
    crate::guard::refuse_locked_caller(state, peer, "approve link").await?;
    crate::guard::caller_failed(state, peer, "approve link").await?;
    Err(ApiError::NotFound("this link is not valid".into()))
}
