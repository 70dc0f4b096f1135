//! Server configuration: listeners, transports and their limits. Each default is a named
//! constant with the reason for its value, and the only place that value is written: the
//! binary's flags take their defaults from these constants. [`ServerConfig::validate`]
//! (in its `validate` module) is the one place that says which combinations the server can run
//! with; [`crate::Server::start`] calls it, so code downstream never clamps a setting.

mod connections;
mod prometheus;
mod security;
mod validate;

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use switchboard_hub::HubConfig;
use switchboard_protocol::{ChannelName, frame::Framing};

use switchboard_academy::simulator::SimulatorConfig;
use switchboard_feeds::clock::ClockFeedConfig;
use switchboard_feeds::{metrics::MetricsFeedConfig, weather::WeatherFeedConfig};

pub use connections::{
    ConnectionsConfig, DEFAULT_HTTP_BODY_TIMEOUT, DEFAULT_HTTP_HEADER_TIMEOUT,
    DEFAULT_HTTP_KEEPALIVE_TIMEOUT, DEFAULT_HTTP_WRITE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_ADDR, OVER_CAP_ANSWERS,
};
pub use prometheus::{DEFAULT_PROMETHEUS_ENABLED, PrometheusConfig};
pub use security::{
    DEFAULT_ALLOWED_HOSTS, DEFAULT_ALLOWED_ORIGINS, MIN_SESSION_KEY_BYTES, SecurityConfig,
};
pub use validate::ConfigError;

/// The HTTP listener binds loopback by default: exposing the server is a decision to make
/// on purpose (set the host to `0.0.0.0`).
pub const DEFAULT_HTTP_HOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The HTTP port (dashboard, WebSocket, SSE, polling, API): the demos' port.
pub const DEFAULT_HTTP_PORT: u16 = 8000;

/// The shortest heartbeat interval any transport accepts: a zero interval would spin (and
/// makes tokio's timers panic), and anything shorter is load, not liveness.
pub const MIN_HEARTBEAT: Duration = Duration::from_millis(10);
pub use switchboard_feeds::{clock::MIN_CLOCK_INTERVAL, metrics::MIN_METRICS_INTERVAL};

/// Server WebSocket pings this often: under the 30–60 s idle cut-offs common in proxies
/// and load balancers, so an idle but healthy connection is never dropped by them.
pub const DEFAULT_WS_HEARTBEAT: Duration = Duration::from_secs(25);
/// A connection with no frame from the client (a pong counts) for this long is culled:
/// two missed heartbeats plus slack for a slow network.
pub const DEFAULT_WS_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Initial read buffer per WebSocket (tungstenite allocates it up front, so it is most of
/// an idle connection's memory); it grows on demand for larger messages.
pub const DEFAULT_WS_READ_BUFFER: usize = 256;
/// Outgoing bytes tungstenite buffers per WebSocket before a write waits for the socket.
/// Since `/ws` writes its data frames itself (straight from the shared JSON, one write per
/// batch), this applies only to control frames there, and to everything on `/ws/echo`.
pub const DEFAULT_WS_WRITE_BUFFER: usize = 8 * 1024;
/// Deliveries written per batch before flushing, so one busy connection does not
/// monopolize a worker thread.
pub const WS_WRITE_BATCH: usize = 64;
/// How long shutdown keeps serving with `/healthz` failing before it stops accepting:
/// none by default (a lone server has nobody to warn); behind a load balancer, set it to
/// the balancer's health-check interval times its failure threshold.
pub const DEFAULT_SHUTDOWN_DRAIN: Duration = Duration::ZERO;
/// How long graceful shutdown waits for connections to flush and close.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// SSE heartbeat comment interval: well under the 30–60 s idle cut-offs of common
/// proxies, and a write that fails is how a vanished client is noticed, so this also bounds
/// how long a dead stream holds its connection.
pub const DEFAULT_SSE_HEARTBEAT: Duration = Duration::from_secs(15);
/// The `retry:` hint: how long an `EventSource` waits before reconnecting. Short, because
/// a reconnect resumes from history and costs little.
pub const DEFAULT_SSE_RETRY: Duration = Duration::from_secs(2);
/// Largest `POST /sse/message`, `/poll` or `/short-poll` body: the largest protocol
/// message (64 KiB by default) plus room for the envelope around it.
pub const DEFAULT_HTTP_MAX_BODY_BYTES: usize = 80 * 1024;
/// How long a long poll is held when nothing arrives (30 s, the classic long-polling
/// demo's hold): under the 60 s read timeouts common in proxies, so the poll ends on our
/// terms, not theirs.
pub const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(30);
/// A polling session that has not polled for this long is closed: two poll timeouts, so a
/// client that lost one response and retries still finds its queue.
pub const DEFAULT_POLL_SESSION_GRACE: Duration = Duration::from_secs(60);
/// Polling sessions one client address may hold: enough for many tabs behind one NAT,
/// few enough that one address cannot fill the server with queues.
pub const DEFAULT_POLL_MAX_SESSIONS_PER_ADDR: usize = 100;
/// Messages per poll response at most; the rest wait for the next poll.
pub const DEFAULT_POLL_MAX_BATCH: usize = 256;
/// Bytes of messages per poll response at most (a single larger message still goes,
/// alone, so nothing is stuck); the rest wait for the next poll. Without it one small
/// poll could be answered with `max_batch` × the largest message (16 MiB by default).
pub const DEFAULT_POLL_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Server-Sent Events transport settings (`GET /sse`, `POST /sse/message`).
#[derive(Debug, Clone)]
pub struct SseConfig {
    /// Serve `GET /sse` and `POST /sse/message`; when off both answer 503 with `error`
    /// 204, so clients fall back to another transport. On by default.
    pub enabled: bool,
    /// A `: heartbeat` comment goes out this often (announced as `heartbeat_interval_ms`
    /// in `welcome`; at least [`MIN_HEARTBEAT`]). Default [`DEFAULT_SSE_HEARTBEAT`]
    /// (15 s): under the proxies' 30–60 s idle cut-offs, and the write that fails is how a
    /// vanished client is noticed.
    pub heartbeat: Duration,
    /// The `retry:` hint each stream opens with (written in whole milliseconds): how long
    /// `EventSource` waits before reconnecting. Default [`DEFAULT_SSE_RETRY`] (2 s): a
    /// reconnect resumes from history, so it may come soon.
    pub retry: Duration,
    /// Largest `POST /sse/message` body, in bytes; a larger one is answered 413 with
    /// `error` 206. At least `hub.max_message_bytes` ([`ServerConfig::validate`] checks).
    /// Default [`DEFAULT_HTTP_MAX_BODY_BYTES`] (80 KiB): the largest message plus its
    /// envelope.
    pub max_body_bytes: usize,
}

impl Default for SseConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            heartbeat: DEFAULT_SSE_HEARTBEAT,
            retry: DEFAULT_SSE_RETRY,
            max_body_bytes: DEFAULT_HTTP_MAX_BODY_BYTES,
        }
    }
}

/// Long- and short-polling settings (`POST /poll`, `POST /short-poll`).
#[derive(Debug, Clone)]
pub struct PollConfig {
    /// Serve long polling (`POST /poll`); when off it answers 503 with `error` 204. On
    /// by default. `POST /poll/message` and `/poll/close` serve while either kind is on.
    pub long_enabled: bool,
    /// Serve short polling (`POST /short-poll`); when off it answers 503 with `error`
    /// 204. On by default.
    pub short_enabled: bool,
    /// How long a long poll is held when nothing is waiting; it is then answered with
    /// `"timeout": true` and no messages. Default [`DEFAULT_POLL_TIMEOUT`] (30 s): under
    /// the proxies' 60 s read timeouts, so the poll ends on our terms.
    pub timeout: Duration,
    /// A session not polled for this long is closed and leaves the hub (a held poll
    /// counts as polling; announced as `idle_timeout_ms` in `welcome`). Must be positive.
    /// Default [`DEFAULT_POLL_SESSION_GRACE`] (60 s): two poll timeouts, so a client that
    /// lost a response and retries still finds its queue.
    pub session_grace: Duration,
    /// Polling sessions one client address may hold at once; past it opening one is
    /// answered 429 with `error` 203. Must not be 0. Default
    /// [`DEFAULT_POLL_MAX_SESSIONS_PER_ADDR`] (100): many tabs behind one NAT, not enough
    /// queues for one address to fill the server.
    pub max_sessions_per_addr: usize,
    /// Largest body of `POST /poll`, `/short-poll`, `/poll/message` and `/poll/close`, in
    /// bytes; a larger one is answered 413 with `error` 206. At least
    /// `hub.max_message_bytes`. Default [`DEFAULT_HTTP_MAX_BODY_BYTES`] (80 KiB): the
    /// largest message plus its envelope.
    pub max_body_bytes: usize,
    /// Messages per poll response at most, oldest first; the rest wait for the next
    /// poll. Must not be 0. Default [`DEFAULT_POLL_MAX_BATCH`] (256).
    pub max_batch: usize,
    /// Bytes of messages (their JSON) per poll response at most; the rest wait for the
    /// next poll, and a single larger message goes alone, so nothing is stuck. Must not be
    /// 0. Default [`DEFAULT_POLL_MAX_RESPONSE_BYTES`] (1 MiB): without it one small poll
    /// could be answered with `max_batch` × the largest message.
    pub max_response_bytes: usize,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            long_enabled: true,
            short_enabled: true,
            timeout: DEFAULT_POLL_TIMEOUT,
            session_grace: DEFAULT_POLL_SESSION_GRACE,
            max_sessions_per_addr: DEFAULT_POLL_MAX_SESSIONS_PER_ADDR,
            max_body_bytes: DEFAULT_HTTP_MAX_BODY_BYTES,
            max_batch: DEFAULT_POLL_MAX_BATCH,
            max_response_bytes: DEFAULT_POLL_MAX_RESPONSE_BYTES,
        }
    }
}

/// WebSocket transport settings (`GET /ws` and the bare echo, `GET /ws/echo`).
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// Serve `GET /ws` and `GET /ws/echo`; when off both answer 503 with `error` 204. On
    /// by default.
    pub enabled: bool,
    /// A WebSocket ping goes out this often (announced as `heartbeat_interval_ms` in
    /// `welcome`); at least [`MIN_HEARTBEAT`] and shorter than `idle_timeout`. Default
    /// [`DEFAULT_WS_HEARTBEAT`] (25 s): under the proxies' 30–60 s idle cut-offs.
    pub heartbeat: Duration,
    /// A connection from which nothing (not even a pong) arrived for this long is closed
    /// with 4000, noticed at the next heartbeat tick (so within `idle_timeout +
    /// heartbeat`); a write stuck this long closes it with 4001. Default
    /// [`DEFAULT_WS_IDLE_TIMEOUT`] (60 s): two missed heartbeats plus slack.
    pub idle_timeout: Duration,
    /// Initial read buffer per WebSocket, in bytes; it grows on demand for larger
    /// messages. Must not be 0. Default [`DEFAULT_WS_READ_BUFFER`] (256 B): allocated up
    /// front, it is most of an idle connection's memory.
    pub read_buffer: usize,
    /// Outgoing bytes buffered per WebSocket before a write waits for the socket (the
    /// hard cap is four times this or the largest message, whichever is larger). On
    /// `/ws` only control frames go through it (data frames are written straight from
    /// the shared JSON). Default [`DEFAULT_WS_WRITE_BUFFER`] (8 KiB).
    pub write_buffer: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            heartbeat: DEFAULT_WS_HEARTBEAT,
            idle_timeout: DEFAULT_WS_IDLE_TIMEOUT,
            read_buffer: DEFAULT_WS_READ_BUFFER,
            write_buffer: DEFAULT_WS_WRITE_BUFFER,
        }
    }
}

/// The raw TCP port the classic Python socket demos use.
pub const DEFAULT_TCP_PORT: u16 = 1234;
/// The 4-byte big-endian length header: the most common length-prefix framing.
pub const DEFAULT_TCP_FRAMING: Framing = Framing::U32;
/// A JSON heartbeat frame this often: raw TCP has no ping frame, and the same proxy and
/// NAT idle cut-offs as for WebSocket apply.
pub const DEFAULT_TCP_HEARTBEAT: Duration = Duration::from_secs(25);
/// A TCP connection from which no complete frame arrived for this long is closed (4000):
/// two missed client pings plus slack. Also what ends a frame whose header announced more
/// bytes than ever arrive.
pub const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A write the client does not take within this long closes it as a slow consumer (4001).
pub const DEFAULT_TCP_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Open TCP connections at most: each holds a file descriptor, and the process may hold
/// 20,000; past this a new connection gets an `error` (203) frame and is closed.
pub const DEFAULT_TCP_MAX_CONNECTIONS: usize = 10_000;
/// Initial read buffer per TCP connection: small, since idle connections are the common
/// case; it grows on demand up to one header plus the largest message.
pub const TCP_READ_BUFFER: usize = 1024;
/// Frames written per batch before flushing, as for WebSocket.
pub const TCP_WRITE_BATCH: usize = 64;
/// Channels a TCP connection joins on connect: raw TCP has no URL to choose them, and
/// the classic socket demo sends every client the time.
pub const DEFAULT_TCP_CHANNELS: [&str; 2] = ["lobby", "clock"];

/// Raw TCP transport settings. The listener binds the HTTP listener's host.
#[derive(Debug, Clone)]
pub struct TcpConfig {
    /// Run the raw TCP listener. On by default.
    pub enabled: bool,
    /// Port on the HTTP host (0 picks a free one); not the HTTP port. Default
    /// [`DEFAULT_TCP_PORT`] (1234), the classic Python socket demos' port.
    pub port: u16,
    /// The length header of every frame, both directions: `u32` (4-byte big-endian,
    /// the default [`DEFAULT_TCP_FRAMING`]) or `decimal10` (10 ASCII digits, space-padded,
    /// as the Python demos write it). One listener speaks one framing.
    pub framing: Framing,
    /// A JSON `heartbeat` frame goes out this often (raw TCP has no ping frame); at
    /// least [`MIN_HEARTBEAT`] and shorter than `idle_timeout`. Default
    /// [`DEFAULT_TCP_HEARTBEAT`] (25 s): under the proxies' and NATs' idle cut-offs.
    pub heartbeat: Duration,
    /// A connection from which no complete frame arrived for this long is closed with
    /// 4000; this also ends a frame whose header announced more bytes than ever arrive.
    /// Default [`DEFAULT_TCP_IDLE_TIMEOUT`] (60 s): two missed client pings plus slack.
    pub idle_timeout: Duration,
    /// A write the client does not take within this long closes it as a slow consumer
    /// (4001). Must be positive. Default [`DEFAULT_TCP_WRITE_TIMEOUT`] (10 s).
    pub write_timeout: Duration,
    /// Open raw TCP connections at most, inside the server-wide `connections.max`; past
    /// it a new connection gets an `error` 203 frame and is closed. Must not be 0 (turn
    /// TCP off instead). Default [`DEFAULT_TCP_MAX_CONNECTIONS`] (10,000): below the
    /// global cap, so raw TCP alone cannot take every place from HTTP.
    pub max_connections: usize,
    /// Channels joined on connect besides `broadcast`; empty means the hub's auto-subscribe list.
    pub channels: Vec<ChannelName>,
}

impl Default for TcpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            port: DEFAULT_TCP_PORT,
            framing: DEFAULT_TCP_FRAMING,
            heartbeat: DEFAULT_TCP_HEARTBEAT,
            idle_timeout: DEFAULT_TCP_IDLE_TIMEOUT,
            write_timeout: DEFAULT_TCP_WRITE_TIMEOUT,
            max_connections: DEFAULT_TCP_MAX_CONNECTIONS,
            channels: DEFAULT_TCP_CHANNELS
                .iter()
                .filter_map(|name| ChannelName::new(name).ok())
                .collect(),
        }
    }
}

/// The whole server's configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the HTTP listener binds (all HTTP transports, the page and the API; port 0
    /// picks a free one). Default [`DEFAULT_HTTP_HOST`]:[`DEFAULT_HTTP_PORT`]
    /// (127.0.0.1:8000): loopback, since exposing the server is a decision to make on
    /// purpose.
    pub http: SocketAddr,
    /// Connection caps (every listener) and HTTP timeouts.
    pub connections: ConnectionsConfig,
    /// The hub's limits: the server builds its hub from this at start, and from then on
    /// reads them from `Hub::config()` only (one copy at run time).
    pub hub: HubConfig,
    /// WebSocket: `GET /ws` and `GET /ws/echo`.
    pub ws: WsConfig,
    /// Server-Sent Events: `GET /sse` and `POST /sse/message`.
    pub sse: SseConfig,
    /// Long and short polling: `POST /poll`, `/short-poll`, `/poll/message`, `/poll/close`.
    pub poll: PollConfig,
    /// The raw TCP listener, on a port of its own.
    pub tcp: TcpConfig,
    /// The `clock` feed: the time on the `clock` channel every few seconds.
    pub clock: ClockFeedConfig,
    /// The `metrics` feed: this machine's CPU, memory, disk and network figures, and the
    /// server's own.
    pub metrics: MetricsFeedConfig,
    /// The `weather` feed: current conditions for a list of cities, from Open-Meteo.
    pub weather: WeatherFeedConfig,
    /// The dashboard's connection simulator and its bounds (connections, ramp, pings).
    pub simulator: SimulatorConfig,
    /// Allowed origins and hosts, and the session key.
    pub security: SecurityConfig,
    /// `GET /metrics`: on or off, and where.
    pub prometheus: PrometheusConfig,
    /// How long graceful shutdown waits, once every connection was told to close
    /// (1001), for them to flush and end; the rest are then dropped and the shutdown is
    /// reported unclean. Default [`DEFAULT_SHUTDOWN_GRACE`] (10 s).
    pub shutdown_grace: Duration,
    /// How long shutdown first keeps serving with `/healthz` answering 503, before it
    /// stops accepting. Default [`DEFAULT_SHUTDOWN_DRAIN`] (none: a lone server has nobody
    /// to warn); behind a load balancer, its health-check interval times its failure
    /// threshold.
    pub shutdown_drain: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            http: SocketAddr::new(DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT),
            connections: ConnectionsConfig::default(),
            hub: HubConfig::default(),
            ws: WsConfig::default(),
            sse: SseConfig::default(),
            poll: PollConfig::default(),
            tcp: TcpConfig::default(),
            clock: ClockFeedConfig::default(),
            metrics: MetricsFeedConfig::default(),
            weather: WeatherFeedConfig::default(),
            simulator: SimulatorConfig::default(),
            security: SecurityConfig::default(),
            prometheus: PrometheusConfig::default(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            shutdown_drain: DEFAULT_SHUTDOWN_DRAIN,
        }
    }
}

impl ServerConfig {
    /// A configuration for tests: every listener on 127.0.0.1 port 0.
    pub fn ephemeral() -> Self {
        Self {
            http: SocketAddr::new(DEFAULT_HTTP_HOST, 0),
            tcp: TcpConfig {
                port: 0,
                ..TcpConfig::default()
            },
            // The metrics and weather feeds are opt-in for tests: they would add
            // channels and (for weather) outbound requests to every test server.
            metrics: MetricsFeedConfig {
                enabled: false,
                ..MetricsFeedConfig::default()
            },
            weather: WeatherFeedConfig {
                enabled: false,
                ..WeatherFeedConfig::default()
            },
            ..Self::default()
        }
    }
}
