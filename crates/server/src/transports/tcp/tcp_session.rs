//! One raw TCP connection: read frames into the hub, write its outbox as frames, keep it
//! alive, and say why before closing.
//!
//! One task per connection selects over the frame reader and the outbox; the keepalive
//! comes from the shared [`lifecycle`] (the server's one ticker wakes the task through
//! its outbox; no timer per connection). Guarantees:
//! - Keepalive: raw TCP has no ping frame, so the server writes a
//!   `{"type":"heartbeat","ts":...}` frame every `heartbeat` (at least
//!   `MIN_HEARTBEAT`). A connection from which no complete
//!   frame arrived within `idle_timeout` is closed with 4000 (clients send `ping` to stay
//!   alive), noticed at the first heartbeat tick after it. This also ends a frame whose
//!   header announced more bytes than ever arrive: the reader holds at most one header
//!   plus `max_message_bytes` meanwhile.
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
//!   Then the server sends FIN and [`lifecycle::linger`]s, so the notice is not destroyed
//!   by a TCP reset.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use switchboard_hub::{Connection, Delivery, Hub, InitialSubscription, Transport};
use switchboard_protocol::{
    CloseCode, ErrorCode, ProtocolError, ServerMessage,
    client::connect::{Connect, parse_connect},
    frame::{FrameCodec, FrameError},
    now_ms,
};
use tokio::{
    net::{
        TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    time::timeout,
};
use tokio_util::codec::{Decoder, FramedRead, FramedWrite};

use crate::{
    config::{ServerConfig, TCP_READ_BUFFER, TCP_WRITE_BATCH},
    security::{Authenticated, Authenticator},
    transports::lifecycle::{
        self, CLOSE_NOTICE_TIMEOUT, Due, EndReason, Keepalive, KeepaliveClock, Wake,
        cut_slow_consumer, next_wake,
    },
};

type Reader = FramedRead<OwnedReadHalf, FrameCodec>;
type Writer = FramedWrite<OwnedWriteHalf, FrameCodec>;

/// What writing a batch achieved.
enum Written {
    Done,
    /// The client did not take the bytes within the write timeout.
    TooSlow,
    /// The socket failed.
    Gone,
}

/// How long a server that checks tokens waits for the `connect` frame: a few round trips
/// for a slow client, short enough that silent sockets do not pile up.
pub(crate) const TCP_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What was read before the connection was registered: bytes already buffered past the
/// first frame, and that frame itself when it was a message rather than `connect`.
/// It lives only in the boxed opening future ([`open`]), never in the connection task.
struct Preread {
    buffered: BytesMut,
    first_message: Option<Bytes>,
}

/// A connection registered with the hub and opened (`welcome` queued), ready to serve.
struct Opened {
    stream: TcpStream,
    connection: Arc<Connection>,
    /// The start of a frame read before the connection opened.
    partial: Option<Box<BytesMut>>,
    /// Nothing was read before opening (a server without keys): a first frame that is
    /// `connect` is dropped, so a client that always sends one works with every server.
    first_may_be_connect: bool,
}

/// Serves one accepted connection until it ends, then forgets it in the hub.
pub(super) async fn run(
    stream: TcpStream,
    remote: SocketAddr,
    hub: Arc<Hub>,
    config: Arc<ServerConfig>,
    auth: &Authenticator,
) {
    // Boxed: authenticating and opening happen once, and their state would otherwise
    // sit in every connection's task for its whole life.
    let Some(opened) = Box::pin(open(stream, remote, &hub, &config, auth)).await else {
        return;
    };
    let Opened {
        stream,
        connection,
        partial,
        first_may_be_connect,
    } = *opened;
    let session = TcpSession {
        hub: &hub,
        connection: &connection,
        framing: config.tcp.framing,
        keepalive: Keepalive::tcp(&config.tcp),
    };
    let (ended, read) = session.run(stream, partial, first_may_be_connect).await;
    tracing::debug!(connection = %connection.id(), ?ended, "TCP connection closed");
    ended.record(&connection);
    hub.disconnect(&connection).await;
    if let Some(read) = read {
        lifecycle::linger(read).await;
    }
}

/// Authenticates (on a server with keys: the `connect` frame, refused with an `error`
/// frame and a close), registers the connection, queues `welcome` and the initial
/// subscriptions, then handles what the client sent behind `connect`.
async fn open(
    stream: TcpStream,
    remote: SocketAddr,
    hub: &Arc<Hub>,
    config: &ServerConfig,
    auth: &Authenticator,
) -> Option<Box<Opened>> {
    let (stream, granted, preread) = if auth.checks_tokens() {
        let codec = FrameCodec::new(config.tcp.framing, hub.config().max_message_bytes);
        match authenticate_first_frame(stream, codec, auth).await {
            Ok((stream, granted, preread)) => (stream, granted, Some(preread)),
            Err((stream, refusal)) => {
                super::refuse(stream, config.tcp.framing, refusal).await;
                return None;
            }
        }
    } else {
        (stream, None, None)
    };
    let identity = granted.as_ref().map(|granted| granted.identity.clone());
    let connection = hub.connect_as(Transport::Tcp, Some(remote), identity);
    let keepalive = Keepalive::tcp(&config.tcp);
    let channels = (!config.tcp.channels.is_empty()).then(|| {
        config
            .tcp
            .channels
            .iter()
            .cloned()
            .map(InitialSubscription::new)
            .collect()
    });
    let channels = add_token_channels(channels, &hub.config().auto_subscribe, granted);
    lifecycle::open(hub, &connection, channels, &keepalive).await;
    let first_may_be_connect = preread.is_none();
    let partial = match preread {
        Some(preread) => {
            let session = TcpSession {
                hub,
                connection: &connection,
                framing: config.tcp.framing,
                keepalive,
            };
            session.handle_preread(preread).await
        }
        None => None,
    };
    Some(Box::new(Opened {
        stream,
        connection,
        partial,
        first_may_be_connect,
    }))
}

/// Reads the first frame of a connection to a server that checks tokens: a `connect`
/// frame is authenticated; any other message (or none within [`TCP_CONNECT_TIMEOUT`])
/// connects without a token, which is refused where tokens are required. On refusal the
/// stream comes back with the error to send before closing.
async fn authenticate_first_frame(
    stream: TcpStream,
    codec: FrameCodec,
    auth: &Authenticator,
) -> Result<(TcpStream, Option<Authenticated>, Preread), (TcpStream, ProtocolError)> {
    let mut framed = FramedRead::new(stream, codec);
    let first = match timeout(TCP_CONNECT_TIMEOUT, framed.next()).await {
        Ok(Some(Ok(payload))) => Some(payload),
        _ => None,
    };
    let parts = framed.into_parts();
    let (stream, buffered) = (parts.io, parts.read_buf);
    let (token, first_message) = match &first {
        Some(payload) => match parse_connect(std::str::from_utf8(payload).unwrap_or("")) {
            Ok(Some(Connect { token })) => (token, None),
            Ok(None) => (None, first),
            Err(err) => return Err((stream, err)),
        },
        None => (None, None),
    };
    match auth.authenticate(token.as_deref()) {
        Ok(granted) => Ok((
            stream,
            granted,
            Preread {
                buffered,
                first_message,
            },
        )),
        Err(refusal) => Err((
            stream,
            ProtocolError::new(refusal.code(), refusal.message()),
        )),
    }
}

/// The configured channels (or the hub's auto-subscribe list) plus the token's own.
fn add_token_channels(
    channels: Option<Vec<InitialSubscription>>,
    auto_subscribe: &[switchboard_protocol::ChannelName],
    granted: Option<Authenticated>,
) -> Option<Vec<InitialSubscription>> {
    let Some(granted) = granted.filter(|granted| !granted.channels.is_empty()) else {
        return channels;
    };
    let mut list = channels.unwrap_or_else(|| {
        auto_subscribe
            .iter()
            .cloned()
            .map(InitialSubscription::new)
            .collect()
    });
    for channel in granted.channels {
        if !list.iter().any(|s| s.channel == channel) {
            list.push(InitialSubscription::new(channel));
        }
    }
    Some(list)
}

struct TcpSession<'a> {
    hub: &'a Arc<Hub>,
    connection: &'a Arc<Connection>,
    framing: switchboard_protocol::frame::Framing,
    keepalive: Keepalive,
}

impl TcpSession<'_> {
    /// Runs until the connection ends; after a server-side close, also hands back the
    /// read half for the linger.
    /// `partial` is the start of a frame read before the connection opened; with
    /// `first_may_be_connect`, a first frame that is `connect` is dropped.
    async fn run(
        self,
        stream: TcpStream,
        partial: Option<Box<BytesMut>>,
        first_may_be_connect: bool,
    ) -> (EndReason, Option<OwnedReadHalf>) {
        let codec = FrameCodec::new(self.framing, self.hub.config().max_message_bytes);
        let (read, write) = stream.into_split();
        let mut reader = FramedRead::with_capacity(read, codec.clone(), TCP_READ_BUFFER);
        if let Some(partial) = partial {
            reader.read_buffer_mut().extend_from_slice(&partial);
        }
        let mut first_may_be_connect = first_may_be_connect;
        let mut writer = FramedWrite::new(write, codec);
        // False once the input can no longer be trusted (bad frame) or has ended; the
        // keepalive stops with it (what is left is flushing and closing).
        let mut reading = true;
        let mut batch = Vec::new();
        let mut clock = KeepaliveClock::new();
        loop {
            let keepalive = reading.then_some((&mut clock, &self.keepalive));
            let outbox = self.connection.outbox();
            let wake = tokio::select! {
                frame = reader.next(), if reading => {
                    match frame {
                        Some(Ok(payload)) => {
                            clock.heard();
                            let skip = std::mem::take(&mut first_may_be_connect)
                                && std::str::from_utf8(&payload)
                                    .is_ok_and(|text| matches!(parse_connect(text), Ok(Some(_))));
                            if !skip {
                                self.handle_frame(payload).await;
                            }
                        }
                        Some(Err(FrameError::Io(err))) => {
                            tracing::debug!(connection = %self.connection.id(), %err, "TCP read failed");
                            return (EndReason::ClientGone, None);
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
                    }
                    continue;
                }
                wake = next_wake(outbox, &mut batch, TCP_WRITE_BATCH, keepalive) => wake,
            };
            match wake {
                Wake::Outbox(Some(reason)) => {
                    let within = self.keepalive.close_within(reason);
                    return finish(reader, writer, reason, within).await;
                }
                Wake::Outbox(None) => match self.write_batch(&mut writer, &mut batch).await {
                    Written::Done => {}
                    Written::Gone => return (EndReason::ClientGone, None),
                    Written::TooSlow => return self.slow_consumer(reader, writer).await,
                },
                Wake::Keepalive(Due::IdleTimeout) => {
                    let within = self.keepalive.close_within(CloseCode::IdleTimeout);
                    return finish(reader, writer, CloseCode::IdleTimeout, within).await;
                }
                Wake::Keepalive(Due::Heartbeat) => {
                    let heartbeat = ServerMessage::Heartbeat { ts: now_ms() };
                    let write = writer.send(Bytes::from(heartbeat.to_json()));
                    match timeout(self.keepalive.write_timeout(), write).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return (EndReason::ClientGone, None),
                        Err(_) => return self.slow_consumer(reader, writer).await,
                    }
                }
            }
        }
    }

    /// The frames read before the connection opened. Frames the client sent right behind
    /// `connect` are handled now (the reader would wait for the socket before decoding
    /// its buffer); the start of a frame still arriving is returned for the reader.
    async fn handle_preread(&self, preread: Preread) -> Option<Box<BytesMut>> {
        if let Some(first) = preread.first_message {
            self.handle_frame(first).await;
        }
        let mut decoder = FrameCodec::new(self.framing, self.hub.config().max_message_bytes);
        let mut buffered = preread.buffered;
        while let Ok(Some(frame)) = decoder.decode(&mut buffered) {
            self.handle_frame(frame).await;
        }
        (!buffered.is_empty()).then(|| Box::new(buffered))
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
        match timeout(self.keepalive.write_timeout(), write).await {
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
    ) -> (EndReason, Option<OwnedReadHalf>) {
        cut_slow_consumer(self.hub, self.connection);
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
) -> (EndReason, Option<OwnedReadHalf>) {
    let notice = Bytes::from(ServerMessage::close(reason).to_json());
    let write = async {
        writer.send(notice).await?;
        writer.close().await
    };
    let _ = timeout(within, write).await;
    drop(writer);
    (EndReason::Closed(reason), Some(reader.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What one connection's task costs: it was 4,400 bytes with a timer per connection
    /// and the linger's 4 KiB buffer inside the future; it is 1,848 with the shared
    /// ticker and a linger buffer on the heap only while lingering. It must not grow back.
    #[tokio::test]
    async fn a_connection_task_stays_small() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = TcpStream::connect(addr).await.unwrap();
        let hub = Hub::memory(Default::default());
        let config = Arc::new(ServerConfig::ephemeral());
        let auth = Authenticator::new(&Default::default()).unwrap();
        let size = std::mem::size_of_val(&run(stream, addr, hub, config, &auth));
        assert!(size <= 1848, "a TCP connection's task is {size} bytes");
    }
}
