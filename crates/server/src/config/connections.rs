//! Connection limits at the edge: how many sockets the server holds (in all, and per
//! client address) and how long an HTTP connection may take over each step of a request.
//! Each default is a named constant with its reason; [`ConnectionsConfig`] collects them.

use std::time::Duration;

/// Open connections at most, on every listener together (HTTP, its WebSockets and event
/// streams, and raw TCP): each holds a file descriptor, and the process may hold 20,000
/// (`ulimit -n` on the machines this was written for). 15,000 leaves 5,000 for the
/// connection simulator's client ends (2,000 at most), outbound feed requests and the
/// listeners themselves, so the server refuses with a clear answer before the kernel
/// refuses with `EMFILE`. Lower it to sit below a smaller file limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 15_000;
/// Open connections one client address may hold (0: no per-address cap, for a server
/// behind a reverse proxy, where every client has the proxy's address): room for the
/// connection simulator's 2,000 loopback connections and a few hundred tabs behind one
/// NAT, while one address can take at most a sixth of [`DEFAULT_MAX_CONNECTIONS`].
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDR: usize = 2_500;
/// Connections past a cap that are still read, at once, to be answered (`/healthz`
/// gets its real answer, anything else 503 or 429 with an `error` body) rather than
/// dropped unanswered. A handful is enough for a load balancer's health checks; past
/// it a refused connection is closed without a word.
pub const OVER_CAP_ANSWERS: usize = 32;
/// Time a new HTTP connection has to deliver its first request head. A browser sends a
/// head in one packet; 10 s covers a slow mobile link and bounds how long a client that
/// drips its headers (slowloris) holds a connection slot.
pub const DEFAULT_HTTP_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a persistent HTTP connection may sit idle after a response before its next
/// request head has fully arrived: long enough for a page's follow-up requests and a
/// polling client's next poll, short enough that idle sockets give their slot back.
pub const DEFAULT_HTTP_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(30);
/// Time a request body has, from the end of its head, to arrive in full; past it the
/// request is answered 408 and the connection closed. The largest body (80 KiB by
/// default) then needs 8 KiB/s, which any real client exceeds.
pub const DEFAULT_HTTP_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// An HTTP response (or event stream) the client takes none of for this long is cut and
/// its memory freed: as for raw TCP's write timeout, a reader that stopped reading.
/// WebSockets keep their own rule (a stuck write for `ws.idle_timeout` closes with 4001).
pub const DEFAULT_HTTP_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connection caps and HTTP timeouts.
#[derive(Debug, Clone)]
pub struct ConnectionsConfig {
    /// Open connections at most, HTTP and raw TCP together; past it HTTP answers 503
    /// (302 `server_full`) and raw TCP sends that error and closes. Must not be 0.
    /// Default [`DEFAULT_MAX_CONNECTIONS`] (15,000): under the process's 20,000 file
    /// descriptors, so the server refuses clearly before the kernel refuses with `EMFILE`.
    pub max: usize,
    /// Open connections per client address (0: no cap, for a server behind a reverse
    /// proxy); past it HTTP answers 429 (207 `too_many_connections`), raw TCP sends that
    /// error and closes. Default [`DEFAULT_MAX_CONNECTIONS_PER_ADDR`] (2,500): the
    /// connection simulator's 2,000 plus a few hundred tabs behind one NAT.
    pub max_per_addr: usize,
    /// Time a new HTTP connection has to deliver its first request head; past it the
    /// connection is closed. Must be positive. Default [`DEFAULT_HTTP_HEADER_TIMEOUT`]
    /// (10 s): a slow mobile link sends a head well within it, a slowloris client holds
    /// its slot no longer.
    pub http_header_timeout: Duration,
    /// Time a persistent HTTP connection may sit idle after a response until its next
    /// request head has arrived; past it the connection is closed. Must be positive.
    /// Default [`DEFAULT_HTTP_KEEPALIVE_TIMEOUT`] (30 s): a page's follow-up requests and
    /// a poller's next poll fit, idle sockets give their slot back.
    pub http_keepalive_timeout: Duration,
    /// Time a request body has, from the end of its head, to arrive in full; past it the
    /// request is answered 408 with `error` 208 and the connection closed. Must be
    /// positive. Default [`DEFAULT_HTTP_BODY_TIMEOUT`] (10 s): the largest body (80 KiB)
    /// then needs 8 KiB/s.
    pub http_body_timeout: Duration,
    /// An HTTP response or event stream the client takes nothing of for this long is cut
    /// and its memory freed (WebSockets keep their own rule, `ws.idle_timeout`). Must be
    /// positive. Default [`DEFAULT_HTTP_WRITE_TIMEOUT`] (10 s).
    pub http_write_timeout: Duration,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        Self {
            max: DEFAULT_MAX_CONNECTIONS,
            max_per_addr: DEFAULT_MAX_CONNECTIONS_PER_ADDR,
            http_header_timeout: DEFAULT_HTTP_HEADER_TIMEOUT,
            http_keepalive_timeout: DEFAULT_HTTP_KEEPALIVE_TIMEOUT,
            http_body_timeout: DEFAULT_HTTP_BODY_TIMEOUT,
            http_write_timeout: DEFAULT_HTTP_WRITE_TIMEOUT,
        }
    }
}
