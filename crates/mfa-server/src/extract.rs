//! Request extractors: JSON bodies with our errors, bearer identities, the real peer address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use mfa_core::Scope;
use mfa_secrets::{Token, TokenHash};
use mfa_store::{ApiToken, Client, Server};
use serde::de::DeserializeOwned;

use crate::token_cache::TokenCache;
use crate::{ApiError, AppState, guard};

/// `Json<T>`, but a rejection is an [`ApiError`] (a JSON body naming the problem).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

/// `Path<T>`, but a rejection (a segment that is not UTF-8, say) is an [`ApiError`].
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// The address the request comes from, after `trusted_reverse_proxies` are taken into account.
#[derive(Debug, Clone, Copy)]
pub struct PeerIp(pub IpAddr);

impl FromRequestParts<AppState> for PeerIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| ci.0.ip())
            .ok_or_else(|| ApiError::Internal("no peer address on the connection".into()))?;
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        Ok(PeerIp(mfa_core::client_addr(
            peer,
            header("x-forwarded-for"),
            header("x-real-ip"),
            &state.config.trusted_reverse_proxies,
        )))
    }
}

fn bearer(headers: &HeaderMap) -> Option<Token> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| Token::from_presented(token))
}

/// `lookup(hash)` through `cache`, when revocations are watched (`seen`). The generation is read
/// before the database, so a revocation during the lookup makes the entry stale, not lost.
async fn cached<T, F, Fut>(
    cache: &TokenCache<T>,
    seen: Option<u64>,
    hash: TokenHash,
    lookup: F,
) -> Result<Option<T>, mfa_store::StoreError>
where
    T: Clone,
    F: FnOnce(TokenHash) -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, mfa_store::StoreError>>,
{
    let Some(generation) = seen else {
        return lookup(hash).await;
    };
    if let Some(hit) = cache.get(&hash, generation) {
        return Ok(Some(hit));
    }
    let found = lookup(hash.clone()).await?;
    if let Some(value) = &found {
        cache.put(&hash, value.clone(), generation);
    }
    Ok(found)
}

/// Resolves a bearer token to its owner. A request with a valid token is never refused for its
/// address; a caller that keeps presenting bad ones is locked out (429), by its address, like a
/// user who keeps typing bad codes. Every refusal is audited with the caller's address.
async fn authenticate<T, F, Fut>(
    parts: &Parts,
    state: &AppState,
    what: &str,
    lookup: F,
) -> Result<(T, TokenHash), ApiError>
where
    F: FnOnce(TokenHash) -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, mfa_store::StoreError>>,
{
    let PeerIp(peer) = PeerIp::from_request_parts(&mut parts.clone(), state).await?;
    let Some(token) = bearer(&parts.headers) else {
        guard::refuse_locked_caller(state, peer, what).await?;
        let message = format!("missing {what}: send it as Authorization: Bearer <{what}>");
        guard::caller_refused(state, peer, what, &message).await?;
        return Err(ApiError::Unauthorized(message));
    };
    let hash = token.hash();
    if let Some(found) = lookup(hash.clone()).await? {
        return Ok((found, hash));
    }
    guard::refuse_locked_caller(state, peer, what).await?;
    guard::caller_failed(state, peer, what).await?;
    Err(ApiError::Unauthorized(format!("invalid {what}")))
}

/// A trusted server, from its API token (and the token's hash, to check it again later: a
/// long poll outlives a rotation).
pub struct AuthServer(pub Server, pub TokenHash);

impl FromRequestParts<AppState> for AuthServer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (store, cache) = (state.store.clone(), state.servers.clone());
        let seen = state.hub.revocations_seen();
        authenticate(parts, state, "API token", |h| async move {
            cached(&cache, seen, h, |h| async move {
                store.server_by_token(&h).await
            })
            .await
        })
        .await
        .map(|(server, hash)| AuthServer(server, hash))
    }
}

/// An enrolled client, from its client key (and the key's hash, to check it again later: a
/// WebSocket outlives a rotation or a removal).
pub struct AuthClient(pub Client, pub TokenHash);

impl FromRequestParts<AppState> for AuthClient {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let store = state.store.clone();
        authenticate(parts, state, "client key", |h| async move {
            store.client_by_key(&h).await
        })
        .await
        .map(|(client, hash)| AuthClient(client, hash))
    }
}

/// An API token for the OTP service and the vault (`mfat_...`). Handlers check its scope with
/// [`AuthToken::require`] before they look at the body, so a token without the scope gets 403
/// whatever it sends.
pub struct AuthToken(pub ApiToken);

impl FromRequestParts<AppState> for AuthToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (store, cache) = (state.store.clone(), state.api_tokens.clone());
        let seen = state.hub.revocations_seen();
        authenticate(parts, state, "API token", |h| async move {
            cached(&cache, seen, h, |h| async move {
                store.api_token_by_hash(&h).await
            })
            .await
        })
        .await
        .map(|(token, _)| AuthToken(token))
    }
}

impl AuthToken {
    /// The token, if it has `scope`; else 403 naming what is missing.
    pub fn require(&self, scope: Scope) -> Result<&ApiToken, ApiError> {
        if self.0.has(scope) {
            Ok(&self.0)
        } else {
            Err(ApiError::Forbidden(format!(
                "API token {} lacks the {scope} scope (it has {}): add a token with --scope {scope}",
                self.0.name, self.0.scopes
            )))
        }
    }
}
