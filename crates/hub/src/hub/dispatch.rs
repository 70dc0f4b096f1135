//! What the hub does with each client message: the rate limit and size check, parsing,
//! and one arm per message type (publish paths, subscriptions, presence, stats). Errors
//! become `error` replies to the sender; nothing here can fail the server or reach
//! another connection.

use std::sync::Arc;

use switchboard_protocol::{
    ChannelName, ClientMessage, ErrorCode, ProtocolError, RequestId, ServerMessage, delivery::Body,
    now_ms, parse_client_message,
};

use super::Hub;
use crate::{
    broker::{BrokerError, SubscribeRequest},
    connection::Connection,
    rate::Admission,
};

impl Hub {
    /// Handles one client message as text: size check, parse, dispatch. Errors are
    /// queued to the connection as `error` messages; nothing here can fail the server.
    pub async fn handle_text(&self, connection: &Arc<Connection>, text: &str) {
        connection.count_in();
        match connection.admit(&self.rate_limit) {
            Admission::Admit => {}
            Admission::Drop => return,
            Admission::DropAndNotify => {
                let err = ProtocolError::new(
                    ErrorCode::RateLimited,
                    format!(
                        "more than {} messages per second (bursts of {}); messages are dropped until the rate falls",
                        self.config.rate_limit_per_sec, self.config.rate_limit_burst
                    ),
                );
                self.send_error(connection, &err);
                return;
            }
        }
        if text.len() > self.config.max_message_bytes {
            let err = ProtocolError::new(
                ErrorCode::MessageTooLarge,
                format!(
                    "message is {} bytes; the limit is {}",
                    text.len(),
                    self.config.max_message_bytes
                ),
            );
            self.send_error(connection, &err);
            return;
        }
        match parse_client_message(text) {
            Ok(message) => self.dispatch(connection, message).await,
            Err(err) => self.send_error(connection, &err),
        }
    }

    /// Handles one parsed client message (counted as received).
    pub async fn handle_message(&self, connection: &Arc<Connection>, message: ClientMessage) {
        connection.count_in();
        self.dispatch(connection, message).await;
    }

    pub(super) async fn dispatch(&self, connection: &Arc<Connection>, message: ClientMessage) {
        let id = message.id().cloned();
        if let Err(err) = self.execute(connection, message).await {
            self.send_error(connection, &err.with_id(id));
        }
    }

    async fn execute(
        &self,
        connection: &Arc<Connection>,
        message: ClientMessage,
    ) -> Result<(), ProtocolError> {
        match message {
            ClientMessage::Chat {
                id,
                channel,
                user,
                text,
            } => {
                self.check_writable(&channel)?;
                // An authenticated connection speaks as its token's user, whatever
                // name the message gives.
                let body = Body::Chat {
                    user: connection.user().unwrap_or(&user),
                    text: &text,
                };
                self.publish_and_ack(connection, id, &channel, body).await?;
            }
            ClientMessage::Broadcast { id, text } => {
                let body = Body::Broadcast { text: &text };
                self.publish_and_ack(connection, id, &self.broadcast, body)
                    .await?;
            }
            ClientMessage::Publish { id, channel, data } => {
                self.check_writable(&channel)?;
                let body = Body::Message { data: &data };
                self.publish_and_ack(connection, id, &channel, body).await?;
            }
            ClientMessage::Ping { id } => {
                self.reply(connection, &ServerMessage::Pong { id, ts: now_ms() })
            }
            ClientMessage::Custom { id, action, .. } => match action.as_str() {
                "get_stats" => {
                    let stats = ServerMessage::Stats {
                        id,
                        ts: now_ms(),
                        server: Box::new(self.stats()),
                        client: self.client_stats(connection),
                    };
                    self.reply(connection, &stats);
                }
                other => {
                    return Err(ProtocolError::new(
                        ErrorCode::UnknownAction,
                        format!("unknown custom action {other:?}; known actions: get_stats"),
                    ));
                }
            },
            ClientMessage::Subscribe {
                id,
                channel,
                since,
                epoch,
                presence,
            } => {
                self.subscribe(connection, id, channel, since, epoch, presence)
                    .await?;
            }
            ClientMessage::Unsubscribe { id, channel } => {
                if channel == self.broadcast {
                    return Err(ProtocolError::new(
                        ErrorCode::ReadOnlyChannel,
                        "every connection stays subscribed to `broadcast`",
                    ));
                }
                let removed = {
                    let mut subscriptions = connection.subscriptions.lock();
                    let before = subscriptions.len();
                    subscriptions.retain(|c| *c != channel);
                    before != subscriptions.len()
                };
                if !removed {
                    return Err(ProtocolError::new(
                        ErrorCode::NotSubscribed,
                        format!("not subscribed to {channel}"),
                    ));
                }
                self.broker.unsubscribe(&channel, connection).await;
                self.reply(
                    connection,
                    &ServerMessage::Unsubscribed {
                        id,
                        channel: channel.to_string(),
                    },
                );
            }
            ClientMessage::Presence { id, channel } => {
                let members = self.broker.presence(&channel).await;
                self.reply(
                    connection,
                    &ServerMessage::Presence {
                        id,
                        channel: channel.to_string(),
                        members,
                    },
                );
            }
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        connection: &Arc<Connection>,
        id: Option<RequestId>,
        channel: ChannelName,
        since: Option<u64>,
        epoch: Option<String>,
        presence: bool,
    ) -> Result<(), ProtocolError> {
        let newly_added = {
            let mut subscriptions = connection.subscriptions.lock();
            let newly_added = !subscriptions.contains(&channel);
            if newly_added {
                if subscriptions.len() >= self.config.max_subscriptions {
                    return Err(ProtocolError::new(
                        ErrorCode::TooManySubscriptions,
                        format!(
                            "a connection may hold {} subscriptions",
                            self.config.max_subscriptions
                        ),
                    ));
                }
                // Exactly one more slot: most connections hold two or three channels
                // for their whole life, and an idle connection's memory is a first-class figure.
                subscriptions.reserve_exact(1);
                subscriptions.push(channel.clone());
            }
            newly_added
        };
        let request = SubscribeRequest {
            id,
            channel: channel.clone(),
            connection: connection.clone(),
            since,
            epoch,
            presence,
        };
        if let Err(err) = self.broker.subscribe(request).await {
            // A failed re-subscribe (e.g. `since` ahead) leaves the existing subscription
            // alone: the broker still holds it, and `disconnect` must find it to remove it.
            if newly_added {
                connection.subscriptions.lock().retain(|c| *c != channel);
            }
            return Err(to_protocol(err));
        }
        Ok(())
    }

    fn check_writable(&self, channel: &ChannelName) -> Result<(), ProtocolError> {
        if *channel == self.broadcast || self.config.read_only_channels.contains(channel) {
            return Err(ProtocolError::new(
                ErrorCode::ReadOnlyChannel,
                format!("channel {channel} is written only by the server"),
            ));
        }
        Ok(())
    }

    /// Publishes as `connection` and, when the request carried an `id`, answers `ack`
    /// with the assigned `seq`.
    async fn publish_and_ack(
        &self,
        connection: &Connection,
        id: Option<RequestId>,
        channel: &ChannelName,
        body: Body<'_>,
    ) -> Result<(), ProtocolError> {
        let published = self
            .broker
            .publish(channel, body, Some(connection))
            .await
            .map_err(to_protocol)?;
        if let Some(id) = id {
            let ack = ServerMessage::Ack {
                id,
                channel: channel.to_string(),
                seq: published.seq,
                ts: published.ts,
            };
            self.reply(connection, &ack);
        }
        Ok(())
    }
}

fn to_protocol(err: BrokerError) -> ProtocolError {
    let code = match err {
        BrokerError::TooManyChannels(_) => ErrorCode::TooManyChannels,
        BrokerError::ChannelQuota(_) => ErrorCode::ChannelQuotaExceeded,
        BrokerError::SinceAhead { .. } | BrokerError::SinceOutOfRange { .. } => {
            ErrorCode::InvalidSince
        }
        BrokerError::Unavailable(_) => ErrorCode::Internal,
    };
    ProtocolError::new(code, err.to_string())
}
