//! switchboard-bench: a load generator that drives the real `switchboard` binary, and
//! peers such as Node's `ws`, from a separate process over loopback, and reports server
//! memory per idle connection and fan-out throughput and latency.
//!
//! # Layout
//! - [`dialect`]: the hub protocol and Socket.IO's packets, read and written alike.
//! - [`wire`]: a minimal WebSocket client (handshake, in-place frame parsing, masked writes),
//!   so the load generator spends as little of the shared CPU as possible.
//! - [`target`]: the servers under test, started as child processes; their RSS.
//! - [`idle`]: memory per idle connection, `(RSS_N − RSS_0) / N`.
//! - [`fanout`]: one publisher, S subscribers, deliveries per second, loss and latency.
//! - [`report`]: the text table, the ratios against a peer, and JSON.
//!
//! The scenarios take an address and a pid rather than starting servers themselves, so
//! the smoke test can run them against an in-process server in a few seconds.

pub mod dialect;
pub mod fanout;
pub mod idle;
pub mod report;
pub mod target;
pub mod wire;

/// Everything that can go wrong in a bench run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("WebSocket handshake refused: {0}")]
    Handshake(String),
    #[error("bad WebSocket frame: {0}")]
    Frame(String),
    #[error("unexpected message: {0}")]
    Protocol(String),
    #[error("server under test: {0}")]
    Server(String),
    #[error("limit: {0}")]
    Limit(String),
    #[error("timed out: {0}")]
    Timeout(&'static str),
    #[error("{0}")]
    Internal(String),
}
