//! `switchboard serve`: every setting as a flag and a `SWITCHBOARD_*` variable, in one
//! `--help` section per concern, mapped onto the server's config structs.
//!
//! Guarantees: every default is the named constant in the library that owns the setting
//! (never a second literal here); the configuration is checked as a whole by
//! `ServerConfig::validate` before anything binds, so a combination the server cannot run
//! with ends the command with a message and a non-zero exit; `.env.example` lists every
//! variable with the default `--help` shows (a test holds them together).
//!
//! # Layout
//! - [`server`]: the HTTP listener, connection caps and HTTP timeouts, the hub's limits, shutdown.
//! - [`transports`]: WebSocket, Server-Sent Events, polling, raw TCP.
//! - [`feeds`]: the clock, metrics and weather feeds, the connection simulator.
//! - [`observe`]: the Prometheus endpoint (`/metrics`) and where it listens.
//! - [`security`]: allowed origins and hosts, the session-token key.
//! - [`values`]: durations written as humantime, channel lists.

mod feeds;
mod observe;
mod security;
mod server;
mod transports;
mod values;

#[cfg(test)]
mod env_example;

use anyhow::Context;
use clap::Args;
use switchboard_server::{Server, ServerConfig};

/// Every `serve` setting, one flattened section per concern.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    http: server::HttpArgs,
    #[command(flatten)]
    connections: server::ConnectionArgs,
    #[command(flatten)]
    hub: server::HubArgs,
    #[command(flatten)]
    ws: transports::WsArgs,
    #[command(flatten)]
    sse: transports::SseArgs,
    #[command(flatten)]
    poll: transports::PollArgs,
    #[command(flatten)]
    tcp: transports::TcpArgs,
    #[command(flatten)]
    clock: feeds::ClockArgs,
    #[command(flatten)]
    metrics: feeds::MetricsArgs,
    #[command(flatten)]
    weather: feeds::WeatherArgs,
    #[command(flatten)]
    simulator: feeds::SimulatorArgs,
    #[command(flatten)]
    security: security::SecurityArgs,
    #[command(flatten)]
    prometheus: observe::PrometheusArgs,
    #[command(flatten)]
    shutdown: server::ShutdownArgs,
}

impl ServeArgs {
    fn into_config(self) -> ServerConfig {
        let (shutdown_drain, shutdown_grace) = self.shutdown.into_durations();
        ServerConfig {
            http: self.http.into_addr(),
            connections: self.connections.into_config(),
            hub: self.hub.into_config(),
            ws: self.ws.into_config(),
            sse: self.sse.into_config(),
            poll: self.poll.into_config(),
            tcp: self.tcp.into_config(),
            clock: self.clock.into_config(),
            metrics: self.metrics.into_config(),
            weather: self.weather.into_config(),
            simulator: self.simulator.into_config(),
            security: self.security.into_config(),
            prometheus: self.prometheus.into_config(),
            shutdown_grace,
            shutdown_drain,
        }
    }
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.into_config();
    // `Server::start` checks this too; checking here first words the error for a person
    // at the command line rather than for a library caller.
    config.validate().context(
        "invalid configuration (each setting is a `switchboard serve` flag and a SWITCHBOARD_* variable; see --help)",
    )?;
    // Installed before anything is announced: until a handler is in place SIGTERM kills
    // the process outright, and clients would lose their close frame (a supervisor or a
    // test may signal as soon as it reads the address).
    let stop_signals = StopSignals::install();
    let server = Server::start(config).await.context("starting the server")?;
    // Printed on stdout so scripts (and tests) can find the port when it was 0.
    announce(&format!(
        "switchboard listening on http://{}",
        server.http_addr()
    ));
    if let Some(tcp) = server.tcp_addr() {
        announce(&format!("switchboard raw TCP on {tcp}"));
    }
    if let Some(prometheus) = server.prometheus_addr() {
        announce(&format!(
            "switchboard metrics on http://{prometheus}/metrics"
        ));
    }
    let stop = server.shutdown_token();
    tokio::spawn(async move {
        stop_signals.wait().await;
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

/// SIGTERM and SIGINT (Ctrl-C), listened for from the moment this is made.
struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    /// Registers the handlers now (tokio's `ctrl_c()` would only register on first poll).
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(signal) => Some(signal),
                Err(err) => {
                    tracing::warn!(%err, "cannot listen for {name}; it will stop the server without a graceful shutdown");
                    None
                }
            };
            Self {
                term: listen(SignalKind::terminate(), "SIGTERM"),
                interrupt: listen(SignalKind::interrupt(), "SIGINT"),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Resolves at the first stop signal.
    async fn wait(self) {
        #[cfg(unix)]
        {
            async fn next(signal: Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = next(self.term) => {}
                () = next(self.interrupt) => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
