//! The idle-memory scenario: how much server memory one idle WebSocket connection costs.
//!
//! Method: read the server's settled RSS with no client, open N connections with at most
//! `concurrency` handshakes in flight (so the listen backlog is never overrun), let each
//! read what a new connection is sent (`welcome` and both `subscribed` on a hub; one echo
//! round trip on `/ws/echo`, which proves the server side is set up), keep only the bare
//! sockets, read the settled RSS again and report `(RSS_N − RSS_0) / N`.
//!
//! The load generator holds one file per connection; it checks its own open-files limit
//! before starting rather than failing half way.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use futures_util::{StreamExt, stream};
use serde::Serialize;
use tokio::net::TcpStream;

use crate::{
    BenchError,
    dialect::read_greeting,
    target::{TargetKind, open_files_limit, settled_rss},
    wire::{OP_TEXT, WsConn},
};

/// Files the bench keeps for itself besides connections (stdio, runtime, the server pipe).
const RESERVED_FILES: u64 = 64;
/// How long one connection may take to open and read its greeting.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// The channel idle hub connections join (besides `broadcast`).
const IDLE_CHANNEL: &str = "lobby";

/// How to run the scenario.
#[derive(Debug, Clone)]
pub struct IdleOptions {
    /// Connections to open (N); the process's open-files limit must allow them.
    pub connections: usize,
    /// Handshakes in flight at once.
    pub concurrency: usize,
    /// The longest wait for RSS to settle, before and after connecting.
    pub settle: Duration,
}

/// What the scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct IdleResult {
    /// The target's name ([`TargetKind::name`]).
    pub target: &'static str,
    /// Connections that opened and read their greeting (N in the figure below).
    pub connections: usize,
    /// Connections that failed or timed out while opening (the first error is logged).
    pub failed: usize,
    /// The server's settled RSS before any connection, in bytes.
    pub rss_empty_bytes: u64,
    /// The server's settled RSS with every connection open and idle, in bytes.
    pub rss_loaded_bytes: u64,
    /// `(rss_loaded_bytes − rss_empty_bytes) / connections`, in bytes (0 when no
    /// connection opened; may be negative if the server returned memory meanwhile).
    pub bytes_per_connection: f64,
    /// Time to open every connection and read its greeting, in seconds.
    pub connect_seconds: f64,
    /// `connections / connect_seconds`: the rate the server accepted connections at.
    pub connections_per_second: f64,
}

/// Opens `options.connections` idle connections to the server at `addr` (process `pid`).
pub async fn run(
    kind: TargetKind,
    addr: SocketAddr,
    pid: u32,
    options: &IdleOptions,
) -> Result<IdleResult, BenchError> {
    if let Some(limit) = open_files_limit()
        && options.connections as u64 + RESERVED_FILES > limit
    {
        return Err(BenchError::Limit(format!(
            "{} connections need more than this process's {limit} open files (raise `ulimit -n`)",
            options.connections
        )));
    }
    let rss_empty = settled_rss(pid, options.settle).await?;
    let started = Instant::now();
    let results: Vec<Result<TcpStream, BenchError>> = stream::iter(0..options.connections)
        .map(|_| async move {
            tokio::time::timeout(CONNECT_TIMEOUT, open_idle(kind, addr))
                .await
                .map_err(|_| BenchError::Timeout("connect and greeting"))?
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    let connect_seconds = started.elapsed().as_secs_f64();
    let mut sockets = Vec::with_capacity(results.len());
    let mut failed = 0;
    for result in results {
        match result {
            Ok(socket) => sockets.push(socket),
            Err(err) => {
                if failed == 0 {
                    tracing::warn!(target = kind.name(), %err, "an idle connection failed");
                }
                failed += 1;
            }
        }
    }
    let rss_loaded = settled_rss(pid, options.settle).await?;
    let open = sockets.len();
    drop(sockets);
    Ok(IdleResult {
        target: kind.name(),
        connections: open,
        failed,
        rss_empty_bytes: rss_empty,
        rss_loaded_bytes: rss_loaded,
        bytes_per_connection: if open == 0 {
            0.0
        } else {
            (rss_loaded as f64 - rss_empty as f64) / open as f64
        },
        connect_seconds,
        connections_per_second: open as f64 / connect_seconds.max(f64::EPSILON),
    })
}

/// Opens one connection and reads its greeting; returns the bare socket.
async fn open_idle(kind: TargetKind, addr: SocketAddr) -> Result<TcpStream, BenchError> {
    let mut conn = WsConn::connect(addr, &kind.path(IDLE_CHANNEL)).await?;
    if kind.is_hub() {
        read_greeting(kind, &mut conn, 2).await?;
    } else {
        conn.send_text(b"idle").await?;
        match conn.next_frame().await? {
            Some((OP_TEXT, b"idle")) => {}
            other => {
                return Err(BenchError::Protocol(format!(
                    "expected the echo, got {:?}",
                    other.map(|(op, p)| (op, String::from_utf8_lossy(p).into_owned()))
                )));
            }
        }
    }
    Ok(conn.into_stream())
}
