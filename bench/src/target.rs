//! The servers under test: `switchboard` (its hub at `/ws` and its bare echo at
//! `/ws/echo`) and peers such as a Node `ws` broadcast server, each started as a child
//! process on 127.0.0.1 with a free port, so its memory is its own and is read from
//! `/proc/<pid>/status`.
//!
//! Every server prints `... listening on http://ADDR` on stdout; the bench waits for that
//! line (bounded by [`STARTUP_TIMEOUT`]), then keeps draining stdout so a chatty server
//! never blocks on a full pipe. The child is killed when its [`ServerProcess`] is dropped,
//! so an aborted run leaves nothing behind.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use serde::Serialize;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use crate::BenchError;

/// How long a server may take to print its listening line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
/// How often RSS is sampled while waiting for it to settle.
const SETTLE_SAMPLE: Duration = Duration::from_millis(250);
/// RSS is settled when two samples a [`SETTLE_SAMPLE`] apart differ by less than this.
const SETTLE_TOLERANCE_BYTES: u64 = 64 * 1024;

/// Which server, and which endpoint of it, a scenario drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// switchboard's hub over WebSocket (`/ws`).
    Switchboard,
    /// switchboard's bare echo (`/ws/echo`): no hub, the transport's own cost.
    SwitchboardEcho,
    /// `bench/peers/ws-broadcast.js` on Node's `ws` (the same protocol subset at `/ws`).
    NodeWs,
    /// `bench/peers/socketio-broadcast.js` on Socket.IO 4 (the same messages as events).
    #[value(name = "socketio")]
    #[serde(rename = "socketio")]
    SocketIo,
}

impl TargetKind {
    /// The target's name in reports and on the command line (`switchboard`,
    /// `switchboard-echo`, `node-ws`, `socketio`).
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Switchboard => "switchboard",
            TargetKind::SwitchboardEcho => "switchboard-echo",
            TargetKind::NodeWs => "node-ws",
            TargetKind::SocketIo => "socketio",
        }
    }

    /// The path a client connects to, joining `channel` where the target has channels.
    pub fn path(self, channel: &str) -> String {
        match self {
            TargetKind::Switchboard | TargetKind::NodeWs => format!("/ws?channels={channel}"),
            TargetKind::SwitchboardEcho => "/ws/echo".to_owned(),
            TargetKind::SocketIo => {
                format!("/socket.io/?EIO=4&transport=websocket&channels={channel}")
            }
        }
    }

    /// True for targets that speak the hub protocol (welcome, subscribed, publish).
    pub fn is_hub(self) -> bool {
        !matches!(self, TargetKind::SwitchboardEcho)
    }
}

/// Where to find the programs that serve each target.
#[derive(Debug, Clone)]
pub struct Programs {
    /// The `switchboard` binary (normally `target/release/switchboard`).
    pub switchboard: PathBuf,
    /// Extra `switchboard serve` flags (e.g. `--ws-read-buffer 512`).
    pub switchboard_args: Vec<String>,
    /// The `node` executable.
    pub node: PathBuf,
    /// The peer script (normally `bench/peers/ws-broadcast.js`).
    pub node_ws_script: PathBuf,
    /// The Socket.IO peer script (normally `bench/peers/socketio-broadcast.js`).
    pub socketio_script: PathBuf,
}

/// A running server under test.
pub struct ServerProcess {
    child: Child,
    /// The address it listens on (127.0.0.1 and the port it reported).
    pub addr: SocketAddr,
    /// Its process id, for reading its RSS and CPU time from `/proc`.
    pub pid: u32,
}

impl ServerProcess {
    /// Starts the program behind `kind` on a free port and waits until it listens.
    pub async fn start(kind: TargetKind, programs: &Programs) -> Result<Self, BenchError> {
        let mut command = match kind {
            TargetKind::Switchboard | TargetKind::SwitchboardEcho => {
                let mut command = Command::new(&programs.switchboard);
                command
                    .args([
                        "--log",
                        "warn",
                        "serve",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        "0",
                    ])
                    // Every listener on a free port (raw TCP defaults to 1234).
                    .args(["--tcp-port", "0"])
                    // Every benchmark client dials from 127.0.0.1: the idle scenario
                    // alone opens 10,000 connections from it.
                    .args(["--max-connections-per-addr", "0"])
                    .args(&programs.switchboard_args);
                command
            }
            TargetKind::NodeWs | TargetKind::SocketIo => {
                let script = if kind == TargetKind::NodeWs {
                    &programs.node_ws_script
                } else {
                    &programs.socketio_script
                };
                let mut command = Command::new(&programs.node);
                command.arg(script).args(["--port", "0"]);
                command
            }
        };
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|err| BenchError::Server(format!("cannot start {}: {err}", kind.name())))?;
        let pid = child
            .id()
            .ok_or_else(|| BenchError::Server(format!("{} exited at once", kind.name())))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::Server("no stdout pipe".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(STARTUP_TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some((_, rest)) = line.split_once("listening on http://") {
                    let addr = rest.trim().trim_end_matches('/');
                    return addr
                        .parse::<SocketAddr>()
                        .map_err(|err| BenchError::Server(format!("bad address {addr:?}: {err}")));
                }
            }
            Err(BenchError::Server(format!(
                "{} exited before listening",
                kind.name()
            )))
        })
        .await
        .map_err(|_| BenchError::Server(format!("{} did not start in time", kind.name())))??;
        // Keep draining stdout so the child never blocks writing to it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, addr, pid })
    }

    /// Stops the server (SIGKILL: nothing of it is measured after this).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A `Name:   1234 kB` field of a `/proc` text file (`status`, `meminfo`), in bytes.
pub fn proc_kib_field(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
}

/// Resident memory of `pid` in bytes (`VmRSS` in `/proc/<pid>/status`).
pub fn rss_bytes(pid: u32) -> Result<u64, BenchError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    proc_kib_field(&status, "VmRSS")
        .ok_or_else(|| BenchError::Server(format!("no VmRSS for pid {pid}")))
}

/// Waits until the RSS of `pid` stops moving (or `limit` passes) and returns it.
pub async fn settled_rss(pid: u32, limit: Duration) -> Result<u64, BenchError> {
    let deadline = Instant::now() + limit;
    let mut last = rss_bytes(pid)?;
    loop {
        tokio::time::sleep(SETTLE_SAMPLE).await;
        let now = rss_bytes(pid)?;
        if now.abs_diff(last) < SETTLE_TOLERANCE_BYTES || Instant::now() >= deadline {
            return Ok(now);
        }
        last = now;
    }
}

/// The soft limit on open files of this process (`Max open files` in `/proc/self/limits`).
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// CPU time (user + system) `pid` has used so far, in seconds: fields 14 and 15 of
/// `/proc/<pid>/stat`, in clock ticks of 1/100 s (`USER_HZ` is 100 on every Linux ABI).
pub fn cpu_seconds(pid: u32) -> Result<f64, BenchError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may contain spaces; fields after it follow its `)`.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => Ok((user + system) as f64 / 100.0),
        _ => Err(BenchError::Server(format!("no CPU times for pid {pid}"))),
    }
}

/// The 1-minute load average, to show how busy the machine was around a run.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod proc_tests {
    use super::proc_kib_field;

    #[test]
    fn reads_kib_fields_as_bytes() {
        let status = "Name:\tswitchboard\nVmRSS:\t   9876 kB\nVmRSSx:\t1 kB\n";
        assert_eq!(proc_kib_field(status, "VmRSS"), Some(9876 * 1024));
        assert_eq!(
            proc_kib_field("MemTotal:       24576 kB\n", "MemTotal"),
            Some(24576 * 1024)
        );
        assert_eq!(proc_kib_field(status, "VmHWM"), None);
    }
}
