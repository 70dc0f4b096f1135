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
    /// A socket, pipe or file operation failed (connect, read, write, `/proc`).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The server did not answer the WebSocket upgrade with a valid `101` response, or
    /// its response headers were longer than the bench accepts.
    #[error("WebSocket handshake refused: {0}")]
    Handshake(String),
    /// The server sent a frame the bench's client does not accept: masked, fragmented or
    /// larger than [`wire::MAX_FRAME`].
    #[error("bad WebSocket frame: {0}")]
    Frame(String),
    /// A well-formed frame carried something other than what the scenario expected (a
    /// missing greeting, a wrong echo, no Engine.IO open packet).
    #[error("unexpected message: {0}")]
    Protocol(String),
    /// The server under test could not be started, did not start in time, or its
    /// process figures (RSS, CPU time) could not be read.
    #[error("server under test: {0}")]
    Server(String),
    /// The run would exceed a limit of this machine or process (such as open files);
    /// the text says which and how to raise it.
    #[error("limit: {0}")]
    Limit(String),
    /// A bounded wait expired; the text names what was being waited for.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// A failure of the bench itself (a task that panicked, a histogram that could not
    /// be built or merged), not of the server under test.
    #[error("{0}")]
    Internal(String),
}
