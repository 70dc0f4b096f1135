//! Routing one message from the server: keepalive traffic is absorbed, `subscribed` and
//! `unsubscribed` move the channel cursors, channel messages pass the duplicate filter,
//! replies go to the request waiting for them, `gap` becomes an event, and everything
//! else is an event for the application.

use switchboard_protocol::{
    BROADCAST_CHANNEL, ChannelName, ClientMessage, RequestId, ServerMessage,
};

use super::Session;
use crate::ClientEvent;

impl Session {
    /// Handles one protocol message from the server.
    pub(super) async fn on_text(&mut self, text: &str) {
        let message: ServerMessage = match serde_json::from_str(text) {
            Ok(message) => message,
            Err(err) => {
                tracing::warn!(%err, text, "ignoring a message that is not the protocol");
                return;
            }
        };
        let reply_id = reply_id(&message);
        // Keepalive traffic is for the session, not the application.
        if message.kind() == "heartbeat" || matches!(message, ServerMessage::Pong { id: None, .. })
        {
            return;
        }
        match &message {
            ServerMessage::Welcome { .. } => return,
            ServerMessage::Close { code, .. } => {
                // Raw TCP's goodbye: the link ends next, and its code decides a reconnect.
                self.close_notice = Some(*code);
            }
            ServerMessage::Subscribed {
                channel,
                epoch,
                seq,
                recovered,
                ..
            } => {
                if self.resumed
                    && reply_id.is_none()
                    && channel != BROADCAST_CHANNEL
                    && self.cursors.get(channel).is_none()
                {
                    self.strays.insert(channel.clone());
                    if let Ok(name) = ChannelName::new(channel) {
                        self.replies
                            .push(ClientMessage::unsubscribe(name).to_json());
                    }
                    return;
                }
                let resume = reply_id.is_some_and(|id| self.cursors.is_resume(id));
                self.cursors
                    .on_subscribed(reply_id, channel, epoch, *seq, *recovered);
                if resume {
                    return;
                }
            }
            ServerMessage::Error { .. } => {
                if let Some(channel) = reply_id.and_then(|id| self.cursors.resume_failed(id)) {
                    tracing::warn!(%channel, %text, "resuming a channel failed");
                }
            }
            ServerMessage::Gap {
                channel,
                from,
                to,
                reason,
                ..
            } => {
                let event = ClientEvent::Gap {
                    channel: channel.clone(),
                    from: *from,
                    to: *to,
                    reason: *reason,
                };
                self.emit(event).await;
                return;
            }
            ServerMessage::Unsubscribed { channel, .. } => {
                if self.strays.remove(channel) {
                    return;
                }
                self.cursors.remove(channel);
            }
            _ => {
                if let Some((channel, seq)) = message.channel_seq()
                    && (self.strays.contains(channel) || !self.cursors.accept(channel, seq))
                {
                    return;
                }
            }
        }
        if let Some(slot) = reply_id.and_then(|id| self.pending.remove(&id)) {
            let _ = slot.send(Ok(message));
            return;
        }
        self.emit(ClientEvent::Message(message)).await;
    }
}

/// The numeric request id a reply answers, if any.
fn reply_id(message: &ServerMessage) -> Option<u64> {
    let id = match message {
        ServerMessage::Pong { id, .. }
        | ServerMessage::Stats { id, .. }
        | ServerMessage::Subscribed { id, .. }
        | ServerMessage::Unsubscribed { id, .. }
        | ServerMessage::Presence { id, .. }
        | ServerMessage::Error { id, .. } => id.as_ref(),
        ServerMessage::Ack { id, .. } => Some(id),
        _ => None,
    };
    match id {
        Some(RequestId::Number(n)) => Some(*n),
        _ => None,
    }
}
