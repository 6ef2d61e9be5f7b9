//! A signed call from one of Duo's clients: the raw request checked against its integration's
//! skey (mfa_duo::verify), before any handler reads a parameter. Its refusals are Duo's FAIL
//! answers in the call's dialect; a refusal of a *login* is never one of them (see `login.rs`).

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mfa_duo::reply::{self, Encoded};
use mfa_duo::{BodyKind, Dialect, DuoAuthError, MAX_SKEW, Params, SignedRequest};
use mfa_store::{DuoIntegration, Server};

use crate::extract::PeerIp;
use crate::{ApiError, AppState, MAX_BODY_BYTES, guard};

/// What the audit log and lockouts call a bad Duo credential.
const WHAT: &str = "Duo signature";

/// Duo's `40301 Access forbidden`.
pub const CODE_FORBIDDEN: u32 = 40301;
/// Duo's `42901 Too many requests`.
pub const CODE_TOO_MANY: u32 = 42901;
/// Duo's `41301` for a body that is too large.
pub const CODE_TOO_LARGE: u32 = 41301;

/// A refusal in Duo's shape: `{"stat":"FAIL","code":...,"message":...}` (BSON for the legacy
/// dialect) with Duo's HTTP status.
#[derive(Debug)]
pub struct DuoFail {
    pub dialect: Dialect,
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
    pub detail: Option<String>,
}

impl DuoFail {
    /// `40002 Invalid request parameters`, naming the parameter.
    pub fn param(dialect: Dialect, name: &str, why: &str) -> Self {
        Self {
            dialect,
            status: StatusCode::BAD_REQUEST,
            code: mfa_duo::answer::CODE_INVALID_PARAMS,
            message: format!("Invalid request parameters: {name} {why}"),
            detail: Some(name.to_owned()),
        }
    }

    fn forbidden(dialect: Dialect, message: String) -> Self {
        Self {
            dialect,
            status: StatusCode::FORBIDDEN,
            code: CODE_FORBIDDEN,
            message,
            detail: None,
        }
    }

    /// An [`ApiError`] from the shared API code, for a call that is not a login decision
    /// (those turn every error into a deny instead).
    pub fn from_api(dialect: Dialect, e: ApiError) -> Self {
        let (status, code) = match &e {
            ApiError::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                mfa_duo::answer::CODE_INVALID_PARAMS,
            ),
            ApiError::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                mfa_duo::answer::CODE_INVALID_SIGNATURE,
            ),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, CODE_FORBIDDEN),
            ApiError::NotFound(_) => (
                StatusCode::BAD_REQUEST,
                mfa_duo::answer::CODE_INVALID_PARAMS,
            ),
            ApiError::LockedOut(_) => (StatusCode::TOO_MANY_REQUESTS, CODE_TOO_MANY),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, CODE_TOO_LARGE),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, 50000),
        };
        if let ApiError::Internal(detail) = &e {
            tracing::error!(%detail, "internal error");
        }
        Self {
            dialect,
            status,
            code,
            message: e.to_string(),
            detail: None,
        }
    }
}

impl IntoResponse for DuoFail {
    fn into_response(self) -> Response {
        let encoded = reply::fail(
            self.dialect,
            self.code,
            &self.message,
            self.detail.as_deref(),
        );
        encoded_response(self.status, encoded)
    }
}

pub fn encoded_response(status: StatusCode, encoded: Encoded) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, encoded.content_type)],
        encoded.body,
    )
        .into_response()
}

/// A verified call: its integration, its parameters, the dialect it came in.
pub struct DuoCall {
    pub integration: DuoIntegration,
    pub params: Params,
    pub dialect: Dialect,
}

impl DuoCall {
    /// The integration as the shared server API sees a caller: its name (`duo:NAME`, which no
    /// server token can have) and the hosts it may ask about.
    pub fn server(&self) -> Server {
        Server {
            name: format!("duo:{}", self.integration.name),
            hosts: self.integration.hosts.clone(),
            created_at: self.integration.created_at,
        }
    }

    /// The one value of `name`, if given (empty counts as not given); given twice is refused.
    pub fn param(&self, name: &str) -> Result<Option<&str>, DuoFail> {
        if self.params.count(name) > 1 {
            return Err(DuoFail::param(
                self.dialect,
                name,
                "is given more than once",
            ));
        }
        let Some(pair) = self
            .params
            .pairs()
            .iter()
            .find(|(k, _)| k == name.as_bytes())
        else {
            return Ok(None);
        };
        let value = std::str::from_utf8(&pair.1)
            .map_err(|_| DuoFail::param(self.dialect, name, "is not UTF-8"))?;
        Ok((!value.is_empty()).then_some(value))
    }

    /// The value of `name`, which must be given.
    pub fn required(&self, name: &str) -> Result<&str, DuoFail> {
        self.param(name)?
            .ok_or_else(|| DuoFail::param(self.dialect, name, "is missing"))
    }
}

/// The dialect a path belongs to.
fn dialect_of(path: &str) -> Dialect {
    if path.starts_with("/rest/v1/") {
        Dialect::Legacy
    } else {
        Dialect::AuthV2
    }
}

impl FromRequest<AppState> for DuoCall {
    type Rejection = DuoFail;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, DuoFail> {
        let (mut parts, body) = req.into_parts();
        let dialect = dialect_of(parts.uri.path());
        let api = |e: ApiError| DuoFail::from_api(dialect, e);
        let PeerIp(peer) = PeerIp::from_request_parts(&mut parts, state)
            .await
            .map_err(api)?;
        let body = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|_| {
                api(ApiError::PayloadTooLarge(format!(
                    "the body is over {MAX_BODY_BYTES} bytes"
                )))
            })?;
        let headers = header_pairs(&parts.headers);
        let signed = SignedRequest {
            dialect,
            method: parts.method.as_str(),
            host: parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or_default().as_bytes(),
            body: &body,
            body_kind: BodyKind::from_content_type(
                parts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok()),
            ),
            headers: &headers,
        };
        let (integration, params) = verify(state, &signed, peer).await?;
        if dialect == Dialect::Legacy && !integration.legacy {
            return Err(DuoFail::forbidden(
                dialect,
                format!(
                    "Duo integration {} does not allow the legacy /rest/v1 dialect (its requests \
                     carry no date and can be replayed): use duo_unix 2.x, or add the integration \
                     with mfac duo add --legacy",
                    integration.name
                ),
            ));
        }
        Ok(Self {
            integration,
            params,
            dialect,
        })
    }
}

fn header_pairs(headers: &HeaderMap) -> Vec<(&str, &str)> {
    headers
        .iter()
        .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v)))
        .collect()
}

/// Finds the integration of the call's ikey and checks the signature with its skey. A bad
/// one counts against the caller's address (a locked address is refused before its
/// signature is looked at), as a bad bearer token does.
async fn verify(
    state: &AppState,
    signed: &SignedRequest<'_>,
    peer: IpAddr,
) -> Result<(DuoIntegration, Params), DuoFail> {
    let dialect = signed.dialect;
    let api = |e: ApiError| DuoFail::from_api(dialect, e);
    let refused = |e: DuoAuthError| DuoFail {
        dialect,
        status: StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::UNAUTHORIZED),
        code: e.duo_code(),
        message: e.to_string(),
        detail: None,
    };
    guard::refuse_locked_caller(state, peer, WHAT)
        .await
        .map_err(api)?;
    let authorization = match signed.authorization() {
        Ok(a) => a,
        Err(e) => {
            guard::caller_refused(state, peer, WHAT, &e.to_string())
                .await
                .map_err(api)?;
            return Err(refused(e));
        }
    };
    let found = state
        .store
        .duo_integration_by_ikey(&authorization.ikey)
        .await
        .map_err(|e| api(e.into()))?;
    let now = jiff::Timestamp::from_millisecond(state.clock.now().millis())
        .map_err(|e| api(ApiError::Internal(e.to_string())))?;
    let Some((integration, skey)) = found else {
        guard::caller_failed(state, peer, WHAT).await.map_err(api)?;
        return Err(refused(DuoAuthError::Mismatch));
    };
    match mfa_duo::verify(signed, skey.as_bytes(), now, MAX_SKEW) {
        Ok(verified) => Ok((integration, verified.params)),
        // Malformed parameters: a 400, not a credential to count.
        Err(e @ DuoAuthError::BadParams(_)) => Err(refused(e)),
        Err(e) => {
            guard::caller_failed(state, peer, WHAT).await.map_err(api)?;
            Err(refused(e))
        }
    }
}
