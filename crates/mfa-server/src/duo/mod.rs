//! Duo's Auth API, so that Duo's unmodified Unix clients log in against mfa (issue 14):
//! `/auth/v2/*` (duo_unix 2.x, duo_client) and, for integrations added with `--legacy`, the
//! `/rest/v1/*.bson` dialect of duo_unix 1.x (Debian's libpam-duo and login-duo). Every call but
//! `ping` is signed with the integration's skey ([`call`]); the logins it asks about are
//! decided as mfa's own ([`login`]). Answers are Duo's: JSON (v2) or BSON (legacy) envelopes.

mod call;
mod login;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mfa_duo::Dialect;
use mfa_duo::bson::Document;
use mfa_duo::reply;

use crate::AppState;
use call::{DuoCall, DuoFail, encoded_response};
use login::AuthAnswer;

/// The OpenAPI security scheme: `Authorization: Basic base64(ikey:HMAC)` (the name is also
/// spelled out in each `security(...)`, which takes a literal).
pub const DUO_SIGNATURE: &str = "duo_signature";

/// What the responses' descriptions share.
mod doc {
    pub const OK: &str = "`{\"stat\":\"OK\",\"response\":{...}}`: see Duo's Auth API; mfa's \
        answers are described in the README (Moving from Duo).";
    pub const BAD_PARAMS: &str = "`{\"stat\":\"FAIL\",\"code\":40002}`: a parameter is missing, \
        repeated or invalid (`message_detail` names it), or the body is not a form or JSON.";
    pub const BAD_SIGNATURE: &str = "`{\"stat\":\"FAIL\",\"code\":40101|40103}`: no or malformed \
        credentials, an unknown ikey, a signature that does not match, or (v2) a date more than \
        300 s off. Counted against the caller's address.";
    pub const FORBIDDEN: &str = "`{\"stat\":\"FAIL\",\"code\":40301}`: a `/rest/v1` call for an \
        integration added without `--legacy`.";
    pub const TOO_LARGE: &str = "`{\"stat\":\"FAIL\",\"code\":41301}`: the body is over 16 KiB.";
    pub const LOCKED: &str = "`{\"stat\":\"FAIL\",\"code\":42901}`: the caller's address is \
        locked out after bad signatures.";
    pub const UNAVAILABLE: &str = "Refused before any route (the server is busy). A login is \
        never refused with a 5xx by the Duo routes themselves: an error while deciding one \
        answers `result: deny`.";
}

fn answer(dialect: Dialect, response: Document) -> Response {
    match reply::ok(dialect, response) {
        Ok(encoded) => encoded_response(StatusCode::OK, encoded),
        Err(e) => {
            DuoFail::from_api(dialect, crate::ApiError::Internal(e.to_string())).into_response()
        }
    }
}

fn now_secs(state: &AppState) -> i64 {
    state.clock.now().millis() / 1000
}

#[utoipa::path(
    get,
    path = "/auth/v2/ping",
    tag = "duo",
    operation_id = "duo_ping",
    summary = "Duo: the server's time (unsigned)",
    description = "`{\"stat\":\"OK\",\"response\":{\"time\":UNIX_SECONDS}}`. Unsigned, as Duo's is; \
        duo_unix 2.x takes its clock offset from it before every login.",
    responses(
        (status = 200, description = doc::OK, content_type = "application/json"),
        (status = 503, description = doc::UNAVAILABLE, body = mfa_wire::ErrorBody),
    )
)]
pub async fn ping(State(state): State<AppState>) -> Response {
    answer(Dialect::AuthV2, reply::time(now_secs(&state)))
}

#[utoipa::path(
    get,
    path = "/auth/v2/check",
    tag = "duo",
    operation_id = "duo_check",
    summary = "Duo: check the integration's keys",
    description = "A signed `ping`: `{\"time\":UNIX_SECONDS}` when the ikey and skey are right.",
    security(("duo_signature" = [])),
    responses(
        (status = 200, description = doc::OK, content_type = "application/json"),
        (status = 400, description = doc::BAD_PARAMS, content_type = "application/json"),
        (status = 401, description = doc::BAD_SIGNATURE, content_type = "application/json"),
        (status = 413, description = doc::TOO_LARGE, content_type = "application/json"),
        (status = 429, description = doc::LOCKED, content_type = "application/json"),
        (status = 503, description = doc::UNAVAILABLE, body = mfa_wire::ErrorBody),
    )
)]
pub async fn check(State(state): State<AppState>, call: DuoCall) -> Response {
    answer(call.dialect, reply::time(now_secs(&state)))
}

async fn preauth(state: &AppState, call: &DuoCall) -> Response {
    match login::preauth(state, call).await {
        Ok(p) => answer(call.dialect, reply::preauth(call.dialect, &p)),
        Err(fail) => fail.into_response(),
    }
}

async fn auth(state: &AppState, call: &DuoCall) -> Response {
    match login::auth(state, call).await {
        Ok(AuthAnswer::Decided(d)) => answer(call.dialect, reply::decision(call.dialect, &d)),
        Ok(AuthAnswer::Pending(txid)) => answer(call.dialect, reply::pending(&txid)),
        Err(fail) => fail.into_response(),
    }
}

async fn status(state: &AppState, call: &DuoCall) -> Response {
    match login::status(state, call).await {
        Ok(d) => answer(call.dialect, reply::decision(call.dialect, &d)),
        Err(fail) => fail.into_response(),
    }
}

/// The responses every signed Duo login call documents, in the dialect's content type.
macro_rules! duo_paths {
    ($($method:ident $path:literal $id:literal $handler:ident $inner:ident $ct:literal $summary:literal $description:literal;)*) => {$(
        #[utoipa::path(
            $method,
            path = $path,
            tag = "duo",
            operation_id = $id,
            summary = $summary,
            description = $description,
            security(("duo_signature" = [])),
            responses(
                (status = 200, description = doc::OK, content_type = $ct),
                (status = 400, description = doc::BAD_PARAMS, content_type = $ct),
                (status = 401, description = doc::BAD_SIGNATURE, content_type = $ct),
                (status = 403, description = doc::FORBIDDEN, content_type = $ct),
                (status = 413, description = doc::TOO_LARGE, content_type = $ct),
                (status = 429, description = doc::LOCKED, content_type = $ct),
                (status = 503, description = doc::UNAVAILABLE, body = mfa_wire::ErrorBody),
            )
        )]
        pub async fn $handler(State(state): State<AppState>, call: DuoCall) -> Response {
            $inner(&state, &call).await
        }
    )*};
}

duo_paths! {
    post "/auth/v2/preauth" "duo_preauth" preauth_v2 preauth "application/json"
        "Duo: may this user log in, and how?"
        "`username`, `hostname` (covered by the integration's hosts; duo_client may leave it out \
        when the integration names one exact host), `ipaddr`. `result` is `allow`, `deny`, \
        `enroll` (with `status_msg`) or `auth` with `prompt.text` (which names the number the \
        push will show) and `prompt.factors`. The same policy, lockouts and audit as \
        `POST /v1/preauth`; the service is `duo`.";
    post "/auth/v2/auth" "duo_auth" auth_v2 auth "application/json"
        "Duo: check a passcode or send the push"
        "`factor=prompt` with `prompt` (Enter, `1` or `push1` for the push, else a passcode), or \
        duo_client's `auto`, `push`, `passcode` (with `passcode`). `async=1` answers `txid` at \
        once; otherwise the call waits for the decision. `pushinfo` is shown to the approver. A \
        refusal is `result: deny`, never an HTTP error.";
    get "/auth/v2/auth_status" "duo_auth_status" auth_status_v2 status "application/json"
        "Duo: the push's decision (waits for it)"
        "`txid`. Waits until the push is approved, denied or expires, so every answer carries \
        `result` `allow` or `deny`.";
    post "/rest/v1/preauth.bson" "duo_legacy_preauth" preauth_legacy preauth "application/bson"
        "Duo (legacy, --legacy only): preauth"
        "duo_unix 1.x: `user`, `hostname`, `ipaddr`; BSON answers with `prompt` and `factors` \
        at the top of `response`. The signature has no date: only integrations added with \
        `--legacy` may use it.";
    post "/rest/v1/auth.bson" "duo_legacy_auth" auth_legacy auth "application/bson"
        "Duo (legacy, --legacy only): auth"
        "duo_unix 1.x: `factor=auto` with `auto` (the choice or passcode), `async`, `pushinfo`.";
    get "/rest/v1/status.bson" "duo_legacy_status" status_legacy status "application/bson"
        "Duo (legacy, --legacy only): the push's decision (waits for it)"
        "`txid`. Every answer carries `result`: duo_unix 1.x lets a login in after 20 answers \
        without one.";
}
