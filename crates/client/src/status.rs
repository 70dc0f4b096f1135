//! [`Status`]: where a client's connection stands, published by the session task and
//! read through [`Client::status`](crate::Client::status).

use std::time::Duration;

use switchboard_protocol::server::Transport;

/// Where the connection stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    pub connected: bool,
    /// True once the client gave up or was closed.
    pub closed: bool,
    /// The transport in use (or last used).
    pub transport: Option<Transport>,
    pub connection_id: String,
    pub epoch: String,
    /// Why this transport was chosen (the cascade's failures, if any).
    pub reason: String,
    /// The server's heartbeat interval and idle window, from `welcome`.
    pub heartbeat: Duration,
    pub idle_timeout: Duration,
}
