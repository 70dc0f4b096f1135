//! The HTTP routes, and the state every handler shares.

use std::{net::SocketAddr, sync::Arc};

use axum::{Router, routing::get};
use switchboard_hub::Hub;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{academy, api, config::ServerConfig, transports, web};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub config: Arc<ServerConfig>,
    /// Tracks tasks that outlive their request (upgraded WebSockets) so shutdown can wait for them.
    pub tasks: TaskTracker,
    /// Cancelled when shutdown begins.
    pub shutdown: CancellationToken,
    /// Where the HTTP listener is bound (the connection simulator dials it over loopback).
    pub http_addr: SocketAddr,
    /// Where the raw TCP listener is bound, when TCP is on (shown by the dashboard).
    pub tcp_addr: Option<SocketAddr>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/api/stats", get(api::stats))
        .merge(transports::routes(&state))
        .merge(web::routes())
        .merge(academy::routes(&state))
        .with_state(state)
}
