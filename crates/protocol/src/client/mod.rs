//! Messages a client sends, and the strict parser that turns text into them.
//!
//! Parsing happens in two passes over the same text: a probe that reads only `type` and
//! `id` (so every error can name the request it answers and say precisely what is wrong),
//! then a typed pass for the fields of that type. Unknown fields are ignored, so clients
//! may add their own; publish `data` is kept as the raw JSON text it arrived as, so the
//! server forwards it byte for byte.
//!
//! The same [`ClientMessage`] also *builds* what clients send: [`build`] has its
//! constructors and its `Serialize` (derived here, so the parser above is untouched and
//! costs nothing more), and a test round-trips every type through both.

pub mod build;
pub mod connect;
mod data_check;
mod probe;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use self::probe::Probe;
pub use crate::request_id::{MAX_REQUEST_ID_LEN, RequestId};
use crate::{
    DEFAULT_CHAT_CHANNEL,
    channel::ChannelName,
    error::{ErrorCode, ProtocolError},
};

/// The longest `user` name accepted in `chat`, in characters.
pub const MAX_USER_LEN: usize = 64;

/// Why a chat `user` name is refused (114), or `None` when it is fine. A name is shown to
/// every other client as it is, so it may not be blank (only whitespace), and may not hold
/// a control character (NUL, newlines, escapes: Unicode category Cc) nor a bidirectional
/// embedding, override or isolate (U+202A–U+202E, U+2066–U+2069), which would make the
/// text around it read as something else ("nimda" shown as "admin"). Its length (1 to
/// [`MAX_USER_LEN`] characters) is a range check like any other field's (103).
pub fn user_name_problem(user: &str) -> Option<&'static str> {
    if user.trim().is_empty() {
        return Some("is blank");
    }
    if user.chars().any(char::is_control) {
        return Some("holds a control character");
    }
    if user.chars().any(is_bidi_control) {
        return Some("holds a bidirectional override (U+202A-U+202E, U+2066-U+2069)");
    }
    None
}

/// The bidirectional embeddings, overrides and isolates.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}
/// Every message type a client may send.
///
/// Serializes to the JSON the parser reads back (`{"type": "chat", ...}`): absent options
/// are left out, as is the default chat channel, so the text is what clients always sent.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// `chat`: a chat line to a channel (default `lobby`).
    Chat {
        /// Echoed in the `ack`; without it the chat is delivered but not acknowledged.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The channel to send to; [`crate::DEFAULT_CHAT_CHANNEL`] when the message names
        /// none. Refused (109) on the server's channels.
        #[serde(skip_serializing_if = "build::is_default_chat_channel")]
        channel: ChannelName,
        /// The sender's display name, 1 to [`MAX_USER_LEN`] characters (anything else is
        /// error 103).
        user: String,
        /// The chat line, forwarded as it is.
        text: String,
    },
    /// `broadcast`: a text for every connection.
    Broadcast {
        /// Echoed in the `ack`; without it the broadcast is delivered but not acknowledged.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The text, delivered to every connection on the `broadcast` channel.
        text: String,
    },
    /// `ping`: answered by `pong` with the same `id`.
    Ping {
        /// Echoed in the `pong`, to match it to this ping.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
    },
    /// `custom`: an application action, e.g. `get_stats`.
    Custom {
        /// Echoed in the `stats` answer (or the `error`).
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The action's name; `get_stats` is the only one (any other is error 107).
        action: String,
        /// Arguments for the action, any JSON value; `get_stats` takes none.
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<serde_json::Value>,
    },
    /// `subscribe`: join a channel, optionally resuming after `since` in `epoch`.
    Subscribe {
        /// Echoed in the `subscribed` answer (or the `error`).
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The channel to join, created on first use; subscribing again to a channel
        /// already joined re-syncs it from `since`.
        channel: ChannelName,
        /// The last `seq` the client has of this channel: the missed messages after it
        /// follow `subscribed` (or a `gap` says which are lost); absent joins at the live
        /// end. Ahead of the channel's last `seq` in the same epoch is error 112.
        #[serde(skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
        /// The epoch `since` belongs to (from `welcome` or `subscribed`); with `since`,
        /// one other than the hub's gets a `gap` with reason `epoch_changed`.
        #[serde(skip_serializing_if = "Option::is_none")]
        epoch: Option<String>,
        /// Whether to receive `join` and `leave` events for the channel (off by default).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        presence: bool,
    },
    /// `unsubscribe`: leave a channel.
    Unsubscribe {
        /// Echoed in the `unsubscribed` answer (or the `error`).
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The channel to leave (error 108 when not on it, 109 for `broadcast`).
        channel: ChannelName,
    },
    /// `publish`: arbitrary JSON `data` to a channel, acknowledged with `ack` when `id` is set.
    Publish {
        /// Echoed in the `ack`; without it the message is published but not acknowledged.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The channel to publish to, created on first use. Refused (109) on the server's
        /// channels: `broadcast`, `clock`, `metrics`, `weather`.
        channel: ChannelName,
        /// Any JSON value, kept as the text it arrived as and delivered in `message`
        /// byte for byte.
        data: Box<RawValue>,
    },
    /// `presence`: ask who is subscribed to a channel.
    Presence {
        /// Echoed in the `presence` answer (or the `error`).
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The channel asked about (it need not be one the asker is on).
        channel: ChannelName,
    },
}

impl ClientMessage {
    /// The `type` string of this message.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Chat { .. } => "chat",
            ClientMessage::Broadcast { .. } => "broadcast",
            ClientMessage::Ping { .. } => "ping",
            ClientMessage::Custom { .. } => "custom",
            ClientMessage::Subscribe { .. } => "subscribe",
            ClientMessage::Unsubscribe { .. } => "unsubscribe",
            ClientMessage::Publish { .. } => "publish",
            ClientMessage::Presence { .. } => "presence",
        }
    }

    /// The request id, if the client set one.
    pub fn id(&self) -> Option<&RequestId> {
        match self {
            ClientMessage::Chat { id, .. }
            | ClientMessage::Broadcast { id, .. }
            | ClientMessage::Ping { id }
            | ClientMessage::Custom { id, .. }
            | ClientMessage::Subscribe { id, .. }
            | ClientMessage::Unsubscribe { id, .. }
            | ClientMessage::Publish { id, .. }
            | ClientMessage::Presence { id, .. } => id.as_ref(),
        }
    }
}

/// The type names accepted, listed in `unknown_type` errors.
pub const CLIENT_TYPES: [&str; 8] = [
    "chat",
    "broadcast",
    "ping",
    "custom",
    "subscribe",
    "unsubscribe",
    "publish",
    "presence",
];

#[derive(Deserialize)]
struct ChatFields {
    user: String,
    text: String,
    #[serde(default)]
    channel: Option<String>,
}

#[derive(Deserialize)]
struct BroadcastFields {
    text: String,
}

#[derive(Deserialize)]
struct CustomFields {
    action: String,
    #[serde(default)]
    data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct SubscribeFields {
    channel: String,
    #[serde(default)]
    since: Option<u64>,
    #[serde(default)]
    epoch: Option<String>,
    #[serde(default)]
    presence: bool,
}

#[derive(Deserialize)]
struct ChannelFields {
    channel: String,
}

#[derive(Deserialize)]
struct PublishFields {
    channel: String,
    data: Box<RawValue>,
}

/// Parses one client message, with an error code that says exactly what is wrong.
pub fn parse_client_message(text: &str) -> Result<ClientMessage, ProtocolError> {
    // serde would read a struct from a JSON array too; the protocol wants objects only.
    if !text.trim_start().starts_with('{') {
        let message = match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => "a message must be a JSON object".to_owned(),
            Err(e) => format!("malformed JSON: {e}"),
        };
        return Err(ProtocolError::new(ErrorCode::InvalidJson, message));
    }
    let probe: Probe<'_> = serde_json::from_str(text).map_err(|e| {
        let message = if e.is_data() {
            "a message must be a JSON object".to_owned()
        } else {
            format!("malformed JSON: {e}")
        };
        ProtocolError::new(ErrorCode::InvalidJson, message)
    })?;
    let id = match probe.id {
        None => None,
        Some(raw) if raw.get() == "null" => None,
        Some(raw) => Some(parse_request_id(raw)?),
    };
    if let Some(key) = probe.duplicate {
        return Err(ProtocolError::new(
            ErrorCode::DuplicateKey,
            format!("the key {key:?} appears twice in the message"),
        )
        .with_id(id));
    }
    let kind: Cow<'_, str> = match probe.kind.map(|raw| serde_json::from_str(raw.get())) {
        Some(Ok(kind)) => kind,
        Some(Err(_)) => {
            return Err(
                ProtocolError::new(ErrorCode::MissingType, "`type` must be a string").with_id(id),
            );
        }
        None => {
            return Err(
                ProtocolError::new(ErrorCode::MissingType, "the message has no `type`").with_id(id),
            );
        }
    };
    parse_typed(&kind, text, id.clone()).map_err(|e| e.with_id(id))
}

fn parse_request_id(raw: &RawValue) -> Result<RequestId, ProtocolError> {
    match serde_json::from_str::<RequestId>(raw.get()) {
        Ok(RequestId::Text(s)) if s.len() > MAX_REQUEST_ID_LEN => Err(ProtocolError::new(
            ErrorCode::InvalidField,
            format!("`id` is longer than {MAX_REQUEST_ID_LEN} bytes"),
        )),
        Ok(id) => Ok(id),
        Err(_) => Err(ProtocolError::new(
            ErrorCode::InvalidField,
            "`id` must be a string or a non-negative integer",
        )),
    }
}

fn parse_typed(
    kind: &str,
    text: &str,
    id: Option<RequestId>,
) -> Result<ClientMessage, ProtocolError> {
    Ok(match kind {
        "chat" => {
            let f: ChatFields = fields(kind, text)?;
            if let Some(problem) = user_name_problem(&f.user) {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidUserName,
                    format!("`user` {problem}"),
                ));
            }
            if f.user.chars().count() > MAX_USER_LEN {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidField,
                    format!("`user` must be 1 to {MAX_USER_LEN} characters"),
                ));
            }
            let channel = channel(f.channel.as_deref().unwrap_or(DEFAULT_CHAT_CHANNEL))?;
            ClientMessage::Chat {
                id,
                channel,
                user: f.user,
                text: f.text,
            }
        }
        "broadcast" => {
            let f: BroadcastFields = fields(kind, text)?;
            ClientMessage::Broadcast { id, text: f.text }
        }
        "ping" => ClientMessage::Ping { id },
        "custom" => {
            let f: CustomFields = fields(kind, text)?;
            ClientMessage::Custom {
                id,
                action: f.action,
                data: f.data,
            }
        }
        "subscribe" => {
            let f: SubscribeFields = fields(kind, text)?;
            ClientMessage::Subscribe {
                id,
                channel: channel(&f.channel)?,
                since: f.since,
                epoch: f.epoch,
                presence: f.presence,
            }
        }
        "unsubscribe" => {
            let f: ChannelFields = fields(kind, text)?;
            ClientMessage::Unsubscribe {
                id,
                channel: channel(&f.channel)?,
            }
        }
        "publish" => {
            let f: PublishFields = fields(kind, text)?;
            if let Some(problem) = data_check::data_problem(f.data.get()) {
                return Err(ProtocolError::new(ErrorCode::InvalidData, problem));
            }
            ClientMessage::Publish {
                id,
                channel: channel(&f.channel)?,
                data: f.data,
            }
        }
        "presence" => {
            let f: ChannelFields = fields(kind, text)?;
            ClientMessage::Presence {
                id,
                channel: channel(&f.channel)?,
            }
        }
        connect::CONNECT_TYPE => {
            return Err(ProtocolError::new(
                ErrorCode::InvalidField,
                "`connect` is read only as the first frame of a raw TCP connection to a server that checks tokens",
            ));
        }
        other => {
            return Err(ProtocolError::new(
                ErrorCode::UnknownType,
                format!(
                    "unknown type {other:?}; known types: {}",
                    CLIENT_TYPES.join(", ")
                ),
            ));
        }
    })
}

fn fields<'a, T: Deserialize<'a>>(kind: &str, text: &'a str) -> Result<T, ProtocolError> {
    serde_json::from_str(text).map_err(|e| {
        // serde_json appends " at line L column C"; keep only the part about the field.
        let detail = e.to_string();
        let detail = detail.split(" at line ").next().unwrap_or(&detail);
        ProtocolError::new(
            ErrorCode::InvalidField,
            format!("invalid `{kind}` message: {detail}"),
        )
    })
}

fn channel(name: &str) -> Result<ChannelName, ProtocolError> {
    ChannelName::new(name).map_err(|e| ProtocolError::new(ErrorCode::InvalidChannel, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(text: &str) -> ErrorCode {
        parse_client_message(text).expect_err(text).code
    }

    /// The position of `message`'s variant in [`CLIENT_TYPES`]. The match has no
    /// wildcard, so a new variant does not compile until it is listed here, and an index
    /// past the end of `CLIENT_TYPES` fails every test that uses it.
    pub(crate) fn type_index(message: &ClientMessage) -> usize {
        match message {
            ClientMessage::Chat { .. } => 0,
            ClientMessage::Broadcast { .. } => 1,
            ClientMessage::Ping { .. } => 2,
            ClientMessage::Custom { .. } => 3,
            ClientMessage::Subscribe { .. } => 4,
            ClientMessage::Unsubscribe { .. } => 5,
            ClientMessage::Publish { .. } => 6,
            ClientMessage::Presence { .. } => 7,
        }
    }

    /// Asserts that `messages` hold every client type exactly once, in `CLIENT_TYPES` order.
    pub(crate) fn assert_one_of_each_type(messages: &[ClientMessage]) {
        let kinds: Vec<&str> = messages.iter().map(ClientMessage::kind).collect();
        assert_eq!(kinds, CLIENT_TYPES, "one case per client type, in order");
        for (index, message) in messages.iter().enumerate() {
            assert_eq!(type_index(message), index, "{message:?}");
        }
    }

    #[test]
    fn parses_every_type() {
        let cases = [
            r#"{"type":"chat","user":"ann","text":"hi"}"#,
            r#"{"type":"broadcast","text":"all"}"#,
            r#"{"type":"ping","id":7}"#,
            r#"{"type":"custom","action":"get_stats"}"#,
            r#"{"type":"subscribe","channel":"news","since":3,"epoch":"abc"}"#,
            r#"{"type":"unsubscribe","channel":"news"}"#,
            r#"{"type":"publish","channel":"news","data":{"a":[1,2]},"id":"x"}"#,
            r#"{"type":"presence","channel":"news"}"#,
        ];
        let parsed: Vec<ClientMessage> = cases
            .iter()
            .map(|text| parse_client_message(text).expect(text))
            .collect();
        assert_one_of_each_type(&parsed);
    }

    #[test]
    fn chat_defaults_to_lobby_and_publish_keeps_raw_data() {
        match parse_client_message(r#"{"type":"chat","user":"ann","text":"hi"}"#).unwrap() {
            ClientMessage::Chat { channel, .. } => assert_eq!(channel.as_str(), "lobby"),
            other => panic!("{other:?}"),
        }
        match parse_client_message(r#"{"type":"publish","channel":"c","data":{"b": 1.50}}"#)
            .unwrap()
        {
            ClientMessage::Publish { data, .. } => assert_eq!(data.get(), r#"{"b": 1.50}"#),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_kind_of_bad_input_has_its_code() {
        assert_eq!(code_of("{not json"), ErrorCode::InvalidJson);
        assert_eq!(code_of("[1,2]"), ErrorCode::InvalidJson);
        assert_eq!(code_of(r#""ping""#), ErrorCode::InvalidJson);
        assert_eq!(code_of(r#"{"text":"hi"}"#), ErrorCode::MissingType);
        assert_eq!(code_of(r#"{"type":5}"#), ErrorCode::MissingType);
        assert_eq!(code_of(r#"{"type":"dance"}"#), ErrorCode::UnknownType);
        assert_eq!(
            code_of(r#"{"type":"chat","text":"no user"}"#),
            ErrorCode::InvalidField
        );
        assert_eq!(
            code_of(r#"{"type":"chat","user":"a","text":5}"#),
            ErrorCode::InvalidField
        );
        assert_eq!(
            code_of(&format!(
                r#"{{"type":"chat","user":"{}","text":"y"}}"#,
                "u".repeat(MAX_USER_LEN + 1)
            )),
            ErrorCode::InvalidField
        );
        assert_eq!(
            code_of(r#"{"type":"subscribe","channel":"a b"}"#),
            ErrorCode::InvalidChannel
        );
        assert_eq!(
            code_of(r#"{"type":"subscribe","channel":"a","since":-1}"#),
            ErrorCode::InvalidField
        );
        assert_eq!(
            code_of(r#"{"type":"ping","id":{"x":1}}"#),
            ErrorCode::InvalidField
        );
    }

    #[test]
    fn user_names_that_would_mislead_other_clients_are_refused() {
        for user in [
            "",
            "   ",
            "\\t",
            "ann\\u0000",
            "ann\\nadmin",
            "\\u001b[31mred",
            "\\u202enimda",
            "a\\u202ab",
            "\\u2066ann\\u2069",
            "\\u0085",
        ] {
            let text = format!(r#"{{"type":"chat","user":"{user}","text":"x"}}"#);
            assert_eq!(code_of(&text), ErrorCode::InvalidUserName, "{user}");
        }
        for user in ["ann", "Zoë Ångström", "日本", "a b", " ann ", "\\u200dok"] {
            let text = format!(r#"{{"type":"chat","user":"{user}","text":"x"}}"#);
            assert!(parse_client_message(&text).is_ok(), "{user}");
        }
    }

    #[test]
    fn errors_echo_the_request_id() {
        let err = parse_client_message(r#"{"type":"dance","id":"r1"}"#).unwrap_err();
        assert_eq!(err.id, Some(RequestId::Text("r1".into())));
    }

    #[test]
    fn duplicate_top_level_keys_are_refused_by_name() {
        for (text, key) in [
            (r#"{"type":"ping","type":"ping"}"#, "type"),
            (r#"{"type":"ping","typ\u0065":"publish"}"#, "type"),
            (
                r#"{"type":"publish","channel":"c","channel":"d","data":1}"#,
                "channel",
            ),
            (r#"{"type":"ping","x":1,"x":{"deep":[1]}}"#, "x"),
            // Past the keys kept on the stack.
            (
                r#"{"type":"ping","a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"a":9}"#,
                "a",
            ),
        ] {
            let err = parse_client_message(text).expect_err(text);
            assert_eq!(err.code, ErrorCode::DuplicateKey, "{text}: {err}");
            assert!(err.message.contains(&format!("{key:?}")), "{err}");
        }
        let err = parse_client_message(r#"{"id":"r2","type":"ping","id":"r2"}"#).unwrap_err();
        assert_eq!(err.id, Some(RequestId::Text("r2".into())));
        // The same key inside data is data's business.
        assert!(
            parse_client_message(r#"{"type":"publish","channel":"c","data":{"a":1,"a":2}}"#)
                .is_ok()
        );
        let many: String = (0..20).map(|n| format!(r#","k{n}":{n}"#)).collect();
        assert!(parse_client_message(&format!(r#"{{"type":"ping"{many}}}"#)).is_ok());
    }

    #[test]
    fn publish_data_other_parsers_cannot_read_is_refused() {
        for data in [
            r#""\ud800""#,
            r#"["\udc00"]"#,
            "1e999999",
            r#"{"n":-1e400}"#,
        ] {
            let text = format!(r#"{{"type":"publish","id":4,"channel":"c","data":{data}}}"#);
            let err = parse_client_message(&text).expect_err(&text);
            assert_eq!(err.code, ErrorCode::InvalidData, "{text}: {err}");
            assert_eq!(err.id, Some(RequestId::Number(4)));
        }
        let fine = r#"{"type":"publish","channel":"c","data":{"s":"\ud83d\ude00","n":1e308}}"#;
        assert!(parse_client_message(fine).is_ok());
    }

    /// The parser is on every message's path: a normal message must not parse slower
    /// than before (the probe's duplicate check and the data check cost a few
    /// comparisons). Prints ns per message; `cargo test -p switchboard-protocol --release
    /// parse_speed -- --nocapture` gives the figures worth comparing.
    #[test]
    fn parse_speed() {
        let cases = [
            r#"{"type":"ping","id":7}"#,
            r#"{"type":"publish","id":12,"channel":"news","data":{"title":"hello","n":42,"tags":["a","b"]}}"#,
            r#"{"type":"chat","user":"ann","text":"hello everyone","channel":"lobby"}"#,
        ];
        // The best of a few batches: the machine is shared, so the minimum is the figure.
        const ROUNDS: u32 = 10_000;
        for text in cases {
            let mut best = std::time::Duration::MAX;
            for _ in 0..7 {
                let started = std::time::Instant::now();
                for _ in 0..ROUNDS {
                    std::hint::black_box(parse_client_message(std::hint::black_box(text)).is_ok());
                }
                best = best.min(started.elapsed());
            }
            let per = best / ROUNDS;
            println!("parse_speed {per:?} per message: {text}");
        }
    }
}
