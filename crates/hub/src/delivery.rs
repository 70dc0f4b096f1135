//! A rendered server message, shared (not copied) by every connection it goes to.

use std::sync::Arc;

use bytes::Bytes;
use switchboard_protocol::{ChannelName, ServerMessage};

/// A message ready for the wire: its JSON text, its `type`, and where it sits in a
/// channel's sequence (for SSE ids and poll cursors).
#[derive(Debug)]
pub struct Delivery {
    /// The message's `type` field (`message`, `chat`, `subscribed`, `join`…), known
    /// without parsing the JSON: transports use it as the SSE event name.
    pub kind: &'static str,
    /// Where the message sits in its channel's sequence; `None` for replies and events
    /// that are not part of any channel's sequence (`welcome`, `error`, `join`…).
    pub position: Option<Position>,
    /// UTF-8 JSON text (one object).
    pub json: Bytes,
}

/// A channel message's place in its channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The channel the message was published on.
    pub channel: ChannelName,
    /// Its sequence number in that channel, starting at 1 in each epoch.
    pub seq: u64,
}

impl Delivery {
    /// A reply or event that is not part of a channel's sequence.
    pub fn reply(message: &ServerMessage) -> Arc<Self> {
        Arc::new(Self {
            kind: message.kind(),
            position: None,
            json: Bytes::from(message.to_json()),
        })
    }

    /// The JSON as text. Every delivery is built from serde_json output, which is UTF-8.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.json).unwrap_or("")
    }

    /// Bytes this delivery counts against an outbox's byte limit.
    pub fn cost(&self) -> usize {
        self.json.len()
    }
}
