use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::{ApiError, AppState};

/// Liveness and readiness in one: 200 when the database answers, 503 otherwise.
pub async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match state.store.ping().await {
        Ok(()) => Ok(Json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            Err(ApiError::Unavailable)
        }
    }
}
