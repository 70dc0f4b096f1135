//! `GET /sse` and `POST /sse/message`: the hub over Server-Sent Events.
//!
//! Framing (the `frame` module): the response is `200 text/event-stream; charset=utf-8` with
//! `Cache-Control: no-cache` and `X-Accel-Buffering: no`. It opens with a `retry:` hint,
//! then every message the connection receives is one event: `event:` its `type`,
//! `data:` its JSON, and `id:` a resume token (the `token` module) whenever the stream's
//! position changed (every channel message, every `subscribed`). The first event is
//! `welcome`, carrying the public `connection_id` and the secret `session_token` that
//! `POST /sse/message` needs (only this stream's reader ever sees it). A `: heartbeat`
//! comment is written every `heartbeat`, when the server's one ticker wakes the stream
//! (the shared `transports::lifecycle`; no timer per stream).
//!
//! Guarantees:
//! - Resume: `Last-Event-ID` (or `?lastEventId=` for clients that cannot set headers)
//!   subscribes every channel it lists with `since`, so missed messages are replayed in
//!   order or a `gap` event says what is gone. A token that cannot be parsed is not an
//!   error of the stream: it starts fresh and says so with an `error` event (103).
//! - A browser never gives up by mistake: only a request that can never succeed gets a
//!   non-200 answer (400 for a bad channel name, 401 for a connection token refused
//!   (`?token=`, see [`connect_auth`](super::connect_auth)), 503 when SSE is turned off); a server
//!   shutting down or a slow-consumer close ends a 200 stream, which `EventSource`
//!   reconnects after `retry`.
//! - A client that goes away is noticed when hyper drops the body (the read side sees
//!   EOF or a write fails, at the latest on the next heartbeat) and is disconnected from
//!   the hub at once. A client that stops reading is cut off as soon as its outbox
//!   overflows (4001), when a socket write is stuck for the edge's HTTP write timeout
//!   (10 s by default), or after `SSE_WRITE_TIMEOUT` (30 s) without the stream's chunk
//!   buffer draining, whichever comes first.

pub(crate) mod frame;
mod message;
pub(crate) mod token;

use std::{convert::Infallible, net::SocketAddr, sync::Arc};

use axum::{
    body::{Body, Bytes},
    extract::{ConnectInfo, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use switchboard_hub::{Connection, Hub, InitialSubscription, Transport};
use switchboard_protocol::{
    BROADCAST_CHANNEL, ChannelName, ClientMessage, CloseCode, ErrorCode, ProtocolError,
};
use tokio::{sync::mpsc, time::timeout};

pub use message::message_handler;

use self::token::{ResumeToken, StreamPositions};
use super::{
    channel_list::parse_channel_list,
    connect_auth::{authenticate, identity, with_token_channels},
    http_error::{error_response, transport_disabled},
    lifecycle::{
        self, Due, EndReason, Keepalive, KeepaliveClock, Wake, cut_slow_consumer, next_wake,
    },
};
use crate::app::AppState;

/// Deliveries encoded into one chunk of the body before it is handed to hyper.
pub const SSE_WRITE_BATCH: usize = 64;
/// Encoded chunks buffered between the stream task and hyper: a little slack so the
/// task can encode the next batch while hyper writes the last one.
pub const SSE_STREAM_CHUNKS: usize = 4;

/// The query of `GET /sse`.
#[derive(Debug, Deserialize)]
pub struct SseParams {
    /// Comma-separated channels to join on connect.
    channels: Option<String>,
    /// The resume token, for clients that cannot set `Last-Event-ID`.
    #[serde(rename = "lastEventId")]
    last_event_id: Option<String>,
    /// The connection token (a JWT), when the server checks them.
    token: Option<String>,
}

/// `GET /sse`: opens the event stream (see the module's guarantees). Answers non-200
/// only when retrying cannot help: 400 with `error` 104 for a bad channel name in
/// `channels`, 503 with 204 when SSE is off.
pub async fn handler(
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Query(params): Query<SseParams>,
    headers: HeaderMap,
) -> Response {
    let config = &state.config.sse;
    if !config.enabled {
        return transport_disabled("sse");
    }
    let requested = match parse_channel_list(params.channels.as_deref()) {
        Ok(channels) => channels,
        Err(err) => return error_response(StatusCode::BAD_REQUEST, err.code, err.message),
    };
    let granted = match authenticate(&state, params.token.as_deref()) {
        Ok(granted) => granted,
        Err(refused) => return *refused,
    };
    let requested = with_token_channels(requested, &state.hub.config().auto_subscribe, &granted);
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(params.last_event_id)
        .filter(|id| !id.is_empty());
    let resume = last_event_id.map(|id| ResumeToken::parse(&id));
    let token = resume.as_ref().and_then(|r| r.as_ref().ok());
    let subscriptions = initial_subscriptions(requested, &state.hub.config().auto_subscribe, token);

    let hub = state.hub.clone();
    let connection = hub.connect_as(Transport::Sse, Some(remote), identity(&granted));
    let keepalive = Keepalive::sse(config);
    let session_token = state
        .config
        .security
        .session_key
        .issue(connection.id().as_str());
    lifecycle::open_session(
        &hub,
        &connection,
        Some(subscriptions.clone()),
        &keepalive,
        session_token,
    )
    .await;
    if let Some(Err(err)) = &resume {
        let message = format!("Last-Event-ID not used, starting without resume: {err}");
        hub.send_error(
            &connection,
            &ProtocolError::new(ErrorCode::InvalidField, message),
        );
    }
    resubscribe_refused(&hub, &connection, &subscriptions).await;

    let (tx, rx) = mpsc::channel::<Bytes>(SSE_STREAM_CHUNKS);
    let mut first = Vec::new();
    frame::push_retry(&mut first, config.retry);
    // The channel is new and empty, so this cannot fail for lack of room.
    let _ = tx.try_send(Bytes::from(first));
    let stream = EventStream {
        positions: StreamPositions::new(hub.epoch()),
        hub,
        connection,
        keepalive,
        tx,
    };
    state.tasks.spawn(stream.run());

    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        let chunk = rx.recv().await?;
        Some((Ok::<_, Infallible>(chunk), rx))
    }));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        body,
    )
        .into_response()
}

/// The channels to open with: those asked for (or the auto-subscribe list), each with
/// its position from the resume token, plus any other channel the token lists (joined
/// later on the previous stream, or `broadcast`).
fn initial_subscriptions(
    requested: Option<Vec<InitialSubscription>>,
    auto_subscribe: &[ChannelName],
    token: Option<&ResumeToken>,
) -> Vec<InitialSubscription> {
    let mut list = requested.unwrap_or_else(|| {
        auto_subscribe
            .iter()
            .cloned()
            .map(InitialSubscription::new)
            .collect()
    });
    let Some(token) = token else { return list };
    for subscription in &mut list {
        if let Some(seq) = token.positions.get(&subscription.channel) {
            subscription.since = Some(*seq);
            subscription.epoch = Some(token.epoch.clone());
        }
    }
    // The token's other channels go first, so `broadcast` is joined first as on a fresh
    // stream, and the asked-for channels keep their order after it.
    let mut extra: Vec<InitialSubscription> = token
        .positions
        .iter()
        .filter(|(channel, _)| !list.iter().any(|s| s.channel == **channel))
        .map(|(channel, seq)| InitialSubscription {
            channel: channel.clone(),
            since: Some(*seq),
            epoch: Some(token.epoch.clone()),
        })
        .collect();
    extra.sort_by_key(|s| s.channel.as_str() != BROADCAST_CHANNEL);
    extra.append(&mut list);
    extra
}

/// A resume position the hub refused (a `since` ahead of the channel, from a token this
/// hub never issued) leaves the channel unjoined after an `error`; join it afresh so the
/// stream still carries every channel it asked for.
async fn resubscribe_refused(
    hub: &Hub,
    connection: &Arc<Connection>,
    subscriptions: &[InitialSubscription],
) {
    for subscription in subscriptions {
        if subscription.since.is_some() && !connection.is_subscribed(&subscription.channel) {
            let fresh = ClientMessage::Subscribe {
                id: None,
                channel: subscription.channel.clone(),
                since: None,
                epoch: None,
                presence: false,
            };
            hub.handle_message(connection, fresh).await;
        }
    }
}

/// The task that turns one connection's outbox into event-stream chunks.
struct EventStream {
    hub: Arc<Hub>,
    connection: Arc<Connection>,
    positions: StreamPositions,
    keepalive: Keepalive,
    tx: mpsc::Sender<Bytes>,
}

impl EventStream {
    async fn run(mut self) {
        let ended = self.pump().await;
        tracing::debug!(connection = %self.connection.id(), ?ended, "SSE stream ended");
        ended.record(&self.connection);
        self.hub.disconnect(&self.connection).await;
    }

    async fn pump(&mut self) -> EndReason {
        let mut batch = Vec::new();
        let mut out = Vec::new();
        let mut clock = KeepaliveClock::new();
        loop {
            let keepalive = Some((&mut clock, &self.keepalive));
            let outbox = self.connection.outbox();
            let wake = tokio::select! {
                () = self.tx.closed() => return EndReason::ClientGone,
                wake = next_wake(outbox, &mut batch, SSE_WRITE_BATCH, keepalive) => wake,
            };
            match wake {
                Wake::Outbox(closed) => {
                    for delivery in batch.drain(..) {
                        let id = self
                            .positions
                            .observe(&delivery)
                            .then(|| self.positions.token());
                        frame::push_event(&mut out, id.as_deref(), delivery.kind, delivery.text());
                    }
                    if let Some(reason) = closed {
                        frame::push_comment(
                            &mut out,
                            &format!("close {} {}", reason.code(), reason.reason()),
                        );
                        let _ = self.send(&mut out).await;
                        return EndReason::Closed(reason);
                    }
                }
                // A stream has no read side: `Keepalive::sse` culls no one for silence.
                Wake::Keepalive(Due::Heartbeat | Due::IdleTimeout) => {
                    frame::push_comment(&mut out, "heartbeat");
                }
            }
            if let Err(ended) = self.send(&mut out).await {
                return ended;
            }
        }
    }

    /// Hands the encoded bytes to hyper, waiting at most the write timeout, and less
    /// when the outbox overflows meanwhile (the client stopped reading while messages kept
    /// coming): then the connection ends at once instead of lingering until the timeout.
    async fn send(&self, out: &mut Vec<u8>) -> Result<(), EndReason> {
        if out.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(out));
        // `next_batch` with room for nothing returns only once the outbox is closed and
        // empty, which an overflow makes it at once. Any other close (shutdown) still
        // lets this chunk, and the close comment after it, go out: the send comes first.
        let mut nothing = Vec::new();
        let sent = tokio::select! {
            biased;
            sent = timeout(self.keepalive.write_timeout(), self.tx.send(chunk)) => sent,
            Some(CloseCode::SlowConsumer) = self.connection.outbox().next_batch(&mut nothing, 0) => {
                return Err(EndReason::Closed(CloseCode::SlowConsumer));
            }
        };
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(EndReason::ClientGone),
            Err(_) => {
                cut_slow_consumer(&self.hub, &self.connection);
                Err(EndReason::Closed(CloseCode::SlowConsumer))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What one open stream's task costs: the [`EventStream`] and its `async` state.
    /// It was 760 bytes with a timer per stream (plus the `Interval`'s boxed `Sleep` on
    /// the heap); on the shared ticker it is 752 and no timer, and 776 since
    /// `Outbox::next_batch` clears its parked flag when dropped (a 16-byte guard): it must
    /// not grow further.
    #[test]
    fn an_idle_stream_stays_small() {
        let hub = Hub::memory(Default::default());
        let connection = hub.connect(Transport::Sse, None);
        let (tx, _rx) = mpsc::channel(1);
        let stream = EventStream {
            positions: StreamPositions::new("e"),
            hub: hub.clone(),
            connection,
            keepalive: Keepalive::sse(&crate::config::SseConfig::default()),
            tx,
        };
        let size = std::mem::size_of_val(&stream.run());
        assert!(size <= 776, "an SSE stream's task is {size} bytes");
    }
}
