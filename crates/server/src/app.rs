//! The state every HTTP handler shares. It sits at the bottom of the server crate: it
//! imports no handler, so every handler can import it without a cycle (the routes that
//! wire handlers to paths are in [`crate::routes`]).

use std::{net::SocketAddr, sync::Arc};

use switchboard_hub::Hub;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{config::ServerConfig, security::Authenticator};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The hub every transport adapts its connections to.
    pub hub: Arc<Hub>,
    /// The validated configuration the server started with (read-only at run time; the
    /// hub's limits are read from `hub.config()`).
    pub config: Arc<ServerConfig>,
    /// Checks connection tokens (built once from `config.security.auth`).
    pub auth: Arc<Authenticator>,
    /// Tracks tasks that outlive their request (upgraded WebSockets) so shutdown can wait for them.
    pub tasks: TaskTracker,
    /// Cancelled when shutdown begins.
    pub shutdown: CancellationToken,
    /// Where the HTTP listener is bound (the connection simulator dials it over loopback).
    pub http_addr: SocketAddr,
    /// Where the raw TCP listener is bound, when TCP is on (shown by the dashboard).
    pub tcp_addr: Option<SocketAddr>,
}
