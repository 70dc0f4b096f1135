//! `GET /metrics`: the server's figures in the Prometheus text format (version 0.0.4),
//! for a Prometheus server to scrape; `docs/operations.md` lists every metric and what
//! to alert on.
//!
//! Guarantees: a scrape reads counters the hub keeps anyway (`collector`), so serving
//! metrics adds no work per message or per delivery; no label names a channel or a
//! connection, so the number of series is fixed. Served on the main HTTP port unless
//! `--prometheus-addr` gives it a listener of its own (then only `/metrics`, `/healthz`
//! and `/readyz` answer there), and not at all with `--prometheus-enabled false`.

mod collector;
mod process;

use std::sync::Arc;

use axum::{
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use prometheus_client::{encoding::prometheus_text, registry::Registry};
use switchboard_hub::Hub;

use crate::app::AppState;

/// The content type of the Prometheus text format this endpoint writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every metric of `hub` and of this process as Prometheus text.
pub fn render(hub: &Arc<Hub>) -> Result<String, std::fmt::Error> {
    // Built per scrape: a registry holding one collector costs nothing to build, and
    // it keeps the hub out of any process-wide state (tests run many hubs at once).
    let mut registry = Registry::default();
    registry.register_collector(Box::new(collector::HubCollector { hub: hub.clone() }));
    let mut text = String::with_capacity(8 * 1024);
    prometheus_text::encode(&mut text, &registry)?;
    Ok(text)
}

/// `GET /metrics`.
pub async fn scrape(State(state): State<AppState>) -> Response {
    match render(&state.hub) {
        Ok(text) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
