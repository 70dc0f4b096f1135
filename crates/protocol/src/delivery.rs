//! The serialize-once form of messages delivered from a channel.
//!
//! A publish is rendered to JSON exactly once, under the channel's lock, with its `seq`
//! and `ts`; the bytes are then shared by every subscriber on every transport. These
//! borrowed structs produce the same JSON as the matching [`crate::ServerMessage`] variants.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::server::Member;

/// What a channel message carries besides its position.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// A `chat` line.
    Chat {
        /// The sender's display name, already checked (1 to 64 characters).
        user: &'a str,
        /// The chat line.
        text: &'a str,
    },
    /// A `broadcast` text.
    Broadcast {
        /// The text, for every connection.
        text: &'a str,
    },
    /// A `message`: a client's `publish` or a server feed's snapshot.
    Message {
        /// The JSON value, written into the delivery byte for byte (never re-encoded).
        data: &'a RawValue,
    },
}

impl Body<'_> {
    /// The `type` this body is delivered as.
    pub const fn kind(&self) -> &'static str {
        match self {
            Body::Chat { .. } => "chat",
            Body::Broadcast { .. } => "broadcast",
            Body::Message { .. } => "message",
        }
    }
}

#[derive(Serialize)]
struct Rendered<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    channel: &'a str,
    seq: u64,
    ts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
}

/// Renders a channel message to its JSON bytes.
pub fn render_channel_message(
    channel: &str,
    seq: u64,
    ts: u64,
    body: Body<'_>,
    from: Option<&str>,
) -> Vec<u8> {
    let (user, text, data) = match body {
        Body::Chat { user, text } => (Some(user), Some(text), None),
        Body::Broadcast { text } => (None, Some(text), None),
        Body::Message { data } => (None, None, Some(data)),
    };
    let rendered = Rendered {
        kind: body.kind(),
        channel,
        seq,
        ts,
        user,
        text,
        data,
        from,
    };
    // Serializing borrowed strings, integers and already-valid raw JSON cannot fail.
    serde_json::to_vec(&rendered).unwrap_or_default()
}

#[derive(Serialize)]
struct PresenceEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    channel: &'a str,
    ts: u64,
    member: &'a Member,
}

/// Renders a `join` (`joined == true`) or `leave` event.
pub fn render_presence_event(channel: &str, ts: u64, member: &Member, joined: bool) -> Vec<u8> {
    let kind = if joined { "join" } else { "leave" };
    serde_json::to_vec(&PresenceEvent {
        kind,
        channel,
        ts,
        member,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ServerMessage, server::Transport};

    #[test]
    fn rendered_messages_parse_as_server_messages() {
        let data = RawValue::from_string(r#"{"k":[1,2]}"#.into()).unwrap();
        let cases = [
            (
                Body::Chat {
                    user: "ann",
                    text: "hi \"there\"",
                },
                Some("c1"),
            ),
            (Body::Broadcast { text: "all" }, None),
            (Body::Message { data: &data }, Some("c2")),
        ];
        for (body, from) in cases {
            let bytes = render_channel_message("lobby", 7, 1000, body, from);
            let parsed: ServerMessage = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(parsed.kind(), body.kind());
            assert_eq!(parsed.channel_seq(), Some(("lobby", 7)));
            let again = serde_json::to_vec(&parsed).unwrap();
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&again).unwrap(),
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
            );
        }
    }

    #[test]
    fn presence_events_parse() {
        let member = Member {
            connection_id: "c1".into(),
            transport: Transport::Sse,
            user: Some("ann".into()),
            info: Some(serde_json::json!({"name": "Ann"})),
        };
        let bytes = render_presence_event("room", 5, &member, true);
        let parsed: ServerMessage = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            parsed,
            ServerMessage::Join {
                channel: "room".into(),
                ts: 5,
                member
            }
        );
    }
}
