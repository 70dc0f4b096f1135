//! `serve` flag sections for the server itself: the HTTP listener, connection caps and
//! HTTP timeouts, the hub's limits and shutdown. Every default is the named constant from `switchboard_server::config` or
//! `switchboard_hub::config`, written nowhere else.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Args;
use switchboard_hub::{HubConfig, config as hub};
use switchboard_server::config::{self as server, ConnectionsConfig};

use super::values::{ChannelList, HumanDuration};

/// The HTTP listener: dashboard, WebSocket, SSE, polling and API.
#[derive(Debug, Args)]
#[command(next_help_heading = "HTTP listener")]
pub(crate) struct HttpArgs {
    /// Address the HTTP listener binds (dashboard, WebSocket, SSE, polling, API).
    #[arg(long, env = "SWITCHBOARD_HOST", default_value_t = server::DEFAULT_HTTP_HOST)]
    host: IpAddr,
    /// HTTP port (0 picks a free one).
    #[arg(long, env = "SWITCHBOARD_PORT", default_value_t = server::DEFAULT_HTTP_PORT)]
    port: u16,
}

impl HttpArgs {
    pub(super) fn into_addr(self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }
}

/// Connection caps (every listener) and HTTP timeouts.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connections")]
pub(crate) struct ConnectionArgs {
    /// Open connections at most, HTTP (with WebSockets and event streams) and raw TCP together; more get 503 (TCP: error 302).
    #[arg(long, env = "SWITCHBOARD_MAX_CONNECTIONS", default_value_t = server::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Open connections one client address may hold (0: no cap, e.g. behind a reverse proxy); more get 429 (TCP: error 207).
    #[arg(long, env = "SWITCHBOARD_MAX_CONNECTIONS_PER_ADDR", default_value_t = server::DEFAULT_MAX_CONNECTIONS_PER_ADDR)]
    max_connections_per_addr: usize,
    /// A new HTTP connection must send its first request head within this.
    #[arg(long, env = "SWITCHBOARD_HTTP_HEADER_TIMEOUT", default_value_t = HumanDuration(server::DEFAULT_HTTP_HEADER_TIMEOUT))]
    http_header_timeout: HumanDuration,
    /// An idle persistent HTTP connection must send its next request head within this of its last response.
    #[arg(long, env = "SWITCHBOARD_HTTP_KEEPALIVE_TIMEOUT", default_value_t = HumanDuration(server::DEFAULT_HTTP_KEEPALIVE_TIMEOUT))]
    http_keepalive_timeout: HumanDuration,
    /// A request body must arrive in full within this of its head (else 408).
    #[arg(long, env = "SWITCHBOARD_HTTP_BODY_TIMEOUT", default_value_t = HumanDuration(server::DEFAULT_HTTP_BODY_TIMEOUT))]
    http_body_timeout: HumanDuration,
    /// An HTTP response or event stream the client takes nothing of for this long is cut.
    #[arg(long, env = "SWITCHBOARD_HTTP_WRITE_TIMEOUT", default_value_t = HumanDuration(server::DEFAULT_HTTP_WRITE_TIMEOUT))]
    http_write_timeout: HumanDuration,
}

impl ConnectionArgs {
    pub(super) fn into_config(self) -> ConnectionsConfig {
        ConnectionsConfig {
            max: self.max_connections,
            max_per_addr: self.max_connections_per_addr,
            http_header_timeout: self.http_header_timeout.into(),
            http_keepalive_timeout: self.http_keepalive_timeout.into(),
            http_body_timeout: self.http_body_timeout.into(),
            http_write_timeout: self.http_write_timeout.into(),
        }
    }
}

/// The hub: history, per-connection queues and rates, and message and channel limits.
#[derive(Debug, Args)]
#[command(next_help_heading = "Hub limits")]
pub(crate) struct HubArgs {
    /// Messages kept per channel for resume.
    #[arg(long, env = "SWITCHBOARD_HISTORY_SIZE", default_value_t = hub::DEFAULT_HISTORY_SIZE)]
    history_size: usize,
    /// How long a message stays in history.
    #[arg(long, env = "SWITCHBOARD_HISTORY_TTL", default_value_t = HumanDuration(hub::DEFAULT_HISTORY_TTL))]
    history_ttl: HumanDuration,
    /// Bytes of history kept across every channel (JSON plus a per-message overhead); past it the oldest messages hub-wide go first.
    #[arg(long, env = "SWITCHBOARD_HISTORY_MAX_BYTES", default_value_t = hub::DEFAULT_HISTORY_MAX_BYTES)]
    history_max_bytes: usize,
    /// Bytes of history one channel keeps (counted the same way); past it that channel's oldest messages go.
    #[arg(long, env = "SWITCHBOARD_HISTORY_CHANNEL_MAX_BYTES", default_value_t = hub::DEFAULT_HISTORY_CHANNEL_MAX_BYTES)]
    history_channel_max_bytes: usize,
    /// Queued messages per connection before it is closed as a slow consumer.
    #[arg(long, env = "SWITCHBOARD_QUEUE_MESSAGES", default_value_t = hub::DEFAULT_QUEUE_MESSAGES)]
    queue_messages: usize,
    /// Queued bytes per connection before it is closed as a slow consumer.
    #[arg(long, env = "SWITCHBOARD_QUEUE_BYTES", default_value_t = hub::DEFAULT_QUEUE_BYTES)]
    queue_bytes: usize,
    /// Messages recovered from history that one connection may have queued at once (resume).
    #[arg(long, env = "SWITCHBOARD_REPLAY_MESSAGES", default_value_t = hub::DEFAULT_REPLAY_MESSAGES)]
    replay_messages: usize,
    /// Messages per second one connection may send (0: unlimited); over it they are dropped with error 113.
    #[arg(long, env = "SWITCHBOARD_RATE_LIMIT_PER_SEC", default_value_t = hub::DEFAULT_RATE_LIMIT_PER_SEC)]
    rate_limit_per_sec: u32,
    /// Messages one connection may send in a burst before the per-second rate applies.
    #[arg(long, env = "SWITCHBOARD_RATE_LIMIT_BURST", default_value_t = hub::DEFAULT_RATE_LIMIT_BURST)]
    rate_limit_burst: u32,
    /// Largest client message accepted, in bytes (all transports).
    #[arg(long, env = "SWITCHBOARD_MAX_MESSAGE_BYTES", default_value_t = hub::DEFAULT_MAX_MESSAGE_BYTES)]
    max_message_bytes: usize,
    /// Subscriptions one connection may hold.
    #[arg(long, env = "SWITCHBOARD_MAX_SUBSCRIPTIONS", default_value_t = hub::DEFAULT_MAX_SUBSCRIPTIONS)]
    max_subscriptions: usize,
    /// Channels the hub holds at most.
    #[arg(long, env = "SWITCHBOARD_MAX_CHANNELS", default_value_t = hub::DEFAULT_MAX_CHANNELS)]
    max_channels: usize,
    /// Channels created by one client address (IPv4, or IPv6 /64) that may exist at once; beyond it creation is error 114.
    #[arg(long, env = "SWITCHBOARD_MAX_CHANNELS_PER_ADDR", default_value_t = hub::DEFAULT_MAX_CHANNELS_PER_ADDR)]
    max_channels_per_addr: usize,
    /// Channels a connection joins when it names none (comma-separated; `broadcast` is always joined).
    #[arg(long, env = "SWITCHBOARD_AUTO_SUBSCRIBE", default_value_t = ChannelList::of(&hub::DEFAULT_AUTO_SUBSCRIBE))]
    auto_subscribe: ChannelList,
}

impl HubArgs {
    pub(super) fn into_config(self) -> HubConfig {
        HubConfig {
            history_size: self.history_size,
            history_ttl: self.history_ttl.into(),
            history_max_bytes: self.history_max_bytes,
            history_channel_max_bytes: self.history_channel_max_bytes,
            queue_messages: self.queue_messages,
            queue_bytes: self.queue_bytes,
            replay_messages: self.replay_messages,
            rate_limit_per_sec: self.rate_limit_per_sec,
            rate_limit_burst: self.rate_limit_burst,
            max_message_bytes: self.max_message_bytes,
            max_subscriptions: self.max_subscriptions,
            max_channels: self.max_channels,
            max_channels_per_addr: self.max_channels_per_addr,
            auto_subscribe: self.auto_subscribe.0,
            ..HubConfig::default()
        }
    }
}

/// Graceful shutdown: the drain before it and the grace within it.
#[derive(Debug, Args)]
#[command(next_help_heading = "Shutdown")]
pub(crate) struct ShutdownArgs {
    /// How long shutdown keeps serving with /healthz answering 503 before it stops accepting.
    #[arg(long, env = "SWITCHBOARD_SHUTDOWN_DRAIN", default_value_t = HumanDuration(server::DEFAULT_SHUTDOWN_DRAIN))]
    shutdown_drain: HumanDuration,
    /// How long shutdown waits for connections to flush and close.
    #[arg(long, env = "SWITCHBOARD_SHUTDOWN_GRACE", default_value_t = HumanDuration(server::DEFAULT_SHUTDOWN_GRACE))]
    shutdown_grace: HumanDuration,
}

impl ShutdownArgs {
    /// The drain and the grace, in that order.
    pub(super) fn into_durations(self) -> (Duration, Duration) {
        (self.shutdown_drain.into(), self.shutdown_grace.into())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[test]
    fn the_history_and_channel_flags_reach_the_hub_config() {
        let cli = crate::Cli::try_parse_from([
            "switchboard",
            "serve",
            "--history-max-bytes",
            "8388608",
            "--history-channel-max-bytes",
            "2097152",
            "--max-channels-per-addr",
            "50",
        ])
        .expect("parses");
        let crate::Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        let hub = args.into_config().hub;
        assert_eq!(
            (
                hub.history_max_bytes,
                hub.history_channel_max_bytes,
                hub.max_channels_per_addr
            ),
            (8 * 1024 * 1024, 2 * 1024 * 1024, 50)
        );
    }
}
