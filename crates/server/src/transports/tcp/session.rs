//! One raw TCP connection: read frames into the hub, write its outbox as frames, keep it
//! alive, and say why before closing.
//!
//! One task per connection selects over the frame reader, the outbox and a timer, like
//! the WebSocket transport. Guarantees:
//! - Keepalive: raw TCP has no ping frame, so the server writes a
//!   `{"type":"heartbeat","ts":...}` frame every `heartbeat`. A connection from which no
//!   complete frame arrived within `idle_timeout` is closed with 4000 (clients send `ping`
//!   to stay alive). This also ends a frame whose header announced more bytes than ever
//!   arrive: the reader holds at most one header plus `max_message_bytes` meanwhile.
//! - Bad input: invalid UTF-8 or JSON inside a well-formed frame gets the normal `error`
//!   (100) and the connection goes on; so does a zero-length frame (100). A header that
//!   announces more than `max_message_bytes` gets `error` 205 and a close (1009); a
//!   decimal header that is not a number gets `error` 106 and a close (1002): the stream
//!   cannot be resynchronised after either.
//! - Writes are bounded by `write_timeout`; a client that does not take them in time, or
//!   whose outbox overflows, is closed as a slow consumer (4001).
//! - Before every server-side close (shutdown 1001, client gone quiet 4000, slow consumer
//!   4001, bad frame 1009/1002, the client's own end of stream 1000) the last frame is a
//!   `{"type":"close","code":...,"reason":...}` notice, after everything queued before it.
//!   Then the server sends FIN and discards input for a short linger, so the notice is
//!   not destroyed by a TCP reset.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use switchboard_hub::{Connection, Delivery, Hub, InitialSubscription, Timings, Transport};
use switchboard_protocol::{
    CloseCode, ErrorCode, ProtocolError, ServerMessage,
    frame::{FrameCodec, FrameError},
    now_ms,
};
use tokio::{
    io::AsyncReadExt,
    net::{
        TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    time::{Instant, timeout, timeout_at},
};
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::config::{ServerConfig, TCP_READ_BUFFER, TCP_WRITE_BATCH, TcpConfig};

/// How long the final `close` notice may take to write when the regular write timeout
/// no longer applies (the client is already known to be slow or silent).
const CLOSE_NOTICE_TIMEOUT: Duration = Duration::from_secs(1);
/// After the final notice and FIN, input is read and discarded for at most this long, so
/// unread bytes do not make the kernel answer with a reset that destroys the notice.
const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// Scratch space for discarding input during the linger.
const LINGER_READ_CHUNK: usize = 4096;

type Reader = FramedRead<OwnedReadHalf, FrameCodec>;
type Writer = FramedWrite<OwnedWriteHalf, FrameCodec>;

/// Why a session ended (for logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// The server closed with this code (after sending the `close` notice).
    Closed(CloseCode),
    /// The socket failed or the peer reset it.
    ClientGone,
}

/// What writing a batch achieved.
enum Written {
    Done,
    /// The client did not take the bytes within the write timeout.
    TooSlow,
    /// The socket failed.
    Gone,
}

/// Serves one accepted connection until it ends, then forgets it in the hub.
pub(super) async fn run(
    stream: TcpStream,
    remote: SocketAddr,
    hub: Arc<Hub>,
    config: Arc<ServerConfig>,
) {
    let connection = hub.connect(Transport::Tcp, Some(remote));
    let timings = Timings {
        heartbeat_interval_ms: config.tcp.heartbeat.as_millis() as u64,
        idle_timeout_ms: config.tcp.idle_timeout.as_millis() as u64,
    };
    let channels = (!config.tcp.channels.is_empty()).then(|| {
        config
            .tcp
            .channels
            .iter()
            .cloned()
            .map(InitialSubscription::new)
            .collect()
    });
    hub.open(&connection, channels, timings).await;
    let (ended, read) = Session {
        hub: &hub,
        connection: &connection,
        config: &config.tcp,
    }
    .run(stream)
    .await;
    tracing::debug!(connection = %connection.id(), ?ended, "TCP connection closed");
    hub.disconnect(&connection).await;
    if let Some(read) = read {
        linger(read).await;
    }
}

struct Session<'a> {
    hub: &'a Arc<Hub>,
    connection: &'a Arc<Connection>,
    config: &'a TcpConfig,
}

impl Session<'_> {
    /// Runs until the connection ends; after a server-side close, also hands back the
    /// read half for the linger.
    async fn run(self, stream: TcpStream) -> (Ended, Option<OwnedReadHalf>) {
        let codec = FrameCodec::new(self.config.framing, self.hub.config().max_message_bytes);
        let (read, write) = stream.into_split();
        let mut reader = FramedRead::with_capacity(read, codec.clone(), TCP_READ_BUFFER);
        let mut writer = FramedWrite::new(write, codec);
        // False once the input can no longer be trusted (bad frame) or has ended.
        let mut reading = true;
        let mut batch = Vec::new();
        let mut last_heard = Instant::now();
        let mut next_heartbeat = Instant::now() + self.config.heartbeat;
        loop {
            let idle_deadline = last_heard + self.config.idle_timeout;
            tokio::select! {
                frame = reader.next(), if reading => match frame {
                    Some(Ok(payload)) => {
                        last_heard = Instant::now();
                        self.handle_frame(payload).await;
                    }
                    Some(Err(FrameError::Io(err))) => {
                        tracing::debug!(connection = %self.connection.id(), %err, "TCP read failed");
                        return (Ended::ClientGone, None);
                    }
                    Some(Err(err)) => {
                        reading = false;
                        self.reject_stream(err);
                    }
                    None => {
                        // The client ended its side: answer what it sent, then close.
                        reading = false;
                        self.connection.close(CloseCode::Normal);
                    }
                },
                closed = self.connection.outbox().next_batch(&mut batch, TCP_WRITE_BATCH) => {
                    if let Some(reason) = closed {
                        let within = if reason == CloseCode::SlowConsumer {
                            CLOSE_NOTICE_TIMEOUT
                        } else {
                            self.config.write_timeout
                        };
                        return finish(reader, writer, reason, within).await;
                    }
                    match self.write_batch(&mut writer, &mut batch).await {
                        Written::Done => {}
                        Written::Gone => return (Ended::ClientGone, None),
                        Written::TooSlow => return self.slow_consumer(reader, writer).await,
                    }
                }
                () = tokio::time::sleep_until(idle_deadline.min(next_heartbeat)), if reading => {
                    if Instant::now() >= idle_deadline {
                        return finish(reader, writer, CloseCode::IdleTimeout, CLOSE_NOTICE_TIMEOUT).await;
                    }
                    next_heartbeat = Instant::now() + self.config.heartbeat;
                    let heartbeat = ServerMessage::Heartbeat { ts: now_ms() };
                    let write = writer.send(Bytes::from(heartbeat.to_json()));
                    match timeout(self.config.write_timeout, write).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return (Ended::ClientGone, None),
                        Err(_) => return self.slow_consumer(reader, writer).await,
                    }
                }
            }
        }
    }

    /// One well-framed message: anything but UTF-8 JSON gets an error and reading goes on.
    async fn handle_frame(&self, payload: Bytes) {
        if payload.is_empty() {
            let err = ProtocolError::new(
                ErrorCode::InvalidJson,
                "empty frame: every frame carries one JSON message",
            );
            self.hub.send_error(self.connection, &err);
            return;
        }
        match std::str::from_utf8(&payload) {
            Ok(text) => self.hub.handle_text(self.connection, text).await,
            Err(err) => {
                let err = ProtocolError::new(
                    ErrorCode::InvalidJson,
                    format!("frame payload is not valid UTF-8: {err}"),
                );
                self.hub.send_error(self.connection, &err);
            }
        }
    }

    /// A frame error the stream cannot recover from: queue the `error`, then close (the
    /// outbox flushes the error before the close notice).
    fn reject_stream(&self, err: FrameError) {
        let (code, close) = match err {
            FrameError::TooLarge { .. } => (ErrorCode::FrameTooLarge, CloseCode::MessageTooBig),
            _ => (ErrorCode::UnsupportedFrame, CloseCode::ProtocolError),
        };
        tracing::debug!(connection = %self.connection.id(), %err, "closing on a bad TCP frame");
        let message = format!("{err}; the stream cannot be resynchronised, closing");
        self.hub
            .send_error(self.connection, &ProtocolError::new(code, message));
        self.connection.close(close);
    }

    /// Writes a batch of frames and flushes once, bounded by the write timeout.
    async fn write_batch(&self, writer: &mut Writer, batch: &mut Vec<Arc<Delivery>>) -> Written {
        let write = async {
            for delivery in batch.drain(..) {
                writer.feed(delivery.json.clone()).await?;
            }
            writer.flush().await
        };
        match timeout(self.config.write_timeout, write).await {
            Ok(Ok(())) => Written::Done,
            Ok(Err(err)) => {
                tracing::debug!(connection = %self.connection.id(), %err, "TCP write failed");
                Written::Gone
            }
            Err(_) => Written::TooSlow,
        }
    }

    async fn slow_consumer(
        &self,
        reader: Reader,
        writer: Writer,
    ) -> (Ended, Option<OwnedReadHalf>) {
        tracing::info!(connection = %self.connection.id(), "slow consumer: TCP write timed out, closing");
        self.connection.close(CloseCode::SlowConsumer);
        self.hub
            .counters()
            .slow_consumer_disconnects
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        finish(
            reader,
            writer,
            CloseCode::SlowConsumer,
            CLOSE_NOTICE_TIMEOUT,
        )
        .await
    }
}

/// Sends the `close` notice (bounded by `within`), then FIN; hands back the read half.
async fn finish(
    reader: Reader,
    mut writer: Writer,
    reason: CloseCode,
    within: Duration,
) -> (Ended, Option<OwnedReadHalf>) {
    let notice = Bytes::from(ServerMessage::close(reason).to_json());
    let write = async {
        writer.send(notice).await?;
        writer.close().await
    };
    let _ = timeout(within, write).await;
    drop(writer);
    (Ended::Closed(reason), Some(reader.into_inner()))
}

/// Reads and discards input for a short while after FIN (until the peer closes too), so
/// unread bytes do not make the kernel answer with a reset that destroys the notice.
async fn linger(mut read: OwnedReadHalf) {
    let deadline = Instant::now() + CLOSE_LINGER;
    let mut scratch = [0u8; LINGER_READ_CHUNK];
    while let Ok(Ok(n)) = timeout_at(deadline, read.read(&mut scratch)).await {
        if n == 0 {
            break;
        }
    }
}
