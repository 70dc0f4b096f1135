//! The fan-out scenario: one publisher, S subscribers on one channel, M small messages.
//!
//! Method: S connections join channel [`FANOUT_CHANNEL`] (and read their greeting); one
//! more connection, subscribed to nothing but `broadcast`, sends M `publish` messages
//! whose `data` is exactly `payload_bytes` of JSON carrying the message's index and its
//! send time (see [`publisher`]). Every subscriber checks order and records end-to-end
//! latency (see the `subscriber` module).
//!
//! Two modes: unpaced (`rate: None`), where the publisher runs as far ahead of the slowest
//! subscriber as `window` allows and the figure is sustained deliveries per second (with
//! latency under full load, queueing included); and paced (`rate: Some(r)` messages per
//! second), where latency is measured at a load the server is not saturated by.
//!
//! Bounded in time: publishing stops at `time_limit`; subscribers then keep receiving
//! what was published until everything arrived, or nothing arrived for [`DRAIN_STALL`],
//! or [`DRAIN_LIMIT`] passed. Deliveries per second count over the interval from the
//! first publish to the last delivery; `lost` counts what was published and never
//! arrived, so a run cut short by the time limit is not reported as loss.

pub mod publisher;
pub(crate) mod subscriber;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{StreamExt, stream};
use serde::Serialize;

use crate::{
    BenchError,
    dialect::read_greeting,
    target::{TargetKind, cpu_seconds, load_average},
    wire::WsConn,
};
use subscriber::{Tally, latency_histogram};

/// The channel the subscribers join.
pub const FANOUT_CHANNEL: &str = "bench";
/// Receiving stops once no delivery at all arrived for this long after publishing ended.
pub const DRAIN_STALL: Duration = Duration::from_secs(2);
/// Receiving stops this long after publishing ended, whatever is still on its way.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// How often the drain looks at subscriber progress.
const DRAIN_POLL: Duration = Duration::from_millis(20);

/// How to run the scenario.
#[derive(Debug, Clone)]
pub struct FanoutOptions {
    /// Subscriber connections (S) joining [`FANOUT_CHANNEL`].
    pub subscribers: usize,
    /// Messages to publish (M); fewer are published if `time_limit` passes first.
    pub messages: u64,
    /// Size of each message's `data` JSON, in bytes.
    pub payload_bytes: usize,
    /// Messages the publisher may be ahead of the slowest subscriber.
    pub window: u64,
    /// Publishes written to the socket at once (unpaced mode).
    pub batch: u64,
    /// Messages per second; `None` publishes as fast as the window allows.
    pub rate: Option<f64>,
    /// Handshakes in flight at once while subscribers connect.
    pub concurrency: usize,
    /// Publishing stops after this long.
    pub time_limit: Duration,
}

/// Latency percentiles in microseconds.
///
/// End-to-end: from the publisher writing a message to a subscriber reading it, both
/// timed on this process's monotonic clock, over every delivery to every subscriber; held
/// to two significant figures.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// The slowest delivery.
    pub max_us: u64,
}

/// What the scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct FanoutResult {
    /// The target's name ([`TargetKind::name`]).
    pub target: &'static str,
    /// Subscribers connected (all of them: a failed connection fails the run).
    pub subscribers: usize,
    /// Publishing rate asked for, in messages per second (`None`: unpaced).
    pub rate: Option<f64>,
    /// Size of each message's `data` JSON, in bytes, as asked for.
    pub payload_bytes: usize,
    /// Size of one delivered WebSocket payload (the whole JSON message) in bytes.
    pub delivered_frame_bytes: usize,
    /// Messages published (fewer than asked when the time limit cut the run short).
    pub published: u64,
    /// Messages received, summed over every subscriber (at most published × subscribers).
    pub deliveries: u64,
    /// Deliveries published but never received (published × subscribers − received).
    pub lost: u64,
    /// Times a subscriber saw an index or `seq` other than the next one.
    pub gaps: u64,
    /// Subscribers the server closed (or that failed) before the end.
    pub subscribers_closed: usize,
    /// `error` messages the publisher received.
    pub publisher_errors: u64,
    /// The measured interval, in seconds: from just before the first publish to the last
    /// delivery any subscriber received.
    pub seconds: f64,
    /// `deliveries / seconds`: sustained fan-out throughput, summed over subscribers.
    pub deliveries_per_second: f64,
    /// End-to-end latency of every delivery.
    pub latency: Latency,
    /// CPU seconds the server used during the measured interval (when its pid is known).
    pub server_cpu_seconds: Option<f64>,
    /// CPU seconds this load generator used during the measured interval.
    pub bench_cpu_seconds: Option<f64>,
    /// The machine's 1-minute load average when the run ended (other work skews figures).
    pub load_average: f64,
}

/// Runs the scenario against the hub at `addr` (served by process `pid`, if known).
pub async fn run(
    kind: TargetKind,
    addr: SocketAddr,
    pid: Option<u32>,
    options: &FanoutOptions,
) -> Result<FanoutResult, BenchError> {
    let subscriber_path = kind.path(FANOUT_CHANNEL);
    let connections: Vec<Result<WsConn, BenchError>> = stream::iter(0..options.subscribers)
        .map(|_| {
            let path = subscriber_path.clone();
            async move {
                let mut conn = WsConn::connect(addr, &path).await?;
                read_greeting(kind, &mut conn, 2).await?;
                Ok(conn)
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    let connections = connections.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut publisher = WsConn::connect(addr, &kind.path("")).await?;
    read_greeting(kind, &mut publisher, 1).await?;

    let publish_deadline = tokio::time::Instant::now() + options.time_limit;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let clock = Instant::now();
    let progress: Arc<[AtomicU64]> = (0..connections.len()).map(|_| AtomicU64::new(0)).collect();
    let mut tasks = Vec::with_capacity(connections.len());
    for (index, conn) in connections.into_iter().enumerate() {
        let progress = progress.clone();
        let messages = options.messages;
        let mut tally = Tally::new()?;
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let receive = subscriber::receive(conn, &mut tally, &progress[index], messages, clock);
            // The tally outlives the receive future, so a stop keeps what was counted.
            tokio::select! {
                () = receive => {}
                _ = stopped.wait_for(|stop| *stop) => {}
            }
            tally
        }));
    }

    let cpu_before = cpu_usage(pid);
    let started = Instant::now();
    let published = publisher::publish(
        kind,
        &mut publisher,
        &progress,
        options,
        clock,
        publish_deadline,
    )
    .await?;
    drain(&progress, published).await;
    let _ = stop.send(true);
    let mut tallies = Vec::with_capacity(tasks.len());
    for task in tasks {
        tallies.push(
            task.await
                .map_err(|err| BenchError::Internal(err.to_string()))?,
        );
    }
    let cpu_after = cpu_usage(pid);
    let publisher_errors = publisher::count_errors(&mut publisher).await;
    let mut result = summarize(kind, options, started, published, tallies)?;
    result.publisher_errors = publisher_errors;
    result.server_cpu_seconds = cpu_after.0.zip(cpu_before.0).map(|(a, b)| a - b);
    result.bench_cpu_seconds = cpu_after.1.zip(cpu_before.1).map(|(a, b)| a - b);
    Ok(result)
}

/// Waits until every subscriber has all `published` messages, or progress stalls for
/// [`DRAIN_STALL`], or [`DRAIN_LIMIT`] passes.
async fn drain(progress: &[AtomicU64], published: u64) {
    let total = || -> u64 { progress.iter().map(|p| p.load(Ordering::Relaxed)).sum() };
    let expected = published * progress.len() as u64;
    let started = Instant::now();
    let (mut last, mut last_change) = (total(), Instant::now());
    while last < expected && last_change.elapsed() < DRAIN_STALL && started.elapsed() < DRAIN_LIMIT
    {
        tokio::time::sleep(DRAIN_POLL).await;
        let now = total();
        if now != last {
            (last, last_change) = (now, Instant::now());
        }
    }
}

/// CPU seconds used so far by the server (`pid`) and by this process.
fn cpu_usage(pid: Option<u32>) -> (Option<f64>, Option<f64>) {
    let server = pid.and_then(|pid| cpu_seconds(pid).ok());
    (server, cpu_seconds(std::process::id()).ok())
}

fn summarize(
    kind: TargetKind,
    options: &FanoutOptions,
    started: Instant,
    published: u64,
    tallies: Vec<Tally>,
) -> Result<FanoutResult, BenchError> {
    let ended = tallies
        .iter()
        .filter_map(|t| t.last_delivery)
        .max()
        .unwrap_or(started);
    let seconds = ended.saturating_duration_since(started).as_secs_f64();
    let mut latency = latency_histogram()?;
    for tally in &tallies {
        latency
            .add(&tally.latency)
            .map_err(|err| BenchError::Internal(format!("histogram: {err}")))?;
    }
    let deliveries: u64 = tallies.iter().map(|t| t.received).sum();
    let expected = published * tallies.len() as u64;
    Ok(FanoutResult {
        target: kind.name(),
        subscribers: tallies.len(),
        rate: options.rate,
        payload_bytes: options.payload_bytes,
        delivered_frame_bytes: tallies.iter().map(|t| t.frame_bytes).max().unwrap_or(0),
        published,
        deliveries,
        lost: expected.saturating_sub(deliveries),
        gaps: tallies.iter().map(|t| t.gaps).sum(),
        subscribers_closed: tallies.iter().filter(|t| t.closed).count(),
        publisher_errors: 0,
        seconds,
        deliveries_per_second: deliveries as f64 / seconds.max(f64::EPSILON),
        latency: Latency {
            p50_us: latency.value_at_quantile(0.50),
            p90_us: latency.value_at_quantile(0.90),
            p99_us: latency.value_at_quantile(0.99),
            p999_us: latency.value_at_quantile(0.999),
            max_us: latency.max(),
        },
        server_cpu_seconds: None,
        bench_cpu_seconds: None,
        load_average: load_average(),
    })
}
