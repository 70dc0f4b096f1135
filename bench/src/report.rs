//! The bench report: every result of a run, the machine it ran on, ratios of switchboard
//! against a peer, printed as a text table or as one JSON document.
//!
//! Ratios are oriented so that a value above 1 always means switchboard is better:
//! `peer / ours` for memory and latency, `ours / peer` for throughput.

use std::fmt::Write as _;

use serde::Serialize;

use crate::{fanout::FanoutResult, idle::IdleResult, target::proc_kib_field};

/// The machine a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPUs this process may use (`available_parallelism`; 1 when unknown).
    pub cpus: usize,
    /// Physical memory, in bytes (`MemTotal` in `/proc/meminfo`; 0 when unreadable).
    pub memory_total_bytes: u64,
    /// The Linux kernel release (`/proc/sys/kernel/osrelease`; empty when unreadable).
    pub kernel: String,
}

impl Machine {
    /// Reads the figures of the machine this process runs on; never fails (an unreadable
    /// figure is left at 0 or empty).
    pub fn detect() -> Self {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_total_bytes = proc_kib_field(&meminfo, "MemTotal").unwrap_or(0);
        Self {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_total_bytes,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
        }
    }
}

/// switchboard against a peer on one metric.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// What is compared, with its unit (e.g. "idle bytes per connection").
    pub metric: &'static str,
    /// The peer target's name ([`crate::target::TargetKind::name`]).
    pub peer: &'static str,
    /// switchboard's (`/ws`) value of the metric.
    pub switchboard: f64,
    /// The peer's value of the metric.
    pub peer_value: f64,
    /// Above 1: switchboard is better by this factor.
    pub advantage: f64,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When the run started, in seconds since the Unix epoch.
    pub started_unix_seconds: u64,
    /// The bench's own command line, so a report says how it was produced.
    pub command: Vec<String>,
    /// The machine the run measured.
    pub machine: Machine,
    /// Extra flags the `switchboard` server was started with.
    pub switchboard_args: Vec<String>,
    /// One result per idle-memory scenario run, in run order.
    pub idle: Vec<IdleResult>,
    /// One result per fan-out scenario run, in run order.
    pub fanout: Vec<FanoutResult>,
    /// switchboard against each peer, filled by [`Report::compute_ratios`].
    pub ratios: Vec<Ratio>,
}

impl Report {
    /// An empty report for a run starting now.
    pub fn new(switchboard_args: Vec<String>) -> Self {
        Self {
            started_unix_seconds: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            command: std::env::args().collect(),
            machine: Machine::detect(),
            switchboard_args,
            idle: Vec::new(),
            fanout: Vec::new(),
            ratios: Vec::new(),
        }
    }

    /// Fills `ratios`: switchboard's `/ws` against every other hub target.
    pub fn compute_ratios(&mut self) {
        let mut ratios = Vec::new();
        if let Some(ours) = self.idle.iter().find(|r| r.target == "switchboard") {
            for peer in self.idle.iter().filter(|r| r.target != ours.target) {
                ratios.push(Ratio {
                    metric: "idle bytes per connection",
                    peer: peer.target,
                    switchboard: ours.bytes_per_connection,
                    peer_value: peer.bytes_per_connection,
                    advantage: peer.bytes_per_connection / ours.bytes_per_connection,
                });
            }
        }
        let unpaced = |r: &&FanoutResult| r.rate.is_none();
        if let Some(ours) = self
            .fanout
            .iter()
            .filter(unpaced)
            .find(|r| r.target == "switchboard")
        {
            for peer in self
                .fanout
                .iter()
                .filter(unpaced)
                .filter(|r| r.target != ours.target)
            {
                ratios.push(Ratio {
                    metric: "fan-out deliveries per second",
                    peer: peer.target,
                    switchboard: ours.deliveries_per_second,
                    peer_value: peer.deliveries_per_second,
                    advantage: ours.deliveries_per_second / peer.deliveries_per_second,
                });
            }
        }
        let paced = |r: &&FanoutResult| r.rate.is_some();
        if let Some(ours) = self
            .fanout
            .iter()
            .filter(paced)
            .find(|r| r.target == "switchboard")
        {
            for peer in self
                .fanout
                .iter()
                .filter(paced)
                .filter(|r| r.target != ours.target)
            {
                ratios.push(Ratio {
                    metric: "paced fan-out p99 latency (us)",
                    peer: peer.target,
                    switchboard: ours.latency.p99_us as f64,
                    peer_value: peer.latency.p99_us as f64,
                    advantage: peer.latency.p99_us as f64 / ours.latency.p99_us.max(1) as f64,
                });
            }
        }
        self.ratios = ratios;
    }

    /// The report as aligned text tables.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "machine: {} CPUs, {:.1} GiB RAM, Linux {}",
            m.cpus,
            m.memory_total_bytes as f64 / (1u64 << 30) as f64,
            m.kernel
        );
        if !self.switchboard_args.is_empty() {
            let _ = writeln!(
                out,
                "switchboard serve flags: {}",
                self.switchboard_args.join(" ")
            );
        }
        if !self.idle.is_empty() {
            let _ = writeln!(out, "\nidle memory");
            let _ = writeln!(
                out,
                "{:<18} {:>7} {:>6} {:>11} {:>11} {:>11} {:>10}",
                "target", "conns", "failed", "RSS empty", "RSS loaded", "bytes/conn", "conns/s"
            );
            for r in &self.idle {
                let _ = writeln!(
                    out,
                    "{:<18} {:>7} {:>6} {:>9.1}Mi {:>9.1}Mi {:>11.0} {:>10.0}",
                    r.target,
                    r.connections,
                    r.failed,
                    mib(r.rss_empty_bytes),
                    mib(r.rss_loaded_bytes),
                    r.bytes_per_connection,
                    r.connections_per_second
                );
            }
        }
        if !self.fanout.is_empty() {
            let _ = writeln!(
                out,
                "\nfan-out (rate: messages/s asked, max = unpaced; latency in microseconds; CPU seconds of server and generator)"
            );
            let _ = writeln!(
                out,
                "{:<18} {:>5} {:>5} {:>6} {:>6} {:>13} {:>6} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>5}",
                "target",
                "subs",
                "rate",
                "msgs",
                "frameB",
                "deliveries/s",
                "lost",
                "gaps",
                "p50",
                "p99",
                "p99.9",
                "max",
                "srvCPU",
                "genCPU",
                "load"
            );
            for r in &self.fanout {
                let _ = writeln!(
                    out,
                    "{:<18} {:>5} {:>5} {:>6} {:>6} {:>13.0} {:>6} {:>5} {:>7} {:>7} {:>7} {:>7} {:>6.1}s {:>6.1}s {:>5.1}",
                    r.target,
                    r.subscribers,
                    r.rate
                        .map_or_else(|| "max".to_owned(), |rate| format!("{rate:.0}")),
                    r.published,
                    r.delivered_frame_bytes,
                    r.deliveries_per_second,
                    r.lost,
                    r.gaps,
                    r.latency.p50_us,
                    r.latency.p99_us,
                    r.latency.p999_us,
                    r.latency.max_us,
                    r.server_cpu_seconds.unwrap_or(f64::NAN),
                    r.bench_cpu_seconds.unwrap_or(f64::NAN),
                    r.load_average
                );
            }
        }
        if !self.ratios.is_empty() {
            let _ = writeln!(
                out,
                "\nswitchboard against peers (advantage > 1: switchboard better)"
            );
            for r in &self.ratios {
                let _ = writeln!(
                    out,
                    "{:<32} vs {:<17} {:>12.1} vs {:>12.1}  x{:.2}",
                    r.metric, r.peer, r.switchboard, r.peer_value, r.advantage
                );
            }
        }
        out
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}
