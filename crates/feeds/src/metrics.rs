//! The `metrics` feed: one snapshot of the machine and of switchboard itself, published
//! into the read-only `metrics` channel every `interval` (1 s by default).
//!
//! A snapshot carries CPU (total and per core), memory, swap, disk usage and I/O, network
//! rx/tx, load average (all from `sysinfo`), and switchboard's own figures from
//! [`Hub::stats`]: open connections per transport, messages per second in and out, uptime
//! and the server's resident memory. Rates are per second over the last interval.
//!
//! Sampling reads `/proc` (blocking), so it runs on the blocking pool, never on a runtime
//! worker. The feed stops when the shutdown token is cancelled.

use std::{
    collections::HashSet,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use serde::Serialize;
use switchboard_hub::Hub;
use switchboard_protocol::{ChannelName, now_ms, server::TransportCounts};
use sysinfo::{Disks, Networks, Pid, ProcessRefreshKind, ProcessesToUpdate, System};
use tokio_util::sync::CancellationToken;

/// One snapshot a second: smooth enough for a live chart, cheap enough (a few `/proc`
/// reads) to never show up in the figures it reports.
pub const DEFAULT_METRICS_INTERVAL: Duration = Duration::from_secs(1);
/// The shortest interval honoured: each sample reads `/proc` and every disk and network
/// interface, and CPU figures need time between samples to mean anything (the server's
/// configuration check refuses anything shorter; a config built by hand is held to it).
pub const MIN_METRICS_INTERVAL: Duration = Duration::from_millis(50);
/// The channel the feed publishes into (read-only for clients).
pub const METRICS_CHANNEL: &str = "metrics";

/// Settings of the `metrics` feed.
#[derive(Debug, Clone)]
pub struct MetricsFeedConfig {
    /// Whether the feed runs at all (on by default); when off, `metrics` stays silent.
    pub enabled: bool,
    /// Time between two snapshots ([`DEFAULT_METRICS_INTERVAL`] by default); shorter
    /// than 50 ms is raised to 50 ms, since each sample reads `/proc`.
    pub interval: Duration,
}

impl Default for MetricsFeedConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: DEFAULT_METRICS_INTERVAL,
        }
    }
}

/// One published snapshot (the `data` of a `message` on `metrics`).
#[derive(Debug, Clone, Serialize)]
pub struct MetricsSnapshot {
    /// When the snapshot was taken, in milliseconds since the Unix epoch.
    pub ts: u64,
    /// Time since the previous snapshot, in milliseconds: the window every `_per_s` rate
    /// below is averaged over (close to the configured interval unless sampling lagged).
    pub interval_ms: u64,
    /// CPU usage over the last interval.
    pub cpu: CpuFigures,
    /// Physical memory.
    pub memory: MemoryFigures,
    /// Swap space (all zero on a machine without swap).
    pub swap: MemoryFigures,
    /// The main filesystem's space, and disk I/O over the last interval.
    pub disk: DiskFigures,
    /// Network traffic over the last interval, and since boot.
    pub network: NetworkFigures,
    /// The machine's load averages.
    pub load: LoadFigures,
    /// switchboard's own figures.
    pub switchboard: SwitchboardFigures,
}

/// CPU usage over the last interval, as `sysinfo` measures it (all zero when the system
/// cannot be read).
#[derive(Debug, Clone, Serialize)]
pub struct CpuFigures {
    /// Percent of all cores, 0–100.
    pub total: f32,
    /// Percent per core, 0–100 each.
    pub per_core: Vec<f32>,
}

/// Memory or swap use (all zero when the system cannot be read).
#[derive(Debug, Clone, Serialize)]
pub struct MemoryFigures {
    /// Installed amount, in bytes.
    pub total_bytes: u64,
    /// Amount in use, in bytes, as `sysinfo` counts it (for memory: total minus what the
    /// kernel reports available, so page cache does not count as used).
    pub used_bytes: u64,
    /// `used_bytes` as a percentage of `total_bytes`, 0–100 (0 when the total is 0).
    pub percent: f64,
}

/// The main filesystem's space, and disk I/O (all zero and an empty `mount` when no disk
/// can be read).
#[derive(Debug, Clone, Serialize)]
pub struct DiskFigures {
    /// The filesystem mounted at `/` (or the largest one when there is none).
    pub mount: String,
    /// Size of that filesystem, in bytes.
    pub total_bytes: u64,
    /// Bytes in use on it: its size minus the space still available.
    pub used_bytes: u64,
    /// `used_bytes` as a percentage of `total_bytes`, 0–100 (0 when the size is 0).
    pub percent: f64,
    /// Bytes read per second over the last interval, summed over every distinct disk
    /// (a device mounted several times counts once).
    pub read_bytes_per_s: f64,
    /// Bytes written per second over the last interval, summed like `read_bytes_per_s`.
    pub write_bytes_per_s: f64,
}

/// Network traffic (all zero when the interfaces cannot be read).
#[derive(Debug, Clone, Serialize)]
pub struct NetworkFigures {
    /// Bytes received per second over the last interval, summed over every interface
    /// (loopback included: it carries switchboard's own tests).
    pub rx_bytes_per_s: f64,
    /// Bytes sent per second over the last interval, summed like `rx_bytes_per_s`.
    pub tx_bytes_per_s: f64,
    /// Bytes received since the interfaces came up, summed over every interface.
    pub rx_total_bytes: u64,
    /// Bytes sent since the interfaces came up, summed over every interface.
    pub tx_total_bytes: u64,
}

/// The system load averages: runnable (and, on Linux, uninterruptible) tasks averaged
/// over 1, 5 and 15 minutes; all zero where the platform has none.
#[derive(Debug, Clone, Serialize)]
pub struct LoadFigures {
    /// Average over the last minute.
    pub one: f64,
    /// Average over the last 5 minutes.
    pub five: f64,
    /// Average over the last 15 minutes.
    pub fifteen: f64,
}

/// switchboard's own figures, from [`Hub::stats`] and this process's memory.
#[derive(Debug, Clone, Serialize)]
pub struct SwitchboardFigures {
    /// Connections open right now, per transport.
    pub connections: TransportCounts,
    /// Connections open right now over every transport (the sum of `connections`).
    pub connections_total: u64,
    /// Client messages received per second over the last interval (every message the
    /// hub counted in, including rate-limited and malformed ones).
    pub messages_in_per_s: f64,
    /// Server messages queued per second over the last interval (each subscriber's copy
    /// counts once).
    pub messages_out_per_s: f64,
    /// Time since the hub started, in milliseconds.
    pub uptime_ms: u64,
    /// Resident memory of this process, in bytes (0 when it cannot be read).
    pub rss_bytes: u64,
}

/// Keeps the `sysinfo` state between samples (rates need the previous reading).
pub(crate) struct Sampler {
    system: Option<System>,
    disks: Option<Disks>,
    networks: Option<Networks>,
    pid: Option<Pid>,
    last: Instant,
    last_messages: (u64, u64),
}

impl Sampler {
    pub(crate) fn new() -> Self {
        Self {
            system: System::new().ok(),
            disks: Disks::new_with_refreshed_list().ok(),
            networks: Networks::new_with_refreshed_list().ok(),
            pid: sysinfo::get_current_pid().ok(),
            last: Instant::now(),
            last_messages: (0, 0),
        }
    }

    /// Takes one snapshot. Blocking: reads `/proc`.
    pub(crate) fn sample(&mut self, hub: &Hub) -> MetricsSnapshot {
        let elapsed = self.last.elapsed().as_secs_f64().max(0.001);
        self.last = Instant::now();
        let per_s = |bytes: u64| bytes as f64 / elapsed;

        let (cpu, memory, swap, rss_bytes) = match self.system.as_mut() {
            Some(system) => {
                system.refresh_cpu_usage();
                system.refresh_memory();
                let rss = self.pid.map_or(0, |pid| {
                    system.refresh_processes_specifics(
                        ProcessesToUpdate::Some(&[pid]),
                        false,
                        ProcessRefreshKind::nothing().with_memory(),
                    );
                    system.process(pid).map_or(0, |p| p.memory())
                });
                let cpu = CpuFigures {
                    total: system.global_cpu_usage(),
                    per_core: system.cpus().iter().map(|c| c.usage()).collect(),
                };
                let memory = memory_figures(system.total_memory(), system.used_memory());
                let swap = memory_figures(system.total_swap(), system.used_swap());
                (cpu, memory, swap, rss)
            }
            None => (
                CpuFigures {
                    total: 0.0,
                    per_core: Vec::new(),
                },
                memory_figures(0, 0),
                memory_figures(0, 0),
                0,
            ),
        };

        let disk = self.disks.as_mut().map_or_else(empty_disk, |disks| {
            disks.refresh(true);
            disk_figures(disks, per_s)
        });

        let network = match self.networks.as_mut() {
            Some(networks) => {
                networks.refresh(true);
                let (mut rx, mut tx, mut rx_total, mut tx_total) = (0, 0, 0, 0);
                for data in networks.values() {
                    rx += data.received();
                    tx += data.transmitted();
                    rx_total += data.total_received();
                    tx_total += data.total_transmitted();
                }
                NetworkFigures {
                    rx_bytes_per_s: per_s(rx),
                    tx_bytes_per_s: per_s(tx),
                    rx_total_bytes: rx_total,
                    tx_total_bytes: tx_total,
                }
            }
            None => NetworkFigures {
                rx_bytes_per_s: 0.0,
                tx_bytes_per_s: 0.0,
                rx_total_bytes: 0,
                tx_total_bytes: 0,
            },
        };

        let load = System::load_average().map_or(
            LoadFigures {
                one: 0.0,
                five: 0.0,
                fifteen: 0.0,
            },
            |l| LoadFigures {
                one: l.one,
                five: l.five,
                fifteen: l.fifteen,
            },
        );

        let stats = hub.stats();
        let (last_in, last_out) = self.last_messages;
        self.last_messages = (stats.messages_in, stats.messages_out);
        let switchboard = SwitchboardFigures {
            connections_total: stats.connections.total(),
            connections: stats.connections,
            messages_in_per_s: per_s(stats.messages_in.saturating_sub(last_in)),
            messages_out_per_s: per_s(stats.messages_out.saturating_sub(last_out)),
            uptime_ms: stats.uptime_ms,
            rss_bytes,
        };

        MetricsSnapshot {
            ts: now_ms(),
            interval_ms: (elapsed * 1000.0) as u64,
            cpu,
            memory,
            swap,
            disk,
            network,
            load,
            switchboard,
        }
    }
}

fn memory_figures(total_bytes: u64, used_bytes: u64) -> MemoryFigures {
    MemoryFigures {
        total_bytes,
        used_bytes,
        percent: percent(used_bytes, total_bytes),
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn empty_disk() -> DiskFigures {
    DiskFigures {
        mount: String::new(),
        total_bytes: 0,
        used_bytes: 0,
        percent: 0.0,
        read_bytes_per_s: 0.0,
        write_bytes_per_s: 0.0,
    }
}

fn disk_figures(disks: &Disks, per_s: impl Fn(u64) -> f64) -> DiskFigures {
    let main = disks
        .iter()
        .find(|d| d.mount_point() == Path::new("/"))
        .or_else(|| disks.iter().max_by_key(|d| d.total_space()));
    let Some(main) = main else {
        return empty_disk();
    };
    // The same device can be mounted several times (bind mounts, containers): count its
    // I/O once.
    let mut seen = HashSet::new();
    let (mut read, mut written) = (0, 0);
    for disk in disks.iter() {
        if seen.insert(disk.name().to_owned()) {
            let usage = disk.usage();
            read += usage.read_bytes;
            written += usage.written_bytes;
        }
    }
    let total = main.total_space();
    let used = total.saturating_sub(main.available_space());
    DiskFigures {
        mount: main.mount_point().display().to_string(),
        total_bytes: total,
        used_bytes: used,
        percent: percent(used, total),
        read_bytes_per_s: per_s(read),
        write_bytes_per_s: per_s(written),
    }
}

/// Publishes a snapshot into `metrics` every `config.interval` until `stop` is cancelled.
pub(crate) async fn run(hub: Arc<Hub>, config: MetricsFeedConfig, stop: CancellationToken) {
    let Ok(channel) = ChannelName::new(METRICS_CHANNEL) else {
        return;
    };
    let mut sampler = Some(Sampler::new());
    let mut ticker = tokio::time::interval(config.interval.max(MIN_METRICS_INTERVAL));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let Some(mut owned) = sampler.take() else {
            break;
        };
        let sampling_hub = hub.clone();
        let sampled = tokio::task::spawn_blocking(move || {
            let snapshot = owned.sample(&sampling_hub);
            (owned, snapshot)
        })
        .await;
        let Ok((owned, snapshot)) = sampled else {
            tracing::warn!("metrics sampler panicked; the metrics feed stops");
            break;
        };
        sampler = Some(owned);
        match serde_json::value::to_raw_value(&snapshot) {
            Ok(raw) => {
                if let Err(err) = hub.publish(&channel, &raw).await {
                    tracing::warn!(%err, "cannot publish metrics");
                }
            }
            Err(err) => tracing::warn!(%err, "cannot serialize metrics"),
        }
    }
    tracing::debug!("metrics feed stopped");
}
