//! The JSON bodies the HTTP transports wrap client messages in: `POST /poll` (and
//! `/short-poll`) requests and responses, and the `{"connection_id", "message"}` body of
//! `POST /sse/message` and `POST /poll/message`. `docs/protocol.md` documents them as
//! part of the protocol, so both sides take them from here.
//!
//! Each type is generic over how it holds the client message, so each side pays only
//! for what it needs: the server reads an owned `Box<RawValue>` (the default, a
//! `DeserializeOwned` type like the bodies it reads today), the client writes a borrowed
//! `&RawValue` (the text it already encoded, never parsed again). The message is raw JSON
//! either way: it is parsed by [`crate::parse_client_message`] like every other message.
//!
//! The server renders its poll *responses* by hand around the hub's already-serialized
//! messages (never re-encoded); [`PollResponse`] is the shape a client reads them into.
//!
//! Who may act for a session: a request names its session by `session_token`, the secret
//! the session's `welcome` carries (and every poll response repeats), never by the public
//! `connection_id` that other clients see in `from`, presence and stats. `connection_id`
//! may still be sent beside the token (it must then name the same session); sent alone it
//! is refused with 400 `invalid_session_token`, whatever session it names.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The body of `POST /poll` and `POST /short-poll`; every field is optional, and the
/// server refuses fields it does not know (103).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollRequest<'a, M = Box<RawValue>> {
    /// The session to poll (its secret, from `welcome`); absent to open a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<Cow<'a, str>>,
    /// Optional and public: the session's id, checked against the token when both are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<Cow<'a, str>>,
    /// The `cursor` of the last response received: acknowledges everything up to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// One client message to handle before collecting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<M>,
    /// Only when opening: the channels to join (absent: the auto-subscribe list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<ChannelSpec>>,
}

// By hand: a derive would ask `M: Default`, which `&RawValue` is not.
impl<M> Default for PollRequest<'_, M> {
    fn default() -> Self {
        Self {
            session_token: None,
            connection_id: None,
            cursor: None,
            message: None,
            channels: None,
        }
    }
}

/// A channel to join when a poll session opens: a name, or a name with a resume position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChannelSpec {
    /// `"lobby"`.
    Name(String),
    /// `{"channel": "news", "since": 7, "epoch": "..."}`.
    Resume {
        /// The channel to join (checked against the channel-name rule by the server: 104).
        channel: String,
        /// The last `seq` the client has of it, as in `subscribe`; absent joins at the
        /// live end.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
        /// The epoch `since` belongs to, as in `subscribe`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epoch: Option<String>,
    },
}

/// The body of `POST /sse/message` and `POST /poll/message`: one client message sent as
/// the connection (or session) whose `session_token` it carries.
///
/// The token is optional to serde so that a body without it is refused with the
/// credential's own error (400 `invalid_session_token`), not as a malformed body.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageEnvelope<'a, M = Box<RawValue>> {
    /// Secret: the `session_token` of the SSE connection's or polling session's
    /// `welcome`, which proves the request comes from its owner (403 + 400 when it is
    /// missing or forged; 404 + 200 when the session has ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<Cow<'a, str>>,
    /// Optional and public, as in [`PollRequest`]: when sent, it must name the same
    /// session as the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<Cow<'a, str>>,
    /// One client message, handled as if it had arrived on a WebSocket; its replies come
    /// on the stream or in the session's polls, not in the HTTP answer.
    pub message: M,
}

/// The body of `POST /poll/close`: the session to end, by its `session_token`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest<'a> {
    /// Secret: the session's credential from its `welcome` (see [`MessageEnvelope`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<Cow<'a, str>>,
    /// Optional and public, as in [`PollRequest`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<Cow<'a, str>>,
}

/// What every envelope that acts for an existing session carries: the secret and,
/// optionally, the public id it must match. The server checks them in one place.
pub trait SessionCredential {
    /// The `session_token`, when sent.
    fn session_token(&self) -> Option<&str>;
    /// The `connection_id`, when sent.
    fn connection_id(&self) -> Option<&str>;
}

impl<M> SessionCredential for PollRequest<'_, M> {
    fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }
    fn connection_id(&self) -> Option<&str> {
        self.connection_id.as_deref()
    }
}

impl<M> SessionCredential for MessageEnvelope<'_, M> {
    fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }
    fn connection_id(&self) -> Option<&str> {
        self.connection_id.as_deref()
    }
}

impl SessionCredential for CloseRequest<'_> {
    fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }
    fn connection_id(&self) -> Option<&str> {
        self.connection_id.as_deref()
    }
}

/// A `200` answer to a poll: the messages (protocol JSON, exactly as a WebSocket would
/// carry them), the cursor that acknowledges them, and `closed` once the session ended.
/// `session_token` repeats the session's secret (the response goes to its owner only),
/// so a client can take it from any response, the opening one included.
#[derive(Debug, Serialize, Deserialize)]
pub struct PollResponse {
    /// The session polled (or just opened): send it on every later poll.
    pub connection_id: String,
    /// Secret: the session's credential (as in `welcome`), repeated on every response;
    /// send it on every later poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// The number of the last message handed out so far; sending it on the next poll
    /// acknowledges `messages`, which are otherwise repeated.
    pub cursor: u64,
    /// True when a long poll waited the whole poll timeout and nothing arrived
    /// (`messages` is then empty); always false on `/short-poll`.
    #[serde(default)]
    pub timeout: bool,
    /// Present on the last response of a session that has ended (1000 closed by the
    /// client, 1001 shutdown, 4001 slow consumer); the session is gone after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<ClosedNotice>,
    /// Server messages in order, each exactly as a WebSocket would carry it: those not
    /// yet acknowledged by a `cursor` first, then new ones; at most the server's batch
    /// limit (256 by default), the rest following on the next poll.
    #[serde(default)]
    pub messages: Vec<Box<RawValue>>,
}

/// Why a poll session ended: a [`crate::CloseCode`] number and its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedNotice {
    /// The [`crate::CloseCode`] number.
    pub code: u16,
    /// The close code's reason text (`server shutting down`...); may be empty.
    #[serde(default)]
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::{ChannelName, ClientMessage, parse_client_message};

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn a_poll_request_built_by_a_client_reads_back_on_the_server_side() {
        let message = ClientMessage::ping().with_id(3).to_json();
        let message = raw(&message);
        let sent = PollRequest {
            session_token: Some(Cow::Borrowed("c-1.mac")),
            cursor: Some(4),
            message: Some(&*message),
            ..PollRequest::default()
        };
        let body = serde_json::to_string(&sent).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!({"session_token": "c-1.mac", "cursor": 4, "message": {"type": "ping", "id": 3}})
        );
        let read: PollRequest<'static> = serde_json::from_str(&body).unwrap();
        assert_eq!(read.session_token(), Some("c-1.mac"));
        assert_eq!(read.connection_id(), None);
        assert_eq!(read.cursor, Some(4));
        let inner = parse_client_message(read.message.unwrap().get()).unwrap();
        assert_eq!(inner.kind(), "ping");
    }

    #[test]
    fn opening_requests_name_channels_or_resume_positions() {
        let open: PollRequest<'_, &RawValue> = PollRequest {
            channels: Some(vec![
                ChannelSpec::Name("lobby".into()),
                ChannelSpec::Resume {
                    channel: "news".into(),
                    since: Some(7),
                    epoch: Some("e1".into()),
                },
            ]),
            ..PollRequest::default()
        };
        let body = serde_json::to_string(&open).unwrap();
        assert_eq!(
            body,
            r#"{"channels":["lobby",{"channel":"news","since":7,"epoch":"e1"}]}"#
        );
        let read: PollRequest<'static> = serde_json::from_str(&body).unwrap();
        assert_eq!(read.channels, open.channels);
        assert_eq!(
            serde_json::to_string(&PollRequest::<&RawValue>::default()).unwrap(),
            "{}"
        );
        let unknown = serde_json::from_str::<PollRequest<'static>>(r#"{"cursor":1,"x":2}"#);
        assert!(unknown.is_err(), "unknown fields are refused");
    }

    #[test]
    fn a_message_envelope_carries_the_message_verbatim() {
        let channel = ChannelName::new("news").unwrap();
        let message = ClientMessage::publish_raw(channel, raw(r#"{"b": 1.50}"#)).to_json();
        let message = raw(&message);
        let sent = MessageEnvelope {
            session_token: Some(Cow::Borrowed("c-9.mac")),
            connection_id: None,
            message: &*message,
        };
        let body = serde_json::to_string(&sent).unwrap();
        assert_eq!(
            body,
            r#"{"session_token":"c-9.mac","message":{"type":"publish","channel":"news","data":{"b": 1.50}}}"#
        );
        let read: MessageEnvelope<'static> = serde_json::from_str(&body).unwrap();
        assert_eq!(read.session_token(), Some("c-9.mac"));
        assert_eq!(read.message.get(), message.get());
    }

    #[test]
    fn an_envelope_without_a_token_still_parses_so_the_server_can_refuse_it_as_such() {
        let stolen: MessageEnvelope<'static> =
            serde_json::from_str(r#"{"connection_id":"c-9","message":{"type":"ping"}}"#).unwrap();
        assert_eq!(
            (stolen.session_token(), stolen.connection_id()),
            (None, Some("c-9"))
        );
        let close: CloseRequest<'static> =
            serde_json::from_str(r#"{"connection_id":"c-9"}"#).unwrap();
        assert_eq!(close.session_token(), None);
        assert_eq!(
            serde_json::to_string(&CloseRequest {
                session_token: Some(Cow::Borrowed("t")),
                connection_id: None
            })
            .unwrap(),
            r#"{"session_token":"t"}"#
        );
    }

    #[test]
    fn poll_responses_read_with_and_without_a_close() {
        let body = r#"{"connection_id":"c-1","cursor":5,"timeout":false,"closed":{"code":4001,"reason":"slow"},"messages":[{"type":"pong","ts":1}]}"#;
        let response: PollResponse = serde_json::from_str(body).unwrap();
        assert_eq!((response.cursor, response.timeout), (5, false));
        assert_eq!(
            response.closed,
            Some(ClosedNotice {
                code: 4001,
                reason: "slow".into()
            })
        );
        assert_eq!(response.messages[0].get(), r#"{"type":"pong","ts":1}"#);
        let quiet: PollResponse = serde_json::from_str(
            r#"{"connection_id":"c-1","cursor":5,"timeout":true,"messages":[]}"#,
        )
        .unwrap();
        assert!(quiet.timeout && quiet.closed.is_none() && quiet.messages.is_empty());
    }
}
