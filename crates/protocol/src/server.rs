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
    /// WebSocket on `GET /ws`: one JSON message per text frame, both ways.
    Websocket,
    /// Server-Sent Events on `GET /sse`, with client messages sent by `POST /sse/message`.
    Sse,
    /// Long polling on `POST /poll`: a poll is held until a message arrives or the poll
    /// timeout passes.
    LongPoll,
    /// Short polling on `POST /short-poll`: every poll is answered at once, possibly empty.
    ShortPoll,
    /// Raw TCP on its own listener: length-prefixed frames (see [`crate::frame`]).
    Tcp,
}

impl Transport {
    /// Every transport, in declaration order, so that `ALL[t.index()] == t`.
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
    /// The largest client message the server accepts, in bytes (64 KiB by default); a
    /// larger one is error 105, or close code 1009 on WebSocket and raw TCP.
    pub max_message_bytes: usize,
    /// The longest channel name, in bytes (128; see [`crate::channel`]).
    pub max_channel_name_bytes: usize,
    /// Subscriptions one connection may hold, `broadcast` included (128 by default);
    /// one more `subscribe` is error 110.
    pub max_subscriptions: usize,
    /// Messages each channel keeps for resume (1,000 by default); older ones are lost to
    /// a resuming client, which gets a `gap`.
    pub history_size: usize,
    /// How long a message stays in history, in milliseconds (300,000, 5 minutes, by
    /// default), whichever of this and `history_size` drops it first.
    pub history_ttl_ms: u64,
    /// Messages the connection's outbound queue holds (1,024 by default); a delivery
    /// that would overflow it closes the connection with 4001 (slow consumer).
    pub queue_messages: usize,
    /// Bytes of JSON the connection's outbound queue holds (1 MiB by default), bounded
    /// like `queue_messages`: whichever is reached first closes with 4001.
    pub queue_bytes: usize,
}

/// A member of a channel, as listed by `presence` and announced by `join` / `leave`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The member connection's id, as its own `welcome` announced it (a UUID).
    pub connection_id: String,
    /// The transport that connection uses.
    pub transport: Transport,
    /// The member's authenticated user (its auth token's `sub`); absent when anonymous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Public data about that user, from its token's `info` claim (any JSON); absent
    /// when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
}

/// Connection counts per transport (open now, or accepted since start, depending on
/// the field that holds them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransportCounts {
    /// Connections over WebSocket (`/ws`).
    pub websocket: u64,
    /// Connections over Server-Sent Events (`/sse`).
    pub sse: u64,
    /// Long-polling sessions (`/poll`).
    pub long_poll: u64,
    /// Short-polling sessions (`/short-poll`).
    pub short_poll: u64,
    /// Raw TCP connections.
    pub tcp: u64,
    /// Bare WebSocket echo connections (`/ws/echo`): sockets, not hub connections (no
    /// `welcome`, no channels), counted here so stats show every open socket. Absent
    /// from older servers' stats (read as 0).
    #[serde(default)]
    pub websocket_echo: u64,
}

impl TransportCounts {
    /// The count for `transport`.
    pub fn get(&self, transport: Transport) -> u64 {
        match transport {
            Transport::Websocket => self.websocket,
            Transport::Sse => self.sse,
            Transport::LongPoll => self.long_poll,
            Transport::ShortPoll => self.short_poll,
            Transport::Tcp => self.tcp,
        }
    }

    /// The count for `transport`, to add to.
    pub fn get_mut(&mut self, transport: Transport) -> &mut u64 {
        match transport {
            Transport::Websocket => &mut self.websocket,
            Transport::Sse => &mut self.sse,
            Transport::LongPoll => &mut self.long_poll,
            Transport::ShortPoll => &mut self.short_poll,
            Transport::Tcp => &mut self.tcp,
        }
    }

    /// The sum over every transport, `/ws/echo` included.
    pub fn total(&self) -> u64 {
        Transport::ALL.iter().map(|t| self.get(*t)).sum::<u64>() + self.websocket_echo
    }
}

/// One channel's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelStats {
    /// The channel's name.
    pub name: String,
    /// Connections subscribed to it right now, on this node.
    pub subscribers: u64,
    /// The last sequence number assigned (= messages published in this epoch).
    pub last_seq: u64,
    /// Messages currently kept in history (at most `limits.history_size`; expired ones
    /// are not counted).
    pub history: u64,
}

/// Server-wide figures, as in `stats` and `GET /api/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerStats {
    /// The server's version (its package version, e.g. `0.1.0`), as in `welcome`.
    pub version: String,
    /// The hub's epoch (12 hex digits), as in `welcome`.
    pub epoch: String,
    /// Time since the hub started, in milliseconds.
    pub uptime_ms: u64,
    /// Open connections per transport.
    pub connections: TransportCounts,
    /// Connections accepted since start, per transport.
    pub connections_accepted: TransportCounts,
    /// Client messages received since start, over every transport (counted before the
    /// rate limit and parsing, so dropped and malformed ones count too).
    pub messages_in: u64,
    /// Messages queued to clients since start: each delivery to each subscriber, and
    /// every reply and error.
    pub messages_out: u64,
    /// `error` messages sent since start.
    pub errors_out: u64,
    /// Connections closed since start because their outbound queue overflowed (4001).
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
    /// This connection's id, as in its `welcome`.
    pub connection_id: String,
    /// The transport this connection uses.
    pub transport: Transport,
    /// Time since this connection opened, in milliseconds.
    pub connected_ms: u64,
    /// Messages this connection has sent, the `get_stats` request included (counted like
    /// the server's `messages_in`).
    pub messages_in: u64,
    /// Messages queued to this connection so far (replies, errors, channel messages,
    /// presence events).
    pub messages_out: u64,
    /// The channels this connection is subscribed to, in the order it joined them
    /// (`broadcast` included).
    pub subscriptions: Vec<String>,
}

/// Every message the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message on every connection.
    Welcome {
        /// Public: other clients see it in `from`, presence and stats; it grants nothing.
        connection_id: String,
        /// Secret, on SSE and polling sessions only: the credential their later requests
        /// (`POST /sse/message`, polls, `/poll/message`, `/poll/close`) must carry. Only
        /// the session's owner receives it; WebSocket and TCP need none (the socket is it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_token: Option<String>,
        /// The authenticated user (the auth token's `sub`); absent on an anonymous
        /// connection. Chat `user` and presence entries of this connection carry it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        /// The server's name, always [`crate::SERVER_NAME`].
        server: String,
        /// The server's version (its package version, e.g. `0.1.0`).
        version: String,
        /// The protocol version, [`crate::PROTOCOL_VERSION`]; it changes only on
        /// incompatible changes.
        protocol: u32,
        /// The hub's epoch (12 hex digits), picked at start: sequence numbers and history
        /// belong to it, and a different one after a reconnect means the server restarted.
        epoch: String,
        /// The transport this connection uses.
        transport: Transport,
        /// How often the server sends a heartbeat on this transport, in milliseconds (at
        /// least 10 on a streaming transport); 0 when it sends none (polling).
        heartbeat_interval_ms: u64,
        /// How long the server waits without hearing from the client before it closes the
        /// connection with 4000 (for polling: drops the session unpolled that long), in
        /// milliseconds; 0 when there is none (SSE).
        idle_timeout_ms: u64,
        /// The limits in force for this connection.
        limits: Limits,
        /// When the server sent it (as the connection opened), in milliseconds since the
        /// Unix epoch.
        ts: u64,
    },
    /// A chat line delivered from a channel.
    Chat {
        /// The channel it was published to.
        channel: String,
        /// Its place in the channel: 1 for the channel's first message in this epoch,
        /// then exactly one more per message; every subscriber sees the same `seq`.
        seq: u64,
        /// When the server accepted it, in milliseconds since the Unix epoch.
        ts: u64,
        /// The name the sender chose, 1 to 64 characters (nothing checks who it is).
        user: String,
        /// The chat line.
        text: String,
        /// The id of the connection that sent it; absent when the server itself wrote it
        /// (a feed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    /// A broadcast, delivered from the `broadcast` channel every connection is on.
    Broadcast {
        /// Always `broadcast` ([`crate::BROADCAST_CHANNEL`]).
        channel: String,
        /// Its place in the channel: 1 for the channel's first message in this epoch,
        /// then exactly one more per message; every subscriber sees the same `seq`.
        seq: u64,
        /// When the server accepted it, in milliseconds since the Unix epoch.
        ts: u64,
        /// The text, for every connection.
        text: String,
        /// The id of the connection that sent it; absent when the server itself wrote it
        /// (a feed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    /// A `publish`ed message (or a server feed's) delivered from a channel.
    Message {
        /// The channel it was published to.
        channel: String,
        /// Its place in the channel: 1 for the channel's first message in this epoch,
        /// then exactly one more per message; every subscriber sees the same `seq`.
        seq: u64,
        /// When the server accepted it, in milliseconds since the Unix epoch.
        ts: u64,
        /// The published JSON value, exactly as the publisher sent it (any JSON type).
        data: serde_json::Value,
        /// The id of the connection that sent it; absent when the server itself wrote it
        /// (a feed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    /// A connection joined a channel: sent to the channel's subscribers that asked for
    /// presence, never to the member itself; not part of the channel's sequence.
    Join {
        /// The channel joined.
        channel: String,
        /// When it happened, in milliseconds since the Unix epoch.
        ts: u64,
        /// The connection that subscribed.
        member: Member,
    },
    /// A connection left a channel, or disconnected: sent like [`ServerMessage::Join`].
    Leave {
        /// The channel left.
        channel: String,
        /// When it happened, in milliseconds since the Unix epoch.
        ts: u64,
        /// The connection that unsubscribed or disconnected.
        member: Member,
    },
    /// Answer to `ping`, sent at once: the round trip through the hub.
    Pong {
        /// The request's `id`, echoed; absent when the request had none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// When the server answered, in milliseconds since the Unix epoch.
        ts: u64,
    },
    /// Answer to `custom` with action `get_stats`.
    Stats {
        /// The request's `id`, echoed; absent when the request had none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// When the figures were taken, in milliseconds since the Unix epoch.
        ts: u64,
        /// Server-wide figures, the same as `GET /api/stats`. Boxed: the largest payload
        /// of any message, it would otherwise set the size of every `ServerMessage` (and
        /// of every future that holds one).
        server: Box<ServerStats>,
        /// The asking connection's own figures.
        client: ClientStats,
    },
    /// Answer to `subscribe` (and sent unasked for each channel joined on connect); a
    /// `gap`, if anything is lost, then the recovered messages follow it, in order.
    Subscribed {
        /// The request's `id`, echoed; absent when the request had none (always absent
        /// for a channel joined on connect).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The channel joined.
        channel: String,
        /// The hub's current epoch, the one `seq` belongs to.
        epoch: String,
        /// The channel's last sequence number when the subscription took effect.
        seq: u64,
        /// True when every message after `since` follows (nothing was lost).
        resumed: bool,
        /// How many history messages follow (0 without `since`); they come before any
        /// live message.
        recovered: u64,
    },
    /// Messages after `since` that can no longer be delivered; sent right after `subscribed`.
    Gap {
        /// The channel concerned.
        channel: String,
        /// The hub's current epoch.
        epoch: String,
        /// First missing sequence number (in the client's epoch when `reason` is `epoch_changed`).
        from: u64,
        /// Last missing sequence number, inclusive; absent when `reason` is
        /// `epoch_changed` (the old epoch's last number is unknown to the new hub).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<u64>,
        /// Why the messages are lost.
        reason: GapReason,
    },
    /// Answer to `unsubscribe`.
    Unsubscribed {
        /// The request's `id`, echoed; absent when the request had none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The channel left.
        channel: String,
    },
    /// Answer to a `publish`, `chat` or `broadcast` that carried an `id`. It may arrive
    /// before or after the message itself when the sender is also a subscriber.
    Ack {
        /// The request's `id`, echoed.
        id: RequestId,
        /// The channel the message went to.
        channel: String,
        /// The `seq` the message was given, the same its subscribers see.
        seq: u64,
        /// The `ts` the message was given, in milliseconds since the Unix epoch.
        ts: u64,
    },
    /// Answer to `presence`: who is subscribed to the channel right now.
    Presence {
        /// The request's `id`, echoed; absent when the request had none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The channel asked about.
        channel: String,
        /// Its subscribers on this node (the asker too, when it is one); empty for a
        /// channel nobody is on.
        members: Vec<Member>,
    },
    /// A request was refused; the connection stays open.
    Error {
        /// The refused request's `id`, echoed; absent when it had none or could not be
        /// read (malformed JSON, say).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The [`crate::ErrorCode`] number (1xx: the request, 2xx: transport and session,
        /// 3xx: the server); a number never changes meaning once released.
        code: u16,
        /// The code's stable snake_case name (`invalid_json`, `rate_limited`...).
        error: String,
        /// What went wrong, in words, for people; not meant to be parsed.
        message: String,
    },
    /// Keepalive on transports without a ping frame of their own (raw TCP).
    Heartbeat {
        /// When it was sent, in milliseconds since the Unix epoch.
        ts: u64,
    },
    /// The last message before the server closes a transport that has no close frame of
    /// its own (raw TCP): `code` is a [`crate::CloseCode`] number, `reason` its text.
    Close {
        /// The [`crate::CloseCode`] number (1001 shutting down, 4000 idle, 4001 slow
        /// consumer...).
        code: u16,
        /// The close code's fixed reason text (`server shutting down`...).
        reason: String,
        /// When it was sent, in milliseconds since the Unix epoch.
        ts: u64,
    },
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

    /// The `error` message reporting `err` (its code, name, message and request id).
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
