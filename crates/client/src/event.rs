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
        transport: Transport,
        connection_id: String,
        epoch: String,
        /// Why this transport: what was tried before it and how each attempt failed.
        reason: String,
    },
    /// The connection was lost; a reconnect follows when enabled.
    Disconnected { reason: String },
    /// Waiting before the next connection attempt.
    Reconnecting { attempt: u32, delay: Duration },
    /// The server restarted (or another hub answered): sequence numbers started over.
    EpochChanged { old: String, new: String },
    /// Messages `from..=to` on `channel` cannot be recovered.
    Gap {
        channel: String,
        from: u64,
        to: Option<u64>,
        reason: GapReason,
    },
    /// The client gave up reconnecting, or was closed; no more events follow.
    Closed { reason: String },
}
