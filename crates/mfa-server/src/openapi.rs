//! The OpenAPI 3.1 document of mfad's HTTP API, served at `GET /openapi.json` and printed by
//! `mfad openapi`.
//!
//! Generated from the code with utoipa: the JSON shapes are the `mfa-wire` types (which derive
//! `ToSchema` with its `openapi` feature; their doc comments are the descriptions), the query
//! and form types are the handlers' own. Each route of [`crate::router`] has a
//! documentation-only function in [`ops`] below that carries its `#[utoipa::path]`: its
//! parameters, body, answers and every error it can give. The handlers stay as they are; the
//! API tests (`tests/api/openapi.rs`) check that the document and the router name the same
//! routes, and `scripts/test.sh` validates the document.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::ApiError;

/// The security schemes' names, as operations name them.
pub const SERVER_TOKEN: &str = "server_token";
pub const CLIENT_KEY: &str = "client_key";
pub const API_TOKEN: &str = "api_token";

const DESCRIPTION: &str = "\
The HTTP API of mfa, a self-hosted out-of-band multi-factor authentication server.

* **Trusted servers** (the PAM module `pam_mfa.so`, the `pam_exec` script, integrations) ask \
whether a login or a sensitive action needs a second factor and for the factor itself: \
`/v1/preauth`, `/v1/stepup`, `/v1/auth`. They authenticate with their API token \
(`mfas_...`, security scheme `server_token`) and may ask only about the hosts it was given.
* **Enrolled clients** (`mfa listen`, phones, scripts) see and answer pushes: `/v1/client/...`, \
with their client key (`mfak_...`, scheme `client_key`).
* **Approve links** carry a single-use approve token in the path instead of a bearer token: \
`/approve/{token}` (an HTML page for a browser) and `/v1/notify/{token}` (ntfy action buttons).
* **Applications** use the OTP service (`/v1/otp/...`) and the shared TOTP vault \
(`/v1/vault/...`) with a scoped API token (`mfat_...`, scheme `api_token`); the scope an \
operation needs is named in its security requirement, and a token without it gets 403.

Request bodies are JSON sent with `Content-Type: application/json`, at most 16 KiB; unknown \
fields are refused. Every error is JSON, `{\"error\": \"<code>\", \"message\": \"<one line>\"}` \
(schema `ErrorBody`), except on the HTML approve page. A path that does not exist answers 404 \
`not_found`, and a method a path does not have answers 405 `method_not_allowed`, both with an \
`ErrorBody`. Before any route, a request head is checked: a malformed head answers 400 \
`bad_request`, a target over 8 KiB 414 `uri_too_long`, a head over 16 KiB or 64 fields 431 \
`header_too_large`, a `Transfer-Encoding` body 411 `length_required`, a `Content-Length` over \
16 KiB 413 `payload_too_large`; too many connections answer 429 `too_many_connections` (one \
address) or 503 `busy` (all), each with an `ErrorBody`.

Bad bearer tokens and unknown approve links count as failures of the caller's address: after \
`max_failed_attempts` of them within `block_duration` seconds the address is locked out and \
gets 429 `locked_out` on every authenticated endpoint until the lock ends.";

/// The whole document. Each route's operation is in [`ops`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mfa",
        version = env!("CARGO_PKG_VERSION"),
        description = DESCRIPTION,
    ),
    paths(
        ops::healthz,
        ops::openapi_json,
        ops::preauth,
        ops::stepup,
        ops::auth,
        ops::auth_status,
        ops::cancel_auth,
        ops::client_ws,
        ops::client_requests,
        ops::client_decide,
        ops::client_enroll,
        ops::notify_decide,
        ops::approve_page,
        ops::approve_submit,
        ops::create_otp_credential,
        ops::get_otp_credential,
        ops::delete_otp_credential,
        ops::verify_otp_credential,
        ops::create_one_time_code,
        ops::verify_one_time_code,
        ops::add_vault_app,
        ops::list_vault_apps,
        ops::get_vault_app,
        ops::get_vault_code,
        ops::remove_vault_app,
    ),
    components(schemas(mfa_wire::ServerMessage, mfa_wire::ClientMessage, mfa_wire::ErrorBody)),
    modifiers(&BearerSchemes),
    tags(
        (name = "meta", description = "Health and this document."),
        (name = "server", description = "Trusted servers ask for MFA (API token `mfas_...`)."),
        (name = "client", description = "Enrolled clients see and answer pushes (client key `mfak_...`)."),
        (name = "approve", description = "Single-use approve links: the web page and ntfy action buttons (no bearer token)."),
        (name = "otp", description = "The OTP service for applications (API token `mfat_...` with scope `otp`)."),
        (name = "vault", description = "The shared TOTP vault (API token `mfat_...` with scope `vault:read` or `vault:write`)."),
    )
)]
pub struct ApiDoc;

/// The three kinds of bearer token.
struct BearerSchemes;

impl Modify for BearerSchemes {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        for (name, format, description) in [
            (
                SERVER_TOKEN,
                "mfas_...",
                "The API token of a trusted server (`mfac server add NAME --hosts ...` prints it \
                 once). It may ask only about the hosts its `--hosts` patterns cover.",
            ),
            (
                CLIENT_KEY,
                "mfak_...",
                "The client key of an enrolled client (`mfac client add ALIAS` prints it once).",
            ),
            (
                API_TOKEN,
                "mfat_...",
                "A scoped API token for the OTP service and the vault (`mfac token add NAME \
                 --scope otp,vault:read,vault:write [--apps ID,...]` prints it once). The scope \
                 an operation needs is listed in its security requirement.",
            ),
        ] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format(format)
                        .description(Some(description))
                        .build(),
                ),
            );
        }
    }
}

/// The document, built from the code.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as pretty-printed JSON, built once.
pub fn json() -> Result<&'static str, &'static serde_json::Error> {
    static JSON: OnceLock<Result<String, serde_json::Error>> = OnceLock::new();
    JSON.get_or_init(|| document().to_pretty_json()).as_deref()
}

/// `GET /openapi.json`.
pub async fn serve() -> Response {
    match json() {
        Ok(doc) => ([(header::CONTENT_TYPE, "application/json")], doc).into_response(),
        Err(e) => ApiError::Internal(format!("cannot serialise the OpenAPI document: {e}"))
            .into_response(),
    }
}

/// `GET /healthz`'s answer.
#[derive(ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// The documentation-only functions: one per route and method, each with its
/// `#[utoipa::path]`. They are never called; the handlers are in the other modules.
pub mod ops {
    use mfa_wire::{
        AuthStatus, ClientDecision, DecisionResult, EnrollResponse, ErrorBody, NewOneTimeCode,
        NewOtpCredential, NewVaultApp, OneTimeCode, OtpCredential, PendingRequest, PreauthRequest,
        PreauthResponse, ServerAuthRequest, ServerAuthResponse, StepupRequest, VaultApp, VaultCode,
        VerifyCode, VerifyResult,
    };

    use super::Health;
    use crate::server_api::{WaitQuery, WithdrawQuery};
    use crate::web::Answer as ApproveForm;

    // What each error means, where it is the same for many operations.
    const BAD_JSON: &str = "`bad_request`: the body is not JSON, has an unknown field, lacks a \
                            required one or has one of the wrong type, or a value is not valid \
                            (the message names it).";
    const TOO_LARGE: &str = "`payload_too_large`: the body is over 16 KiB.";
    const NOT_JSON: &str =
        "`unsupported_media_type`: the body was not sent with `Content-Type: application/json`.";
    const NO_SERVER_TOKEN: &str = "`unauthorized`: no API token (`Authorization: Bearer \
                                   mfas_...`), or one that is not valid (which counts as a \
                                   failure of the caller's address).";
    const NO_CLIENT_KEY: &str = "`unauthorized`: no client key (`Authorization: Bearer \
                                 mfak_...`), or one that is not valid (which counts as a failure \
                                 of the caller's address).";
    const NO_API_TOKEN: &str = "`unauthorized`: no API token (`Authorization: Bearer \
                                mfat_...`), or one that is not valid (which counts as a failure \
                                of the caller's address).";
    const HOST_FORBIDDEN: &str = "`forbidden`: the token's `--hosts` do not cover this host (or \
                                  a step-up names no host and the token is not allowed `*`).";
    const LOCKED: &str = "`locked_out`: a request without a valid token, from an address locked \
                          out after too many bad tokens or links; the message says until when. \
                          A request with a valid token is never refused for its address.";
    const INTERNAL: &str =
        "`internal`: something that should not happen; the server log has the details.";
    const UNAVAILABLE: &str = "`unavailable`: the database does not answer; try again shortly.";
    const NO_OTP_SCOPE: &str = "`forbidden`: the token lacks the `otp` scope (checked before the \
                                body is read).";
    const OTP_NOT_FOUND: &str = "`not_found`: no such credential, or another token's (each belongs to the token that made it).";
    const CODE_NOT_FOUND: &str = "`not_found`: no such one-time code, or another token's (each belongs to the token that made it).";
    const VAULT_ID: &str = "`bad_request`: the app id is not a number.";
    const VAULT_NOT_FOUND: &str = "`not_found`: no vault app has this id.";
    const HTML_NOT_FOUND: &str = "The link is not valid (unknown token); counts as a failure of \
                                  the caller's address.";
    const HTML_GONE: &str =
        "The push was already approved or denied, or has expired: the link works once.";
    const HTML_LOCKED: &str = "The caller's address is locked out after too many invalid links.";
    const HTML_UNAVAILABLE: &str = "The database does not answer; try again shortly.";
    const HTML_INTERNAL: &str = "Something that should not happen; the server log has the details.";

    /// Liveness and readiness
    ///
    /// 200 when the database answers, 503 otherwise. No authentication.
    #[utoipa::path(
        get,
        path = "/healthz",
        tag = "meta",
        responses(
            (status = 200, description = "The server and its database answer.", body = Health),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn healthz() {}

    /// This document
    ///
    /// The OpenAPI 3.1 document of the whole HTTP API (also printed by `mfad openapi`).
    /// No authentication.
    #[utoipa::path(
        get,
        path = "/openapi.json",
        tag = "meta",
        responses(
            (status = 200, description = "The OpenAPI document.", body = Object, content_type = "application/json"),
            (status = 500, description = INTERNAL, body = ErrorBody),
        )
    )]
    pub fn openapi_json() {}

    /// May this login go ahead, and how?
    ///
    /// Runs the policy for (user, host, service, client IP): `allow` (no second factor needed,
    /// e.g. a trusted network, a bypass account or an elevated session), `deny` (no app for this
    /// login, a lockout; `reason` says why), `enroll` (MFA is required but the user has no
    /// suitable factor; `reason` says what to ask an admin for), or `auth` with the `methods` to
    /// use (any one of them), and `required` when every one of those is needed. Allow, deny and
    /// enroll are audited.
    #[utoipa::path(
        post,
        path = "/v1/preauth",
        tag = "server",
        security(("server_token" = [])),
        request_body = PreauthRequest,
        responses(
            (status = 200, description = "The decision.", body = PreauthResponse,
                example = json!({"result": "auth", "methods": ["push", "totp"]})),
            (status = 400, description = BAD_JSON, body = ErrorBody),
            (status = 401, description = NO_SERVER_TOKEN, body = ErrorBody),
            (status = 403, description = HOST_FORBIDDEN, body = ErrorBody),
            (status = 413, description = TOO_LARGE, body = ErrorBody),
            (status = 415, description = NOT_JSON, body = ErrorBody),
            (status = 429, description = LOCKED, body = ErrorBody),
            (status = 500, description = INTERNAL, body = ErrorBody),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn preauth() {}

    /// May this user do this sensitive action now? (step-up)
    ///
    /// Just-in-time MFA for an action (`deploy`, `db-write`): the same answers as
    /// `POST /v1/preauth`; `allow` when no MFA is needed or an elevated session covers it. An
    /// `auth` answer is answered with `POST /v1/auth` and the same `action`.
    #[utoipa::path(
        post,
        path = "/v1/stepup",
        tag = "server",
        security(("server_token" = [])),
        request_body = StepupRequest,
        responses(
            (status = 200, description = "The decision.", body = PreauthResponse),
            (status = 400, description = BAD_JSON, body = ErrorBody),
            (status = 401, description = NO_SERVER_TOKEN, body = ErrorBody),
            (status = 403, description = HOST_FORBIDDEN, body = ErrorBody),
            (status = 413, description = TOO_LARGE, body = ErrorBody),
            (status = 415, description = NOT_JSON, body = ErrorBody),
            (status = 429, description = LOCKED, body = ErrorBody),
            (status = 500, description = INTERNAL, body = ErrorBody),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn stepup() {}

    /// Check the second factor(s), or send a push
    ///
    /// For a login (`host`, `service`) or a step-up (`action`). TOTP codes, recovery codes and
    /// passwords are answered at once: `allow`, or `deny` with a `reason` (a wrong code counts
    /// against the user and the client IP). A push answers `pending` with a `txid`, the
    /// `number` to show at the login prompt (number matching) and `expires_at`; poll
    /// `GET /v1/auth/{txid}` for the decision. Several factors go in one request: the password
    /// is checked first, then the code, then the push is sent. A refusal by policy (no app, a
    /// lockout, a method the app does not allow) is a `deny`, not an HTTP error.
    #[utoipa::path(
        post,
        path = "/v1/auth",
        tag = "server",
        security(("server_token" = [])),
        request_body = ServerAuthRequest,
        responses(
            (status = 200, description = "`allow`, `deny`, or `pending` for a push.", body = ServerAuthResponse,
                example = json!({"result": "pending", "txid": "k3v7q2m9x4w8r6t1", "number": 42, "expires_at": "2026-11-26T09:00:30Z"})),
            (status = 400, description = "`bad_request`: as for every JSON body (not JSON, an unknown field, ...), \
                or the request does not hold together: `method: totp` without a `passcode`, `method: password` \
                without a `password`, `new_password` without `password`, both `service` and `action`, an invalid \
                user, host, service or action name.", body = ErrorBody),
            (status = 401, description = NO_SERVER_TOKEN, body = ErrorBody),
            (status = 403, description = HOST_FORBIDDEN, body = ErrorBody),
            (status = 413, description = TOO_LARGE, body = ErrorBody),
            (status = 415, description = NOT_JSON, body = ErrorBody),
            (status = 429, description = LOCKED, body = ErrorBody),
            (status = 500, description = INTERNAL, body = ErrorBody),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn auth() {}

    /// Where a push stands (long poll)
    ///
    /// With `wait=N` it answers the moment the push is approved, denied or expires, or after
    /// N seconds with `pending`. A push expires (and is denied, reason `timeout`) after the
    /// server's `auth_timeout`.
    #[utoipa::path(
        get,
        path = "/v1/auth/{txid}",
        tag = "server",
        security(("server_token" = [])),
        params(
            ("txid" = String, Path, description = "The push's transaction id, from `POST /v1/auth`."),
            WaitQuery,
        ),
        responses(
            (status = 200, description = "The push's state.", body = AuthStatus,
                example = json!({"txid": "k3v7q2m9x4w8r6t1", "result": "allow", "state": "approved"})),
            (status = 400, description = "`bad_request`: `wait` is not a number in 0..=60, or an unknown query parameter.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: a missing or invalid API token, or one rotated or removed while the poll waited.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such push, or another server's.", body = ErrorBody),
            (status = 429, description = LOCKED, body = ErrorBody),
            (status = 500, description = INTERNAL, body = ErrorBody),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn auth_status() {}

    /// Withdraw a pending push
    ///
    /// The server that sent a push withdraws it (`reason=code_used`: a code was typed instead;
    /// `reason=abandoned`, the default: the login gave up): its state becomes `withdrawn`
    /// with reason `withdrawn: a code was used at the login` or `withdrawn: the login gave up`
    /// (not counted as a failure of the user), and the clients see it withdrawn with that
    /// reason. A push already decided or expired is left as it is. The answer is the push's
    /// state afterwards, as for `GET /v1/auth/{txid}`.
    #[utoipa::path(
        delete,
        path = "/v1/auth/{txid}",
        tag = "server",
        security(("server_token" = [])),
        params(
            ("txid" = String, Path, description = "The push's transaction id, from `POST /v1/auth`."),
            WithdrawQuery,
        ),
        responses(
            (status = 200, description = "The push's state after the withdrawal.", body = AuthStatus),
            (status = 400, description = "`bad_request`: an unknown `reason` or query parameter.", body = ErrorBody),
            (status = 401, description = NO_SERVER_TOKEN, body = ErrorBody),
            (status = 404, description = "`not_found`: no such push, or another server's.", body = ErrorBody),
            (status = 429, description = LOCKED, body = ErrorBody),
            (status = 500, description = INTERNAL, body = ErrorBody),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn cancel_auth() {}

    /// The client's live feed of pushes (WebSocket)
    ///
    /// A WebSocket upgrade (`101 Switching Protocols`). Every frame is one JSON text message,
    /// tagged by `type`.
    ///
    /// mfad sends (schema `ServerMessage`): `hello` first (`alias`); a `request` for each push
    /// for this client (a `PendingRequest`, also one for every push still open when it
    /// connects); `withdrawn` when a push it was shown is decided elsewhere or expires
    /// (`txid`, `state`, `reason`); `result`, the answer to its own `decision` (`txid`,
    /// `state`, `decided`, `reason`); `error` when something it sent could not be used.
    ///
    /// The client sends (schema `ClientMessage`):
    /// `{"type": "decision", "txid": "...", "decision": "approve" | "deny" | "fraud", "number": 42}`.
    /// Messages are at most 16 KiB; mfad pings every 20 seconds.
    ///
    /// The client key is checked before the handshake; a request that is not a WebSocket
    /// handshake gets a 400 `bad_request`.
    #[utoipa::path(
        get,
        path = "/v1/client/ws",
        tag = "client",
        security(("client_key" = [])),
        params(
            ("Connection" = String, Header, description = "`Upgrade`.", example = "Upgrade"),
            ("Upgrade" = String, Header, description = "`websocket`.", example = "websocket"),
            ("Sec-WebSocket-Version" = String, Header, description = "`13`.", example = "13"),
            ("Sec-WebSocket-Key" = String, Header, description = "The handshake's random key (RFC 6455)."),
        ),
        responses(
            (status = 101, description = "Switching Protocols: the WebSocket is open; the messages are `ServerMessage` and `ClientMessage`.",
                headers(
                    ("Upgrade" = String, description = "`websocket`"),
                    ("Connection" = String, description = "`upgrade`"),
                    ("Sec-WebSocket-Accept" = String, description = "The handshake's answer (RFC 6455)."),
                )),
            (status = 400, description = "`bad_request`: not a WebSocket handshake (the `Connection`, `Upgrade`, \
                `Sec-WebSocket-Version` or `Sec-WebSocket-Key` header is missing or wrong, or the connection \
                cannot be upgraded).", body = ErrorBody),
            (status = 401, description = NO_CLIENT_KEY, body = ErrorBody),
            (status = 429, description = LOCKED, body = ErrorBody),
            (status = 500, description = INTERNAL, body = ErrorBody),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn client_ws() {}

    /// The pushes waiting for this client
    ///
    /// The open pushes routed to this client, oldest first. The number is never in them: the
    /// person reads it at the login prompt.
    #[utoipa::path(
        get,
        path = "/v1/client/requests",
        tag = "client",
        security(("client_key" = [])),
        responses(
            (status = 200, description = "The open pushes (maybe none).", body = Vec<PendingRequest>),
            (status = 401, description = NO_CLIENT_KEY, body = ErrorBody),
            (status = 429, description = LOCKED, body = ErrorBody),
            (status = 500, description = INTERNAL, body = ErrorBody),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn client_requests() {}

    /// Approve, deny, or report a push
    ///
    /// Decides the push at most once: of racing answers exactly one wins (`decided: true`);
    /// the others get the state it left (`decided: false`), as does an answer to a push that
    /// was decided or expired before. With number matching, approving needs the number shown
    /// at the login prompt; a wrong number denies. `fraud` denies and locks the user out until
    /// an admin clears it.
    #[utoipa::path(
        post,
        path = "/v1/client/requests/{txid}",
        tag = "client",
        security(("client_key" = [])),
        params(
            ("txid" = String, Path, description = "The push's transaction id."),
        ),
        request_body = ClientDecision,
        responses(
            (status = 200, description = "The push's state after this answer.", body = DecisionResult,
                example = json!({"txid": "k3v7q2m9x4w8r6t1", "state": "approved", "decided": true})),
            (status = 400, description = "`bad_request`: as for every JSON body (not JSON, an unknown field, an \
                unknown decision, ...), or `approve` without the `number` a push with number matching needs.",
                body = ErrorBody),
            (status = 401, description = NO_CLIENT_KEY, body = ErrorBody),
            (status = 404, description = "`not_found`: no such push, or not one for this client.", body = ErrorBody),
            (status = 413, description = TOO_LARGE, body = ErrorBody),
            (status = 415, description = NOT_JSON, body = ErrorBody),
            (status = 429, description = LOCKED, body = ErrorBody),
            (status = 500, description = INTERNAL, body = ErrorBody),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn client_decide() {}

    /// Fetch this client's TOTP seed, once
    ///
    /// What `mfa enroll` calls: the answer is the client's TOTP seed and its parameters, and
    /// the server marks the seed delivered in the same statement, so of racing calls exactly
    /// one gets it. Every later call is 410 until an admin runs `mfac client reset-totp ALIAS`
    /// (which makes a new seed deliverable once). The client computes its codes itself; the
    /// server never hands out codes, so a client key stolen after enrolment yields none. No
    /// request body.
    #[utoipa::path(
        post,
        path = "/v1/client/enroll",
        tag = "client",
        security(("client_key" = [])),
        responses(
            (status = 200, description = "The seed (sent with `Cache-Control: no-store`).", body = EnrollResponse,
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
    pub fn client_enroll() {}

    /// Decide a push by its approve token (ntfy action buttons)
    ///
    /// The same decision as `POST /v1/client/requests/{txid}`, authorised by the single-use
    /// approve token of one client for one push instead of a client key. An unknown token
    /// counts as a failure of the caller's address.
    #[utoipa::path(
        post,
        path = "/v1/notify/{token}",
        tag = "approve",
        params(
            ("token" = String, Path, description = "The single-use approve token from the notification."),
        ),
        request_body = ClientDecision,
        responses(
            (status = 200, description = "The push's state after this answer.", body = DecisionResult),
            (status = 400, description = "`bad_request`: as for every JSON body, or `approve` without the \
                `number` a push with number matching needs.", body = ErrorBody),
            (status = 404, description = "`not_found`: the token is not valid.", body = ErrorBody),
            (status = 413, description = TOO_LARGE, body = ErrorBody),
            (status = 415, description = NOT_JSON, body = ErrorBody),
            (status = 429, description = "`locked_out`: the caller's address is locked out after too many \
                invalid tokens or links.", body = ErrorBody),
            (status = 500, description = INTERNAL, body = ErrorBody),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn notify_decide() {}

    /// The approve page
    ///
    /// A server-rendered HTML page (no scripts, no external assets) showing the push — user,
    /// host, service, client IP, time — with a number field (when number matching is on),
    /// Approve, Deny and "This was not me". Sets the double-submit CSRF cookie
    /// (`mfa_csrf_<link id>`, `HttpOnly; SameSite=Strict`) the form needs. Every answer,
    /// errors included, is an HTML page.
    #[utoipa::path(
        get,
        path = "/approve/{token}",
        tag = "approve",
        params(
            ("token" = String, Path, description = "The single-use approve token of the link."),
        ),
        responses(
            (status = 200, description = "The page with the form.", body = String, content_type = "text/html",
                headers(("Set-Cookie" = String, description = "The CSRF cookie for this link."))),
            (status = 404, description = HTML_NOT_FOUND, body = String, content_type = "text/html"),
            (status = 410, description = HTML_GONE, body = String, content_type = "text/html"),
            (status = 429, description = HTML_LOCKED, body = String, content_type = "text/html"),
            (status = 500, description = HTML_INTERNAL, body = String, content_type = "text/html"),
            (status = 503, description = HTML_UNAVAILABLE, body = String, content_type = "text/html"),
        )
    )]
    pub fn approve_page() {}

    /// Answer the approve page's form
    ///
    /// Decides the push (like `POST /v1/client/requests/{txid}`) and shows the outcome. The
    /// form's `csrf` must match the page's cookie, and a cross-site `Origin` or
    /// `Sec-Fetch-Site` is refused. Every answer, errors included, is an HTML page.
    #[utoipa::path(
        post,
        path = "/approve/{token}",
        tag = "approve",
        params(
            ("token" = String, Path, description = "The single-use approve token of the link."),
        ),
        request_body(content = ApproveForm, content_type = "application/x-www-form-urlencoded"),
        responses(
            (status = 200, description = "Approved, denied or reported: the outcome page (the CSRF cookie is cleared).",
                body = String, content_type = "text/html"),
            (status = 400, description = "The form could not be read, names no decision, or lacks the number \
                (or has a malformed one) that approving needs: the form again, saying what is missing.",
                body = String, content_type = "text/html"),
            (status = 403, description = "The form was sent from another site (`Origin`, `Sec-Fetch-Site`), or its \
                `csrf` does not match the cookie.", body = String, content_type = "text/html"),
            (status = 404, description = HTML_NOT_FOUND, body = String, content_type = "text/html"),
            (status = 410, description = HTML_GONE, body = String, content_type = "text/html"),
            (status = 429, description = HTML_LOCKED, body = String, content_type = "text/html"),
            (status = 500, description = HTML_INTERNAL, body = String, content_type = "text/html"),
            (status = 503, description = HTML_UNAVAILABLE, body = String, content_type = "text/html"),
        )
    )]
    pub fn approve_submit() {}

    /// Create a HOTP or TOTP credential
    ///
    /// The server makes the secret (as long as the hash: 20, 32 or 64 bytes). The answer is
    /// the only one with the secret, its `otpauth://` URI and the URI as an SVG QR code.
    #[utoipa::path(
        post,
        path = "/v1/otp/credentials",
        tag = "otp",
        security(("api_token" = ["otp"])),
        request_body = NewOtpCredential,
        responses(
            (status = 201, description = "The credential, with its secret (this once).", body = OtpCredential),
            (status = 400, description = "`bad_request`: as for every JSON body, or an unknown `algorithm`, \
                `digits` out of 6..=8, `period` out of 15..=120 (or given for `hotp`), an unusable `issuer` or `label`.",
                body = ErrorBody),
            (status = 401, description = NO_API_TOKEN, body = ErrorBody),
            (status = 403, description = NO_OTP_SCOPE, body = ErrorBody),
            (status = 413, description = TOO_LARGE, body = ErrorBody),
            (status = 415, description = NOT_JSON, body = ErrorBody),
            (status = 429, description = LOCKED, body = ErrorBody),
            (status = 500, description = INTERNAL, body = ErrorBody),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn create_otp_credential() {}

    /// A credential's parameters
    ///
    /// Never the secret.
    #[utoipa::path(
        get,
        path = "/v1/otp/credentials/{id}",
        tag = "otp",
        security(("api_token" = ["otp"])),
        params(("id" = String, Path, description = "The credential's id.")),
        responses(
            (status = 200, description = "The credential, without its secret.", body = OtpCredential),
            (status = 401, description = NO_API_TOKEN, body = ErrorBody),
            (status = 403, description = NO_OTP_SCOPE, body = ErrorBody),
            (status = 404, description = OTP_NOT_FOUND, body = ErrorBody),
            (status = 429, description = LOCKED, body = ErrorBody),
            (status = 500, description = INTERNAL, body = ErrorBody),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn get_otp_credential() {}

    /// Delete a credential
    #[utoipa::path(
        delete,
        path = "/v1/otp/credentials/{id}",
        tag = "otp",
        security(("api_token" = ["otp"])),
        params(("id" = String, Path, description = "The credential's id.")),
        responses(
            (status = 204, description = "Deleted."),
            (status = 401, description = NO_API_TOKEN, body = ErrorBody),
            (status = 403, description = NO_OTP_SCOPE, body = ErrorBody),
            (status = 404, description = OTP_NOT_FOUND, body = ErrorBody),
            (status = 429, description = LOCKED, body = ErrorBody),
            (status = 500, description = INTERNAL, body = ErrorBody),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn delete_otp_credential() {}

    /// Verify a code of a credential
    ///
    /// Every accepted code is used up: TOTP accepts the steps within the server's skew and
    /// burns them; HOTP looks 10 counters ahead and resynchronises. A wrong or replayed code is
    /// `{"ok": false}`, not an HTTP error. Every verification counts: too many within the
    /// window and the credential answers 429 until it has passed.
    #[utoipa::path(
        post,
        path = "/v1/otp/credentials/{id}/verify",
        tag = "otp",
        security(("api_token" = ["otp"])),
        params(("id" = String, Path, description = "The credential's id.")),
        request_body = VerifyCode,
        responses(
            (status = 200, description = "Accepted (`ok: true`, HOTP with the next `counter`) or not.", body = VerifyResult,
                example = json!({"ok": false, "reason": "invalid or already used code"})),
            (status = 400, description = BAD_JSON, body = ErrorBody),
            (status = 401, description = NO_API_TOKEN, body = ErrorBody),
            (status = 403, description = NO_OTP_SCOPE, body = ErrorBody),
            (status = 404, description = OTP_NOT_FOUND, body = ErrorBody),
            (status = 413, description = TOO_LARGE, body = ErrorBody),
            (status = 415, description = NOT_JSON, body = ErrorBody),
            (status = 429, description = "`locked_out`: too many verifications of this credential within \
                `block_duration` seconds (\"try again after TIME\"), or the caller's address is locked out \
                after too many bad tokens.", body = ErrorBody),
            (status = 500, description = INTERNAL, body = ErrorBody),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn verify_otp_credential() {}

    /// Create a one-time code (the e-mail/SMS kind)
    ///
    /// The code is in this answer only (mfad keeps a keyed hash), for the caller to deliver.
    #[utoipa::path(
        post,
        path = "/v1/otp/codes",
        tag = "otp",
        security(("api_token" = ["otp"])),
        request_body = NewOneTimeCode,
        responses(
            (status = 201, description = "The code, this once.", body = OneTimeCode),
            (status = 400, description = "`bad_request`: as for every JSON body, or `ttl_seconds` out of \
                1..=86400, `digits` out of 6..=8, `max_attempts` out of 1..=10.", body = ErrorBody),
            (status = 401, description = NO_API_TOKEN, body = ErrorBody),
            (status = 403, description = NO_OTP_SCOPE, body = ErrorBody),
            (status = 413, description = TOO_LARGE, body = ErrorBody),
            (status = 415, description = NOT_JSON, body = ErrorBody),
            (status = 429, description = LOCKED, body = ErrorBody),
            (status = 500, description = INTERNAL, body = ErrorBody),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn create_one_time_code() {}

    /// Verify a one-time code
    ///
    /// `{"ok": true}` once. Every try, right or wrong, uses an attempt; a wrong, used, expired
    /// or exhausted code is `{"ok": false, "reason": ...}`, not an HTTP error.
    #[utoipa::path(
        post,
        path = "/v1/otp/codes/{id}/verify",
        tag = "otp",
        security(("api_token" = ["otp"])),
        params(("id" = String, Path, description = "The one-time code's id.")),
        request_body = VerifyCode,
        responses(
            (status = 200, description = "Accepted or not.", body = VerifyResult,
                example = json!({"ok": false, "reason": "wrong code", "attempts_left": 4})),
            (status = 400, description = BAD_JSON, body = ErrorBody),
            (status = 401, description = NO_API_TOKEN, body = ErrorBody),
            (status = 403, description = NO_OTP_SCOPE, body = ErrorBody),
            (status = 404, description = CODE_NOT_FOUND, body = ErrorBody),
            (status = 413, description = TOO_LARGE, body = ErrorBody),
            (status = 415, description = NOT_JSON, body = ErrorBody),
            (status = 429, description = LOCKED, body = ErrorBody),
            (status = 500, description = INTERNAL, body = ErrorBody),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn verify_one_time_code() {}

    /// Add a seed to the vault
    ///
    /// As base32 (`secret`, with optional `algorithm`, `digits`, `period`) or as a whole
    /// `otpauth://totp/...` URI (`uri`, which carries its own parameters). Sealed at rest; it
    /// never leaves the server again.
    #[utoipa::path(
        post,
        path = "/v1/vault/apps",
        tag = "vault",
        security(("api_token" = ["vault:write"])),
        request_body = NewVaultApp,
        responses(
            (status = 201, description = "The new app (never its seed).", body = VaultApp),
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
    pub fn add_vault_app() {}

    /// The vault's apps
    ///
    /// Those this token may use (all, or its `--apps`); never a seed.
    #[utoipa::path(
        get,
        path = "/v1/vault/apps",
        tag = "vault",
        security(("api_token" = ["vault:read"])),
        responses(
            (status = 200, description = "The apps (maybe none).", body = Vec<VaultApp>),
            (status = 401, description = NO_API_TOKEN, body = ErrorBody),
            (status = 403, description = "`forbidden`: the token lacks the `vault:read` scope.", body = ErrorBody),
            (status = 429, description = LOCKED, body = ErrorBody),
            (status = 500, description = INTERNAL, body = ErrorBody),
            (status = 503, description = UNAVAILABLE, body = ErrorBody),
        )
    )]
    pub fn list_vault_apps() {}

    /// One vault app
    #[utoipa::path(
        get,
        path = "/v1/vault/apps/{id}",
        tag = "vault",
        security(("api_token" = ["vault:read"])),
        params(("id" = i64, Path, description = "The app's id.")),
        responses(
            (status = 200, description = "The app (never its seed).", body = VaultApp),
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
    pub fn get_vault_app() {}

    /// A vault app's current code
    ///
    /// Audited before it is handed out: user = the token's name, method `vault`, result
    /// `code`, the caller's address.
    #[utoipa::path(
        get,
        path = "/v1/vault/apps/{id}/code",
        tag = "vault",
        security(("api_token" = ["vault:read"])),
        params(("id" = i64, Path, description = "The app's id.")),
        responses(
            (status = 200, description = "The code and how long it stays valid.", body = VaultCode),
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
    pub fn get_vault_code() {}

    /// Remove a vault app
    #[utoipa::path(
        delete,
        path = "/v1/vault/apps/{id}",
        tag = "vault",
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
    pub fn remove_vault_app() {}
}
