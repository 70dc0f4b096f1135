//! switchboard's wire protocol, shared by the server, the hub and the client.
//!
//! Every transport (WebSocket, SSE, long and short polling, raw TCP) carries the same
//! JSON messages: objects with a `type` field. This crate holds their types, the
//! numbered error codes, the channel-name rule and the frame codecs, and nothing that
//! touches a socket. `docs/protocol.md` is the prose version of this crate.
//!
//! # Layout
//! - [`channel`]: the channel-name rule ([`ChannelName`]).
//! - [`client`]: what clients send ([`ClientMessage`]): its strict parser, and the
//!   constructors and serialization clients build it with ([`client::build`]).
//! - [`server`]: what the server sends ([`ServerMessage`]), parsed by clients.
//! - [`delivery`]: the borrowed, serialize-once form of channel messages used on the hot path.
//! - [`envelope`]: the HTTP bodies around client messages (poll requests and responses,
//!   `POST /sse/message` and `/poll/message`).
//! - [`error`]: numbered error codes ([`ErrorCode`]) and close codes ([`CloseCode`], with
//!   the reconnect rule).
//! - [`frame`]: length-prefixed framing for the raw TCP transport.
//! - [`request_id`]: the id a client may put on a request, echoed in its reply.

pub mod channel;
pub mod client;
pub mod delivery;
pub mod envelope;
pub mod error;
pub mod frame;
pub mod request_id;
pub mod server;

pub use channel::{ChannelName, InvalidChannelName};
pub use client::{ClientMessage, RequestId, parse_client_message};
pub use error::{CloseCode, ErrorCode, ProtocolError, should_reconnect_after};
pub use server::ServerMessage;

/// The server's name as announced in `welcome`.
pub const SERVER_NAME: &str = "switchboard";

/// The protocol version announced in `welcome`; bumped on incompatible changes.
pub const PROTOCOL_VERSION: u32 = 1;

/// The channel every chat goes to when the message names none.
pub const DEFAULT_CHAT_CHANNEL: &str = "lobby";

/// The channel every connection is subscribed to, carrying `broadcast` messages.
pub const BROADCAST_CHANNEL: &str = "broadcast";

/// Milliseconds since the Unix epoch, the unit of every `ts` field.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
