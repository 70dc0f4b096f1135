//! `switchboard-bench`: starts each server under test as a child process, runs the chosen
//! scenarios against it from this process over loopback, and prints a table (or JSON).
//! Every server is started fresh for each scenario, so one measurement never inherits
//! another's memory.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use switchboard_bench::{
    fanout::{self, FanoutOptions},
    idle::{self, IdleOptions},
    report::Report,
    target::{Programs, ServerProcess, TargetKind},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Server memory per idle WebSocket connection.
    Idle,
    /// Deliveries per second, one publisher to many subscribers, as fast as they go.
    Fanout,
    /// The same fan-out paced at `--latency-rate`, for latency below saturation.
    Latency,
}

fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (use e.g. 500ms, 5s)"))
}

/// Measures switchboard (and peers) from a separate process over loopback.
#[derive(Debug, Parser)]
#[command(name = "switchboard-bench", version, about)]
struct Cli {
    /// Scenarios to run.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "idle,fanout,latency"
    )]
    scenarios: Vec<Scenario>,
    /// Servers to measure (fan-out skips `switchboard-echo`: an echo has nothing to fan out).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "switchboard,switchboard-echo,node-ws,socketio"
    )]
    targets: Vec<TargetKind>,

    /// Idle connections to open.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// WebSocket handshakes in flight at once.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Longest wait for the server's RSS to settle.
    #[arg(long, default_value = "5s", value_parser = duration)]
    settle: Duration,

    /// Fan-out subscribers.
    #[arg(long, default_value_t = 1_000)]
    subscribers: usize,
    /// Fan-out messages published.
    #[arg(long, default_value_t = 10_000)]
    messages: u64,
    /// Size of each message's `data` JSON, in bytes.
    #[arg(long, default_value_t = 64)]
    payload_bytes: usize,
    /// Messages the publisher may be ahead of the slowest subscriber.
    #[arg(long, default_value_t = 256)]
    window: u64,
    /// Publishes written to the socket at once.
    #[arg(long, default_value_t = 32)]
    batch: u64,
    /// Fan-out stops publishing after this long, whatever it counted.
    #[arg(long, default_value = "15s", value_parser = duration)]
    time_limit: Duration,
    /// Messages per second in the latency scenario.
    #[arg(long, default_value_t = 20.0)]
    latency_rate: f64,
    /// Messages published in the latency scenario.
    #[arg(long, default_value_t = 100)]
    latency_messages: u64,

    /// The switchboard binary.
    #[arg(long, default_value = "target/release/switchboard")]
    switchboard: PathBuf,
    /// An extra `switchboard serve` flag (repeatable), e.g. `--switchboard-arg=--ws-read-buffer=512`.
    #[arg(long = "switchboard-arg", allow_hyphen_values = true)]
    switchboard_args: Vec<String>,
    /// The node executable.
    #[arg(long, default_value = "node")]
    node: PathBuf,
    /// The Node `ws` peer script.
    #[arg(long, default_value = "bench/peers/ws-broadcast.js")]
    node_ws_script: PathBuf,
    /// The Socket.IO peer script.
    #[arg(long, default_value = "bench/peers/socketio-broadcast.js")]
    socketio_script: PathBuf,

    /// Measure a server already listening at this address instead of starting one
    /// (e.g. one running under a profiler); `--targets` then names what it is.
    #[arg(long)]
    attach: Option<SocketAddr>,
    /// The pid of the `--attach` server, for its memory and CPU figures.
    #[arg(long, requires = "attach")]
    attach_pid: Option<u32>,

    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BENCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let programs = Programs {
        switchboard: cli.switchboard.clone(),
        switchboard_args: cli.switchboard_args.clone(),
        node: cli.node.clone(),
        node_ws_script: cli.node_ws_script.clone(),
        socketio_script: cli.socketio_script.clone(),
    };
    let mut report = Report::new(cli.switchboard_args.clone());
    for &scenario in &cli.scenarios {
        for &kind in &cli.targets {
            if scenario != Scenario::Idle && !kind.is_hub() {
                continue;
            }
            eprintln!("bench: {scenario:?} against {}", kind.name());
            let outcome = if let Some(addr) = cli.attach {
                // A server someone else started (e.g. under a profiler); it keeps running.
                let pid = cli.attach_pid.unwrap_or(0);
                run_scenario(scenario, kind, addr, pid, &cli, &mut report).await
            } else {
                let server = ServerProcess::start(kind, &programs)
                    .await
                    .with_context(|| format!("starting {}", kind.name()))?;
                let outcome =
                    run_scenario(scenario, kind, server.addr, server.pid, &cli, &mut report).await;
                server.stop().await;
                outcome
            };
            outcome.with_context(|| format!("{scenario:?} against {}", kind.name()))?;
        }
    }
    report.compute_ratios();
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(path) = &cli.json_out {
        std::fs::write(path, &json).with_context(|| format!("writing {}", path.display()))?;
    }
    if cli.json {
        println!("{json}");
    } else {
        print!("{}", report.to_table());
    }
    Ok(())
}

async fn run_scenario(
    scenario: Scenario,
    kind: TargetKind,
    addr: SocketAddr,
    pid: u32,
    cli: &Cli,
    report: &mut Report,
) -> anyhow::Result<()> {
    match scenario {
        Scenario::Idle => {
            let options = IdleOptions {
                connections: cli.connections,
                concurrency: cli.concurrency,
                settle: cli.settle,
            };
            report
                .idle
                .push(idle::run(kind, addr, pid, &options).await?);
        }
        Scenario::Fanout | Scenario::Latency => {
            let paced = scenario == Scenario::Latency;
            let options = FanoutOptions {
                subscribers: cli.subscribers,
                messages: if paced {
                    cli.latency_messages
                } else {
                    cli.messages
                },
                payload_bytes: cli.payload_bytes,
                window: cli.window,
                batch: cli.batch,
                rate: paced.then_some(cli.latency_rate),
                concurrency: cli.concurrency,
                time_limit: cli.time_limit,
            };
            report
                .fanout
                .push(fanout::run(kind, addr, (pid != 0).then_some(pid), &options).await?);
        }
    }
    Ok(())
}
