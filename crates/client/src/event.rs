//! What the application hears from a client: protocol messages (deduplicated, in order
//! per channel) and the connection's own life (connected, fell back, lost, gap...).

use std::time::Duration;

use switchboard_protocol::{
    ServerMessage,
    server::{GapReason, Transport},
};

/// One thing that happened, in the order it happened.
// Messages are nearly every event: boxing them to shrink the rare lifecycle variants
// would add an allocation per message and stop callers matching on them directly.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// A message from the server (channel messages exactly once, in `seq` order).
    Message(ServerMessage),
    /// A session is established (first connect, reconnect, or a transport change).
    Connected {
        /// The transport the session runs on.
        transport: Transport,
        /// The id the server gave this connection in `welcome` (new on every connect).
        connection_id: String,
        /// The hub's epoch from `welcome`.
        epoch: String,
        /// Why this transport: what was tried before it and how each attempt failed.
        reason: String,
    },
    /// The connection was lost; a reconnect follows when enabled.
    Disconnected {
        /// What ended the link, in words (with the server's close code and reason when
        /// it sent a close frame).
        reason: String,
    },
    /// Waiting before the next connection attempt.
    Reconnecting {
        /// Which attempt this is since the connection was lost, starting at 1.
        attempt: u32,
        /// How long the client waits before trying: random, up to the backoff cap.
        delay: Duration,
    },
    /// The server restarted (or another hub answered): sequence numbers started over.
    EpochChanged {
        /// The epoch of the previous connection.
        old: String,
        /// The epoch the new connection's `welcome` announced.
        new: String,
    },
    /// Messages `from..=to` on `channel` cannot be recovered.
    Gap {
        /// The channel with the hole.
        channel: String,
        /// The first lost `seq` (in the old epoch when `reason` is `epoch_changed`).
        from: u64,
        /// The last lost `seq`, inclusive; `None` when the epoch changed.
        to: Option<u64>,
        /// Why the messages are lost.
        reason: GapReason,
    },
    /// The client gave up reconnecting, or was closed; no more events follow.
    Closed {
        /// Why, in words (closed by the application, attempts exhausted, or a close code
        /// that says reconnecting would not help).
        reason: String,
    },
}
