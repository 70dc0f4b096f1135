//! The HTTP routes: every path the server answers, wired to its handler, each group
//! behind its guard (`crate::security::guard`): the transports check a browser's
//! origin and answer CORS; the dashboard and its API check the `Host` and the origin.

use std::sync::Arc;

use axum::{Router, middleware::from_fn_with_state, routing::get};

use crate::{
    academy, api,
    app::AppState,
    security::{guard, rules::Rules},
    transports, web,
};

/// The whole HTTP app: transports, the page, the API and the academy.
pub fn router(state: AppState) -> Router {
    let rules = Arc::new(Rules {
        origins: state.config.security.allowed_origins.clone(),
        hosts: state.config.security.allowed_hosts.clone(),
        bound: state.http_addr,
    });
    let transports =
        transports::routes(&state).layer(from_fn_with_state(rules.clone(), guard::transports));
    let dashboard = Router::new()
        .route("/api/stats", get(api::stats))
        .merge(web::routes())
        .merge(academy::routes(&state))
        .layer(from_fn_with_state(rules, guard::dashboard));
    Router::new()
        .route("/healthz", get(api::healthz))
        .merge(transports)
        .merge(dashboard)
        .with_state(state)
}
