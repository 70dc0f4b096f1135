//! The JSON bodies of `POST /poll` and `POST /short-poll`: the request (the protocol
//! crate's `PollRequest`, read here into the hub's subscriptions) and the response,
//! rendered from the hub's already-serialized messages (never re-encoded).
//!
//! Request (`Content-Type: application/json`, every field optional, unknown fields refused):
//! `{"session_token": "...", "cursor": 3, "message": {...}, "channels": ["lobby", {"channel": "news", "since": 7, "epoch": "..."}]}`
//!
//! Response (`200 application/json`):
//! `{"connection_id":"...","session_token":"...","cursor":5,"timeout":false,"messages":[{...},...]}`,
//! plus `"closed":{"code":4001,"reason":"..."}` when the session has ended. The token is
//! the session's secret: a response goes to the session's owner only.

use std::sync::Arc;

use switchboard_hub::{Delivery, InitialSubscription};
use switchboard_protocol::{
    ChannelName, CloseCode, ErrorCode, ProtocolError, envelope::ChannelSpec,
};

/// A channel to join when a session opens, checked against the channel-name rule.
pub(crate) fn subscription_of(spec: ChannelSpec) -> Result<InitialSubscription, ProtocolError> {
    let (name, since, epoch) = match spec {
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

/// Renders a response body: the envelope around the messages' shared JSON bytes.
pub(crate) fn render_response(
    connection_id: &str,
    session_token: &str,
    cursor: u64,
    timeout: bool,
    messages: &[Arc<Delivery>],
    closed: Option<CloseCode>,
) -> Vec<u8> {
    let payload: usize = messages.iter().map(|d| d.json.len() + 1).sum();
    let mut out = Vec::with_capacity(payload + 128);
    // The id is a UUID and the token that id, a dot and hex; serde_json quotes them
    // (and would escape anything else).
    out.extend_from_slice(b"{\"connection_id\":");
    out.extend_from_slice(
        serde_json::to_string(connection_id)
            .unwrap_or_default()
            .as_bytes(),
    );
    out.extend_from_slice(b",\"session_token\":");
    out.extend_from_slice(
        serde_json::to_string(session_token)
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
        let body = render_response("c-1", "c-1.t", 4, false, &[message.clone(), message], None);
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value,
            json!({"connection_id": "c-1", "session_token": "c-1.t", "cursor": 4, "timeout": false,
                   "messages": [{"type": "pong", "ts": 1}, {"type": "pong", "ts": 1}]})
        );
        let closed = render_response("c-1", "c-1.t", 0, true, &[], Some(CloseCode::GoingAway));
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
            .map(|s| subscription_of(s).unwrap())
            .collect();
        assert_eq!(subs[0].channel.as_str(), "lobby");
        assert_eq!(subs[1].since, Some(7));
        assert_eq!(subs[1].epoch.as_deref(), Some("e1"));
        let bad = subscription_of(ChannelSpec::Name("no spaces".into()));
        assert_eq!(bad.unwrap_err().code, ErrorCode::InvalidChannel);
    }
}
