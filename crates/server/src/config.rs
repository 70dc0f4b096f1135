//! Server configuration: listeners, transports and their limits. Each default is a named
//! constant with the reason for its value; the binary maps flags, `SWITCHBOARD_*`
//! variables and `.env` onto these structs.

use std::{net::SocketAddr, time::Duration};

use switchboard_hub::HubConfig;

/// Server WebSocket pings this often: under the 30–60 s idle cut-offs common in proxies
/// and load balancers, so an idle but healthy connection is never dropped by them.
pub const DEFAULT_WS_HEARTBEAT: Duration = Duration::from_secs(25);
/// A connection with no frame from the client (a pong counts) for this long is culled:
/// two missed heartbeats plus slack for a slow network.
pub const DEFAULT_WS_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Initial read buffer per WebSocket (tungstenite allocates it up front, so it is most of
/// an idle connection's memory); it grows on demand for larger messages.
pub const DEFAULT_WS_READ_BUFFER: usize = 1024;
/// Outgoing bytes buffered per WebSocket before a write waits for the socket.
pub const DEFAULT_WS_WRITE_BUFFER: usize = 8 * 1024;
/// Deliveries written per batch before flushing, so one busy connection does not
/// monopolize a worker thread.
pub const WS_WRITE_BATCH: usize = 64;
/// How long graceful shutdown waits for connections to flush and close.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// WebSocket transport settings.
#[derive(Debug, Clone)]
pub struct WsConfig {
    pub enabled: bool,
    pub heartbeat: Duration,
    pub idle_timeout: Duration,
    pub read_buffer: usize,
    pub write_buffer: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            heartbeat: DEFAULT_WS_HEARTBEAT,
            idle_timeout: DEFAULT_WS_IDLE_TIMEOUT,
            read_buffer: DEFAULT_WS_READ_BUFFER,
            write_buffer: DEFAULT_WS_WRITE_BUFFER,
        }
    }
}

/// The whole server's configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the HTTP listener binds (all HTTP transports, the page and the API).
    pub http: SocketAddr,
    pub hub: HubConfig,
    pub ws: WsConfig,
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            http: SocketAddr::from(([127, 0, 0, 1], 8000)),
            hub: HubConfig::default(),
            ws: WsConfig::default(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

impl ServerConfig {
    /// A configuration for tests: every listener on 127.0.0.1 port 0.
    pub fn ephemeral() -> Self {
        Self {
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Self::default()
        }
    }
}
