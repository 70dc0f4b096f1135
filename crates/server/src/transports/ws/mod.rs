//! `GET /ws`: the hub over WebSocket (RFC 6455).
//!
//! Framing: each text frame carries one JSON protocol message, in both directions.
//! `?channels=a,b` chooses the channels joined on connect (default: the configured
//! auto-subscribe list); `broadcast` is always joined. `?token=` carries the connection
//! token ([`connect_auth`](super::connect_auth)): refused with 401 before the upgrade.
//!
//! Guarantees:
//! - One task per connection (a hand-written future, `ws_session`) reads frames, drains
//!   the outbox and writes, so an idle connection costs one 512-byte task, one small read
//!   buffer and an empty outbox (about 2 KB in all; see docs/benchmarks.md).
//! - Keepalive, from the shared `transports::lifecycle`: one ticker for the
//!   whole server wakes every session each `heartbeat`; each then sends a WebSocket
//!   ping, and closes with 4000 a connection from which
//!   nothing (not even a pong) arrived within `idle_timeout` (noticed at the first tick
//!   after it, so within `idle_timeout + heartbeat`).
//! - A write that cannot finish within `idle_timeout` (the client stopped reading and
//!   the socket buffer is full) closes the connection as a slow consumer (4001), as does
//!   an outbox overflow.
//! - Protocol violations close with RFC 6455's codes: 1002 bad frames, 1007 invalid
//!   UTF-8, 1009 oversized messages. A binary frame gets an `error` (106) and the
//!   connection stays open. Shutdown closes with 1001 after flushing queued messages.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, Query, Request, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use switchboard_hub::{Connection, Transport};
use switchboard_protocol::CloseCode;
use tokio_tungstenite::tungstenite;

use super::{
    channel_list::parse_channel_list,
    connect_auth::{authenticate, identity, with_token_channels},
    http_error::{error_response, transport_disabled},
    lifecycle::{self, Keepalive},
    upgrade::accept,
    websocket::socket_config,
};
use crate::app::AppState;

mod raw_write;
mod ws_session;
use ws_session::WsSession;

/// The query of `GET /ws`.
#[derive(Debug, Deserialize)]
pub struct WsParams {
    /// Comma-separated channels to join on connect.
    channels: Option<String>,
    /// The connection token (a JWT), when the server checks them.
    token: Option<String>,
}

/// `GET /ws`: checks the channel list (400 with `error` 104 before the upgrade) and the
/// handshake (426 or 400 with an `error`), then upgrades and hands the socket to its
/// session task, which joins the channels. 503 with `error` 204 when WebSocket is off.
pub async fn handler(
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Query(params): Query<WsParams>,
    request: Request,
) -> Response {
    if !state.config.ws.enabled {
        return transport_disabled("websocket");
    }
    let channels = match parse_channel_list(params.channels.as_deref()) {
        Ok(channels) => channels,
        Err(err) => return error_response(StatusCode::BAD_REQUEST, err.code, err.message),
    };
    let granted = match authenticate(&state, params.token.as_deref()) {
        Ok(granted) => granted,
        Err(refused) => return *refused,
    };
    let channels = with_token_channels(channels, &state.hub.config().auto_subscribe, &granted);
    let identity = identity(&granted);
    let config = state.config.clone();
    let hub = state.hub.clone();
    let socket_config = socket_config(&config.ws, hub.config().max_message_bytes);
    accept(request, socket_config, &state.tasks, move |socket| {
        let connection = hub.connect_as(Transport::Websocket, Some(remote), identity);
        let open = {
            let (hub, connection) = (hub.clone(), connection.clone());
            let keepalive = Keepalive::websocket(&config.ws);
            Box::pin(async move { lifecycle::open(&hub, &connection, channels, &keepalive).await })
        };
        WsSession::new(socket, hub, connection, config, open)
    })
}

/// The RFC 6455 close code for a read error, or `None` when the socket just failed.
fn fail_code(connection: &Connection, err: &tungstenite::Error) -> Option<CloseCode> {
    use tungstenite::error::Error;
    let code = match err {
        Error::Utf8(_) => CloseCode::InvalidPayload,
        Error::Capacity(_) => CloseCode::MessageTooBig,
        Error::Protocol(_) => CloseCode::ProtocolError,
        _ => {
            tracing::debug!(connection = %connection.id(), %err, "WebSocket read failed");
            return None;
        }
    };
    tracing::debug!(connection = %connection.id(), %err, code = code.code(), "closing on protocol violation");
    Some(code)
}
