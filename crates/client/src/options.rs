//! What a client can be told: the transport to use (or `Auto`), timeouts, the reconnect
//! policy and its bounds, and an optional wire tap. Every default is a named constant
//! with the reason for its value.

use std::{fmt, net::IpAddr, str::FromStr, sync::Arc, time::Duration};

use switchboard_protocol::server::Transport;

use crate::{backoff::Backoff, wire::WireLog};

/// A TCP connect or HTTP handshake slower than this on a LAN or the loopback means the
/// server is not there; the cascade moves on rather than hanging.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for `welcome` once connected: a proxy that swallows the upgrade or
/// buffers a stream shows up as silence, and this is how fallback notices it.
pub const DEFAULT_WELCOME_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a request (`ping`, `publish`...) waits for its reply.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Events queued for the application before the client stops reading the connection
/// (which then pushes back on the server, as a slow consumer would).
pub const DEFAULT_EVENT_QUEUE: usize = 4096;
/// Requests held while reconnecting; more fail with [`crate::ClientError::Backlog`].
pub const DEFAULT_OFFLINE_QUEUE: usize = 1024;
/// Short polling asks this often when idle: the latency a short-polling client accepts.
pub const DEFAULT_SHORT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How often a client that fell back tries the better transports again.
pub const DEFAULT_UPGRADE_INTERVAL: Duration = Duration::from_secs(60);

/// The transport to use, or `Auto` for the fallback cascade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportChoice {
    /// WebSocket only (`ws://` or `http://` URL, path `/ws` by default).
    Websocket,
    /// Server-Sent Events only: a `GET /sse` stream, requests by `POST /sse/message`.
    Sse,
    /// Long polling only (`POST /poll`).
    LongPoll,
    /// Short polling only (`POST /short-poll`, every `short_poll_interval` when idle).
    ShortPoll,
    /// Raw TCP only, in the server's default `u32` framing (a 4-byte big-endian length
    /// before each message); needs a `tcp://` URL. Never part of `Auto`.
    Tcp,
    /// WebSocket, then SSE + POST, then long polling, then short polling.
    Auto,
}

impl TransportChoice {
    /// The cascade `Auto` walks, best first.
    pub const CASCADE: [Transport; 4] = [
        Transport::Websocket,
        Transport::Sse,
        Transport::LongPoll,
        Transport::ShortPoll,
    ];

    /// The transports to try, in order.
    pub fn candidates(self) -> Vec<Transport> {
        match self {
            TransportChoice::Websocket => vec![Transport::Websocket],
            TransportChoice::Sse => vec![Transport::Sse],
            TransportChoice::LongPoll => vec![Transport::LongPoll],
            TransportChoice::ShortPoll => vec![Transport::ShortPoll],
            TransportChoice::Tcp => vec![Transport::Tcp],
            TransportChoice::Auto => Self::CASCADE.to_vec(),
        }
    }

    /// The name [`FromStr`] accepts and the CLI's `--protocol` takes (`long-poll`,
    /// `auto`...).
    pub const fn as_str(self) -> &'static str {
        match self {
            TransportChoice::Websocket => "websocket",
            TransportChoice::Sse => "sse",
            TransportChoice::LongPoll => "long-poll",
            TransportChoice::ShortPoll => "short-poll",
            TransportChoice::Tcp => "tcp",
            TransportChoice::Auto => "auto",
        }
    }
}

impl fmt::Display for TransportChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TransportChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "websocket" | "ws" => TransportChoice::Websocket,
            "sse" => TransportChoice::Sse,
            "long-poll" => TransportChoice::LongPoll,
            "short-poll" => TransportChoice::ShortPoll,
            "tcp" => TransportChoice::Tcp,
            "auto" => TransportChoice::Auto,
            other => {
                return Err(format!(
                    "unknown protocol {other:?}: use websocket, sse, long-poll, short-poll, tcp or auto"
                ));
            }
        })
    }
}

/// Client settings.
#[derive(Clone)]
pub struct ClientOptions {
    /// Channels to join on connect; `None` takes the server's auto-subscribe list.
    /// (`broadcast` is always joined.)
    pub channels: Option<Vec<String>>,
    /// How long one transport may take to connect (TCP connect plus the HTTP or
    /// WebSocket handshake) before the attempt fails ([`DEFAULT_CONNECT_TIMEOUT`]).
    pub connect_timeout: Duration,
    /// How long to wait for `welcome` once connected before the attempt fails and the
    /// cascade moves on ([`DEFAULT_WELCOME_TIMEOUT`]).
    pub welcome_timeout: Duration,
    /// How long a request waits for its reply before it fails with
    /// [`crate::ClientError::Timeout`] ([`DEFAULT_REQUEST_TIMEOUT`]).
    pub request_timeout: Duration,
    /// Time between two short polls when nothing is waiting to be sent
    /// ([`DEFAULT_SHORT_POLL_INTERVAL`]); keep it under the server's session grace.
    pub short_poll_interval: Duration,
    /// Reconnect after a lost connection (with resume). Off: the event stream ends.
    pub reconnect: bool,
    /// Delays between reconnect attempts, and how many to make.
    pub backoff: Backoff,
    /// How often `Auto` tries to move back up the cascade; `None` never.
    pub upgrade_interval: Option<Duration>,
    /// Events queued for the application ([`DEFAULT_EVENT_QUEUE`]; at least 1): when it
    /// is full the client stops reading the connection until the application catches up.
    pub event_queue: usize,
    /// Requests held while reconnecting, sent once connected again
    /// ([`DEFAULT_OFFLINE_QUEUE`]); one more fails at once with
    /// [`crate::ClientError::Backlog`].
    pub offline_queue: usize,
    /// Receives the raw bytes of every exchange, formatted for people (`--show-wire`).
    pub wire: Option<Arc<dyn WireLog>>,
    /// The local address every socket binds before connecting (`None`: the system's
    /// choice). The connection simulator spreads its clients over loopback addresses
    /// with it, so the server counts them apart from real clients.
    pub local_addr: Option<IpAddr>,
    /// A connection token (JWT) sent the way each transport expects: `?token=` on
    /// WebSocket and SSE, `Authorization: Bearer` on the request that opens a polling
    /// session, a first `connect` frame on raw TCP. `None`: connect anonymously.
    pub token: Option<String>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            channels: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            welcome_timeout: DEFAULT_WELCOME_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            short_poll_interval: DEFAULT_SHORT_POLL_INTERVAL,
            reconnect: true,
            backoff: Backoff::default(),
            upgrade_interval: Some(DEFAULT_UPGRADE_INTERVAL),
            event_queue: DEFAULT_EVENT_QUEUE,
            offline_queue: DEFAULT_OFFLINE_QUEUE,
            wire: None,
            local_addr: None,
            token: None,
        }
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("channels", &self.channels)
            .field("connect_timeout", &self.connect_timeout)
            .field("welcome_timeout", &self.welcome_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("reconnect", &self.reconnect)
            .field("backoff", &self.backoff)
            .field("upgrade_interval", &self.upgrade_interval)
            .field("wire", &self.wire.is_some())
            .field("local_addr", &self.local_addr)
            // A credential: whether there is one, never its text.
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}
