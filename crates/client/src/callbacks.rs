//! The application's callbacks ([`Client::set_message_callback`](crate::Client::set_message_callback),
//! [`Client::set_event_callback`](crate::Client::set_event_callback)), shared by the
//! handle that sets them and the session task that calls them.

use std::sync::Arc;

use parking_lot::RwLock;
use switchboard_protocol::ServerMessage;

use crate::ClientEvent;

pub(crate) type MessageCallback = Arc<dyn Fn(&ServerMessage) + Send + Sync>;
pub(crate) type EventCallback = Arc<dyn Fn(&ClientEvent) + Send + Sync>;

/// The callbacks registered with [`Client::set_message_callback`] and
/// [`Client::set_event_callback`], called on the session task.
#[derive(Default)]
pub(crate) struct Callbacks {
    message: RwLock<Option<MessageCallback>>,
    event: RwLock<Option<EventCallback>>,
}

impl Callbacks {
    pub(crate) fn set_message(&self, callback: MessageCallback) {
        *self.message.write() = Some(callback);
    }

    pub(crate) fn set_event(&self, callback: EventCallback) {
        *self.event.write() = Some(callback);
    }

    pub(crate) fn call(&self, event: &ClientEvent) {
        if let ClientEvent::Message(message) = event
            && let Some(callback) = self.message.read().clone()
        {
            callback(message);
        }
        if let Some(callback) = self.event.read().clone() {
            callback(event);
        }
    }
}
