//! `GET /metrics`: the Prometheus text format, open or behind `metrics_token`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use mfa_secrets::{TokenHash, ct_eq};

use super::{Metrics, Query};
use crate::openapi::doc::*;
use crate::{ApiError, AppState};

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long a scrape waits for the database's counts; without them it answers anyway (the
/// gauges keep their last values), as metrics matter most while the database struggles.
const COUNT_TIMEOUT: Duration = Duration::from_secs(2);

/// `metrics_token` as a security scheme's name.
pub const METRICS_TOKEN: &str = "metrics_token";

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    operation_id = "metrics",
    summary = "Prometheus metrics",
    description = "Counters, gauges and histograms in the Prometheus text format 0.0.4, all named \
        `mfa_*`: requests by route template and status, decisions by method and result, push \
        latency, pending pushes, open WebSockets, lockouts in force by kind, notification \
        failures by provider, database latency by query. Labels never carry a user name, \
        alias, address or token.\n\n\
        No authentication unless `metrics_token` is set in mfad.toml; then only with \
        `Authorization: Bearer <metrics_token>`. Answers 200 even when the database does not \
        (the gauges it counts keep their last values).",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "The metrics.", body = String,
            content_type = "text/plain; version=0.0.4; charset=utf-8"),
        (status = 401, description = "`unauthorized`: `metrics_token` is set and the request \
            does not carry it (`Authorization: Bearer <metrics_token>`).", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
    )
)]
pub async fn serve(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&state.metrics, &headers) {
        return e.into_response();
    }
    refresh_counts(&state).await;
    match state.metrics.render() {
        Ok(body) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(e) => ApiError::Internal(format!("cannot render the metrics: {e}")).into_response(),
    }
}

/// Open when no token is set; else the bearer token must be it. Both sides are hashed first,
/// so the constant-time comparison is of equal lengths and tells nothing of the token's.
fn authorize(metrics: &Metrics, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &metrics.token else {
        return Ok(());
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| TokenHash::of(token.trim()));
    match presented {
        Some(hash) if ct_eq(hash.as_str().as_bytes(), expected.as_str().as_bytes()) => Ok(()),
        _ => Err(ApiError::Unauthorized(
            "the metrics need the metrics token: send Authorization: Bearer <metrics_token>".into(),
        )),
    }
}

/// Reads the gauges that are the database's state: pending pushes, lockouts in force.
async fn refresh_counts(state: &AppState) {
    let now = state.clock.now();
    let counts = async {
        let pending = state.store.pending_push_count(now).await?;
        let lockouts = state.store.lockout_counts(now).await?;
        Ok::<_, mfa_store::StoreError>((pending, lockouts))
    };
    let counted = state
        .metrics
        .time(Query::Count, tokio::time::timeout(COUNT_TIMEOUT, counts));
    match counted.await {
        Ok(Ok((pending, lockouts))) => {
            state.metrics.set_pending(pending);
            state.metrics.set_lockouts(&lockouts);
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: cannot count pushes and lockouts"),
        Err(_) => tracing::warn!(
            ?COUNT_TIMEOUT,
            "metrics: the database did not count pushes and lockouts in time"
        ),
    }
}
