//! `GET /healthz` (liveness), `GET /readyz` (readiness) and `GET /api/stats` (the same
//! server figures as `get_stats`). `docs/protocol.md` says how a load balancer and
//! Kubernetes should use the two probes.

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde_json::json;

use crate::app::AppState;

/// 200 with `{"status":"ok"}` while serving, 503 once shutdown has begun, including
/// the drain before it (`--shutdown-drain`), so a load balancer stops sending new clients.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    if state.hub.is_draining() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "shutting_down"})),
        )
    } else {
        (
            StatusCode::OK,
            Json(json!({"status": "ok", "epoch": state.hub.epoch()})),
        )
    }
}

/// 200 with `{"status":"ready"}` once the listeners are bound and the broker answers;
/// 503 while draining or shutting down. The routes exist only after every listener is
/// bound, and the in-memory broker is reachable for as long as the hub runs, so today
/// readiness is "not draining"; a networked broker adds its own check here.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.hub.is_draining() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready", "reason": "shutting_down"})),
        )
    } else {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    }
}

/// 200 with the hub's figures as JSON, the `server` part of a `stats` reply: connections
/// per transport, message counts, history held, and at most 100 channels, busiest first
/// (so the reply stays a few kilobytes however many channels exist).
pub async fn stats(State(state): State<AppState>) -> impl IntoResponse {
    Json(state.hub.stats())
}
