//! `GET /ws`: the hub over WebSocket (RFC 6455).
//!
//! Framing: each text frame carries one JSON protocol message, in both directions.
//! `?channels=a,b` chooses the channels joined on connect (default: the configured
//! auto-subscribe list); `broadcast` is always joined.
//!
//! Guarantees:
//! - One task per connection reads frames, drains the outbox and keeps the heartbeat, so
//!   an idle connection costs one task, one small read buffer and an empty outbox.
//! - Keepalive: a WebSocket ping every `heartbeat`; a connection from which nothing (not
//!   even a pong) arrived within `idle_timeout` is closed with 4000.
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
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use switchboard_hub::{Connection, Hub, InitialSubscription, Timings, Transport};
use switchboard_protocol::{ChannelName, CloseCode, ErrorCode, ProtocolError};
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::{
    self, Message, Utf8Bytes,
    protocol::{CloseFrame, WebSocketConfig, frame::coding::CloseCode as WsCloseCode},
};

use super::{
    http_error::{error_response, transport_disabled},
    upgrade::{ServerSocket, accept},
};
use crate::{
    app::AppState,
    config::{WS_WRITE_BATCH, WsConfig},
};

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
    let socket_config = socket_config(&config.ws, config.hub.max_message_bytes);
    accept(
        request,
        socket_config,
        &state.tasks,
        move |socket| async move {
            let connection = hub.connect(Transport::Websocket, Some(remote));
            let timings = Timings {
                heartbeat_interval_ms: config.ws.heartbeat.as_millis() as u64,
                idle_timeout_ms: config.ws.idle_timeout.as_millis() as u64,
            };
            // Cold awaits are boxed so their state does not widen every idle
            // connection's task (see docs/benchmarks.md, idle memory).
            Box::pin(hub.open(&connection, channels, timings)).await;
            let reason = Session {
                hub: &hub,
                connection: &connection,
                config: &config.ws,
            }
            .run(socket)
            .await;
            tracing::debug!(connection = %connection.id(), ?reason, "WebSocket closed");
            Box::pin(hub.disconnect(&connection)).await;
        },
    )
}

/// Why a session ended (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The server closed with this code.
    Closed(CloseCode),
    /// The client closed, or the socket failed.
    ClientGone,
}

struct Session<'a> {
    hub: &'a Arc<Hub>,
    connection: &'a Arc<Connection>,
    config: &'a WsConfig,
}

impl Session<'_> {
    async fn run(self, mut socket: ServerSocket) -> Ended {
        let mut batch = Vec::with_capacity(0);
        let mut last_heard = Instant::now();
        let mut next_heartbeat = Instant::now() + self.config.heartbeat;
        loop {
            tokio::select! {
                frame = socket.next() => match frame {
                    Some(Ok(message)) => {
                        last_heard = Instant::now();
                        match message {
                            Message::Text(text) => Box::pin(self.hub.handle_text(self.connection, text.as_str())).await,
                            Message::Binary(_) => self.hub.send_error(
                                self.connection,
                                &ProtocolError::new(
                                    ErrorCode::UnsupportedFrame,
                                    "binary frames are not part of the protocol; send JSON as text frames",
                                ),
                            ),
                            // tungstenite answers pings and close frames itself.
                            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                            Message::Close(_) => {
                                let _ = timeout(self.config.idle_timeout, socket.flush()).await;
                                return Ended::ClientGone;
                            }
                        }
                    }
                    Some(Err(err)) => return Box::pin(self.fail(socket, err)).await,
                    None => return Ended::ClientGone,
                },
                closed = self.connection.outbox().next_batch(&mut batch, WS_WRITE_BATCH) => {
                    if let Some(reason) = closed {
                        Box::pin(close(&mut socket, reason, self.config.idle_timeout)).await;
                        return Ended::Closed(reason);
                    }
                    if !self.write_batch(&mut socket, &mut batch).await {
                        // Count it once: an outbox overflow while the write was stuck
                        // already counted this connection as a slow consumer.
                        if self.connection.outbox().closed() != Some(CloseCode::SlowConsumer) {
                            self.hub.counters().slow_consumer_disconnects.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        self.connection.close(CloseCode::SlowConsumer);
                        // Queued behind the stuck write; reaches the client only if it reads again.
                        Box::pin(close(&mut socket, CloseCode::SlowConsumer, Duration::from_secs(1))).await;
                        return Ended::Closed(CloseCode::SlowConsumer);
                    }
                }
                () = tokio::time::sleep_until(next_heartbeat) => {
                    if last_heard.elapsed() >= self.config.idle_timeout {
                        Box::pin(close(&mut socket, CloseCode::IdleTimeout, Duration::from_secs(1))).await;
                        return Ended::Closed(CloseCode::IdleTimeout);
                    }
                    next_heartbeat = Instant::now() + self.config.heartbeat;
                    if timeout(self.config.idle_timeout, socket.send(Message::Ping(Default::default()))).await.is_err() {
                        return Ended::Closed(CloseCode::SlowConsumer);
                    }
                }
            }
        }
    }

    /// Writes a batch and flushes once; false when the client could not take it in time.
    async fn write_batch(
        &self,
        socket: &mut ServerSocket,
        batch: &mut Vec<Arc<switchboard_hub::Delivery>>,
    ) -> bool {
        let write = async {
            for delivery in batch.drain(..) {
                let text = Utf8Bytes::try_from(delivery.json.clone()).unwrap_or_default();
                socket.feed(Message::Text(text)).await?;
            }
            socket.flush().await
        };
        match timeout(self.config.idle_timeout, write).await {
            Ok(Ok(())) => true,
            Ok(Err(err)) => {
                tracing::debug!(connection = %self.connection.id(), %err, "WebSocket write failed");
                // The socket is gone; the read side will report it. Not a slow consumer.
                true
            }
            Err(_) => false,
        }
    }

    /// Maps a read error to the RFC 6455 close code and closes.
    async fn fail(&self, mut socket: ServerSocket, err: tungstenite::Error) -> Ended {
        use tungstenite::error::Error;
        let code = match &err {
            Error::Utf8(_) => CloseCode::InvalidPayload,
            Error::Capacity(_) => CloseCode::MessageTooBig,
            Error::Protocol(_) => CloseCode::ProtocolError,
            _ => {
                tracing::debug!(connection = %self.connection.id(), %err, "WebSocket read failed");
                return Ended::ClientGone;
            }
        };
        tracing::debug!(connection = %self.connection.id(), %err, code = code.code(), "closing on protocol violation");
        close(&mut socket, code, Duration::from_secs(1)).await;
        linger(socket, CLOSE_LINGER).await;
        Ended::Closed(code)
    }
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
