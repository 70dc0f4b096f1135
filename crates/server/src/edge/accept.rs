//! The accept step every listener shares (HTTP and raw TCP): take the next connection
//! or stop at shutdown, and never spin on accept errors.
//!
//! Guarantees: a failed `accept` (the process out of file descriptors, say) waits
//! [`ACCEPT_ERROR_BACKOFF`] before the next attempt and is logged at most once a second
//! per listener ([`BurstLog`]), with the count it left out; an accepted socket has
//! `TCP_NODELAY` set (real-time messages are small: send them now, not coalesced).

use std::{net::SocketAddr, time::Duration};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::BurstLog;

/// After a failed `accept` wait this long before the next, so the loop does not spin
/// while the condition (no file descriptors left, say) lasts.
pub(crate) const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// The next accepted connection, or `None` once `shutdown` is cancelled. `listener_name`
/// (`HTTP`, `TCP`) names the listener in the log line about accept errors.
pub(crate) async fn next_connection(
    listener: &TcpListener,
    shutdown: &CancellationToken,
    errors: &BurstLog,
    listener_name: &'static str,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return None,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, remote)) => {
                let _ = stream.set_nodelay(true);
                return Some((stream, remote));
            }
            Err(err) => {
                if let Some(left_out) = errors.note() {
                    tracing::warn!(%err, left_out, backoff = ?ACCEPT_ERROR_BACKOFF, "{listener_name} accept failed; backing off");
                }
                tokio::select! {
                    () = shutdown.cancelled() => return None,
                    () = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => {}
                }
            }
        }
    }
}
