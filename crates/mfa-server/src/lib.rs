//! The HTTP side of `mfad`: the router, its shared state and the one place errors become
//! responses. The daemon binary only loads config, opens the store and serves this router.

mod error;
mod health;
mod state;

use axum::Router;
use axum::routing::get;

pub use error::ApiError;
pub use state::AppState;

/// Every route mfad serves.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .fallback(error::not_found)
        .with_state(state)
}
