//! The API enrolled clients call with their client key, and the single-use approve-token
//! endpoint ntfy action buttons call.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use mfa_secrets::Token;
use mfa_wire::{ClientDecision, DecisionResult, EnrollResponse, PendingRequest};

use crate::extract::{ApiJson, ApiPath, AuthClient, PeerIp};
use crate::openapi::doc::*;
use crate::push::{self, Channel};
use crate::{ApiError, AppState};

/// `GET /v1/client/requests`: the pushes waiting for this client.
#[utoipa::path(
    get,
    path = "/v1/client/requests",
    tag = "client",
    operation_id = "client_requests",
    summary = "The pushes waiting for this client",
    description = "The open pushes routed to this client, oldest first. The number is never in them: the\n\
        person reads it at the login prompt.",
    security(("client_key" = [])),
    responses(
        (status = 200, description = "The open pushes (maybe none).", body = Vec<mfa_wire::PendingRequest>),
        (status = 401, description = NO_CLIENT_KEY, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
pub async fn pending(
    State(state): State<AppState>,
    AuthClient(client, _): AuthClient,
) -> Result<Json<Vec<PendingRequest>>, ApiError> {
    let now = state.clock.now();
    let requests = state.store.pending_requests_for(&client.alias, now).await?;
    Ok(Json(requests.iter().map(push::pending_view).collect()))
}

/// `POST /v1/client/requests/{txid}`: approve, deny, or report "not me".
#[utoipa::path(
    post,
    path = "/v1/client/requests/{txid}",
    tag = "client",
    operation_id = "client_decide",
    summary = "Approve, deny, or report a push",
    description = "Decides the push at most once: of racing answers exactly one wins (`decided: true`);\n\
        the others get the state it left (`decided: false`), as does an answer to a push that\n\
        was decided or expired before. With number matching, approving needs the number shown\n\
        at the login prompt; a wrong number denies. `fraud` denies and locks the user out until\n\
        an admin clears it.",
    security(("client_key" = [])),
    params(
        ("txid" = String, Path, description = "The push's transaction id."),
    ),
    request_body = mfa_wire::ClientDecision,
    responses(
        (status = 200, description = "The push's state after this answer.", body = mfa_wire::DecisionResult,
            example = json!({"txid": "k3v7q2m9x4w8r6t1", "state": "approved", "decided": true})),
        (status = 400, description = "`bad_request`: as for every JSON body (not JSON, an unknown field, an \
            unknown decision, ...), a `number` beyond 0..=99, or `approve` without the `number` a push with \
            number matching needs.",
            body = ErrorBody),
        (status = 401, description = NO_CLIENT_KEY, body = ErrorBody),
        (status = 403, description = NEEDS_PASSKEY, body = ErrorBody),
        (status = 404, description = "`not_found`: no such push, or not one for this client.", body = ErrorBody),
        (status = 413, description = TOO_LARGE, body = ErrorBody),
        (status = 415, description = NOT_JSON, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
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
#[utoipa::path(
    post,
    path = "/v1/client/enroll",
    tag = "client",
    operation_id = "client_enroll",
    summary = "Fetch this client's TOTP seed, once",
    description = "What `mfa enroll` calls: the answer is the client's TOTP seed and its parameters, and\n\
        the server marks the seed delivered in the same statement, so of racing calls exactly\n\
        one gets it. Every later call is 410 until an admin runs `mfac client reset-totp ALIAS`\n\
        (which makes a new seed deliverable once). The client computes its codes itself; the\n\
        server never hands out codes, so a client key stolen after enrolment yields none. No\n\
        request body.",
    security(("client_key" = [])),
    responses(
        (status = 200, description = "The seed (sent with `Cache-Control: no-store`).", body = mfa_wire::EnrollResponse,
            example = json!({"alias": "tux", "totp_secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
                             "algorithm": "SHA1", "digits": 6, "period": 30})),
        (status = 401, description = NO_CLIENT_KEY, body = ErrorBody),
        (status = 410, description = "`gone`: the seed was delivered before; the message says to ask an \
            admin for `mfac client reset-totp ALIAS`.", body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
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
#[utoipa::path(
    post,
    path = "/v1/notify/{token}",
    tag = "approve",
    operation_id = "notify_decide",
    summary = "Decide a push by its approve token (ntfy action buttons)",
    description = "The same decision as `POST /v1/client/requests/{txid}`, authorised by the single-use\n\
        approve token of one client for one push instead of a client key. An unknown token\n\
        counts as a failure of the caller's address.",
    params(
        ("token" = String, Path, description = "The single-use approve token from the notification."),
    ),
    request_body = mfa_wire::ClientDecision,
    responses(
        (status = 200, description = "The push's state after this answer.", body = mfa_wire::DecisionResult),
        (status = 400, description = "`bad_request`: as for every JSON body, a `number` beyond 0..=99, or \
            `approve` without the `number` a push with number matching needs.", body = ErrorBody),
        (status = 403, description = NEEDS_PASSKEY, body = ErrorBody),
        (status = 404, description = "`not_found`: the token is not valid.", body = ErrorBody),
        (status = 413, description = TOO_LARGE, body = ErrorBody),
        (status = 415, description = NOT_JSON, body = ErrorBody),
        (status = 429, description = "`locked_out`: the caller's address is locked out after too many \
            invalid tokens or links.", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
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
