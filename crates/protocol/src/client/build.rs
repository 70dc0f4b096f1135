//! Building client messages: one constructor per type on [`ClientMessage`], and
//! [`ClientMessage::to_json`], so a client sends exactly what the server parses (as
//! mini-redis builds its frames from the same command types the server reads).
//!
//! Guarantee, checked for every type by the tests below: `parse_client_message(&m.to_json())`
//! gives back `m`. The JSON is the text clients wrote by hand before these types existed:
//! `type` first, absent options (`id`, `since`, `epoch`, custom `data`) and the default
//! chat channel left out, `presence` only when true.
//!
//! Constructors take a validated [`ChannelName`]; nothing else is checked here (a chat
//! `user` longer than [`super::MAX_USER_LEN`] builds, and the server refuses it with 103).

use serde::Serialize;
use serde_json::value::RawValue;

use super::{ClientMessage, RequestId};
use crate::channel::ChannelName;

impl From<u64> for RequestId {
    fn from(id: u64) -> Self {
        RequestId::Number(id)
    }
}

impl From<String> for RequestId {
    fn from(id: String) -> Self {
        RequestId::Text(id)
    }
}

impl From<&str> for RequestId {
    fn from(id: &str) -> Self {
        RequestId::Text(id.to_owned())
    }
}

impl ClientMessage {
    /// `chat` to `channel`.
    pub fn chat(channel: ChannelName, user: impl Into<String>, text: impl Into<String>) -> Self {
        ClientMessage::Chat {
            id: None,
            channel,
            user: user.into(),
            text: text.into(),
        }
    }

    /// `chat` to the default channel (`lobby`), which the JSON leaves unnamed.
    pub fn chat_in_lobby(user: impl Into<String>, text: impl Into<String>) -> Self {
        Self::chat(ChannelName::default_chat(), user, text)
    }

    /// `broadcast` to every connection.
    pub fn broadcast(text: impl Into<String>) -> Self {
        ClientMessage::Broadcast {
            id: None,
            text: text.into(),
        }
    }

    /// `ping`; with an id (see [`ClientMessage::with_id`]) the `pong` carries it back.
    pub fn ping() -> Self {
        ClientMessage::Ping { id: None }
    }

    /// `custom` `action`, with optional `data`. `Some(null)` is no data: the parser
    /// reads `"data": null` as absent, so the built message is what the server sees
    /// (found by the round-trip property test).
    pub fn custom(action: impl Into<String>, data: Option<serde_json::Value>) -> Self {
        ClientMessage::Custom {
            id: None,
            action: action.into(),
            data: data.filter(|data| !data.is_null()),
        }
    }

    /// `subscribe` to `channel` from now on.
    pub fn subscribe(channel: ChannelName) -> Self {
        ClientMessage::Subscribe {
            id: None,
            channel,
            since: None,
            epoch: None,
            presence: false,
        }
    }

    /// `subscribe` to `channel`, resuming after `since` if the hub is still in `epoch`.
    pub fn resume(channel: ChannelName, since: u64, epoch: impl Into<String>) -> Self {
        ClientMessage::Subscribe {
            id: None,
            channel,
            since: Some(since),
            epoch: Some(epoch.into()),
            presence: false,
        }
    }

    /// `unsubscribe` from `channel`.
    pub fn unsubscribe(channel: ChannelName) -> Self {
        ClientMessage::Unsubscribe { id: None, channel }
    }

    /// `publish` `data` (any serializable value) to `channel`. Fails only when `data`
    /// cannot be JSON (a map with non-string keys, say).
    pub fn publish(channel: ChannelName, data: &impl Serialize) -> Result<Self, serde_json::Error> {
        Ok(Self::publish_raw(
            channel,
            serde_json::value::to_raw_value(data)?,
        ))
    }

    /// `publish` JSON text that is already encoded; it goes on the wire byte for byte.
    pub fn publish_raw(channel: ChannelName, data: Box<RawValue>) -> Self {
        ClientMessage::Publish {
            id: None,
            channel,
            data,
        }
    }

    /// `presence`: who is on `channel`.
    pub fn presence(channel: ChannelName) -> Self {
        ClientMessage::Presence { id: None, channel }
    }

    /// The same message carrying request `id` (echoed in its reply).
    pub fn with_id(mut self, id: impl Into<RequestId>) -> Self {
        let slot = match &mut self {
            ClientMessage::Chat { id, .. }
            | ClientMessage::Broadcast { id, .. }
            | ClientMessage::Ping { id }
            | ClientMessage::Custom { id, .. }
            | ClientMessage::Subscribe { id, .. }
            | ClientMessage::Unsubscribe { id, .. }
            | ClientMessage::Publish { id, .. }
            | ClientMessage::Presence { id, .. } => id,
        };
        *slot = Some(id.into());
        self
    }

    /// The JSON text to send.
    pub fn to_json(&self) -> String {
        // Cannot fail: every field is a string, a number, a bool, a `Value` (whose map
        // keys are strings) or already-valid raw JSON.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `lobby` is left out of a chat's JSON: the parser puts it back, and clients never wrote it.
pub(crate) fn is_default_chat_channel(channel: &ChannelName) -> bool {
    channel.as_str() == crate::DEFAULT_CHAT_CHANNEL
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::client::{
        parse_client_message,
        tests::{assert_one_of_each_type, type_index},
    };

    fn channel(name: &str) -> ChannelName {
        ChannelName::new(name).unwrap()
    }

    /// One built message of every type, with every optional field set somewhere.
    fn one_of_each() -> Vec<ClientMessage> {
        vec![
            ClientMessage::chat(channel("room-1"), "ann", "hi").with_id(1),
            ClientMessage::broadcast("to all").with_id("b-2"),
            ClientMessage::ping().with_id(3),
            ClientMessage::custom("get_stats", Some(json!({"k": [1, "two"]}))).with_id(4),
            ClientMessage::resume(channel("news"), 7, "e1").with_id(5),
            ClientMessage::unsubscribe(channel("news")).with_id(6),
            ClientMessage::publish(channel("news"), &json!({"a": [1, 2], "b": null}))
                .unwrap()
                .with_id(7),
            ClientMessage::presence(channel("news")).with_id(8),
        ]
    }

    /// `ClientMessage` has no `PartialEq` (its raw `data` compares as text, which the
    /// hot path never needs); the JSON value is the fair comparison.
    fn as_value(message: &ClientMessage) -> Value {
        serde_json::to_value(message).unwrap()
    }

    #[test]
    fn every_type_round_trips_through_the_parser() {
        let built = one_of_each();
        assert_one_of_each_type(&built);
        for message in &built {
            let text = message.to_json();
            let parsed = parse_client_message(&text).expect(&text);
            assert_eq!(type_index(&parsed), type_index(message), "{text}");
            assert_eq!(parsed.id(), message.id(), "{text}");
            assert_eq!(as_value(&parsed), as_value(message), "{text}");
            assert_eq!(parsed.to_json(), text, "serializing is stable");
        }
    }

    #[test]
    fn the_json_is_what_clients_wrote_by_hand() {
        let news = || channel("news");
        let cases = [
            (
                ClientMessage::chat_in_lobby("ann", "hi"),
                json!({"type": "chat", "user": "ann", "text": "hi"}),
            ),
            (
                ClientMessage::chat(channel("room-1"), "ann", "hi").with_id(1),
                json!({"type": "chat", "id": 1, "channel": "room-1", "user": "ann", "text": "hi"}),
            ),
            (
                ClientMessage::broadcast("all").with_id(2),
                json!({"type": "broadcast", "id": 2, "text": "all"}),
            ),
            (ClientMessage::ping(), json!({"type": "ping"})),
            (
                ClientMessage::custom("get_stats", None).with_id(3),
                json!({"type": "custom", "id": 3, "action": "get_stats"}),
            ),
            (
                ClientMessage::subscribe(news()).with_id(4),
                json!({"type": "subscribe", "id": 4, "channel": "news"}),
            ),
            (
                ClientMessage::resume(news(), 9, "e1").with_id(5),
                json!({"type": "subscribe", "id": 5, "channel": "news", "since": 9, "epoch": "e1"}),
            ),
            (
                ClientMessage::unsubscribe(news()),
                json!({"type": "unsubscribe", "channel": "news"}),
            ),
            (
                ClientMessage::publish(news(), &json!({"n": 1}))
                    .unwrap()
                    .with_id(6),
                json!({"type": "publish", "id": 6, "channel": "news", "data": {"n": 1}}),
            ),
            (
                ClientMessage::presence(news()).with_id(7),
                json!({"type": "presence", "id": 7, "channel": "news"}),
            ),
        ];
        for (message, expected) in cases {
            let text = message.to_json();
            assert!(text.starts_with(r#"{"type":""#), "type comes first: {text}");
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), expected);
        }
    }

    #[test]
    fn publish_raw_keeps_the_bytes_and_presence_is_sent_only_when_asked() {
        let data = RawValue::from_string(r#"{"b": 1.50}"#.to_owned()).unwrap();
        let text = ClientMessage::publish_raw(channel("c"), data).to_json();
        assert_eq!(
            text,
            r#"{"type":"publish","channel":"c","data":{"b": 1.50}}"#
        );
        let mut subscribe = ClientMessage::subscribe(channel("c"));
        if let ClientMessage::Subscribe { presence, .. } = &mut subscribe {
            *presence = true;
        }
        let text = subscribe.to_json();
        assert_eq!(
            text,
            r#"{"type":"subscribe","channel":"c","presence":true}"#
        );
        match parse_client_message(&text).unwrap() {
            ClientMessage::Subscribe { presence, .. } => assert!(presence),
            other => panic!("{other:?}"),
        }
    }
}
