//! The HTTP routes: every path the server answers, wired to its handler.

use axum::{Router, routing::get};

use crate::{academy, api, app::AppState, transports, web};

/// The whole HTTP app: transports, the page, the API and the academy.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/api/stats", get(api::stats))
        .merge(transports::routes(&state))
        .merge(web::routes())
        .merge(academy::routes(&state))
        .with_state(state)
}
