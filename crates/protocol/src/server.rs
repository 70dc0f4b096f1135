//! Messages the server sends, as owned types a client can parse.
//!
//! The server renders the hot-path channel messages through [`crate::delivery`] (borrowed,
//! serialized once per publish); everything else it builds from these types. A test
//! checks that both forms produce the same JSON.

use serde::{Deserialize, Serialize};

use crate::client::RequestId;

/// The transports a connection can use, as named on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Websocket,
    Sse,
    LongPoll,
    ShortPoll,
    Tcp,
}

impl Transport {
    pub const ALL: [Transport; 5] = [
        Transport::Websocket,
        Transport::Sse,
        Transport::LongPoll,
        Transport::ShortPoll,
        Transport::Tcp,
    ];

    /// The wire name (`websocket`, `sse`, `long_poll`, `short_poll`, `tcp`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Transport::Websocket => "websocket",
            Transport::Sse => "sse",
            Transport::LongPoll => "long_poll",
            Transport::ShortPoll => "short_poll",
            Transport::Tcp => "tcp",
        }
    }

    /// A dense index, for per-transport counter arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a subscriber did not get every message since its `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    /// The missed messages are older than the channel's history keeps.
    HistoryExceeded,
    /// The hub restarted (new epoch): sequence numbers start over and history is gone.
    EpochChanged,
}

/// Limits in force, announced in `welcome`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_channel_name_bytes: usize,
    pub max_subscriptions: usize,
    pub history_size: usize,
    pub history_ttl_ms: u64,
    pub queue_messages: usize,
    pub queue_bytes: usize,
}

/// A member of a channel, as listed by `presence` and announced by `join` / `leave`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub connection_id: String,
    pub transport: Transport,
}

/// Connection counts per transport.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransportCounts {
    pub websocket: u64,
    pub sse: u64,
    pub long_poll: u64,
    pub short_poll: u64,
    pub tcp: u64,
}

impl TransportCounts {
    pub fn get(&self, transport: Transport) -> u64 {
        match transport {
            Transport::Websocket => self.websocket,
            Transport::Sse => self.sse,
            Transport::LongPoll => self.long_poll,
            Transport::ShortPoll => self.short_poll,
            Transport::Tcp => self.tcp,
        }
    }

    pub fn get_mut(&mut self, transport: Transport) -> &mut u64 {
        match transport {
            Transport::Websocket => &mut self.websocket,
            Transport::Sse => &mut self.sse,
            Transport::LongPoll => &mut self.long_poll,
            Transport::ShortPoll => &mut self.short_poll,
            Transport::Tcp => &mut self.tcp,
        }
    }

    pub fn total(&self) -> u64 {
        Transport::ALL.iter().map(|t| self.get(*t)).sum()
    }
}

/// One channel's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelStats {
    pub name: String,
    pub subscribers: u64,
    /// The last sequence number assigned (= messages published in this epoch).
    pub last_seq: u64,
    /// Messages currently kept in history.
    pub history: u64,
}

/// Server-wide figures, as in `stats` and `GET /api/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerStats {
    pub version: String,
    pub epoch: String,
    pub uptime_ms: u64,
    /// Open connections per transport.
    pub connections: TransportCounts,
    /// Connections accepted since start, per transport.
    pub connections_accepted: TransportCounts,
    /// Client messages received (all transports).
    pub messages_in: u64,
    /// Messages queued to clients (deliveries, replies and errors).
    pub messages_out: u64,
    /// `error` messages sent.
    pub errors_out: u64,
    /// Connections closed because their outbound queue overflowed.
    pub slow_consumer_disconnects: u64,
    /// Channels that exist (`channels` lists only the busiest few).
    #[serde(default)]
    pub channel_count: u64,
    /// Messages kept in history, over every channel.
    #[serde(default)]
    pub history_messages: u64,
    /// Bytes counted against the hub's history budget (`--history-max-bytes`).
    #[serde(default)]
    pub history_bytes: u64,
    /// At most 100 channels: those with the most subscribers first (ties by name), then
    /// others if there is room.
    pub channels: Vec<ChannelStats>,
}

/// One connection's own figures, as in `stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientStats {
    pub connection_id: String,
    pub transport: Transport,
    pub connected_ms: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub subscriptions: Vec<String>,
}

/// Every message the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message on every connection.
    Welcome {
        connection_id: String,
        server: String,
        version: String,
        protocol: u32,
        epoch: String,
        transport: Transport,
        heartbeat_interval_ms: u64,
        idle_timeout_ms: u64,
        limits: Limits,
        ts: u64,
    },
    /// A chat line delivered from a channel.
    Chat {
        channel: String,
        seq: u64,
        ts: u64,
        user: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    /// A broadcast, delivered from the `broadcast` channel every connection is on.
    Broadcast {
        channel: String,
        seq: u64,
        ts: u64,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    /// A `publish`ed message (or a server feed's) delivered from a channel.
    Message {
        channel: String,
        seq: u64,
        ts: u64,
        data: serde_json::Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    /// A connection joined a channel (sent to subscribers that asked for presence).
    Join {
        channel: String,
        ts: u64,
        member: Member,
    },
    /// A connection left a channel (sent to subscribers that asked for presence).
    Leave {
        channel: String,
        ts: u64,
        member: Member,
    },
    Pong {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        ts: u64,
    },
    Stats {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        ts: u64,
        /// Boxed: the largest payload of any message, it would otherwise set the size of
        /// every `ServerMessage` (and of every future that holds one).
        server: Box<ServerStats>,
        client: ClientStats,
    },
    /// Answer to `subscribe`; the recovered messages (if any) follow it, in order.
    Subscribed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        channel: String,
        epoch: String,
        /// The channel's last sequence number when the subscription took effect.
        seq: u64,
        /// True when every message after `since` follows (nothing was lost).
        resumed: bool,
        /// How many missed messages follow.
        recovered: u64,
    },
    /// Messages after `since` that can no longer be delivered; sent right after `subscribed`.
    Gap {
        channel: String,
        epoch: String,
        /// First missing sequence number (in the client's epoch when `reason` is `epoch_changed`).
        from: u64,
        /// Last missing sequence number, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<u64>,
        reason: GapReason,
    },
    Unsubscribed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        channel: String,
    },
    /// Answer to a `publish`, `chat` or `broadcast` that carried an `id`.
    Ack {
        id: RequestId,
        channel: String,
        seq: u64,
        ts: u64,
    },
    Presence {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        channel: String,
        members: Vec<Member>,
    },
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        code: u16,
        error: String,
        message: String,
    },
    /// Keepalive on transports without a ping frame of their own (raw TCP).
    Heartbeat { ts: u64 },
    /// The last message before the server closes a transport that has no close frame of
    /// its own (raw TCP): `code` is a [`crate::CloseCode`] number, `reason` its text.
    Close { code: u16, reason: String, ts: u64 },
}

impl ServerMessage {
    /// The `type` string of this message.
    pub fn kind(&self) -> &'static str {
        match self {
            ServerMessage::Welcome { .. } => "welcome",
            ServerMessage::Chat { .. } => "chat",
            ServerMessage::Broadcast { .. } => "broadcast",
            ServerMessage::Message { .. } => "message",
            ServerMessage::Join { .. } => "join",
            ServerMessage::Leave { .. } => "leave",
            ServerMessage::Pong { .. } => "pong",
            ServerMessage::Stats { .. } => "stats",
            ServerMessage::Subscribed { .. } => "subscribed",
            ServerMessage::Gap { .. } => "gap",
            ServerMessage::Unsubscribed { .. } => "unsubscribed",
            ServerMessage::Ack { .. } => "ack",
            ServerMessage::Presence { .. } => "presence",
            ServerMessage::Error { .. } => "error",
            ServerMessage::Heartbeat { .. } => "heartbeat",
            ServerMessage::Close { .. } => "close",
        }
    }

    /// `(channel, seq)` for messages delivered from a channel's sequence.
    pub fn channel_seq(&self) -> Option<(&str, u64)> {
        match self {
            ServerMessage::Chat { channel, seq, .. }
            | ServerMessage::Broadcast { channel, seq, .. }
            | ServerMessage::Message { channel, seq, .. } => Some((channel, *seq)),
            _ => None,
        }
    }

    /// The final notice for a close with `code`.
    pub fn close(code: crate::CloseCode) -> Self {
        ServerMessage::Close {
            code: code.code(),
            reason: code.reason().to_owned(),
            ts: crate::now_ms(),
        }
    }

    pub fn from_error(err: &crate::ProtocolError) -> Self {
        ServerMessage::Error {
            id: err.id.clone(),
            code: err.code.code(),
            error: err.code.name().to_owned(),
            message: err.message.clone(),
        }
    }

    /// Serializes to JSON text. Serializing these types cannot fail (no maps with
    /// non-string keys, no floats that JSON cannot hold).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"type":"error","code":301,"error":"internal","message":"{e}"}}"#)
        })
    }
}
