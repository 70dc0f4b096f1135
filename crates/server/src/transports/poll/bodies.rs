//! The JSON bodies of `POST /poll` and `POST /short-poll`: the request envelope and the
//! response, rendered from the hub's already-serialized messages (never re-encoded).
//!
//! Request (`Content-Type: application/json`, every field optional, unknown fields refused):
//! `{"connection_id": "...", "cursor": 3, "message": {...}, "channels": ["lobby", {"channel": "news", "since": 7, "epoch": "..."}]}`
//!
//! Response (`200 application/json`):
//! `{"connection_id":"...","cursor":5,"timeout":false,"messages":[{...},...]}`, plus
//! `"closed":{"code":4001,"reason":"..."}` when the session has ended.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use switchboard_hub::{Delivery, InitialSubscription};
use switchboard_protocol::{ChannelName, CloseCode, ErrorCode, ProtocolError};

/// A poll request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PollRequest {
    /// The session to poll; absent to open a new one.
    pub(crate) connection_id: Option<String>,
    /// The `cursor` of the last response received: acknowledges everything up to it.
    pub(crate) cursor: Option<u64>,
    /// A protocol message to send as this session before collecting messages.
    pub(crate) message: Option<Box<RawValue>>,
    /// Channels for a new session (default: the auto-subscribe list).
    pub(crate) channels: Option<Vec<ChannelSpec>>,
}

/// A channel to join when a session opens: a name, or a name with a resume position.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum ChannelSpec {
    Name(String),
    Resume {
        channel: String,
        since: Option<u64>,
        epoch: Option<String>,
    },
}

impl ChannelSpec {
    pub(crate) fn into_subscription(self) -> Result<InitialSubscription, ProtocolError> {
        let (name, since, epoch) = match self {
            ChannelSpec::Name(name) => (name, None, None),
            ChannelSpec::Resume {
                channel,
                since,
                epoch,
            } => (channel, since, epoch),
        };
        let channel = ChannelName::new(&name)
            .map_err(|e| ProtocolError::new(ErrorCode::InvalidChannel, format!("{name:?}: {e}")))?;
        Ok(InitialSubscription {
            channel,
            since,
            epoch,
        })
    }
}

/// Renders a response body: the envelope around the messages' shared JSON bytes.
pub(crate) fn render_response(
    connection_id: &str,
    cursor: u64,
    timeout: bool,
    messages: &[Arc<Delivery>],
    closed: Option<CloseCode>,
) -> Vec<u8> {
    let payload: usize = messages.iter().map(|d| d.json.len() + 1).sum();
    let mut out = Vec::with_capacity(payload + 128);
    out.extend_from_slice(b"{\"connection_id\":");
    // A connection id is a UUID; serde_json quotes it (and would escape anything else).
    out.extend_from_slice(
        serde_json::to_string(connection_id)
            .unwrap_or_default()
            .as_bytes(),
    );
    out.extend_from_slice(format!(",\"cursor\":{cursor},\"timeout\":{timeout},").as_bytes());
    if let Some(reason) = closed {
        out.extend_from_slice(
            format!(
                "\"closed\":{{\"code\":{},\"reason\":\"{}\"}},",
                reason.code(),
                reason.reason()
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(b"\"messages\":[");
    for (i, delivery) in messages.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&delivery.json);
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn response_is_valid_json_with_messages_verbatim() {
        let message = Arc::new(Delivery {
            kind: "pong",
            position: None,
            json: Bytes::from_static(br#"{"type":"pong","ts":1}"#),
        });
        let body = render_response("c-1", 4, false, &[message.clone(), message], None);
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value,
            json!({"connection_id": "c-1", "cursor": 4, "timeout": false,
                   "messages": [{"type": "pong", "ts": 1}, {"type": "pong", "ts": 1}]})
        );
        let closed = render_response("c-1", 0, true, &[], Some(CloseCode::GoingAway));
        let value: Value = serde_json::from_slice(&closed).unwrap();
        assert_eq!(value["closed"]["code"], 1001);
        assert_eq!(value["messages"], json!([]));
    }

    #[test]
    fn channel_specs() {
        let specs: Vec<ChannelSpec> =
            serde_json::from_str(r#"["lobby", {"channel": "news", "since": 7, "epoch": "e1"}]"#)
                .unwrap();
        let subs: Vec<_> = specs
            .into_iter()
            .map(|s| s.into_subscription().unwrap())
            .collect();
        assert_eq!(subs[0].channel.as_str(), "lobby");
        assert_eq!(subs[1].since, Some(7));
        assert_eq!(subs[1].epoch.as_deref(), Some("e1"));
        let bad = ChannelSpec::Name("no spaces".into()).into_subscription();
        assert_eq!(bad.unwrap_err().code, ErrorCode::InvalidChannel);
    }
}
