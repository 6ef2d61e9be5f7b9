//! The OpenAPI 3.1 document of mfad's HTTP API, served at `GET /openapi.json` and printed by
//! `mfad openapi`.
//!
//! Generated from the code with utoipa: the JSON shapes are the `mfa-wire` types (which derive
//! `ToSchema` with its `openapi` feature; their doc comments are the descriptions), the query
//! and form types are the handlers' own. Each handler carries its operation's
//! `#[utoipa::path]` (parameters, body, answers and every error it can give), and
//! [`crate::router`] registers each handler with `utoipa_axum::routes!`, which takes the method
//! and path from that attribute and adds the operation to the document: the router and the
//! document come from one list and cannot name different routes. [`ApiDoc`] holds what is not
//! any one route's: the info, the tags, the security schemes. [`bounds`] writes the limits the
//! server checks into the request schemas, and every operation that takes a body documents the
//! 411 the request gate gives a `Transfer-Encoding` body. `scripts/test.sh` validates the
//! document, and `scripts/schemathesis.sh` tests the server against it.

pub mod bounds;

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use self::doc::{ErrorBody, INTERNAL};
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
`/approve/{token}` (an HTML page for a browser) and `/v1/notify/{token}` (ntfy action buttons). \
**Enrolment links** (`mfac client add ALIAS --link`) do the same for `/enrol/{token}`, an HTML \
page that shows a new TOTP secret as a QR code and confirms it with one code.
* **Applications** use the OTP service (`/v1/otp/...`) and the shared TOTP vault \
(`/v1/vault/...`) with a scoped API token (`mfat_...`, scheme `api_token`); the scope an \
operation needs is named in its security requirement, and a token without it gets 403.

Request bodies are JSON sent with `Content-Type: application/json`, at most 16 KiB; unknown \
fields are refused. Every error is JSON, `{\"error\": \"<code>\", \"message\": \"<one line>\"}` \
(schema `ErrorBody`), except on the HTML approve and enrolment pages and the admin console. A path that does not exist answers 404 \
`not_found`, and a method a path does not have answers 405 `method_not_allowed`, both with an \
`ErrorBody`. Before any route, a request head is checked: a malformed head answers 400 \
`bad_request`, a target over 8 KiB 414 `uri_too_long`, a head over 16 KiB or 64 fields 431 \
`header_too_large`, a `Transfer-Encoding` body 411 `length_required`, a `Content-Length` over \
16 KiB 413 `payload_too_large`; too many connections answer 429 `too_many_connections` (one \
address) or 503 `busy` (all), each with an `ErrorBody`.

Bad bearer tokens and unknown approve and enrolment links count as failures of the caller's address: after \
`max_failed_attempts` of them within `block_duration` seconds the address is locked out and \
gets 429 `locked_out` on every authenticated endpoint until the lock ends.";

/// The document without its paths: [`crate::router`]'s routes add those (see [`document`]).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mfa",
        version = env!("CARGO_PKG_VERSION"),
        description = DESCRIPTION,
    ),
    components(schemas(mfa_wire::ServerMessage, mfa_wire::ClientMessage, mfa_wire::ErrorBody)),
    modifiers(&BearerSchemes),
    tags(
        (name = "meta", description = "Health, metrics and this document."),
        (name = "server", description = "Trusted servers ask for MFA (API token `mfas_...`)."),
        (name = "client", description = "Enrolled clients see and answer pushes (client key `mfak_...`)."),
        (name = "approve", description = "Single-use approve links: the web page and ntfy action buttons (no bearer token)."),
        (name = "enrol", description = "Single-use enrolment links: the page with the QR code and the code that confirms it (no bearer token)."),
        (name = "admin", description = "The admin console (HTML pages): sign-in with password and TOTP (`mfac admin add NAME`), then a session cookie."),
        (name = "otp", description = "The OTP service for applications (API token `mfat_...` with scope `otp`)."),
        (name = "vault", description = "The shared TOTP vault (API token `mfat_...` with scope `vault:read` or `vault:write`)."),
        (name = "duo", description = "Duo's Auth API for Duo's own clients (pam_duo, login_duo, duo_client): requests signed with a Duo integration's skey (`mfac duo add`), Duo's JSON or BSON answers."),
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
                crate::metrics::endpoint::METRICS_TOKEN,
                "metrics_token",
                "The `metrics_token` of mfad.toml, for `GET /metrics` when it is set (without \
                 it, the metrics need no token).",
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
        components.add_security_scheme(
            crate::duo::DUO_SIGNATURE,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "Duo's request signature: `Authorization: Basic base64(ikey:HMAC)`, the \
                         HMAC under the integration's skey (`mfac duo add NAME --hosts ...` \
                         prints both once) over the date (v2), method, host, path and \
                         parameters, as Duo's clients compute it.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document, built from the code: [`ApiDoc`] with the operation of every route.
pub fn document() -> utoipa::openapi::OpenApi {
    crate::routes().into_openapi()
}

/// The document as pretty-printed JSON, with its [`bounds`] and the gate's 411, built once.
pub fn json() -> Result<&'static str, &'static str> {
    static JSON: OnceLock<Result<String, String>> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut doc = serde_json::to_value(document()).map_err(|e| e.to_string())?;
        bounds::apply(&mut doc)?;
        document_length_required(&mut doc);
        serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())
    })
    .as_deref()
    .map_err(String::as_str)
}

/// Adds the request gate's 411 (a `Transfer-Encoding` body) to every operation with a body.
fn document_length_required(doc: &mut serde_json::Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    let operations = paths
        .values_mut()
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|methods| methods.values_mut());
    for operation in operations.filter(|op| op.get("requestBody").is_some()) {
        if let Some(responses) = operation["responses"].as_object_mut() {
            responses.entry("411").or_insert_with(|| {
                serde_json::json!({
                    "description": LENGTH_REQUIRED,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                })
            });
        }
    }
}

const LENGTH_REQUIRED: &str = "`length_required`: the body was sent with `Transfer-Encoding` \
                               (chunked); send it with a `Content-Length`.";

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    operation_id = "openapi_json",
    summary = "This document",
    description = "The OpenAPI 3.1 document of the whole HTTP API (also printed by `mfad openapi`).\n\
        No authentication.",
    responses(
        (status = 200, description = "The OpenAPI document.", body = Object, content_type = "application/json"),
        (status = 500, description = INTERNAL, body = ErrorBody),
    )
)]
pub async fn serve() -> Response {
    match json() {
        Ok(doc) => ([(header::CONTENT_TYPE, "application/json")], doc).into_response(),
        Err(e) => {
            ApiError::Internal(format!("cannot build the OpenAPI document: {e}")).into_response()
        }
    }
}

/// `GET /healthz`'s answer.
#[derive(serde::Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// What the handlers' `#[utoipa::path]` attributes share, for them to `use
/// crate::openapi::doc::*`: the texts of errors many operations give, and their body. (The
/// attributes name the other types by their full path, `mfa_wire::...`, as their modules may
/// import same-named types from elsewhere, such as `mfa_store`'s.)
pub(crate) mod doc {
    pub use mfa_wire::ErrorBody;

    pub use super::Health;

    // What each error means, where it is the same for many operations.
    pub const BAD_JSON: &str = "`bad_request`: the body is not JSON, has an unknown field, lacks a \
                                required one or has one of the wrong type, or a value is not valid \
                                (the message names it).";
    pub const TOO_LARGE: &str = "`payload_too_large`: the body is over 16 KiB.";
    pub const NOT_JSON: &str =
        "`unsupported_media_type`: the body was not sent with `Content-Type: application/json`.";
    pub const NO_SERVER_TOKEN: &str = "`unauthorized`: no API token (`Authorization: Bearer \
                                       mfas_...`), or one that is not valid (which counts as a \
                                       failure of the caller's address).";
    pub const NO_CLIENT_KEY: &str = "`unauthorized`: no client key (`Authorization: Bearer \
                                     mfak_...`), or one that is not valid (which counts as a failure \
                                     of the caller's address).";
    pub const NO_API_TOKEN: &str = "`unauthorized`: no API token (`Authorization: Bearer \
                                    mfat_...`), or one that is not valid (which counts as a failure \
                                    of the caller's address).";
    pub const HOST_FORBIDDEN: &str = "`forbidden`: the token's `--hosts` do not cover this host (or \
                                      a step-up names no host and the token is not allowed `*`).";
    pub const LOCKED: &str = "`locked_out`: a request without a valid token, from an address locked \
                              out after too many bad tokens or links; the message says until when. \
                              A request with a valid token is never refused for its address.";
    pub const INTERNAL: &str =
        "`internal`: something that should not happen; the server log has the details.";
    pub const UNAVAILABLE: &str = "`unavailable`: the database does not answer; try again shortly.";
    pub const NEEDS_PASSKEY: &str = "`forbidden`: `approve` for a push the policy requires a passkey \
        for: only its approve page (or device link) approves it, with one of the client's passkeys. \
        `deny` and `fraud` still work.";
    pub const NO_OTP_SCOPE: &str = "`forbidden`: the token lacks the `otp` scope (checked before the \
                                    body is read).";
    pub const OTP_NOT_FOUND: &str = "`not_found`: no such credential, or another token's (each belongs to the token that made it).";
    pub const CODE_NOT_FOUND: &str = "`not_found`: no such one-time code, or another token's (each belongs to the token that made it).";
    pub const VAULT_ID: &str = "`bad_request`: the app id is not a number.";
    pub const VAULT_NOT_FOUND: &str = "`not_found`: no vault app has this id.";
    pub const HTML_NOT_FOUND: &str = "The link is not valid (unknown token); counts as a failure of \
                                      the caller's address.";
    pub const HTML_GONE: &str =
        "The push was already approved or denied, or has expired: the link works once.";
    pub const HTML_LOCKED: &str =
        "The caller's address is locked out after too many invalid links.";
    pub const HTML_UNAVAILABLE: &str = "The database does not answer; try again shortly.";
    pub const HTML_INTERNAL: &str =
        "Something that should not happen; the server log has the details.";
}
