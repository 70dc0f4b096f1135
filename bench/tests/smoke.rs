//! Smoke test of the bench harness, so it cannot rot: both scenarios run, with tiny
//! counts, against an in-process switchboard server on 127.0.0.1 port 0, and must count
//! exactly what was sent, with nothing lost and nothing out of order.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use switchboard_bench::{
    fanout::{self, FanoutOptions},
    idle::{self, IdleOptions},
    report::Report,
    target::TargetKind,
};
use switchboard_server::{Server, ServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_counts_every_delivery_in_order() {
    let server = Server::start(ServerConfig::ephemeral()).await.unwrap();
    let options = FanoutOptions {
        subscribers: 20,
        messages: 10,
        payload_bytes: 64,
        window: 4,
        batch: 2,
        rate: None,
        concurrency: 5,
        time_limit: Duration::from_secs(10),
    };
    let result = fanout::run(TargetKind::Switchboard, server.http_addr(), None, &options)
        .await
        .unwrap();
    assert_eq!(result.subscribers, 20);
    assert_eq!(result.published, 10);
    assert_eq!(result.deliveries, 200, "{result:?}");
    assert_eq!((result.lost, result.gaps), (0, 0), "{result:?}");
    assert_eq!(result.subscribers_closed, 0);
    assert_eq!(result.publisher_errors, 0);
    assert!(
        result.delivered_frame_bytes > 64,
        "the envelope wraps the 64-byte data"
    );
    assert!(result.deliveries_per_second > 0.0);
    assert!(result.bench_cpu_seconds.is_some() && result.server_cpu_seconds.is_none());
    assert!(result.latency.p50_us >= 1 && result.latency.max_us >= result.latency.p50_us);

    // Paced: 10 messages at 100 per second take about 0.1 s, all delivered in order.
    let paced = FanoutOptions {
        rate: Some(100.0),
        ..options
    };
    let result = fanout::run(TargetKind::Switchboard, server.http_addr(), None, &paced)
        .await
        .unwrap();
    assert_eq!(
        (result.deliveries, result.lost, result.gaps),
        (200, 0, 0),
        "{result:?}"
    );
    assert!(result.seconds >= 0.08, "paced, not burst: {result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_opened_and_measured() {
    let server = Server::start(ServerConfig::ephemeral()).await.unwrap();
    let options = IdleOptions {
        connections: 20,
        concurrency: 5,
        settle: Duration::from_millis(300),
    };
    // The server runs in this process, so this process's RSS stands in for it. The
    // figures must be this process's resident memory, read here independently before
    // and after (in bytes, not kB; resident, not virtual).
    let pid = std::process::id();
    let before = vm_rss_bytes(pid);
    let hub = idle::run(TargetKind::Switchboard, server.http_addr(), pid, &options)
        .await
        .unwrap();
    let after = vm_rss_bytes(pid);
    assert_eq!((hub.connections, hub.failed), (20, 0), "{hub:?}");
    let plausible = before / 2..after * 2;
    assert!(
        plausible.contains(&hub.rss_empty_bytes) && plausible.contains(&hub.rss_loaded_bytes),
        "RSS {hub:?} is not this process's ({before}..{after} bytes)"
    );
    let echo = idle::run(
        TargetKind::SwitchboardEcho,
        server.http_addr(),
        pid,
        &options,
    )
    .await
    .unwrap();
    assert_eq!((echo.connections, echo.failed), (20, 0), "{echo:?}");

    let mut report = Report::new(Vec::new());
    report.idle = vec![hub, echo];
    report.compute_ratios();
    assert_eq!(report.ratios.len(), 1);
    assert_eq!(report.ratios[0].peer, "switchboard-echo");
    let table = report.to_table();
    assert!(table.contains("switchboard-echo"), "{table}");
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["idle"][0]["connections"], 20);
    assert!(json["machine"]["cpus"].as_u64().unwrap() >= 1);
    assert!(json["started_unix_seconds"].as_u64().unwrap() > 0);
}

/// `VmRSS` of `pid` in bytes, read here rather than through the bench's own reader.
fn vm_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB")?.trim().parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}

/// Kills and reaps the child when dropped, so a failing test leaves no process behind.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The bench measures the process it is told to: pointed at a small child process, it
/// reports that child's memory, not its own (which is many times larger).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_memory_is_read_from_the_process_named() {
    let server = Server::start(ServerConfig::ephemeral()).await.unwrap();
    let child = KillOnDrop(
        std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep"),
    );
    let child_pid = child.0.id();
    let options = IdleOptions {
        connections: 2,
        concurrency: 2,
        settle: Duration::from_millis(50),
    };
    let report = idle::run(
        TargetKind::Switchboard,
        server.http_addr(),
        child_pid,
        &options,
    )
    .await
    .unwrap();
    let child_rss = vm_rss_bytes(child_pid);
    let own_rss = vm_rss_bytes(std::process::id());
    assert!(
        child_rss * 2 < own_rss,
        "the test needs a child much smaller than itself: {child_rss} vs {own_rss}"
    );
    for measured in [report.rss_empty_bytes, report.rss_loaded_bytes] {
        assert!(
            (child_rss / 2..child_rss * 2).contains(&measured),
            "measured {measured} bytes, the child has {child_rss} (this process {own_rss})"
        );
    }
    drop(child);
}
