//! How the CLI shows messages and events to people: one line each, channel and seq first.

use switchboard_client::{ClientEvent, ServerMessage};

/// One line for a server message.
pub(crate) fn message_line(message: &ServerMessage) -> String {
    match message {
        ServerMessage::Chat {
            channel,
            seq,
            user,
            text,
            ..
        } => format!("[{channel} #{seq}] {user}: {text}"),
        ServerMessage::Broadcast {
            channel, seq, text, ..
        } => format!("[{channel} #{seq}] (broadcast) {text}"),
        ServerMessage::Message {
            channel, seq, data, ..
        } => format!("[{channel} #{seq}] {data}"),
        ServerMessage::Join {
            channel, member, ..
        } => format!(
            "[{channel}] + {} ({})",
            member.connection_id, member.transport
        ),
        ServerMessage::Leave {
            channel, member, ..
        } => format!(
            "[{channel}] - {} ({})",
            member.connection_id, member.transport
        ),
        ServerMessage::Subscribed {
            channel,
            seq,
            resumed,
            recovered,
            ..
        } => format!(
            "subscribed to {channel} at seq {seq}{}",
            if *resumed {
                format!(" (resumed, {recovered} recovered)")
            } else {
                String::new()
            }
        ),
        ServerMessage::Unsubscribed { channel, .. } => format!("unsubscribed from {channel}"),
        ServerMessage::Error {
            code,
            error,
            message,
            ..
        } => format!("error {code} ({error}): {message}"),
        other => format!("{}: {}", other.kind(), other.to_json()),
    }
}

/// One line for an event (`* ...` for the connection's own life).
pub(crate) fn event_line(event: &ClientEvent) -> String {
    match event {
        ClientEvent::Message(message) => message_line(message),
        ClientEvent::Connected {
            transport,
            connection_id,
            epoch,
            reason,
        } => format!("* connected over {transport} as {connection_id} (epoch {epoch}): {reason}"),
        ClientEvent::Disconnected { reason } => format!("* disconnected: {reason}"),
        ClientEvent::Reconnecting { attempt, delay } => {
            format!("* reconnecting (attempt {attempt}) in {delay:?}")
        }
        ClientEvent::EpochChanged { old, new } => {
            format!("* the server restarted: epoch {old} -> {new}; sequence numbers start over")
        }
        ClientEvent::Gap {
            channel,
            from,
            to,
            reason,
        } => {
            let to = to.map_or("…".to_owned(), |t| t.to_string());
            format!("* gap on {channel}: messages {from}..{to} cannot be recovered ({reason:?})")
        }
        ClientEvent::Closed { reason } => format!("* closed: {reason}"),
    }
}

/// One JSON line for an event: messages as the server sent them, the rest as
/// `{"event": ..., ...}`.
pub(crate) fn event_json(event: &ClientEvent) -> String {
    use serde_json::json;
    match event {
        ClientEvent::Message(message) => message.to_json(),
        ClientEvent::Connected {
            transport,
            connection_id,
            epoch,
            reason,
        } => json!({"event": "connected", "transport": transport, "connection_id": connection_id, "epoch": epoch, "reason": reason}).to_string(),
        ClientEvent::Disconnected { reason } => json!({"event": "disconnected", "reason": reason}).to_string(),
        ClientEvent::Reconnecting { attempt, delay } => json!({"event": "reconnecting", "attempt": attempt, "delay_ms": delay.as_millis() as u64}).to_string(),
        ClientEvent::EpochChanged { old, new } => json!({"event": "epoch_changed", "old": old, "new": new}).to_string(),
        ClientEvent::Gap { channel, from, to, reason } => json!({"event": "gap", "channel": channel, "from": from, "to": to, "reason": reason}).to_string(),
        ClientEvent::Closed { reason } => json!({"event": "closed", "reason": reason}).to_string(),
    }
}
