//! The connection simulator: one run at a time opens N client connections of one
//! transport against a switchboard server, over real sockets, from Rust tasks (each a
//! [`switchboard_client::Client`], see `connection`), ramping up at a set rate; each
//! connection pings at a set rate and times the round trip (`ping` → `pong` through the
//! hub).
//!
//! Every second the run records a sample: connected count, messages per second (pings
//! sent, pongs and other messages received), latency p50/p99 over that second, and this
//! process's resident memory (read with `sysinfo`; the simulator runs inside the server,
//! so that is the server's). The server shows them at `GET /api/simulator`.
//!
//! Bounds: connections, ramp, ping rate and duration are capped by [`SimulatorConfig`]
//! (so the simulator cannot exhaust file descriptors or CPU, nor run unattended: a run
//! stops itself after `duration_s`), every number of a request is checked (finite, in
//! range) before anything starts, samples are kept for the last
//! [`MAX_SAMPLES`] seconds, latencies for at most [`MAX_LATENCIES_PER_SAMPLE`] pings a
//! second. Stopping cancels every connection; each closes properly (a WebSocket close,
//! a TCP FIN, `POST /poll/close`) and the stop waits (bounded by [`STOP_WAIT`]) until all
//! are gone.
//!
//! Source addresses: against an IPv4 loopback server, simulated connection `i` binds
//! its own loopback address ([`simulated_source`], in `127.77.0.0/16`), so the
//! server's per-address limits (connections, polling sessions) count each apart from
//! real clients at `127.0.0.1` and a run never takes their quota. The server grants
//! those addresses nothing: any local process may bind them, and gets exactly what
//! any other address gets. Against IPv6 loopback (one address) or where the system
//! refuses to bind `127.77.x.y`, the connections share the server's address.

use std::{
    collections::VecDeque,
    net::{IpAddr, Ipv4Addr},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use switchboard_client::TransportChoice;

use crate::{ACADEMY_TRANSPORTS, Target};

mod connection;

/// Each loopback connection holds two file descriptors (client and server side; three
/// to four for SSE and long polling, which send on a second HTTP connection) and the
/// process may hold 20,000: 2,000 connections leave room for real clients.
pub const DEFAULT_SIMULATOR_MAX_CONNECTIONS: usize = 2_000;
/// New connections per second at most: fast enough to reach the maximum in seconds,
/// slow enough not to starve real clients of accept and handshake time.
pub const SIMULATOR_MAX_RAMP_PER_S: u32 = 1_000;
/// Pings per second per connection at most.
pub const SIMULATOR_MAX_PINGS_PER_S: f64 = 10.0;
/// Pings per second per connection at least, when pinging at all (0 is "no pings"):
/// one ping in 100 s. Smaller rates are refused, so a ping interval is always a
/// representable [`Duration`] (`5e-324` would overflow one).
pub const SIMULATOR_MIN_PINGS_PER_S: f64 = 0.01;
/// Seconds a run lasts at most (and by default) before it stops itself: a run is a
/// demonstration, and one left running would keep its thousands of connections open.
pub const DEFAULT_SIMULATOR_MAX_DURATION_S: u64 = 60;
/// The first loopback address simulated connections bind (see the module docs).
pub const SIMULATOR_SOURCE_BASE: Ipv4Addr = Ipv4Addr::new(127, 77, 0, 1);
/// Seconds of samples kept (ten minutes).
pub const MAX_SAMPLES: usize = 600;
/// Latencies kept per one-second sample; more pings than this are counted, not timed.
pub const MAX_LATENCIES_PER_SAMPLE: usize = 50_000;
/// How long a stop waits for the simulated connections to close.
pub const STOP_WAIT: Duration = Duration::from_secs(5);
/// The transports the simulator can drive.
pub const SIMULATED_TRANSPORTS: [&str; 5] = ACADEMY_TRANSPORTS;

/// Limits of the connection simulator.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Off: every start is refused.
    pub enabled: bool,
    /// Simulated connections per run at most.
    pub max_connections: usize,
    /// New connections per second at most.
    pub max_ramp_per_s: u32,
    /// Pings per second per connection at most.
    pub max_pings_per_s: f64,
    /// Seconds a run lasts at most; a request's `duration_s` defaults to it.
    pub max_duration_s: u64,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_connections: DEFAULT_SIMULATOR_MAX_CONNECTIONS,
            max_ramp_per_s: SIMULATOR_MAX_RAMP_PER_S,
            max_pings_per_s: SIMULATOR_MAX_PINGS_PER_S,
            max_duration_s: DEFAULT_SIMULATOR_MAX_DURATION_S,
        }
    }
}

/// What a run asks for (the body of `POST /api/simulator/start`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationRequest {
    /// One of [`SIMULATED_TRANSPORTS`].
    pub transport: String,
    /// Connections to open.
    pub connections: usize,
    /// New connections per second.
    #[serde(default = "default_ramp")]
    pub ramp_per_s: u32,
    /// Pings per second per connection (0: none).
    #[serde(default = "default_pings")]
    pub pings_per_s: f64,
    /// Seconds until the run stops itself (`None`: the configured maximum).
    #[serde(default)]
    pub duration_s: Option<u64>,
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
    /// Another run is going; stop it first.
    #[error("a simulation is already running")]
    Running,
    /// The request is past the limits or names something this server does not offer.
    #[error("{0}")]
    Invalid(String),
}

/// One second of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Milliseconds since the run started.
    pub t_ms: u64,
    /// Simulated connections open at the end of the second.
    pub connected: u64,
    /// Connections that failed to open or were lost, since the run started.
    pub failed: u64,
    /// Pings sent plus messages received in that second, by all simulated connections.
    pub messages_per_s: u64,
    /// Median ping round trip in that second, in ms (none when no pong arrived).
    pub p50_ms: Option<f64>,
    /// 99th-percentile ping round trip in that second, in ms (none when no pong arrived).
    pub p99_ms: Option<f64>,
    /// This process's resident memory (0 where it cannot be read).
    pub rss_bytes: u64,
}

/// Counters shared by a run's connections.
#[derive(Debug, Default)]
pub(crate) struct RunCounters {
    pub(crate) connected: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) messages: AtomicU64,
    latencies: Mutex<Vec<f64>>,
    last_error: Mutex<Option<String>>,
}

impl RunCounters {
    pub(crate) fn latency(&self, rtt: Duration) {
        let mut latencies = self.latencies.lock();
        if latencies.len() < MAX_LATENCIES_PER_SAMPLE {
            latencies.push(rtt.as_secs_f64() * 1000.0);
        }
    }

    pub(crate) fn fail(&self, error: impl ToString) {
        self.failed.fetch_add(1, Relaxed);
        *self.last_error.lock() = Some(error.to_string());
    }
}

struct Run {
    request: SimulationRequest,
    counters: Arc<RunCounters>,
    cancel: CancellationToken,
    connections: TaskTracker,
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
    /// A simulator dialling `target`; its runs are tracked by `tasks` and end when
    /// `shutdown` is cancelled.
    pub fn new(
        config: SimulatorConfig,
        target: Target,
        tasks: TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            config,
            target,
            tasks,
            shutdown,
            run: Mutex::new(None),
        }
    }

    /// The limits runs are held to.
    pub fn config(&self) -> &SimulatorConfig {
        &self.config
    }

    /// Where simulated connections dial.
    pub fn target(&self) -> &Target {
        &self.target
    }

    fn current(&self) -> Option<Arc<Run>> {
        self.run.lock().clone()
    }

    /// Checks `request` against the limits and this server, then starts a run.
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
        let (choice, url) = self
            .target
            .dial(&request.transport)
            .map_err(StartError::Invalid)?;
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
        check_pings_per_s(request.pings_per_s, config.max_pings_per_s)?;
        let duration_s = request.duration_s.unwrap_or(config.max_duration_s);
        if duration_s == 0 || duration_s > config.max_duration_s {
            return Err(StartError::Invalid(format!(
                "duration_s must be 1..={}",
                config.max_duration_s
            )));
        }
        let request = SimulationRequest {
            duration_s: Some(duration_s),
            ..request
        };
        let source = self.sources_for(choice);
        let run = {
            let mut slot = self.run.lock();
            if slot.as_ref().is_some_and(|run| !run.stopped.load(Relaxed)) {
                return Err(StartError::Running);
            }
            let run = Arc::new(Run {
                request,
                counters: Arc::default(),
                cancel: self.shutdown.child_token(),
                connections: TaskTracker::new(),
                samples: Mutex::new(VecDeque::new()),
                ramp_done: AtomicBool::new(false),
                stopped: AtomicBool::new(false),
            });
            *slot = Some(run.clone());
            run
        };
        tracing::info!(transport = %run.request.transport, connections = run.request.connections, duration_s, "simulation started");
        self.tasks.spawn(ramp(run.clone(), choice, url, source));
        self.tasks.spawn(sample(run.clone()));
        self.tasks
            .spawn(stop_after(run, Duration::from_secs(duration_s)));
        Ok(self.status())
    }

    /// Cancels the run and waits (bounded) until its connections are closed.
    pub async fn stop(&self) {
        if let Some(run) = self.current() {
            finish(&run).await;
        }
    }

    /// Whether simulated connections of `transport` bind their own loopback addresses
    /// (see the module docs): the server they dial is on IPv4 loopback and this system
    /// lets a socket bind [`SIMULATOR_SOURCE_BASE`].
    fn sources_for(&self, transport: TransportChoice) -> bool {
        let dialled = match transport {
            TransportChoice::Tcp => self.target.tcp,
            _ => Some(self.target.http),
        };
        let on_ipv4_loopback = dialled.is_some_and(|addr| match addr.ip() {
            IpAddr::V4(v4) => v4.is_loopback(),
            IpAddr::V6(_) => false,
        });
        on_ipv4_loopback && std::net::TcpListener::bind((SIMULATOR_SOURCE_BASE, 0)).is_ok()
    }

    /// The run's state and samples (`{"running": false, ...}` before the first run).
    pub fn status(&self) -> serde_json::Value {
        let Some(run) = self.current() else {
            return serde_json::json!({"running": false, "connected": 0, "samples": []});
        };
        let counters = &run.counters;
        let samples: Vec<Sample> = run.samples.lock().iter().cloned().collect();
        serde_json::json!({
            "running": !run.stopped.load(Relaxed),
            "request": run.request,
            "ramp_done": run.ramp_done.load(Relaxed),
            "connected": counters.connected.load(Relaxed),
            "failed": counters.failed.load(Relaxed),
            "last_error": counters.last_error.lock().clone(),
            "samples": samples,
        })
    }
}

/// Why `pings_per_s` is refused, if it is: it must be 0 (no pings) or a finite rate
/// within `SIMULATOR_MIN_PINGS_PER_S..=max`.
fn check_pings_per_s(pings_per_s: f64, max: f64) -> Result<(), StartError> {
    let pinging = (SIMULATOR_MIN_PINGS_PER_S..=max).contains(&pings_per_s);
    if pings_per_s == 0.0 || pinging {
        return Ok(());
    }
    Err(StartError::Invalid(format!(
        "pings_per_s must be 0 or {SIMULATOR_MIN_PINGS_PER_S}..={max} (got {pings_per_s})"
    )))
}

/// The loopback address simulated connection `index` binds: [`SIMULATOR_SOURCE_BASE`]
/// onwards, one address per connection, skipping `.0` and `.255` in the last byte and
/// wrapping within `127.77.0.0/16`.
pub fn simulated_source(index: usize) -> IpAddr {
    let [a, b, ..] = SIMULATOR_SOURCE_BASE.octets();
    let slot = index % (254 * 256);
    let (high, low) = (slot / 254, slot % 254 + 1);
    IpAddr::V4(Ipv4Addr::new(a, b, high as u8, low as u8))
}

/// Stops `run` after `duration`, or as soon as it is cancelled another way (a stop,
/// the server shutting down), then marks it stopped once its connections are closed.
async fn stop_after(run: Arc<Run>, duration: Duration) {
    tokio::select! {
        _ = run.cancel.cancelled() => {}
        _ = tokio::time::sleep(duration) => tracing::info!("simulation reached its duration"),
    }
    finish(&run).await;
}

/// Cancels `run` and waits (bounded by [`STOP_WAIT`]) until its connections are closed.
async fn finish(run: &Run) {
    run.cancel.cancel();
    run.connections.close();
    let _ = tokio::time::timeout(STOP_WAIT, run.connections.wait()).await;
    if !run.stopped.swap(true, Relaxed) {
        tracing::info!("simulation stopped");
    }
}

/// Opens the connections at the ramp rate (each from its own loopback address when
/// `own_sources`).
async fn ramp(run: Arc<Run>, choice: TransportChoice, url: String, own_sources: bool) {
    // ramp_per_s is 1..=u32::MAX, so the interval is at least 0.23 ns: never zero and
    // never past Duration's range.
    let every = Duration::from_nanos(1_000_000_000 / u64::from(run.request.ramp_per_s.max(1)));
    let mut ticker = tokio::time::interval(every.max(Duration::from_nanos(1)));
    for index in 0..run.request.connections {
        tokio::select! {
            _ = run.cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        run.connections.spawn(connection::run(
            choice,
            url.clone(),
            own_sources.then(|| simulated_source(index)),
            run.request.pings_per_s,
            run.counters.clone(),
            run.cancel.clone(),
        ));
    }
    run.ramp_done.store(true, Relaxed);
}

/// Records one sample a second until the run is cancelled.
async fn sample(run: Arc<Run>) {
    let started = Instant::now();
    let mut memory = ResidentMemory::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    let mut last_messages = 0;
    loop {
        let cancelled = tokio::select! {
            _ = run.cancel.cancelled() => true,
            _ = ticker.tick() => false,
        };
        let counters = &run.counters;
        let mut latencies = std::mem::take(&mut *counters.latencies.lock());
        latencies.sort_by(f64::total_cmp);
        let messages = counters.messages.load(Relaxed);
        let sample = Sample {
            t_ms: started.elapsed().as_millis() as u64,
            connected: counters.connected.load(Relaxed),
            failed: counters.failed.load(Relaxed),
            messages_per_s: messages - last_messages,
            p50_ms: percentile(&latencies, 0.50),
            p99_ms: percentile(&latencies, 0.99),
            rss_bytes: memory.bytes(),
        };
        last_messages = messages;
        {
            let mut samples = run.samples.lock();
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

/// This process's resident memory, read with `sysinfo` (refreshing only this process's
/// memory, so a reading is cheap).
struct ResidentMemory {
    /// `None` where `sysinfo` cannot read this platform.
    system: Option<System>,
    pid: Option<Pid>,
}

impl ResidentMemory {
    fn new() -> Self {
        Self {
            system: System::new().ok(),
            pid: sysinfo::get_current_pid().ok(),
        }
    }

    /// Bytes resident now; 0 where the platform does not say.
    fn bytes(&mut self) -> u64 {
        let (Some(system), Some(pid)) = (self.system.as_mut(), self.pid) else {
            return 0;
        };
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            false,
            ProcessRefreshKind::nothing().with_memory(),
        );
        system.process(pid).map_or(0, |process| process.memory())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_this_process() {
        let mut memory = ResidentMemory::new();
        let before = memory.bytes();
        // Touch 64 MiB so the reading must move by at least most of it.
        let ballast = vec![1u8; 64 << 20];
        let after = memory.bytes();
        assert!(ballast.iter().step_by(4096).all(|b| *b == 1));
        assert!(before > 1 << 20, "{before}");
        assert!(after >= before + (48 << 20), "{before} → {after}");
    }

    #[test]
    fn ping_rates_are_refused_unless_zero_or_in_range() {
        for refused in [
            5e-324,
            1e-300,
            0.001,
            -1.0,
            -0.5,
            10.5,
            1e308,
            f64::NAN,
            f64::INFINITY,
        ] {
            assert!(check_pings_per_s(refused, 10.0).is_err(), "{refused}");
        }
        for accepted in [0.0, SIMULATOR_MIN_PINGS_PER_S, 1.0, 10.0] {
            assert!(check_pings_per_s(accepted, 10.0).is_ok(), "{accepted}");
        }
    }

    #[test]
    fn a_ping_interval_never_panics() {
        // `Duration::from_secs_f64(1.0 / 5e-324)` panicked in every simulated client.
        for rate in [
            5e-324,
            1e-300,
            f64::MIN_POSITIVE,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            0.0,
        ] {
            assert_eq!(connection::ping_interval(rate), None, "{rate}");
        }
        assert_eq!(
            connection::ping_interval(4.0),
            Some(Duration::from_millis(250))
        );
    }

    #[test]
    fn simulated_sources_are_distinct_loopback_addresses() {
        let sources: std::collections::HashSet<IpAddr> = (0..DEFAULT_SIMULATOR_MAX_CONNECTIONS)
            .map(simulated_source)
            .collect();
        assert_eq!(sources.len(), DEFAULT_SIMULATOR_MAX_CONNECTIONS);
        for source in &sources {
            let IpAddr::V4(v4) = source else {
                panic!("{source}")
            };
            let [a, b, _, d] = v4.octets();
            assert!((a, b) == (127, 77) && d != 0 && d != 255, "{v4}");
        }
        assert_eq!(simulated_source(0), IpAddr::V4(SIMULATOR_SOURCE_BASE));
        // Past the /16 it wraps instead of overflowing.
        let _ = simulated_source(usize::MAX);
    }

    #[test]
    fn percentiles_pick_ranked_values() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 0.5), Some(51.0));
        assert_eq!(percentile(&sorted, 0.99), Some(99.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
