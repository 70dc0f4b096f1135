//! The HTTP routes: every path the server answers, wired to its handler, each group
//! behind its guard (`crate::security::guard`): the transports check a browser's
//! origin and answer CORS; the dashboard and its API check the `Host` and the origin.

use std::sync::Arc;

use axum::{Router, middleware::from_fn_with_state, routing::get};

use crate::{
    academy, api,
    app::AppState,
    metrics,
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
    // Probes and the scrape are not browsers' requests: no Origin or Host rule applies.
    let mut probes = Router::new()
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz));
    if state.config.prometheus.enabled && state.config.prometheus.addr.is_none() {
        probes = probes.route("/metrics", get(metrics::scrape));
    }
    probes.merge(transports).merge(dashboard).with_state(state)
}

/// The app of the `--prometheus-addr` listener: `/metrics` and the probes, nothing else.
pub fn operator_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::scrape))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .with_state(state)
}
