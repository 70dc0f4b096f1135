//! How each target spells the same conversation: switchboard's JSON protocol (which the
//! Node `ws` peer copies) or Socket.IO 4's packets over its WebSocket transport.
//!
//! Socket.IO (Engine.IO v4) adds a layer: the server opens with `0{…}`; the client joins
//! the default namespace with `40`; events travel as `42["name",{…}]`; the server's ping
//! is the text `2`, answered by `3`. The peer emits the hub's message objects as event
//! arguments, so once [`event_body`] strips the packet prefix the bench reads both alike.

use crate::{BenchError, target::TargetKind, wire::WsConn};

/// Engine.IO's ping, sent by the server as the text frame `2`.
pub const ENGINE_PING: &[u8] = b"2";
/// Engine.IO's pong, the client's answer `3` to [`ENGINE_PING`]; without it Socket.IO
/// closes the connection after its ping timeout.
pub const ENGINE_PONG: &[u8] = b"3";

/// The JSON object a message carries: the payload itself, or a Socket.IO event's
/// argument (`42["name",{…}]` → `{…}]`; the trailing bracket is harmless to the prefix
/// and number scans that follow).
pub fn event_body(payload: &[u8]) -> &[u8] {
    if let Some(rest) = payload.strip_prefix(b"42[\"")
        && let Some(comma) = rest.iter().position(|b| *b == b',')
    {
        return &rest[comma + 1..];
    }
    payload
}

/// Reads a hub greeting: `welcome` and then `subscriptions` × `subscribed` (joining the
/// Socket.IO namespace first where the target needs it).
pub async fn read_greeting(
    kind: TargetKind,
    conn: &mut WsConn,
    subscriptions: usize,
) -> Result<(), BenchError> {
    if kind == TargetKind::SocketIo {
        match conn.next_frame().await? {
            Some((_, open)) if open.starts_with(b"0{") => {}
            _ => return Err(BenchError::Protocol("no Engine.IO open packet".into())),
        }
        conn.send_text(b"40").await?;
    }
    let mut welcomed = false;
    let mut subscribed = 0;
    while !welcomed || subscribed < subscriptions {
        let Some((_, payload)) = conn.next_frame().await? else {
            return Err(BenchError::Protocol("closed before the greeting".into()));
        };
        if payload == ENGINE_PING {
            conn.send_text(ENGINE_PONG).await?;
            continue;
        }
        let body = event_body(payload);
        if body.starts_with(br#"{"type":"welcome""#) {
            welcomed = true;
        } else if body.starts_with(br#"{"type":"subscribed""#) {
            subscribed += 1;
        } else if body.starts_with(br#"{"type":"error""#) || payload.starts_with(b"44") {
            return Err(BenchError::Protocol(
                String::from_utf8_lossy(payload).into_owned(),
            ));
        }
    }
    Ok(())
}

/// Wraps a hub `publish` message for `kind`.
pub fn publish_frame(kind: TargetKind, publish: &[u8]) -> Vec<u8> {
    if kind == TargetKind::SocketIo {
        let mut frame = Vec::with_capacity(publish.len() + 14);
        frame.extend_from_slice(br#"42["publish","#);
        frame.extend_from_slice(publish);
        frame.push(b']');
        frame
    } else {
        publish.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socketio_events_unwrap_to_the_hub_object() {
        let event = br#"42["message",{"type":"message","seq":3}]"#;
        assert!(event_body(event).starts_with(br#"{"type":"message","seq":3}"#));
        let plain = br#"{"type":"message","seq":3}"#;
        assert_eq!(event_body(plain), plain);
        assert_eq!(
            publish_frame(TargetKind::SocketIo, br#"{"a":1}"#),
            br#"42["publish",{"a":1}]"#
        );
        assert_eq!(publish_frame(TargetKind::Switchboard, b"{}"), b"{}");
    }
}
