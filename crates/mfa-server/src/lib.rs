//! The HTTP side of `mfad`: the router, its shared state and the one place errors become
//! responses. The daemon binary only loads config, opens the store and serves this router.

mod client_api;
mod error;
mod extract;
mod guard;
mod health;
mod hub;
mod login;
pub mod notify;
mod push;
mod server_api;
mod state;
mod web;
mod ws;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use error::ApiError;
pub use hub::{Event, Hub};
pub use state::AppState;

/// Request bodies are small JSON objects; anything bigger is refused before it is read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Every route mfad serves.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/v1/preauth", post(server_api::preauth))
        .route("/v1/auth", post(server_api::auth))
        .route("/v1/auth/{txid}", get(server_api::auth_status))
        .route("/v1/client/ws", get(ws::upgrade))
        .route("/v1/client/requests", get(client_api::pending))
        .route("/v1/client/requests/{txid}", post(client_api::decide))
        .route("/v1/client/totp", get(client_api::totp_code))
        .route("/v1/notify/{token}", post(client_api::decide_by_token))
        .route("/approve/{token}", get(web::page).post(web::submit))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Background work a serving node runs: expiring pushes nobody answered.
pub fn spawn_background(state: &AppState) {
    tokio::spawn(push::sweep_forever(state.clone()));
}
