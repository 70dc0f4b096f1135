//! The one connection lifecycle every streaming transport (`/ws`, `/ws/echo`, `/sse`, raw
//! TCP) goes through: open with announced timings, keep alive, bound every write, close
//! with a notice, linger, and say why it ended. A transport only adapts bytes: its own
//! framing for a heartbeat, a close notice and a message.
//!
//! What every transport gets by construction:
//! - **Opening** ([`open`]): `welcome` announces the same [`Keepalive`] the connection is
//!   then held to (its heartbeat already floored at `MIN_HEARTBEAT`, 10 ms).
//! - **Heartbeats and idle culling** without a timer per connection: one [`ticker`] task
//!   per server wakes every connection of a kind each heartbeat (hub connections through
//!   their outbox waker, bare ones through a shared tick); a woken connection asks its
//!   [`KeepaliveClock`] what is [`Due`]: a heartbeat in its own framing, or a close with
//!   4000 once nothing arrived within `idle_timeout` (noticed within `idle_timeout +
//!   heartbeat`). The ticker starts with the transport routes ([`super::routes`]), so a
//!   router built from any [`AppState`](crate::app::AppState) has it.
//! - **Write timeouts**: a write the client does not take within
//!   [`Keepalive::write_timeout`] closes it as a slow consumer (4001), counted once
//!   ([`cut_slow_consumer`]).
//! - **Close notice and linger**: the notice is bounded by [`Keepalive::close_within`];
//!   after it, [`linger`] discards input for at most `CLOSE_LINGER` (1 s) so a TCP reset
//!   does not destroy it.
//! - **End reason**: one [`EndReason`] for logs and tests.
//!
//! Polling transports have no connection to keep alive between requests; their session
//! grace period is their idle cull (see `poll`).

mod closing;
mod keepalive;
pub(crate) mod ticker;

use std::sync::Arc;

use switchboard_hub::{Connection, Hub, InitialSubscription};

pub(crate) use self::{
    closing::{CLOSE_NOTICE_TIMEOUT, EndReason, cut_slow_consumer, linger},
    keepalive::{Due, Keepalive, KeepaliveClock, Wake, next_wake},
};

/// Opens a connection the transport has just registered with [`Hub::connect`]: queues
/// `welcome` announcing `keepalive`, then the initial subscriptions.
pub(crate) async fn open(
    hub: &Hub,
    connection: &Arc<Connection>,
    channels: Option<Vec<InitialSubscription>>,
    keepalive: &Keepalive,
) {
    hub.open(connection, channels, keepalive.timings()).await;
}

/// As [`open`], for a connection whose later requests arrive apart from its stream (SSE):
/// `welcome` also carries the secret `session_token` those requests must show.
pub(crate) async fn open_session(
    hub: &Hub,
    connection: &Arc<Connection>,
    channels: Option<Vec<InitialSubscription>>,
    keepalive: &Keepalive,
    session_token: String,
) {
    hub.open_session(
        connection,
        channels,
        keepalive.timings(),
        Some(session_token),
    )
    .await;
}
