//! [`Client`]: the application's handle. Every call is a message to the session task
//! (which owns the connection); requests carry a numeric id and wait, bounded by the
//! request timeout, for the reply with that id.
//!
//! Every request is built from the protocol crate's [`ClientMessage`], the type the
//! server parses, so the client cannot send a field the server would not read. Channel
//! names are checked here, before anything is sent ([`ClientError::InvalidRequest`]).

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::Stream;
use parking_lot::Mutex;
use serde_json::Value;
use switchboard_protocol::{
    ChannelName, ClientMessage, ErrorCode, ProtocolError, ServerMessage,
    server::{ClientStats, Member, ServerStats, Transport},
};
use tokio::sync::{mpsc, oneshot, watch};

pub use crate::status::Status;
use crate::{
    ClientError, ClientEvent, ClientOptions, TransportChoice,
    callbacks::Callbacks,
    endpoint::Endpoint,
    link::{LINK_SEND_QUEUE, LinkSettings},
    session::{Command, Session, cursor::Cursors},
};

/// A connected client. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Client {
    commands: mpsc::Sender<Command>,
    events: Mutex<Option<mpsc::Receiver<ClientEvent>>>,
    callbacks: Arc<Callbacks>,
    status: watch::Receiver<Status>,
    ids: Arc<AtomicU64>,
    request_timeout: Duration,
}

impl Client {
    /// Connects (for `Auto`, walking the cascade) and returns once `welcome` arrived.
    /// Fails with [`ClientError::Connect`] listing every attempt when none worked.
    pub async fn connect(
        url: &str,
        transport: TransportChoice,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let endpoint = Endpoint::parse(url)?;
        endpoint.check(transport)?;
        // Refused here rather than by the server: raw TCP joins these by message, where
        // a bad name could not even be built.
        for channel in options.channels.iter().flatten() {
            channel_name(channel)?;
        }
        let settings = LinkSettings {
            endpoint,
            channels: options.channels.clone(),
            connect_timeout: options.connect_timeout,
            short_poll_interval: options.short_poll_interval,
            wire: options.wire.clone(),
            local_addr: options.local_addr,
            token: options.token.clone(),
        };
        let (command_tx, command_rx) = mpsc::channel(LINK_SEND_QUEUE);
        let (event_tx, event_rx) = mpsc::channel(options.event_queue.max(1));
        let (status_tx, status_rx) = watch::channel(Status::default());
        let callbacks = Arc::new(Callbacks::default());
        let ids = Arc::new(AtomicU64::new(1));
        let request_timeout = options.request_timeout;
        let session = Session {
            choice: transport,
            settings,
            commands: command_rx,
            events: event_tx,
            callbacks: callbacks.clone(),
            status: status_tx,
            ids: ids.clone(),
            cursors: Cursors::default(),
            pending: HashMap::new(),
            offline: VecDeque::new(),
            epoch: None,
            strays: Default::default(),
            resumed: false,
            replies: Vec::new(),
            closing: None,
            close_notice: None,
            options,
        };
        let (ready_tx, ready_rx) = oneshot::channel();
        tokio::spawn(session.run(ready_tx));
        ready_rx.await.map_err(|_| ClientError::Closed)??;
        Ok(Self {
            commands: command_tx,
            events: Mutex::new(Some(event_rx)),
            callbacks,
            status: status_rx,
            ids,
            request_timeout,
        })
    }

    /// Where the connection stands now.
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// The transport in use.
    pub fn transport(&self) -> Option<Transport> {
        self.status.borrow().transport
    }

    /// Waits until the client is connected (after a reconnect, say), at most `within`.
    pub async fn wait_connected(&self, within: Duration) -> bool {
        let mut status = self.status.clone();
        tokio::time::timeout(within, status.wait_for(|s| s.connected || s.closed))
            .await
            .is_ok_and(|s| s.is_ok_and(|s| s.connected))
    }

    /// Calls `callback` with every message (after deduplication), on the session task.
    pub fn set_message_callback(&self, callback: impl Fn(&ServerMessage) + Send + Sync + 'static) {
        self.callbacks.set_message(Arc::new(callback));
    }

    /// Calls `callback` with every event (messages and connection changes).
    pub fn set_event_callback(&self, callback: impl Fn(&ClientEvent) + Send + Sync + 'static) {
        self.callbacks.set_event(Arc::new(callback));
    }

    /// The next event. Read events (or take [`Client::events`] and drop it): an unread,
    /// full event queue stops the client reading from the server.
    pub async fn next_event(&self) -> Option<ClientEvent> {
        let mut receiver = self.events.lock().take()?;
        let event = receiver.recv().await;
        *self.events.lock() = Some(receiver);
        event
    }

    /// The events as a stream (taken once; [`Client::next_event`] returns `None` after).
    pub fn events(&self) -> impl Stream<Item = ClientEvent> + Send + 'static {
        let receiver = self.events.lock().take();
        futures_util::stream::unfold(receiver, |receiver| async move {
            let mut receiver = receiver?;
            let event = receiver.recv().await?;
            Some((event, Some(receiver)))
        })
    }

    /// Only the messages, as a stream (takes the event queue like [`Client::events`]).
    pub fn messages(&self) -> impl Stream<Item = ServerMessage> + Send + 'static {
        use futures_util::StreamExt;
        self.events().filter_map(|event| async move {
            match event {
                ClientEvent::Message(message) => Some(message),
                _ => None,
            }
        })
    }

    fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends `message` with a fresh `id` (replacing any it had) and waits for the reply
    /// carrying it; an `error` reply is [`ClientError::Server`].
    pub async fn request(&self, message: ClientMessage) -> Result<ServerMessage, ClientError> {
        let id = self.next_id();
        let (reply_tx, reply_rx) = oneshot::channel();
        let command = Command::Send {
            text: message.with_id(id).to_json(),
            id: Some(id),
            reply: Some(reply_tx),
        };
        self.commands
            .send(command)
            .await
            .map_err(|_| ClientError::Closed)?;
        let reply = tokio::time::timeout(self.request_timeout, reply_rx)
            .await
            .map_err(|_| ClientError::Timeout(self.request_timeout))?
            .map_err(|_| ClientError::Closed)??;
        match reply {
            ServerMessage::Error { .. } => Err(ClientError::from_reply(&reply)),
            reply => Ok(reply),
        }
    }

    /// Sends `message` as it is (with the `id` it carries, if any), without waiting for
    /// anything; replies arrive as events.
    pub async fn send(&self, message: &ClientMessage) -> Result<(), ClientError> {
        self.send_raw(message.to_json()).await
    }

    /// Sends any text as is, without waiting for anything (for testing how the server
    /// answers what [`ClientMessage`] cannot build).
    pub async fn send_raw(&self, text: impl Into<String>) -> Result<(), ClientError> {
        let command = Command::Send {
            text: text.into(),
            id: None,
            reply: None,
        };
        self.commands
            .send(command)
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// Joins `channel`; returns the `subscribed` answer.
    pub async fn subscribe(&self, channel: &str) -> Result<ServerMessage, ClientError> {
        let reply = self
            .request(ClientMessage::subscribe(channel_name(channel)?))
            .await?;
        expect(reply, "subscribed")
    }

    /// Leaves `channel`.
    pub async fn unsubscribe(&self, channel: &str) -> Result<(), ClientError> {
        let reply = self
            .request(ClientMessage::unsubscribe(channel_name(channel)?))
            .await?;
        expect(reply, "unsubscribed").map(drop)
    }

    /// Publishes `data` to `channel`; returns the seq the server assigned.
    pub async fn publish(&self, channel: &str, data: &Value) -> Result<u64, ClientError> {
        let message = ClientMessage::publish(channel_name(channel)?, data).map_err(|e| {
            ClientError::InvalidRequest(ProtocolError::new(
                ErrorCode::InvalidField,
                format!("publish `data` is not JSON: {e}"),
            ))
        })?;
        ack_seq(self.request(message).await?)
    }

    /// Sends a chat line (to `lobby` when `channel` is `None`); returns its seq.
    pub async fn chat(
        &self,
        channel: Option<&str>,
        user: &str,
        text: &str,
    ) -> Result<u64, ClientError> {
        let message = match channel {
            Some(channel) => ClientMessage::chat(channel_name(channel)?, user, text),
            None => ClientMessage::chat_in_lobby(user, text),
        };
        ack_seq(self.request(message).await?)
    }

    /// Broadcasts `text` to every connection; returns its seq on `broadcast`.
    pub async fn broadcast(&self, text: &str) -> Result<u64, ClientError> {
        ack_seq(self.request(ClientMessage::broadcast(text)).await?)
    }

    /// Pings the server; returns the round-trip time.
    pub async fn ping(&self) -> Result<Duration, ClientError> {
        let started = Instant::now();
        let reply = self.request(ClientMessage::ping()).await?;
        expect(reply, "pong")?;
        Ok(started.elapsed())
    }

    /// The server's and this connection's figures (`custom` action `get_stats`).
    pub async fn get_stats(&self) -> Result<(ServerStats, ClientStats), ClientError> {
        match self.custom("get_stats", None).await? {
            ServerMessage::Stats { server, client, .. } => Ok((*server, client)),
            other => Err(ClientError::from_reply(&other)),
        }
    }

    /// Any `custom` action; returns the reply.
    pub async fn custom(
        &self,
        action: &str,
        data: Option<Value>,
    ) -> Result<ServerMessage, ClientError> {
        self.request(ClientMessage::custom(action, data)).await
    }

    /// Who is subscribed to `channel`.
    pub async fn presence(&self, channel: &str) -> Result<Vec<Member>, ClientError> {
        match self
            .request(ClientMessage::presence(channel_name(channel)?))
            .await?
        {
            ServerMessage::Presence { members, .. } => Ok(members),
            other => Err(ClientError::from_reply(&other)),
        }
    }

    /// Closes the connection politely and ends the session.
    pub async fn close(&self) {
        let (done_tx, done_rx) = oneshot::channel();
        if self
            .commands
            .send(Command::Close { done: done_tx })
            .await
            .is_ok()
        {
            let _ = tokio::time::timeout(Duration::from_secs(2), done_rx).await;
        }
    }
}

/// `name` as a channel, or the error the server would answer (104) without asking it.
fn channel_name(name: &str) -> Result<ChannelName, ClientError> {
    ChannelName::new(name).map_err(|e| {
        ClientError::InvalidRequest(ProtocolError::new(
            ErrorCode::InvalidChannel,
            format!("{name:?}: {e}"),
        ))
    })
}

fn expect(reply: ServerMessage, kind: &str) -> Result<ServerMessage, ClientError> {
    if reply.kind() == kind {
        Ok(reply)
    } else {
        Err(ClientError::from_reply(&reply))
    }
}

fn ack_seq(reply: ServerMessage) -> Result<u64, ClientError> {
    match reply {
        ServerMessage::Ack { seq, .. } => Ok(seq),
        other => Err(ClientError::from_reply(&other)),
    }
}
