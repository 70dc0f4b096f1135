//! The HTTP routes: every path the server answers, wired to its handler.

use axum::{
    Router,
    routing::{get, post},
};

use crate::{academy, api, app::AppState, transports, web};

/// The whole HTTP app: transports, the page, the API and the academy.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/api/stats", get(api::stats))
        .route("/ws", get(transports::ws::handler))
        .route("/ws/echo", get(transports::echo::handler))
        .route("/sse", get(transports::sse::handler))
        .route("/sse/message", post(transports::sse::message_handler))
        .merge(transports::poll::router(&state))
        .merge(web::routes())
        .merge(academy::routes(&state))
        .with_state(state)
}
