//! [`Status`]: where a client's connection stands, published by the session task and
//! read through [`Client::status`](crate::Client::status).

use std::time::Duration;

use switchboard_protocol::server::Transport;

/// Where the connection stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// True while a transport is up and its `welcome` has arrived; false while
    /// reconnecting and once closed.
    pub connected: bool,
    /// True once the client gave up or was closed.
    pub closed: bool,
    /// The transport in use (or last used).
    pub transport: Option<Transport>,
    /// The connection id from the latest `welcome` (kept after the connection is lost).
    pub connection_id: String,
    /// The hub's epoch from the latest `welcome`.
    pub epoch: String,
    /// Why this transport was chosen (the cascade's failures, if any).
    pub reason: String,
    /// How often the server sends a heartbeat on this transport (`heartbeat_interval_ms`
    /// of `welcome`); zero for polling.
    pub heartbeat: Duration,
    /// How long the server waits without hearing from this client before closing it
    /// (`idle_timeout_ms` of `welcome`); zero when it has none (SSE).
    pub idle_timeout: Duration,
}
