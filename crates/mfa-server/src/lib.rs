//! The HTTP side of `mfad`: the router, its shared state and the one place errors become
//! responses. The daemon binary only loads config, opens the store and serves this router.

mod auth_flow;
mod background;
mod client_api;
mod duo;
mod error;
mod extract;
mod factors;
mod fields;
mod guard;
mod health;
mod hub;
mod login;
pub mod metrics;
pub mod notify;
mod offer;
pub mod openapi;
mod otp_api;
mod policy;
mod push;
pub mod serve;
mod server_api;
mod state;
mod token_cache;
mod vault_api;
mod web;
mod ws;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;
pub use hub::{Event, Hub};
pub use state::AppState;

/// Request bodies are small JSON objects; anything bigger is refused before it is read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Every route mfad serves, with its OpenAPI operation. `routes!` mounts each handler at the
/// method and path of its `#[utoipa::path]` and adds that operation to the document, so this
/// one list is both the router and the document's paths. Handlers sharing a path go in one
/// `routes!`, and only those: it mounts all its handlers on each of their paths. Add routes
/// here only this way: a plain `.route()` would be undocumented, which `tests/api/openapi.rs`
/// refuses.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(openapi::serve))
        .routes(routes!(metrics::endpoint::serve))
        .routes(routes!(server_api::preauth))
        .routes(routes!(server_api::stepup))
        .routes(routes!(server_api::auth))
        .routes(routes!(server_api::auth_status, server_api::cancel))
        .routes(routes!(ws::upgrade))
        .routes(routes!(client_api::pending))
        .routes(routes!(client_api::decide))
        .routes(routes!(client_api::enroll))
        .routes(routes!(client_api::decide_by_token))
        .routes(routes!(web::approve::page, web::approve::submit))
        .routes(routes!(web::enrol::page, web::enrol::submit))
        .routes(routes!(web::approve_passkey::options))
        .routes(routes!(web::approve_passkey::approve))
        .routes(routes!(web::device::open))
        .routes(routes!(web::passkey::page))
        .routes(routes!(web::passkey::script))
        .routes(routes!(web::passkey::options))
        .routes(routes!(web::passkey::register))
        .routes(routes!(web::admin::console::home))
        .routes(routes!(web::admin::console::audit))
        .routes(routes!(
            web::admin::signin::page,
            web::admin::signin::submit
        ))
        .routes(routes!(web::admin::signin::logout))
        .routes(routes!(web::admin::console::clear_lockout))
        .routes(routes!(web::admin::console::enrol_link))
        .routes(routes!(otp_api::create_credential))
        .routes(routes!(otp_api::get_credential, otp_api::delete_credential))
        .routes(routes!(otp_api::verify_credential))
        .routes(routes!(otp_api::create_code))
        .routes(routes!(otp_api::verify_code))
        .routes(routes!(vault_api::list, vault_api::add))
        .routes(routes!(vault_api::show, vault_api::remove))
        .routes(routes!(vault_api::code))
        .routes(routes!(duo::ping))
        .routes(routes!(duo::check))
        .routes(routes!(duo::preauth_v2))
        .routes(routes!(duo::auth_v2))
        .routes(routes!(duo::auth_status_v2))
        .routes(routes!(duo::preauth_legacy))
        .routes(routes!(duo::auth_legacy))
        .routes(routes!(duo::status_legacy))
}

/// The router: [`routes`], and JSON errors for unknown paths and methods.
/// Every answer is counted by route template and status (outermost, so it sees them all).
pub fn router(state: AppState) -> Router {
    let (router, _document) = routes().split_for_parts();
    let counted = metrics::requests::CountRequests::new(state.metrics.clone());
    router
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
        .layer(counted)
}

/// Background work a serving node runs: expiring pushes nobody answered, withdrawing those
/// whose logins went with an earlier run, watching for revocations. Call it before serving:
/// it reads the revocation counter first, so no revocation after it goes unseen.
pub async fn spawn_background(state: &AppState) -> Result<(), ApiError> {
    let epoch = state.store.credential_epoch().await?;
    tokio::spawn(state.hub.clone().watch_revocations(epoch));
    tokio::spawn(background::sweep_forever(state.clone()));
    tokio::spawn(background::withdraw_abandoned(state.clone()));
    tokio::spawn(background::metrics_upkeep(state.metrics.clone()));
    Ok(())
}
