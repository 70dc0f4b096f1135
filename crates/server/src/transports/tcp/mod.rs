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
//! - Connections are bounded twice: by the server-wide caps, shared with HTTP
//!   ([`crate::edge::admission`]: past them an `error` 302 `server_full` or 207
//!   `too_many_connections` frame), and by TCP's own `max_connections` (past it an
//!   `error` 203 frame). Either way the frame is sent and the connection closed at once,
//!   without touching the hub. With the defaults the TCP bound (10,000) sits below the
//!   global one (15,000), so raw TCP alone cannot take every place from HTTP.
//! - Connection tokens: on a server that checks them (`--auth-hmac-secret` or
//!   `--auth-public-key`), the first frame must be `{"type":"connect","token":"…"}`
//!   within `TCP_CONNECT_TIMEOUT` (5 s); nothing else is read before it. A refused or
//!   missing one gets an `error` frame (403-410) and a close, before the hub knows of
//!   the connection. Without keys no `connect` is awaited, and one sent as the first
//!   frame anyway is dropped (so a client may always send it).
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

use crate::{
    config::ServerConfig,
    edge::{
        BurstLog,
        accept::next_connection,
        admission::{Admission, Refusal},
    },
    security::Authenticator,
};

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
    auth: Arc<Authenticator>,
    admission: Admission,
    tasks: TaskTracker,
    shutdown: CancellationToken,
) {
    // One permit per open connection: the bound on file descriptors and memory.
    let permits = Arc::new(Semaphore::new(config.tcp.max_connections));
    let accept_errors = BurstLog::default();
    let refusals = BurstLog::default();
    loop {
        let Some((stream, remote)) =
            next_connection(&listener, &shutdown, &accept_errors, "TCP").await
        else {
            break;
        };
        let admitted = admission
            .try_admit(remote.ip())
            .map_err(refusal_error)
            .and_then(|slot| {
                let permit = permits.clone().try_acquire_owned().map_err(|_| {
                    let max = config.tcp.max_connections;
                    ProtocolError::new(
                        ErrorCode::TooManySessions,
                        format!(
                            "the server holds its limit of {max} TCP connections; try again later"
                        ),
                    )
                })?;
                Ok((slot, permit))
            });
        let (slot, permit) = match admitted {
            Ok(admitted) => admitted,
            Err(refusal) => {
                if let Some(left_out) = refusals.note() {
                    tracing::warn!(%remote, code = %refusal.code, left_out, "TCP connection refused: at a connection cap");
                }
                tasks.spawn(refuse(stream, config.tcp.framing, refusal));
                continue;
            }
        };
        let hub = hub.clone();
        let config = config.clone();
        let auth = auth.clone();
        tasks.spawn(async move {
            tcp_session::run(stream, remote, hub, config, &auth).await;
            drop((permit, slot));
        });
    }
    tracing::debug!("TCP listener stopped");
}

/// What a connection refused by the server-wide caps is told.
fn refusal_error(refusal: Refusal) -> ProtocolError {
    match refusal {
        Refusal::ServerFull { max } => ProtocolError::new(
            ErrorCode::ServerFull,
            format!("the server holds its limit of {max} connections; try again later"),
        ),
        Refusal::AddressFull { max } => ProtocolError::new(
            ErrorCode::TooManyConnections,
            format!(
                "this address holds its limit of {max} connections; close one or try again later"
            ),
        ),
    }
}

/// Tells a connection over a cap why it is closed, then closes it.
pub(super) async fn refuse(mut stream: TcpStream, framing: Framing, refusal: ProtocolError) {
    let error = ServerMessage::from_error(&refusal);
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
