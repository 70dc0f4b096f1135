//! What `/ws` and `/ws/echo` share beyond the handshake ([`super::upgrade`]): the
//! tungstenite settings and the way a server-side close goes out.
//!
//! Guarantees: every close frame carries one of the protocol's close codes with its
//! documented reason, and sending it is bounded in time (the peer may be gone).

use std::time::Duration;

use switchboard_protocol::CloseCode;
use tokio::{io::AsyncWriteExt, time::timeout};
use tokio_tungstenite::tungstenite::{
    Utf8Bytes,
    protocol::{CloseFrame, WebSocketConfig, frame::coding::CloseCode as WsCloseCode},
};

use super::{
    lifecycle::{self, CLOSE_NOTICE_TIMEOUT},
    upgrade::ServerSocket,
};
use crate::config::WsConfig;

/// The tungstenite settings for server WebSockets: the configured buffers, and frames
/// and messages bounded by the hub's message limit.
pub(crate) fn socket_config(ws: &WsConfig, max_message_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(ws.read_buffer)
        .write_buffer_size(ws.write_buffer)
        .max_write_buffer_size(ws.write_buffer.max(max_message_bytes) * 4)
        .max_message_size(Some(max_message_bytes))
        .max_frame_size(Some(max_message_bytes))
}

/// The close frame for `reason`.
pub(crate) fn close_frame(reason: CloseCode) -> CloseFrame {
    CloseFrame {
        code: WsCloseCode::from(reason.code()),
        reason: Utf8Bytes::from_static(reason.reason()),
    }
}

/// Sends a close frame with `reason`, waiting at most `within`.
pub(crate) async fn close(socket: &mut ServerSocket, reason: CloseCode, within: Duration) {
    let _ = timeout(within, socket.close(Some(close_frame(reason)))).await;
}

/// Closes after a violation whose rest may still be arriving (an oversized or invalid
/// frame): the close frame, then FIN, then the [`lifecycle::linger`].
pub(crate) async fn close_and_linger(mut socket: ServerSocket, reason: CloseCode) {
    close(&mut socket, reason, CLOSE_NOTICE_TIMEOUT).await;
    let mut io = socket.into_inner();
    let _ = timeout(CLOSE_NOTICE_TIMEOUT, io.shutdown()).await;
    lifecycle::linger(io).await;
}
