//! Registering a passkey (WebAuthn) through a single-use link (`mfac client passkey-link
//! ALIAS`, or the button on the enrolment page's last step): `GET /passkey/{token}` is the
//! page, whose script (`GET /assets/passkey.js`, the only script mfad serves) asks `POST
//! /passkey/{token}/options` for a challenge, has the browser make the credential, and sends
//! it to `POST /passkey/{token}/register`. webauthn-rs checks it (user verification
//! required); the challenge's state waits in the database, so any node can take the answer,
//! and is taken once. The relying party is `host_addr`'s host, which must be a DNS name.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use data_encoding::BASE64URL_NOPAD;
use mfa_core::Alias;
use mfa_secrets::{Token, TokenHash, random_bytes, random_id};
use mfa_store::{Ceremony, NewPasskey, PASSKEY_TOKEN_PREFIX, PasskeyLink};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PasskeyRegistration, RegisterPublicKeyCredential, Url, Uuid,
    Webauthn, WebauthnBuilder,
};

use crate::extract::{ApiJson, ApiPath, PeerIp};
use crate::openapi::doc::*;
use crate::{ApiError, AppState};

use super::{Page, body, cross_origin, readable, site_path};

/// A challenge waits this long for its answer.
const CEREMONY_SECS: i64 = 300;
/// The longest name a passkey may have.
const MAX_NAME: usize = 64;
/// The registration script, compiled in.
const SCRIPT: &str = include_str!("../../assets/passkey.js");

/// The relying party for `host_addr`: its host (a DNS name) and origin.
pub(crate) fn webauthn(state: &AppState) -> Result<Webauthn, ApiError> {
    let origin = Url::parse(&state.config.host_addr())
        .map_err(|e| ApiError::Internal(format!("host_addr: {e}")))?;
    let Some(rp_id) = origin.domain().map(str::to_owned) else {
        return Err(ApiError::BadRequest(
            "passkeys need host_addr with a DNS name (https://mfa.example.org): a passkey \
             cannot belong to an IP address"
                .into(),
        ));
    };
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|b| b.rp_name("mfa").build())
        .map_err(|e| ApiError::Internal(format!("WebAuthn relying party {rp_id}: {e}")))
}

/// How long the link the enrolment page offers works.
const OFFER_SECS: i64 = 3600;

/// A new passkey link for `client`, offered at the end of its enrolment; `None` when
/// `host_addr` allows no passkeys.
pub(crate) async fn offer_link(
    state: &AppState,
    client: &Alias,
) -> Result<Option<String>, ApiError> {
    if webauthn(state).is_err() {
        return Ok(None);
    }
    let token =
        Token::generate(PASSKEY_TOKEN_PREFIX).map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = state.clock.now();
    let until = now.plus_secs(OFFER_SECS);
    state
        .store
        .add_passkey_link(client, &token.hash(), now, until)
        .await?;
    Ok(Some(format!(
        "{}/passkey/{}",
        state.config.host_addr(),
        token.expose()
    )))
}

/// The open link a token names; else 404 (counted against the caller) or 410.
async fn open_link(
    state: &AppState,
    peer: std::net::IpAddr,
    token: &str,
) -> Result<(TokenHash, PasskeyLink), ApiError> {
    let hash = Token::from_presented(token).hash();
    let Some(link) = state.store.passkey_link(&hash).await? else {
        crate::guard::refuse_locked_caller(state, peer, "passkey link").await?;
        crate::guard::caller_failed(state, peer, "passkey link").await?;
        return Err(ApiError::NotFound("this passkey link is not valid".into()));
    };
    if !link.is_open(state.clock.now()) {
        return Err(ApiError::Gone(
            "this passkey link was used or has expired: ask for a new one".into(),
        ));
    }
    Ok((hash, link))
}

#[derive(Template)]
#[template(path = "passkey.html")]
struct PasskeyPage<'a> {
    alias: &'a str,
    script_url: String,
    options_url: String,
    register_url: String,
    expires: String,
    count: usize,
}

/// `GET /passkey/{token}`.
#[utoipa::path(
    get,
    path = "/passkey/{token}",
    tag = "enrol",
    operation_id = "passkey_page",
    summary = "The page that registers a passkey",
    description = "A server-rendered page with a name field and a button; its script\n\
        (`/assets/passkey.js`) runs the WebAuthn registration. Every answer is an HTML page.",
    params(("token" = String, Path, description = "The single-use token of the passkey link.")),
    responses(
        (status = 200, description = "The page.", body = String, content_type = "text/html"),
        (status = 400, description = "Passkeys are not available: `host_addr` names no DNS host.", body = String, content_type = "text/html"),
        (status = 404, description = HTML_NOT_FOUND, body = String, content_type = "text/html"),
        (status = 410, description = "The link was used or has expired.", body = String, content_type = "text/html"),
        (status = 429, description = HTML_LOCKED, body = String, content_type = "text/html"),
        (status = 500, description = HTML_INTERNAL, body = String, content_type = "text/html"),
        (status = 503, description = HTML_UNAVAILABLE, body = String, content_type = "text/html"),
    )
)]
pub async fn page(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    ApiPath(token): ApiPath<String>,
) -> Response {
    let shown = async {
        let (_, link) = open_link(&state, peer, &token).await?;
        webauthn(&state)?;
        let count = state.store.passkeys(&link.client).await?.len();
        let base = format!("{}/passkey/{}", site_path(&state), token.trim());
        body(&PasskeyPage {
            alias: link.client.as_str(),
            script_url: format!("{}/assets/passkey.js", site_path(&state)),
            options_url: format!("{base}/options"),
            register_url: format!("{base}/register"),
            expires: readable(link.expires_at),
            count,
        })
    };
    match shown.await {
        Ok(html) => {
            let mut page = Page::new(StatusCode::OK, "Register a passkey", html);
            page.scripts = true;
            page.into_response()
        }
        Err(e) => failure(&e).into_response(),
    }
}

fn failure(e: &ApiError) -> Page {
    match e {
        ApiError::Gone(m) => Page::message(StatusCode::GONE, "This link no longer works", m),
        ApiError::NotFound(_) => Page::message(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "This passkey link is not valid. Check that it was copied whole.",
        ),
        ApiError::BadRequest(m) => Page::message(
            StatusCode::BAD_REQUEST,
            "Passkeys are not available here",
            m,
        ),
        other => super::approve::failure(other),
    }
}

/// `GET /assets/passkey.js`.
#[utoipa::path(
    get,
    path = "/assets/passkey.js",
    tag = "enrol",
    operation_id = "passkey_script",
    summary = "The passkey page's script",
    description = "The only script mfad serves: the WebAuthn registration of `/passkey/{token}`.",
    responses(
        (status = 200, description = "The script.", body = String, content_type = "text/javascript"),
    )
)]
pub async fn script() -> Response {
    let mut response = (StatusCode::OK, SCRIPT).into_response();
    let h = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A challenge for the browser, and the ceremony that answers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasskeyOptions {
    /// Names the challenge in `POST /passkey/{token}/register`.
    pub ceremony: String,
    /// WebAuthn's `PublicKeyCredentialCreationOptions`, binary fields base64url.
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    pub public_key: Value,
}

/// `POST /passkey/{token}/options`.
#[utoipa::path(
    post,
    path = "/passkey/{token}/options",
    tag = "enrol",
    operation_id = "passkey_options",
    summary = "Start registering a passkey",
    description = "A WebAuthn challenge (user verification required; the client's passkeys excluded),\n\
        valid for 5 minutes and answered once. Sent by the page's script (same origin).",
    params(("token" = String, Path, description = "The single-use token of the passkey link.")),
    responses(
        (status = 200, description = "The challenge.", body = PasskeyOptions),
        (status = 400, description = "`bad_request`: passkeys are not available (`host_addr` names no DNS host).", body = ErrorBody),
        (status = 403, description = "Sent from another site (`Origin`, `Sec-Fetch-Site`).", body = ErrorBody),
        (status = 404, description = "Unknown link; counts as a failure of the caller's address.", body = ErrorBody),
        (status = 410, description = "The link was used or has expired.", body = ErrorBody),
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
) -> Result<axum::Json<PasskeyOptions>, ApiError> {
    same_site(&state, &headers)?;
    let (hash, link) = open_link(&state, peer, &token).await?;
    let webauthn = webauthn(&state)?;
    let user = user_handle(&state, &link.client).await?;
    let exclude = existing_ids(&state, &link.client).await?;
    let alias = link.client.as_str();
    let (ccr, registration): (CreationChallengeResponse, PasskeyRegistration) = webauthn
        .start_passkey_registration(user, alias, alias, Some(exclude))
        .map_err(|e| ApiError::Internal(format!("WebAuthn registration: {e}")))?;
    let purpose = format!("register:{}", hash.as_str());
    let started = (&link.client, purpose, CEREMONY_SECS);
    Ok(axum::Json(
        begin_ceremony(&state, started, &registration, &ccr).await?,
    ))
}

/// Keeps a ceremony's `saved` state for `client` and `purpose` for `secs`, and hands the
/// browser its `challenge` (webauthn-rs's options, whose `publicKey` the browser takes).
pub(crate) async fn begin_ceremony(
    state: &AppState,
    (client, purpose, secs): (&Alias, String, i64),
    saved: &impl Serialize,
    challenge: &impl Serialize,
) -> Result<PasskeyOptions, ApiError> {
    let ceremony = random_id(20).map_err(|e| ApiError::Internal(e.to_string()))?;
    let kept = Ceremony {
        client: client.clone(),
        purpose,
        state: to_json(saved)?,
    };
    let expires = state.clock.now().plus_secs(secs);
    state
        .store
        .start_ceremony(&ceremony, &kept, expires)
        .await?;
    let options = serde_json::to_value(challenge).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(PasskeyOptions {
        ceremony,
        public_key: options["publicKey"].clone(),
    })
}

/// Takes ceremony `id` back (once) and its state, when it was begun for `client` and
/// `purpose`; otherwise a 400 that ends with `again` (what to do next).
pub(crate) async fn end_ceremony<T: serde::de::DeserializeOwned>(
    state: &AppState,
    id: &str,
    (client, purpose): (&Alias, &str),
    again: &str,
) -> Result<T, ApiError> {
    let ceremony = state.store.take_ceremony(id, state.clock.now()).await?;
    let Some(ceremony) = ceremony.filter(|c| c.purpose == purpose && &c.client == client) else {
        return Err(ApiError::BadRequest(format!(
            "ceremony: unknown, used or expired: {again}"
        )));
    };
    serde_json::from_str(&ceremony.state)
        .map_err(|e| ApiError::Internal(format!("ceremony state: {e}")))
}

pub(crate) fn to_json(value: &impl Serialize) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| ApiError::Internal(e.to_string()))
}

/// A JSON POST from a page of this site only (the path's token is the credential).
pub(crate) fn same_site(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match cross_origin(state, headers) {
        Some(why) => Err(ApiError::Forbidden(format!(
            "sent from another site ({why})"
        ))),
        None => Ok(()),
    }
}

/// The client's WebAuthn user handle (random, stable).
async fn user_handle(state: &AppState, client: &Alias) -> Result<Uuid, ApiError> {
    let fresh = Uuid::from_bytes(random_bytes().map_err(|e| ApiError::Internal(e.to_string()))?);
    let stored = state
        .store
        .webauthn_user(client, &fresh.to_string())
        .await?;
    Uuid::parse_str(&stored).map_err(|e| ApiError::Internal(format!("webauthn_user: {e}")))
}

async fn existing_ids(state: &AppState, client: &Alias) -> Result<Vec<Vec<u8>>, ApiError> {
    let stored = state.store.passkeys(client).await?;
    Ok(stored
        .iter()
        .filter_map(|p| BASE64URL_NOPAD.decode(p.credential_id.as_bytes()).ok())
        .collect())
}

/// What the page's script sends back.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRegistrationAnswer {
    /// From `POST /passkey/{token}/options`.
    pub ceremony: String,
    /// What the person calls this passkey ("phone"); 1 to 64 characters.
    pub name: String,
    /// The `PublicKeyCredential` the browser made, binary fields base64url.
    #[schema(value_type = Object)]
    pub credential: Value,
}

/// The passkey registered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasskeyRegistered {
    pub name: String,
    /// How many passkeys the client has now.
    pub passkeys: usize,
}

/// `POST /passkey/{token}/register`.
#[utoipa::path(
    post,
    path = "/passkey/{token}/register",
    tag = "enrol",
    operation_id = "passkey_register",
    summary = "Finish registering a passkey",
    description = "Checks the browser's credential against the ceremony's challenge (once; user\n\
        verification required), stores the passkey under the name and uses the link up.",
    params(("token" = String, Path, description = "The single-use token of the passkey link.")),
    request_body = PasskeyRegistrationAnswer,
    responses(
        (status = 200, description = "Registered.", body = PasskeyRegistered),
        (status = 400, description = "`bad_request`: a bad name or credential, an unknown or spent ceremony, a credential that does not check out or is registered already; or the body is not what the schema says.", body = ErrorBody),
        (status = 403, description = "Sent from another site (`Origin`, `Sec-Fetch-Site`).", body = ErrorBody),
        (status = 404, description = "Unknown link; counts as a failure of the caller's address.", body = ErrorBody),
        (status = 410, description = "The link was used or has expired.", body = ErrorBody),
        (status = 413, description = TOO_LARGE, body = ErrorBody),
        (status = 415, description = NOT_JSON, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    ApiPath(token): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(answer): ApiJson<PasskeyRegistrationAnswer>,
) -> Result<axum::Json<PasskeyRegistered>, ApiError> {
    same_site(&state, &headers)?;
    let (hash, link) = open_link(&state, peer, &token).await?;
    let webauthn = webauthn(&state)?;
    let name = answer.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "name: 1 to {MAX_NAME} characters, no control characters"
        )));
    }
    let now = state.clock.now();
    let purpose = format!("register:{}", hash.as_str());
    let registration: PasskeyRegistration = end_ceremony(
        &state,
        &answer.ceremony,
        (&link.client, &purpose),
        "start again",
    )
    .await?;
    let credential: RegisterPublicKeyCredential = serde_json::from_value(answer.credential)
        .map_err(|e| ApiError::BadRequest(format!("credential: {e}")))?;
    let passkey = webauthn
        .finish_passkey_registration(&credential, &registration)
        .map_err(|e| ApiError::BadRequest(format!("credential: it does not check out ({e})")))?;
    let credential_id = BASE64URL_NOPAD.encode(passkey.cred_id());
    let stored = NewPasskey {
        link: &hash,
        credential_id: &credential_id,
        name,
        passkey: &to_json(&passkey)?,
        now,
    };
    let registered = match state.store.register_passkey(stored).await {
        Err(mfa_store::StoreError::Exists(what)) => return Err(ApiError::BadRequest(what)),
        other => other?,
    };
    if !registered {
        return Err(ApiError::Gone(
            "this passkey link was used meanwhile".into(),
        ));
    }
    tracing::info!(client = %link.client, %peer, name, "passkey registered");
    let passkeys = state.store.passkeys(&link.client).await?.len();
    Ok(axum::Json(PasskeyRegistered {
        name: name.to_owned(),
        passkeys,
    }))
}
