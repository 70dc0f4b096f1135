//! `switchboard serve`: every setting as a flag and a `SWITCHBOARD_*` variable, mapped
//! onto the server's config structs. `.env.example` lists them all with their defaults.

use std::{net::IpAddr, net::SocketAddr, time::Duration};

use anyhow::Context;
use clap::Args;
use switchboard_hub::HubConfig;
use switchboard_protocol::ChannelName;
use switchboard_protocol::frame::Framing;
use switchboard_server::config::{PollConfig, SseConfig};
use switchboard_server::{Server, ServerConfig, WsConfig};
use switchboard_server::{
    academy::simulator::SimulatorConfig,
    feeds::{
        metrics::MetricsFeedConfig,
        weather::{City, WeatherFeedConfig},
    },
};
use switchboard_server::{config::TcpConfig, feeds::clock::ClockFeedConfig};

/// The parsed city list (a type alias, so clap takes the whole list as one value).
type WeatherCities = Vec<City>;

fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (use e.g. 500ms, 25s, 5m)"))
}

fn channel(name: &str) -> Result<ChannelName, String> {
    ChannelName::new(name.trim()).map_err(|e| format!("{name:?}: {e}"))
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address the HTTP listener binds (dashboard, WebSocket, SSE, polling, API).
    #[arg(long, env = "SWITCHBOARD_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// HTTP port (0 picks a free one).
    #[arg(long, env = "SWITCHBOARD_PORT", default_value_t = 8000)]
    port: u16,

    /// Messages kept per channel for resume.
    #[arg(long, env = "SWITCHBOARD_HISTORY_SIZE", default_value_t = switchboard_hub::config::DEFAULT_HISTORY_SIZE)]
    history_size: usize,
    /// How long a message stays in history.
    #[arg(long, env = "SWITCHBOARD_HISTORY_TTL", default_value = "5m", value_parser = duration)]
    history_ttl: Duration,
    /// Queued messages per connection before it is closed as a slow consumer.
    #[arg(long, env = "SWITCHBOARD_QUEUE_MESSAGES", default_value_t = switchboard_hub::config::DEFAULT_QUEUE_MESSAGES)]
    queue_messages: usize,
    /// Queued bytes per connection before it is closed as a slow consumer.
    #[arg(long, env = "SWITCHBOARD_QUEUE_BYTES", default_value_t = switchboard_hub::config::DEFAULT_QUEUE_BYTES)]
    queue_bytes: usize,
    /// Messages recovered from history that one connection may have queued at once (resume).
    #[arg(long, env = "SWITCHBOARD_REPLAY_MESSAGES", default_value_t = switchboard_hub::config::DEFAULT_REPLAY_MESSAGES)]
    replay_messages: usize,
    /// Messages per second one connection may send (0: unlimited); over it they are dropped with error 113.
    #[arg(long, env = "SWITCHBOARD_RATE_LIMIT_PER_SEC", default_value_t = switchboard_hub::config::DEFAULT_RATE_LIMIT_PER_SEC)]
    rate_limit_per_sec: u32,
    /// Messages one connection may send in a burst before the per-second rate applies.
    #[arg(long, env = "SWITCHBOARD_RATE_LIMIT_BURST", default_value_t = switchboard_hub::config::DEFAULT_RATE_LIMIT_BURST)]
    rate_limit_burst: u32,
    /// Largest client message accepted, in bytes (all transports).
    #[arg(long, env = "SWITCHBOARD_MAX_MESSAGE_BYTES", default_value_t = switchboard_hub::config::DEFAULT_MAX_MESSAGE_BYTES)]
    max_message_bytes: usize,
    /// Subscriptions one connection may hold.
    #[arg(long, env = "SWITCHBOARD_MAX_SUBSCRIPTIONS", default_value_t = switchboard_hub::config::DEFAULT_MAX_SUBSCRIPTIONS)]
    max_subscriptions: usize,
    /// Channels the hub holds at most.
    #[arg(long, env = "SWITCHBOARD_MAX_CHANNELS", default_value_t = switchboard_hub::config::DEFAULT_MAX_CHANNELS)]
    max_channels: usize,
    /// Channels a connection joins when it names none (comma-separated; `broadcast` is always joined).
    #[arg(long, env = "SWITCHBOARD_AUTO_SUBSCRIBE", default_value = "lobby", value_delimiter = ',', value_parser = channel)]
    auto_subscribe: Vec<ChannelName>,

    /// Serve the WebSocket transport (`/ws`, `/ws/echo`).
    #[arg(long, env = "SWITCHBOARD_WS_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    ws_enabled: bool,
    /// WebSocket ping interval.
    #[arg(long, env = "SWITCHBOARD_WS_HEARTBEAT", default_value = "25s", value_parser = duration)]
    ws_heartbeat: Duration,
    /// Close a WebSocket from which nothing arrived for this long.
    #[arg(long, env = "SWITCHBOARD_WS_IDLE_TIMEOUT", default_value = "60s", value_parser = duration)]
    ws_idle_timeout: Duration,
    /// Initial read buffer per WebSocket, in bytes (grows on demand).
    #[arg(long, env = "SWITCHBOARD_WS_READ_BUFFER", default_value_t = switchboard_server::config::DEFAULT_WS_READ_BUFFER)]
    ws_read_buffer: usize,
    /// Outgoing bytes tungstenite buffers per WebSocket: control frames on /ws (data frames are written directly), everything on /ws/echo.
    #[arg(long, env = "SWITCHBOARD_WS_WRITE_BUFFER", default_value_t = switchboard_server::config::DEFAULT_WS_WRITE_BUFFER)]
    ws_write_buffer: usize,

    /// Serve Server-Sent Events (`GET /sse`, `POST /sse/message`).
    #[arg(long, env = "SWITCHBOARD_SSE_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    sse_enabled: bool,
    /// Interval of the `: heartbeat` comment on event streams.
    #[arg(long, env = "SWITCHBOARD_SSE_HEARTBEAT", default_value = "15s", value_parser = duration)]
    sse_heartbeat: Duration,
    /// The `retry:` reconnect hint sent to EventSource clients.
    #[arg(long, env = "SWITCHBOARD_SSE_RETRY", default_value = "2s", value_parser = duration)]
    sse_retry: Duration,
    /// Largest `POST /sse/message` body, in bytes.
    #[arg(long, env = "SWITCHBOARD_SSE_MAX_BODY_BYTES", default_value_t = switchboard_server::config::DEFAULT_HTTP_MAX_BODY_BYTES)]
    sse_max_body_bytes: usize,

    /// Serve long polling (`POST /poll`).
    #[arg(long, env = "SWITCHBOARD_LONG_POLL_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    long_poll_enabled: bool,
    /// Serve short polling (`POST /short-poll`).
    #[arg(long, env = "SWITCHBOARD_SHORT_POLL_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    short_poll_enabled: bool,
    /// How long a long poll is held when nothing is waiting.
    #[arg(long, env = "SWITCHBOARD_POLL_TIMEOUT", default_value = "30s", value_parser = duration)]
    poll_timeout: Duration,
    /// A polling session not polled for this long is closed.
    #[arg(long, env = "SWITCHBOARD_POLL_SESSION_GRACE", default_value = "60s", value_parser = duration)]
    poll_session_grace: Duration,
    /// Polling sessions one client address may hold.
    #[arg(long, env = "SWITCHBOARD_POLL_MAX_SESSIONS_PER_ADDR", default_value_t = switchboard_server::config::DEFAULT_POLL_MAX_SESSIONS_PER_ADDR)]
    poll_max_sessions_per_addr: usize,
    /// Largest `/poll` or `/short-poll` body, in bytes.
    #[arg(long, env = "SWITCHBOARD_POLL_MAX_BODY_BYTES", default_value_t = switchboard_server::config::DEFAULT_HTTP_MAX_BODY_BYTES)]
    poll_max_body_bytes: usize,
    /// Messages per poll response at most.
    #[arg(long, env = "SWITCHBOARD_POLL_MAX_BATCH", default_value_t = switchboard_server::config::DEFAULT_POLL_MAX_BATCH)]
    poll_max_batch: usize,

    /// Serve the raw TCP transport (length-prefixed JSON frames).
    #[arg(long, env = "SWITCHBOARD_TCP_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    tcp_enabled: bool,
    /// Raw TCP port, on the HTTP host (0 picks a free one).
    #[arg(long, env = "SWITCHBOARD_TCP_PORT", default_value_t = switchboard_server::config::DEFAULT_TCP_PORT)]
    tcp_port: u16,
    /// Frame header: `u32` (4-byte big-endian length) or `decimal10` (10 ASCII digits, space-padded, as the Python demos).
    #[arg(long, env = "SWITCHBOARD_TCP_FRAMING", default_value = "u32")]
    tcp_framing: Framing,
    /// Interval of the JSON heartbeat frame on TCP connections.
    #[arg(long, env = "SWITCHBOARD_TCP_HEARTBEAT", default_value = "25s", value_parser = duration)]
    tcp_heartbeat: Duration,
    /// Close a TCP connection from which no complete frame arrived for this long.
    #[arg(long, env = "SWITCHBOARD_TCP_IDLE_TIMEOUT", default_value = "60s", value_parser = duration)]
    tcp_idle_timeout: Duration,
    /// Close a TCP client that does not take a write within this long (slow consumer).
    #[arg(long, env = "SWITCHBOARD_TCP_WRITE_TIMEOUT", default_value = "10s", value_parser = duration)]
    tcp_write_timeout: Duration,
    /// Open TCP connections at most; more are refused with error 203.
    #[arg(long, env = "SWITCHBOARD_TCP_MAX_CONNECTIONS", default_value_t = switchboard_server::config::DEFAULT_TCP_MAX_CONNECTIONS)]
    tcp_max_connections: usize,
    /// Channels a TCP connection joins on connect besides `broadcast` (comma-separated).
    #[arg(long, env = "SWITCHBOARD_TCP_CHANNELS", default_value = "lobby,clock", value_delimiter = ',', value_parser = channel)]
    tcp_channels: Vec<ChannelName>,

    /// Publish the server time on the `clock` channel.
    #[arg(long, env = "SWITCHBOARD_CLOCK_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    clock_enabled: bool,
    /// How often the `clock` feed publishes.
    #[arg(long, env = "SWITCHBOARD_CLOCK_INTERVAL", default_value = "3s", value_parser = duration)]
    clock_interval: Duration,

    /// Publish machine and switchboard figures on the `metrics` channel.
    #[arg(long, env = "SWITCHBOARD_METRICS_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    metrics_enabled: bool,
    /// How often the `metrics` feed publishes.
    #[arg(long, env = "SWITCHBOARD_METRICS_INTERVAL", default_value = "1s", value_parser = duration)]
    metrics_interval: Duration,

    /// Publish current conditions on the `weather` channel.
    #[arg(long, env = "SWITCHBOARD_WEATHER_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    weather_enabled: bool,
    /// Open-Meteo base URL (scheme, host, port); `/v1/forecast` is appended.
    #[arg(long, env = "SWITCHBOARD_WEATHER_BASE_URL", default_value = switchboard_server::feeds::weather::DEFAULT_WEATHER_BASE_URL)]
    weather_base_url: String,
    /// Cities as `name:latitude:longitude`, separated by `;`.
    #[arg(long, env = "SWITCHBOARD_WEATHER_CITIES", default_value = switchboard_server::feeds::weather::DEFAULT_WEATHER_CITIES, value_parser = switchboard_server::feeds::weather::parse_cities)]
    weather_cities: WeatherCities,
    /// How often the weather is fetched.
    #[arg(long, env = "SWITCHBOARD_WEATHER_REFRESH", default_value = "5m", value_parser = duration)]
    weather_refresh: Duration,
    /// Timeout of one weather request.
    #[arg(long, env = "SWITCHBOARD_WEATHER_TIMEOUT", default_value = "5s", value_parser = duration)]
    weather_timeout: Duration,
    /// Retries after a failed weather request (exponential backoff).
    #[arg(long, env = "SWITCHBOARD_WEATHER_RETRIES", default_value_t = switchboard_server::feeds::weather::DEFAULT_WEATHER_RETRIES)]
    weather_retries: u32,
    /// Wait before the first retry; doubled before each next one.
    #[arg(long, env = "SWITCHBOARD_WEATHER_BACKOFF", default_value = "500ms", value_parser = duration)]
    weather_backoff: Duration,
    /// When the source is unreachable, publish readings marked `simulated: true`.
    #[arg(long, env = "SWITCHBOARD_WEATHER_SIMULATE", default_value_t = true, action = clap::ArgAction::Set)]
    weather_simulate: bool,

    /// Simulated connections the dashboard's connection simulator may open at most.
    #[arg(long, env = "SWITCHBOARD_SIMULATOR_MAX_CONNECTIONS", default_value_t = switchboard_server::academy::simulator::DEFAULT_SIMULATOR_MAX_CONNECTIONS)]
    simulator_max_connections: usize,

    /// How long shutdown keeps serving with /healthz answering 503 before it stops accepting.
    #[arg(long, env = "SWITCHBOARD_SHUTDOWN_DRAIN", default_value = "0s", value_parser = duration)]
    shutdown_drain: Duration,
    /// How long shutdown waits for connections to flush and close.
    #[arg(long, env = "SWITCHBOARD_SHUTDOWN_GRACE", default_value = "10s", value_parser = duration)]
    shutdown_grace: Duration,
}

impl ServeArgs {
    fn into_config(self) -> ServerConfig {
        let hub = HubConfig {
            history_size: self.history_size,
            history_ttl: self.history_ttl,
            queue_messages: self.queue_messages,
            queue_bytes: self.queue_bytes,
            replay_messages: self.replay_messages,
            rate_limit_per_sec: self.rate_limit_per_sec,
            rate_limit_burst: self.rate_limit_burst,
            max_message_bytes: self.max_message_bytes,
            max_subscriptions: self.max_subscriptions,
            max_channels: self.max_channels,
            auto_subscribe: self.auto_subscribe,
            ..HubConfig::default()
        };
        let ws = WsConfig {
            enabled: self.ws_enabled,
            heartbeat: self.ws_heartbeat,
            idle_timeout: self.ws_idle_timeout,
            read_buffer: self.ws_read_buffer,
            write_buffer: self.ws_write_buffer,
        };
        let sse = SseConfig {
            enabled: self.sse_enabled,
            heartbeat: self.sse_heartbeat,
            retry: self.sse_retry,
            max_body_bytes: self.sse_max_body_bytes,
        };
        let poll = PollConfig {
            long_enabled: self.long_poll_enabled,
            short_enabled: self.short_poll_enabled,
            timeout: self.poll_timeout,
            session_grace: self.poll_session_grace,
            max_sessions_per_addr: self.poll_max_sessions_per_addr,
            max_body_bytes: self.poll_max_body_bytes,
            max_batch: self.poll_max_batch.max(1),
        };
        let tcp = TcpConfig {
            enabled: self.tcp_enabled,
            port: self.tcp_port,
            framing: self.tcp_framing,
            heartbeat: self.tcp_heartbeat,
            idle_timeout: self.tcp_idle_timeout,
            write_timeout: self.tcp_write_timeout,
            max_connections: self.tcp_max_connections,
            channels: self.tcp_channels,
        };
        let clock = ClockFeedConfig {
            enabled: self.clock_enabled,
            interval: self.clock_interval,
        };
        ServerConfig {
            http: SocketAddr::new(self.host, self.port),
            hub,
            ws,
            sse,
            poll,
            tcp,
            clock,
            metrics: MetricsFeedConfig {
                enabled: self.metrics_enabled,
                interval: self.metrics_interval,
            },
            weather: WeatherFeedConfig {
                enabled: self.weather_enabled,
                base_url: self.weather_base_url,
                cities: self.weather_cities,
                refresh: self.weather_refresh,
                request_timeout: self.weather_timeout,
                retries: self.weather_retries,
                backoff: self.weather_backoff,
                simulate_when_unreachable: self.weather_simulate,
                ..WeatherFeedConfig::default()
            },
            simulator: SimulatorConfig {
                max_connections: self.simulator_max_connections,
                ..SimulatorConfig::default()
            },
            shutdown_grace: self.shutdown_grace,
            shutdown_drain: self.shutdown_drain,
        }
    }
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.into_config();
    let server = Server::start(config).await.context("starting the server")?;
    // Printed on stdout so scripts (and tests) can find the port when it was 0.
    announce(&format!(
        "switchboard listening on http://{}",
        server.http_addr()
    ));
    if let Some(tcp) = server.tcp_addr() {
        announce(&format!("switchboard raw TCP on {tcp}"));
    }
    let stop = server.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        stop.cancel();
    });
    let report = server.run_until_stopped().await;
    if !report.clean {
        tracing::warn!("some connections did not close within the grace period");
    }
    Ok(())
}

/// Writes a line to stdout, ignoring a closed pipe (`switchboard serve | head -1` must
/// not bring the server down, as `println!` would by panicking).
fn announce(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(err) => {
                    tracing::warn!(%err, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
