//! The HTTP side of `mfad`: the router, its shared state and the one place errors become
//! responses. The daemon binary only loads config, opens the store and serves this router.

mod auth_flow;
mod background;
mod client_api;
mod error;
mod extract;
mod factors;
mod guard;
mod health;
mod hub;
mod login;
pub mod notify;
mod offer;
pub mod openapi;
mod otp_api;
mod policy;
mod push;
pub mod serve;
mod server_api;
mod state;
mod vault_api;
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

/// Every route mfad serves. Each one is in the OpenAPI document ([`openapi`]), which
/// `tests/api/openapi.rs` holds to this list.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/openapi.json", get(openapi::serve))
        .route("/v1/preauth", post(server_api::preauth))
        .route("/v1/stepup", post(server_api::stepup))
        .route("/v1/auth", post(server_api::auth))
        .route(
            "/v1/auth/{txid}",
            get(server_api::auth_status).delete(server_api::cancel),
        )
        .route("/v1/client/ws", get(ws::upgrade))
        .route("/v1/client/requests", get(client_api::pending))
        .route("/v1/client/requests/{txid}", post(client_api::decide))
        .route("/v1/client/enroll", post(client_api::enroll))
        .route("/v1/notify/{token}", post(client_api::decide_by_token))
        .route("/approve/{token}", get(web::page).post(web::submit))
        .route("/v1/otp/credentials", post(otp_api::create_credential))
        .route(
            "/v1/otp/credentials/{id}",
            get(otp_api::get_credential).delete(otp_api::delete_credential),
        )
        .route(
            "/v1/otp/credentials/{id}/verify",
            post(otp_api::verify_credential),
        )
        .route("/v1/otp/codes", post(otp_api::create_code))
        .route("/v1/otp/codes/{id}/verify", post(otp_api::verify_code))
        .route("/v1/vault/apps", get(vault_api::list).post(vault_api::add))
        .route(
            "/v1/vault/apps/{id}",
            get(vault_api::show).delete(vault_api::remove),
        )
        .route("/v1/vault/apps/{id}/code", get(vault_api::code))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Background work a serving node runs: expiring pushes nobody answered, withdrawing those
/// whose logins went with an earlier run, watching for revocations. Call it before serving:
/// it reads the revocation counter first, so no revocation after it goes unseen.
pub async fn spawn_background(state: &AppState) -> Result<(), ApiError> {
    let epoch = state.store.credential_epoch().await?;
    tokio::spawn(state.hub.clone().watch_revocations(epoch));
    tokio::spawn(background::sweep_forever(state.clone()));
    tokio::spawn(background::withdraw_abandoned(state.clone()));
    Ok(())
}
