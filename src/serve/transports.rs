//! `serve` flag sections, one per transport: WebSocket, Server-Sent Events, polling and
//! raw TCP. Every default is the named constant from `switchboard_server::config` (or,
//! for the on/off switches, the transport config's `Default`), written nowhere else.

use clap::Args;
use switchboard_protocol::frame::Framing;
use switchboard_server::config::{self as server, PollConfig, SseConfig, TcpConfig, WsConfig};

use super::values::{ChannelList, HumanDuration};

/// WebSocket (`/ws`, `/ws/echo`).
#[derive(Debug, Args)]
#[command(next_help_heading = "WebSocket")]
pub(crate) struct WsArgs {
    /// Serve the WebSocket transport (`/ws`, `/ws/echo`).
    #[arg(long, env = "SWITCHBOARD_WS_ENABLED", default_value_t = WsConfig::default().enabled, action = clap::ArgAction::Set)]
    ws_enabled: bool,
    /// WebSocket ping interval (under the idle timeout).
    #[arg(long, env = "SWITCHBOARD_WS_HEARTBEAT", default_value_t = HumanDuration(server::DEFAULT_WS_HEARTBEAT))]
    ws_heartbeat: HumanDuration,
    /// Close a WebSocket from which nothing arrived for this long.
    #[arg(long, env = "SWITCHBOARD_WS_IDLE_TIMEOUT", default_value_t = HumanDuration(server::DEFAULT_WS_IDLE_TIMEOUT))]
    ws_idle_timeout: HumanDuration,
    /// Initial read buffer per WebSocket, in bytes (grows on demand).
    #[arg(long, env = "SWITCHBOARD_WS_READ_BUFFER", default_value_t = server::DEFAULT_WS_READ_BUFFER)]
    ws_read_buffer: usize,
    /// Outgoing bytes tungstenite buffers per WebSocket: control frames on /ws (data frames are written directly), everything on /ws/echo.
    #[arg(long, env = "SWITCHBOARD_WS_WRITE_BUFFER", default_value_t = server::DEFAULT_WS_WRITE_BUFFER)]
    ws_write_buffer: usize,
}

impl WsArgs {
    pub(super) fn into_config(self) -> WsConfig {
        WsConfig {
            enabled: self.ws_enabled,
            heartbeat: self.ws_heartbeat.into(),
            idle_timeout: self.ws_idle_timeout.into(),
            read_buffer: self.ws_read_buffer,
            write_buffer: self.ws_write_buffer,
        }
    }
}

/// Server-Sent Events (`GET /sse`, `POST /sse/message`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Server-Sent Events")]
pub(crate) struct SseArgs {
    /// Serve Server-Sent Events (`GET /sse`, `POST /sse/message`).
    #[arg(long, env = "SWITCHBOARD_SSE_ENABLED", default_value_t = SseConfig::default().enabled, action = clap::ArgAction::Set)]
    sse_enabled: bool,
    /// Interval of the `: heartbeat` comment on event streams.
    #[arg(long, env = "SWITCHBOARD_SSE_HEARTBEAT", default_value_t = HumanDuration(server::DEFAULT_SSE_HEARTBEAT))]
    sse_heartbeat: HumanDuration,
    /// The `retry:` reconnect hint sent to EventSource clients.
    #[arg(long, env = "SWITCHBOARD_SSE_RETRY", default_value_t = HumanDuration(server::DEFAULT_SSE_RETRY))]
    sse_retry: HumanDuration,
    /// Largest `POST /sse/message` body, in bytes (at least the largest message).
    #[arg(long, env = "SWITCHBOARD_SSE_MAX_BODY_BYTES", default_value_t = server::DEFAULT_HTTP_MAX_BODY_BYTES)]
    sse_max_body_bytes: usize,
}

impl SseArgs {
    pub(super) fn into_config(self) -> SseConfig {
        SseConfig {
            enabled: self.sse_enabled,
            heartbeat: self.sse_heartbeat.into(),
            retry: self.sse_retry.into(),
            max_body_bytes: self.sse_max_body_bytes,
        }
    }
}

/// Long and short polling (`POST /poll`, `POST /short-poll`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Polling")]
pub(crate) struct PollArgs {
    /// Serve long polling (`POST /poll`).
    #[arg(long, env = "SWITCHBOARD_LONG_POLL_ENABLED", default_value_t = PollConfig::default().long_enabled, action = clap::ArgAction::Set)]
    long_poll_enabled: bool,
    /// Serve short polling (`POST /short-poll`).
    #[arg(long, env = "SWITCHBOARD_SHORT_POLL_ENABLED", default_value_t = PollConfig::default().short_enabled, action = clap::ArgAction::Set)]
    short_poll_enabled: bool,
    /// How long a long poll is held when nothing is waiting.
    #[arg(long, env = "SWITCHBOARD_POLL_TIMEOUT", default_value_t = HumanDuration(server::DEFAULT_POLL_TIMEOUT))]
    poll_timeout: HumanDuration,
    /// A polling session not polled for this long is closed.
    #[arg(long, env = "SWITCHBOARD_POLL_SESSION_GRACE", default_value_t = HumanDuration(server::DEFAULT_POLL_SESSION_GRACE))]
    poll_session_grace: HumanDuration,
    /// Polling sessions one client address may hold.
    #[arg(long, env = "SWITCHBOARD_POLL_MAX_SESSIONS_PER_ADDR", default_value_t = server::DEFAULT_POLL_MAX_SESSIONS_PER_ADDR)]
    poll_max_sessions_per_addr: usize,
    /// Largest `/poll` or `/short-poll` body, in bytes (at least the largest message).
    #[arg(long, env = "SWITCHBOARD_POLL_MAX_BODY_BYTES", default_value_t = server::DEFAULT_HTTP_MAX_BODY_BYTES)]
    poll_max_body_bytes: usize,
    /// Messages per poll response at most (at least 1).
    #[arg(long, env = "SWITCHBOARD_POLL_MAX_BATCH", default_value_t = server::DEFAULT_POLL_MAX_BATCH)]
    poll_max_batch: usize,
    /// Bytes of messages per poll response at most; the rest waits for the next poll (a larger single message goes alone).
    #[arg(long, env = "SWITCHBOARD_POLL_MAX_RESPONSE_BYTES", default_value_t = server::DEFAULT_POLL_MAX_RESPONSE_BYTES)]
    poll_max_response_bytes: usize,
}

impl PollArgs {
    pub(super) fn into_config(self) -> PollConfig {
        PollConfig {
            long_enabled: self.long_poll_enabled,
            short_enabled: self.short_poll_enabled,
            timeout: self.poll_timeout.into(),
            session_grace: self.poll_session_grace.into(),
            max_sessions_per_addr: self.poll_max_sessions_per_addr,
            max_body_bytes: self.poll_max_body_bytes,
            max_batch: self.poll_max_batch,
            max_response_bytes: self.poll_max_response_bytes,
        }
    }
}

/// Raw TCP (length-prefixed JSON frames), on the HTTP host.
#[derive(Debug, Args)]
#[command(next_help_heading = "Raw TCP")]
pub(crate) struct TcpArgs {
    /// Serve the raw TCP transport (length-prefixed JSON frames).
    #[arg(long, env = "SWITCHBOARD_TCP_ENABLED", default_value_t = TcpConfig::default().enabled, action = clap::ArgAction::Set)]
    tcp_enabled: bool,
    /// Raw TCP port, on the HTTP host (0 picks a free one).
    #[arg(long, env = "SWITCHBOARD_TCP_PORT", default_value_t = server::DEFAULT_TCP_PORT)]
    tcp_port: u16,
    /// Frame header: `u32` (4-byte big-endian length) or `decimal10` (10 ASCII digits, space-padded, as the Python demos).
    #[arg(long, env = "SWITCHBOARD_TCP_FRAMING", default_value_t = server::DEFAULT_TCP_FRAMING)]
    tcp_framing: Framing,
    /// Interval of the JSON heartbeat frame on TCP connections (under the idle timeout).
    #[arg(long, env = "SWITCHBOARD_TCP_HEARTBEAT", default_value_t = HumanDuration(server::DEFAULT_TCP_HEARTBEAT))]
    tcp_heartbeat: HumanDuration,
    /// Close a TCP connection from which no complete frame arrived for this long.
    #[arg(long, env = "SWITCHBOARD_TCP_IDLE_TIMEOUT", default_value_t = HumanDuration(server::DEFAULT_TCP_IDLE_TIMEOUT))]
    tcp_idle_timeout: HumanDuration,
    /// Close a TCP client that does not take a write within this long (slow consumer).
    #[arg(long, env = "SWITCHBOARD_TCP_WRITE_TIMEOUT", default_value_t = HumanDuration(server::DEFAULT_TCP_WRITE_TIMEOUT))]
    tcp_write_timeout: HumanDuration,
    /// Open TCP connections at most; more are refused with error 203.
    #[arg(long, env = "SWITCHBOARD_TCP_MAX_CONNECTIONS", default_value_t = server::DEFAULT_TCP_MAX_CONNECTIONS)]
    tcp_max_connections: usize,
    /// Channels a TCP connection joins on connect besides `broadcast` (comma-separated).
    #[arg(long, env = "SWITCHBOARD_TCP_CHANNELS", default_value_t = ChannelList::of(&server::DEFAULT_TCP_CHANNELS))]
    tcp_channels: ChannelList,
}

impl TcpArgs {
    pub(super) fn into_config(self) -> TcpConfig {
        TcpConfig {
            enabled: self.tcp_enabled,
            port: self.tcp_port,
            framing: self.tcp_framing,
            heartbeat: self.tcp_heartbeat.into(),
            idle_timeout: self.tcp_idle_timeout.into(),
            write_timeout: self.tcp_write_timeout.into(),
            max_connections: self.tcp_max_connections,
            channels: self.tcp_channels.0,
        }
    }
}
