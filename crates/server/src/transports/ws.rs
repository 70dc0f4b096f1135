//! `GET /ws`: the hub over WebSocket (RFC 6455).
//!
//! Framing: each text frame carries one JSON protocol message, in both directions.
//! `?channels=a,b` chooses the channels joined on connect (default: the configured
//! auto-subscribe list); `broadcast` is always joined.
//!
//! Guarantees:
//! - One task per connection (a hand-written future, `session.rs`) reads frames, drains
//!   the outbox and writes, so an idle connection costs one 512-byte task, one small read
//!   buffer and an empty outbox (about 2 KB in all; see docs/benchmarks.md).
//! - Keepalive: one ticker for the whole server wakes every session each `heartbeat`;
//!   each then sends a WebSocket ping, and closes with 4000 a connection from which
//!   nothing (not even a pong) arrived within `idle_timeout` (noticed at the first tick
//!   after it, so within `idle_timeout + heartbeat`).
//! - A write that cannot finish within `idle_timeout` (the client stopped reading and
//!   the socket buffer is full) closes the connection as a slow consumer (4001), as does
//!   an outbox overflow.
//! - Protocol violations close with RFC 6455's codes: 1002 bad frames, 1007 invalid
//!   UTF-8, 1009 oversized messages. A binary frame gets an `error` (106) and the
//!   connection stays open. Shutdown closes with 1001 after flushing queued messages.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    extract::{ConnectInfo, Query, Request, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use switchboard_hub::{Connection, Hub, InitialSubscription, Timings, Transport};
use switchboard_protocol::{ChannelName, CloseCode, ErrorCode, ProtocolError};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::{
    self, Utf8Bytes,
    protocol::{CloseFrame, WebSocketConfig, frame::coding::CloseCode as WsCloseCode},
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    http_error::{error_response, transport_disabled},
    upgrade::{ServerSocket, accept},
};
use crate::{app::AppState, config::WsConfig};

mod raw_write;
mod session;
use session::Session;

#[derive(Debug, Deserialize)]
pub struct WsParams {
    /// Comma-separated channels to join on connect.
    channels: Option<String>,
}

/// Parses `a,b,c` into channel subscriptions; `None` when the parameter is absent.
pub(crate) fn parse_channel_list(
    list: Option<&str>,
) -> Result<Option<Vec<InitialSubscription>>, ProtocolError> {
    let Some(list) = list else { return Ok(None) };
    list.split(',')
        .filter(|name| !name.is_empty())
        .map(|name| {
            ChannelName::new(name)
                .map(InitialSubscription::new)
                .map_err(|e| {
                    ProtocolError::new(ErrorCode::InvalidChannel, format!("{name:?}: {e}"))
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The tungstenite settings for hub connections.
pub(crate) fn socket_config(ws: &WsConfig, max_message_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(ws.read_buffer)
        .write_buffer_size(ws.write_buffer)
        .max_write_buffer_size(ws.write_buffer.max(max_message_bytes) * 4)
        .max_message_size(Some(max_message_bytes))
        .max_frame_size(Some(max_message_bytes))
}

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
    let config = state.config.clone();
    let hub = state.hub.clone();
    let socket_config = socket_config(&config.ws, hub.config().max_message_bytes);
    accept(request, socket_config, &state.tasks, move |socket| {
        let connection = hub.connect(Transport::Websocket, Some(remote));
        let timings = Timings {
            heartbeat_interval_ms: config.ws.heartbeat.as_millis() as u64,
            idle_timeout_ms: config.ws.idle_timeout.as_millis() as u64,
        };
        let open = {
            let (hub, connection) = (hub.clone(), connection.clone());
            Box::pin(async move { hub.open(&connection, channels, timings).await })
        };
        Session::new(socket, hub, connection, config, open)
    })
}

/// Starts the one heartbeat ticker all `/ws` sessions share: every `heartbeat` it wakes
/// each WebSocket connection's task, which then pings and checks its idle timeout. One
/// timer for the server instead of one per connection (see docs/benchmarks.md).
pub(crate) fn spawn_heartbeat(
    hub: &Arc<Hub>,
    config: &WsConfig,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) {
    let (hub, shutdown) = (hub.clone(), shutdown.clone());
    let period = config.heartbeat;
    tasks.spawn(async move {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => hub.wake_connections(Transport::Websocket),
                () = shutdown.cancelled() => return,
            }
        }
    });
}

/// Why a session ended (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The server closed with this code.
    Closed(CloseCode),
    /// The client closed, or the socket failed.
    ClientGone,
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

/// How long a connection closed for a protocol violation is drained before it is dropped.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// After a close frame sent mid-message (an oversized or invalid frame whose rest is still
/// arriving): half-close and discard what the client still sends, until it closes or
/// `within` passes. Dropping a socket with unread bytes makes the kernel answer with a
/// TCP reset, which can destroy the close frame before the client reads it, turning
/// a documented 1009/1007/1002 into an unexplained "connection reset".
async fn linger(socket: ServerSocket, within: Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut io = socket.into_inner();
    let _ = timeout(within, async {
        let _ = io.shutdown().await;
        // On the heap: an array here would be reserved inside every connection's future.
        let mut scratch = vec![0u8; 4096];
        while matches!(io.read(&mut scratch).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// Sends a close frame with `reason` (bounded in time: the peer may be gone).
async fn close(socket: &mut ServerSocket, reason: CloseCode, within: Duration) {
    let frame = CloseFrame {
        code: WsCloseCode::from(reason.code()),
        reason: Utf8Bytes::from_static(reason.reason()),
    };
    let _ = timeout(within, socket.close(Some(frame))).await;
}
