//! The connection simulator: one run at a time opens N client connections of one
//! transport against this very server, over real loopback sockets, from Rust tasks
//! ([`super::sim_clients`] holds the per-transport clients), ramping up at a set rate;
//! each connection pings at a set rate and times the round trip (`ping` → `pong`
//! through the hub).
//!
//! Every second the run records a sample: connected count, messages per second (pings
//! sent + pongs received), latency p50/p99 over that second, and the server's resident
//! memory. The page reads them from `GET /api/simulator`.
//!
//! Bounds: connections, ramp and ping rate are capped by [`SimulatorConfig`] (so the
//! simulator cannot exhaust file descriptors or CPU), samples are kept for the last
//! [`MAX_SAMPLES`] seconds, latencies for at most [`MAX_LATENCIES_PER_SAMPLE`] pings a
//! second. Stopping cancels every client; each closes its connection properly and the
//! stop waits (bounded by [`STOP_WAIT`]) until all are gone.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::sim_clients::{self, Target};
use crate::app::AppState;

/// Each loopback connection holds two file descriptors (client and server side) and the
/// process may hold 20,000: 2,000 connections leave ample room for real clients.
pub const DEFAULT_SIMULATOR_MAX_CONNECTIONS: usize = 2_000;
/// New connections per second at most: fast enough to reach the maximum in seconds,
/// slow enough not to starve real clients of accept and handshake time.
pub const SIMULATOR_MAX_RAMP_PER_S: u32 = 1_000;
/// Pings per second per connection at most.
pub const SIMULATOR_MAX_PINGS_PER_S: f64 = 10.0;
/// Seconds of samples kept (ten minutes).
pub const MAX_SAMPLES: usize = 600;
/// Latencies kept per one-second sample; more pings than this are counted, not timed.
pub const MAX_LATENCIES_PER_SAMPLE: usize = 50_000;
/// How long a stop waits for the simulated connections to close.
pub const STOP_WAIT: Duration = Duration::from_secs(5);
/// The transports the simulator can drive.
pub const SIMULATED_TRANSPORTS: [&str; 5] = ["websocket", "sse", "long-poll", "short-poll", "tcp"];

/// Limits of the connection simulator.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    pub enabled: bool,
    pub max_connections: usize,
    pub max_ramp_per_s: u32,
    pub max_pings_per_s: f64,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_connections: DEFAULT_SIMULATOR_MAX_CONNECTIONS,
            max_ramp_per_s: SIMULATOR_MAX_RAMP_PER_S,
            max_pings_per_s: SIMULATOR_MAX_PINGS_PER_S,
        }
    }
}

/// What `POST /api/simulator/start` asks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationRequest {
    pub transport: String,
    pub connections: usize,
    #[serde(default = "default_ramp")]
    pub ramp_per_s: u32,
    #[serde(default = "default_pings")]
    pub pings_per_s: f64,
}

fn default_ramp() -> u32 {
    100
}

fn default_pings() -> f64 {
    1.0
}

/// Why a run cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("a simulation is already running")]
    Running,
    #[error("{0}")]
    Invalid(String),
}

/// One second of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub t_ms: u64,
    pub connected: u64,
    pub failed: u64,
    pub messages_per_s: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub rss_bytes: u64,
}

/// Counters shared by a run's clients.
#[derive(Debug, Default)]
pub(crate) struct RunCounters {
    pub(crate) connected: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) messages: AtomicU64,
    latencies: Mutex<Vec<f64>>,
    pub(crate) last_error: Mutex<Option<String>>,
}

impl RunCounters {
    pub(crate) fn latency(&self, rtt: Duration) {
        if let Ok(mut latencies) = self.latencies.lock() {
            if latencies.len() < MAX_LATENCIES_PER_SAMPLE {
                latencies.push(rtt.as_secs_f64() * 1000.0);
            }
        }
    }

    pub(crate) fn fail(&self, error: impl ToString) {
        self.failed.fetch_add(1, Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error.to_string());
        }
    }
}

struct Run {
    request: SimulationRequest,
    counters: Arc<RunCounters>,
    cancel: CancellationToken,
    clients: TaskTracker,
    samples: Mutex<VecDeque<Sample>>,
    ramp_done: AtomicBool,
    stopped: AtomicBool,
}

/// The simulator of one server.
pub struct Simulator {
    config: SimulatorConfig,
    target: Target,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    run: Mutex<Option<Arc<Run>>>,
}

impl Simulator {
    pub(crate) fn new(state: &AppState) -> Self {
        let loopback = |addr: SocketAddr| {
            if addr.ip().is_unspecified() {
                SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
            } else {
                addr
            }
        };
        Self {
            config: state.config.simulator.clone(),
            target: Target {
                http: loopback(state.http_addr),
                tcp: state.tcp_addr.map(loopback),
                framing: state.config.tcp.framing,
            },
            tasks: state.tasks.clone(),
            shutdown: state.shutdown.clone(),
            run: Mutex::new(None),
        }
    }

    pub fn config(&self) -> &SimulatorConfig {
        &self.config
    }

    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.target.http
    }

    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.target.tcp
    }

    pub fn tcp_framing(&self) -> &'static str {
        self.target.framing.as_str()
    }

    fn current(&self) -> Option<Arc<Run>> {
        self.run.lock().ok().and_then(|run| run.clone())
    }

    /// Starts a run after checking the request against the limits.
    pub fn start(&self, request: SimulationRequest) -> Result<serde_json::Value, StartError> {
        let config = &self.config;
        if !config.enabled {
            return Err(StartError::Invalid(
                "the simulator is turned off on this server".into(),
            ));
        }
        if !SIMULATED_TRANSPORTS.contains(&request.transport.as_str()) {
            return Err(StartError::Invalid(format!(
                "unknown transport {:?}; one of {SIMULATED_TRANSPORTS:?}",
                request.transport
            )));
        }
        if request.transport == "tcp" && self.target.tcp.is_none() {
            return Err(StartError::Invalid(
                "raw TCP is turned off on this server".into(),
            ));
        }
        if request.connections == 0 || request.connections > config.max_connections {
            return Err(StartError::Invalid(format!(
                "connections must be 1..={}",
                config.max_connections
            )));
        }
        if request.ramp_per_s == 0 || request.ramp_per_s > config.max_ramp_per_s {
            return Err(StartError::Invalid(format!(
                "ramp_per_s must be 1..={}",
                config.max_ramp_per_s
            )));
        }
        if !(0.0..=config.max_pings_per_s).contains(&request.pings_per_s) {
            return Err(StartError::Invalid(format!(
                "pings_per_s must be 0..={}",
                config.max_pings_per_s
            )));
        }
        let run = {
            let Ok(mut slot) = self.run.lock() else {
                return Err(StartError::Running);
            };
            if slot.as_ref().is_some_and(|run| !run.stopped.load(Relaxed)) {
                return Err(StartError::Running);
            }
            let run = Arc::new(Run {
                request,
                counters: Arc::default(),
                cancel: self.shutdown.child_token(),
                clients: TaskTracker::new(),
                samples: Mutex::new(VecDeque::new()),
                ramp_done: AtomicBool::new(false),
                stopped: AtomicBool::new(false),
            });
            *slot = Some(run.clone());
            run
        };
        tracing::info!(transport = %run.request.transport, connections = run.request.connections, "simulation started");
        self.tasks.spawn(ramp(run.clone(), self.target.clone()));
        self.tasks.spawn(sample(run));
        Ok(self.status())
    }

    /// Cancels the run and waits (bounded) until its connections are closed.
    pub async fn stop(&self) {
        let Some(run) = self.current() else {
            return;
        };
        run.cancel.cancel();
        run.clients.close();
        let _ = tokio::time::timeout(STOP_WAIT, run.clients.wait()).await;
        run.stopped.store(true, Relaxed);
        tracing::info!("simulation stopped");
    }

    pub fn status(&self) -> serde_json::Value {
        let Some(run) = self.current() else {
            return serde_json::json!({"running": false, "connected": 0, "samples": []});
        };
        let counters = &run.counters;
        let samples: Vec<Sample> = run
            .samples
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        serde_json::json!({
            "running": !run.stopped.load(Relaxed),
            "request": run.request,
            "ramp_done": run.ramp_done.load(Relaxed),
            "connected": counters.connected.load(Relaxed),
            "failed": counters.failed.load(Relaxed),
            "last_error": counters.last_error.lock().ok().and_then(|e| e.clone()),
            "samples": samples,
        })
    }
}

/// Opens the connections at the ramp rate.
async fn ramp(run: Arc<Run>, target: Target) {
    let every = Duration::from_secs_f64(1.0 / f64::from(run.request.ramp_per_s));
    let mut ticker = tokio::time::interval(every);
    for _ in 0..run.request.connections {
        tokio::select! {
            _ = run.cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let client = sim_clients::run_client(
            run.request.transport.clone(),
            target.clone(),
            run.request.pings_per_s,
            run.counters.clone(),
            run.cancel.clone(),
        );
        run.clients.spawn(client);
    }
    run.ramp_done.store(true, Relaxed);
}

/// Records one sample a second until the run is cancelled.
async fn sample(run: Arc<Run>) {
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    let mut last_messages = 0;
    loop {
        let cancelled = tokio::select! {
            _ = run.cancel.cancelled() => true,
            _ = ticker.tick() => false,
        };
        let counters = &run.counters;
        let mut latencies = counters
            .latencies
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        latencies.sort_by(f64::total_cmp);
        let messages = counters.messages.load(Relaxed);
        let sample = Sample {
            t_ms: started.elapsed().as_millis() as u64,
            connected: counters.connected.load(Relaxed),
            failed: counters.failed.load(Relaxed),
            messages_per_s: messages - last_messages,
            p50_ms: percentile(&latencies, 0.50),
            p99_ms: percentile(&latencies, 0.99),
            rss_bytes: resident_memory(),
        };
        last_messages = messages;
        if let Ok(mut samples) = run.samples.lock() {
            if samples.len() == MAX_SAMPLES {
                samples.pop_front();
            }
            samples.push_back(sample);
        }
        if cancelled {
            break;
        }
    }
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(index).map(|ms| (ms * 1000.0).round() / 1000.0)
}

/// This process's resident memory (`VmRSS` in `/proc/self/status`), 0 where there is none.
pub(crate) fn resident_memory() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or(0, |kib| kib * 1024)
}
