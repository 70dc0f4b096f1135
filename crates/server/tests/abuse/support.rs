//! What every attack test needs: this process's resident memory, a peak sampler, a
//! bystander client that pings throughout, and the lock that keeps memory-measuring
//! tests apart.

#![allow(unreachable_pub)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use serde_json::json;
use switchboard_server::Server;
use tokio::task::JoinHandle;

use crate::common::WsClient;

/// Held by every test that measures memory, so the other tests of this binary (which
/// run on other threads of the same process) do not allocate during its measurement.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub const MIB: u64 = 1024 * 1024;

/// This process's resident set size, in bytes (`VmRSS` in `/proc/self/status`).
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}

/// Records the highest RSS seen, every 10 ms, until stopped.
pub struct PeakRss {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl PeakRss {
    pub fn start() -> Self {
        let peak = Arc::new(AtomicU64::new(rss_bytes()));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let (peak, stop) = (peak.clone(), stop.clone());
            async move {
                while !stop.load(Relaxed) {
                    peak.fetch_max(rss_bytes(), Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        });
        Self { peak, stop, task }
    }

    /// The highest RSS seen so far.
    pub async fn stop(self) -> u64 {
        self.stop.store(true, Relaxed);
        self.task.await.expect("sampler");
        self.peak.load(Relaxed).max(rss_bytes())
    }
}

/// What the bystander saw.
#[derive(Debug)]
pub struct BystanderReport {
    pub pings: usize,
    pub slowest: Duration,
}

/// A WebSocket client that pings every 20 ms while an attack runs; it fails the test
/// (panics in its task) if a pong does not come or the server closes it.
pub struct Bystander {
    stop: Arc<AtomicBool>,
    task: JoinHandle<BystanderReport>,
}

impl Bystander {
    pub async fn start(server: &Server) -> Self {
        let mut client = WsClient::connect_ready(server, "", 2).await;
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut report = BystanderReport {
                    pings: 0,
                    slowest: Duration::ZERO,
                };
                while !stop.load(Relaxed) {
                    let id = report.pings;
                    let sent = Instant::now();
                    client.send(json!({"type": "ping", "id": id})).await;
                    loop {
                        let message = client.recv().await;
                        if message["type"] == "pong" && message["id"] == id {
                            break;
                        }
                    }
                    report.slowest = report.slowest.max(sent.elapsed());
                    report.pings += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                report
            }
        });
        Self { stop, task }
    }

    /// Stops pinging; what it saw (panics if it was disconnected or went unanswered).
    pub async fn finish(self) -> BystanderReport {
        self.stop.store(true, Relaxed);
        self.task
            .await
            .expect("the bystander was answered throughout")
    }
}
