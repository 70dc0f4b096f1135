//! The hub over raw TCP (the classic Python socket demos' wire, see `decimal10` below): a listener of its own (port 1234 by default, on the
//! HTTP host) speaking the same JSON protocol in length-prefixed frames.
//!
//! Framing ([`switchboard_protocol::frame`]): every message, in both directions, is one
//! frame: a header with the payload length, then that many bytes of UTF-8 JSON. The
//! header is a 4-byte big-endian length (`u32`, the default) or, in compatibility mode
//! (`decimal10`), 10 ASCII bytes holding the length in decimal, left-justified and padded
//! with spaces, as the classic Python socket demos write it. One listener speaks one
//! framing, chosen by configuration.
//!
//! Guarantees:
//! - Connections are bounded (`max_connections`); past the bound a new connection gets an
//!   `error` (203) frame and is closed at once, without touching the hub.
//! - On connect the client gets `welcome`, then `subscribed` for `broadcast` and each
//!   configured channel (`lobby` and `clock` by default).
//! - Keepalive, limits, slow consumers and the final `close` notice: see [`tcp_session`].
//! - Shutdown: the listener stops accepting when the shutdown token is cancelled; every
//!   connection task is tracked, so shutdown waits for each to flush its queue, send
//!   `close` (1001) and end.

mod tcp_session;

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use switchboard_hub::Hub;
use switchboard_protocol::{
    ErrorCode, ProtocolError, ServerMessage,
    frame::{FrameCodec, Framing},
};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};
use tokio_util::{codec::Encoder, sync::CancellationToken, task::TaskTracker};

use crate::config::ServerConfig;

/// After a failed `accept` (out of file descriptors, say) wait this long before the next,
/// so the loop does not spin while the condition lasts.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);
/// How long the refusal notice to a connection over the limit may take to write.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Binds the TCP listener on the HTTP host and the configured port.
pub(crate) async fn bind(config: &ServerConfig) -> io::Result<(TcpListener, SocketAddr)> {
    let addr = SocketAddr::new(config.http.ip(), config.tcp.port);
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Accepts connections until `shutdown` is cancelled; each runs as a task on `tasks`.
pub(crate) async fn serve(
    listener: TcpListener,
    hub: Arc<Hub>,
    config: Arc<ServerConfig>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
) {
    // One permit per open connection: the bound on file descriptors and memory.
    let permits = Arc::new(Semaphore::new(config.tcp.max_connections));
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(%err, "TCP accept failed");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => continue,
                }
            }
        };
        // Real-time messages are small: send them now rather than coalescing.
        let _ = stream.set_nodelay(true);
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::info!(%remote, limit = config.tcp.max_connections, "TCP connection refused: at the connection limit");
            tasks.spawn(refuse(
                stream,
                config.tcp.framing,
                config.tcp.max_connections,
            ));
            continue;
        };
        let hub = hub.clone();
        let config = config.clone();
        tasks.spawn(async move {
            tcp_session::run(stream, remote, hub, config).await;
            drop(permit);
        });
    }
    tracing::debug!("TCP listener stopped");
}

/// Tells a connection over the limit why it is closed, then closes it.
async fn refuse(mut stream: TcpStream, framing: Framing, limit: usize) {
    let error = ServerMessage::from_error(&ProtocolError::new(
        ErrorCode::TooManySessions,
        format!("the server holds its limit of {limit} TCP connections; try again later"),
    ));
    let mut codec = FrameCodec::new(framing, 0);
    let mut frame = bytes::BytesMut::new();
    if codec
        .encode(bytes::Bytes::from(error.to_json()), &mut frame)
        .is_err()
    {
        return;
    }
    let write = async {
        stream.write_all(&frame).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, write).await;
}
