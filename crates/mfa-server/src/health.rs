use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;

use crate::metrics::Query;
use crate::openapi::doc::*;
use crate::{ApiError, AppState};

/// A database answer this recent (milliseconds) stands for now. Monitors and load balancers
/// poll /healthz often, and a ping each time cost three times the rest of the request (a
/// round trip to sqlx's SQLite worker thread); a database that stops answering shows within
/// this long.
const FRESH_MILLIS: i64 = 1000;

/// How long a health check waits for the database. A database that went away makes the pool
/// retry connecting until its acquire timeout (10 s); a load balancer wants its answer sooner.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// When the database last answered a health check (milliseconds of the injected clock).
#[derive(Debug, Default)]
pub struct HealthProbe {
    last_answer: AtomicI64,
}

/// Liveness and readiness in one: 200 when the database answered within the last second,
/// 503 otherwise.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    operation_id = "healthz",
    summary = "Liveness and readiness",
    description = "200 when the database answered within the last second (it is asked again \
                   when its last answer is older, and given 2 s), 503 otherwise. No \
                   authentication.",
    responses(
        (status = 200, description = "The server and its database answer.", body = Health),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let now = state.clock.now().millis();
    let last = state.health.last_answer.load(Ordering::Relaxed);
    if last != 0 && (0..FRESH_MILLIS).contains(&(now - last)) {
        return Ok(healthy());
    }
    let ping = tokio::time::timeout(PING_TIMEOUT, state.store.ping());
    match state.metrics.time(Query::Ping, ping).await {
        Ok(Ok(())) => {
            state.health.last_answer.store(now, Ordering::Relaxed);
            Ok(healthy())
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            Err(ApiError::Unavailable)
        }
        Err(_) => {
            tracing::warn!(
                ?PING_TIMEOUT,
                "health check: the database did not answer in time"
            );
            Err(ApiError::Unavailable)
        }
    }
}

fn healthy() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}
