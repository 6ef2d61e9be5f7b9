use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::openapi::doc::*;
use crate::{ApiError, AppState};

/// Liveness and readiness in one: 200 when the database answers, 503 otherwise.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    operation_id = "healthz",
    summary = "Liveness and readiness",
    description = "200 when the database answers, 503 otherwise. No authentication.",
    responses(
        (status = 200, description = "The server and its database answer.", body = Health),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match state.store.ping().await {
        Ok(()) => Ok(Json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            Err(ApiError::Unavailable)
        }
    }
}
