//! `POST /poll` (long polling) and `POST /short-poll`: the hub over plain requests.
//!
//! A *session* is a hub connection that outlives requests, found by its secret
//! `session_token` (its `welcome` and every response carry it; the public
//! `connection_id` grants nothing, see the `transports::credential` module). A request without a token
//! opens a session (counted as `long_poll` or `short_poll` by the endpoint it arrived
//! on) and returns at once with `welcome` and `subscribed`. A request with one may
//! acknowledge a `cursor`, may carry a `message` to send, and then gets
//! every message waiting: at once when there are any (or always, for `/short-poll`),
//! otherwise after the first one arrives or, with none, after `timeout` with
//! `"timeout": true`. The `bodies` module has the bodies, `poll_session` the cursor rules.
//!
//! Guarantees:
//! - A response lost on the wire is delivered again: messages stay pending until a later
//!   poll acknowledges their cursor.
//! - A response carries at most `max_batch` messages and `max_response_bytes` of them (a
//!   single larger message goes alone); the rest waits for the next poll. Every HTTP
//!   response, this one included, is cut if the client takes none of it for
//!   `http_write_timeout` (`crate::edge`).
//! - One poll per session at a time: a second concurrent one gets 409 + 201.
//! - A session not polled within `session_grace` is closed by the reaper task (tracked,
//!   stopped at shutdown) and disconnected from the hub.
//! - Long polls end at once when the server shuts down (with `"closed"` 1001), so a
//!   graceful shutdown never waits out a poll timeout.
//! - Sending without polling (`POST /poll/message`) and ending a session
//!   (`POST /poll/close`) are in the `send` module.
//! - The request that opens a session carries the connection token as
//!   `Authorization: Bearer …` (or `?token=`); a refused one gets 401 + 403-410 and opens
//!   nothing (see `transports::connect_auth`). Later requests need only the `session_token`.
//! - Errors: 503 + 204 (turned off), 415 + 202, 413 + 206, 400 + 100/103/104, 403 + 400
//!   (no valid `session_token`: checked before anything else about the session, so a
//!   refused request never holds, acknowledges or ends one), 404 + 200 (the token's
//!   session has ended), 409 + 201, 429 + 203 (too many sessions from one address).

pub(crate) mod bodies;
mod poll_session;
mod send;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::{ConnectInfo, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::post,
};
use switchboard_hub::{Hub, Timings, Transport};
use switchboard_protocol::{CloseCode, ErrorCode, envelope::PollRequest};

use self::{
    bodies::{render_response, subscription_of},
    poll_session::{PollSession, ResponseBounds, Sessions},
};
use super::{
    connect_auth::{Granted, authenticate, bearer_or_query, identity, with_token_channels},
    credential::session_id,
    http_error::{error_response, transport_disabled},
    json_body::{parse_json, read_json_body},
};
use crate::app::AppState;

/// The reaper looks for expired sessions this often at most (a quarter of the grace
/// period, so a session outlives its grace by at most a quarter of it).
pub const POLL_REAPER_MAX_INTERVAL: Duration = Duration::from_secs(5);

/// Which endpoint a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Long,
    Short,
}

impl Kind {
    fn transport(self) -> Transport {
        match self {
            Kind::Long => Transport::LongPoll,
            Kind::Short => Transport::ShortPoll,
        }
    }
}

/// The polling routes, with their session store and its reaper (spawned on `state.tasks`).
pub fn router(state: &AppState) -> Router<AppState> {
    let sessions = Arc::new(Sessions::new(state.config.poll.max_sessions_per_addr));
    state.tasks.spawn(reap(state.clone(), sessions.clone()));
    let long = sessions.clone();
    let short = sessions.clone();
    let sender = sessions.clone();
    let closer = sessions;
    Router::new()
        .route(
            "/poll/message",
            post(
                move |State(state): State<AppState>, headers: HeaderMap, body: Body| {
                    send::message(state, sender, headers, body)
                },
            ),
        )
        .route(
            "/poll/close",
            post(
                move |State(state): State<AppState>, headers: HeaderMap, body: Body| {
                    send::close(state, closer, headers, body)
                },
            ),
        )
        .route(
            "/poll",
            post(
                move |State(state): State<AppState>,
                      ConnectInfo(remote): ConnectInfo<SocketAddr>,
                      uri: Uri,
                      headers: HeaderMap,
                      body: Body| {
                    handle(state, long, Kind::Long, remote, (uri, headers), body)
                },
            ),
        )
        .route(
            "/short-poll",
            post(
                move |State(state): State<AppState>,
                      ConnectInfo(remote): ConnectInfo<SocketAddr>,
                      uri: Uri,
                      headers: HeaderMap,
                      body: Body| {
                    handle(state, short, Kind::Short, remote, (uri, headers), body)
                },
            ),
        )
}

/// `?token=` on the request that opens a session (when `Authorization` cannot be set).
#[derive(Debug, serde::Deserialize)]
struct TokenParam {
    token: Option<String>,
}

async fn handle(
    state: AppState,
    sessions: Arc<Sessions>,
    kind: Kind,
    remote: SocketAddr,
    (uri, headers): (Uri, HeaderMap),
    body: Body,
) -> Response {
    let config = &state.config.poll;
    let enabled = match kind {
        Kind::Long => config.long_enabled,
        Kind::Short => config.short_enabled,
    };
    if !enabled {
        return transport_disabled(kind.transport().as_str());
    }
    let bytes = match read_json_body(&headers, body, config.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(rejection) => return rejection.into_response(),
    };
    let request: PollRequest<'static> = match parse_json(&bytes) {
        Ok(request) => request,
        Err(rejection) => return rejection.into_response(),
    };
    if request.session_token.is_none() && request.connection_id.is_none() {
        let query = Query::<TokenParam>::try_from_uri(&uri).ok();
        let token = bearer_or_query(&headers, query.as_ref().and_then(|q| q.token.as_deref()));
        let granted = match authenticate(&state, token) {
            Ok(granted) => granted,
            Err(refused) => return *refused,
        };
        return open(&state, &sessions, kind, remote, request, granted).await;
    }
    let id = match session_id(&state.config.security.session_key, &request) {
        Ok(id) => id.to_owned(),
        Err(refused) => return refused.into_response(),
    };
    poll(&state, &sessions, kind, &id, request).await
}

/// Opens a session and answers at once with what the hub queued (`welcome`, `subscribed`).
async fn open(
    state: &AppState,
    sessions: &Sessions,
    kind: Kind,
    remote: SocketAddr,
    request: PollRequest<'static>,
    granted: Granted,
) -> Response {
    if request.cursor.is_some() {
        return error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidField,
            "`cursor` belongs to a poll of an existing session; send `session_token` with it",
        );
    }
    let channels = match request.channels.map(|list| {
        list.into_iter()
            .map(subscription_of)
            .collect::<Result<Vec<_>, _>>()
    }) {
        None => None,
        Some(Ok(channels)) => Some(channels),
        Some(Err(err)) => return error_response(StatusCode::BAD_REQUEST, err.code, err.message),
    };
    let channels = with_token_channels(channels, &state.hub.config().auto_subscribe, &granted);
    if let Err(full) = sessions.reserve(remote.ip()) {
        return error_response(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManySessions,
            format!(
                "this address already holds {} polling sessions; poll or let one expire",
                full.0
            ),
        );
    }
    let hub = &state.hub;
    let connection = hub.connect_as(kind.transport(), Some(remote), identity(&granted));
    let timings = Timings {
        heartbeat_interval_ms: 0,
        idle_timeout_ms: state.config.poll.session_grace.as_millis() as u64,
    };
    let token = state
        .config
        .security
        .session_key
        .issue(connection.id().as_str());
    hub.open_session(&connection, channels, timings, Some(token.clone()))
        .await;
    let session = Arc::new(PollSession::new(connection, remote.ip(), token));
    sessions.insert(session.clone());
    tracing::debug!(connection = %session.connection().id(), transport = %kind.transport(), "polling session opened");
    let Some(_guard) = session.begin() else {
        return concurrent_poll();
    };
    if let Some(message) = &request.message {
        hub.handle_text(session.connection(), message.get()).await;
    }
    respond(hub, sessions, &session, bounds(state), false).await
}

fn bounds(state: &AppState) -> ResponseBounds {
    ResponseBounds {
        messages: state.config.poll.max_batch,
        bytes: state.config.poll.max_response_bytes,
    }
}

/// Polls an existing session (its token already checked).
async fn poll(
    state: &AppState,
    sessions: &Sessions,
    kind: Kind,
    id: &str,
    request: PollRequest<'static>,
) -> Response {
    let Some(session) = sessions.get(id) else {
        return error_response(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownConnection,
            format!(
                "the polling session {id:?} has ended (expired or closed); open one with a body without session_token"
            ),
        );
    };
    if request.channels.is_some() {
        return error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidField,
            "`channels` only opens a session; join more with a `subscribe` message",
        );
    }
    let Some(_guard) = session.begin() else {
        return concurrent_poll();
    };
    if let Some(cursor) = request.cursor {
        if let Err(issued) = session.acknowledge(cursor) {
            return error_response(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidField,
                format!("cursor {cursor} is ahead of the last one issued ({issued})"),
            );
        }
    }
    let hub = &state.hub;
    if let Some(message) = &request.message {
        hub.handle_text(session.connection(), message.get()).await;
    }
    let config = &state.config.poll;
    let limits = bounds(state);
    let mut timed_out = false;
    let mut closed = collect(&session, limits);
    if kind == Kind::Long && closed.is_none() && !session.has_pending() {
        let mut batch = Vec::new();
        // The first message to arrive; `collect` then takes the rest within the bounds.
        let room = session.room(limits).min(1);
        tokio::select! {
            result = session.connection().outbox().next_batch(&mut batch, room) => closed = result,
            () = tokio::time::sleep(config.timeout) => timed_out = true,
            () = state.shutdown.cancelled() => closed = Some(CloseCode::GoingAway),
        }
        session.extend(batch);
        // Whatever else arrived in the same instant goes in the same response.
        closed = closed.or_else(|| collect(&session, limits));
    }
    if let Some(reason) = closed {
        return finish(hub, sessions, &session, reason, timed_out, limits).await;
    }
    respond(hub, sessions, &session, limits, timed_out).await
}

/// Moves what the outbox holds into the session's pending list, up to the response
/// bounds; the close reason once the outbox is closed and empty. One message at a time,
/// so pending passes the byte bound by one message at most (a poll takes at most
/// `max_batch` of them, so this loop is short).
fn collect(session: &PollSession, bounds: ResponseBounds) -> Option<CloseCode> {
    let mut batch = Vec::with_capacity(1);
    while session.room(bounds) > 0 {
        let closed = session.connection().outbox().drain_into(&mut batch, 1);
        if batch.is_empty() {
            return closed;
        }
        session.extend(batch.drain(..));
    }
    None
}

/// Answers with every pending message (collecting first), ending the session if closed.
async fn respond(
    hub: &Hub,
    sessions: &Sessions,
    session: &Arc<PollSession>,
    bounds: ResponseBounds,
    timed_out: bool,
) -> Response {
    if let Some(reason) = collect(session, bounds) {
        return finish(hub, sessions, session, reason, timed_out, bounds).await;
    }
    let (messages, cursor) = session.response(bounds.bytes);
    let timed_out = timed_out && messages.is_empty();
    json_response(render_response(
        session.connection().id().as_str(),
        session.token(),
        cursor,
        timed_out,
        &messages,
        None,
    ))
}

/// The last response of a closed session: what was pending or still queued (a
/// shutdown flushes queued messages), and why it ended.
async fn finish(
    hub: &Hub,
    sessions: &Sessions,
    session: &Arc<PollSession>,
    reason: CloseCode,
    timed_out: bool,
    bounds: ResponseBounds,
) -> Response {
    let _ = collect(session, bounds);
    let (messages, cursor) = session.response(bounds.bytes);
    sessions.remove(session.connection().id());
    hub.disconnect(session.connection()).await;
    tracing::debug!(connection = %session.connection().id(), ?reason, "polling session closed");
    json_response(render_response(
        session.connection().id().as_str(),
        session.token(),
        cursor,
        timed_out && messages.is_empty(),
        &messages,
        Some(reason),
    ))
}

fn concurrent_poll() -> Response {
    error_response(
        StatusCode::CONFLICT,
        ErrorCode::ConcurrentPoll,
        "another poll is already waiting on this session; wait for its response",
    )
}

fn json_response(body: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Closes sessions that stopped polling; at shutdown, closes them all.
async fn reap(state: AppState, sessions: Arc<Sessions>) {
    let grace = state.config.poll.session_grace;
    let every = (grace / 4).clamp(Duration::from_millis(10), POLL_REAPER_MAX_INTERVAL);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => break,
            _ = tick.tick() => {
                for session in sessions.take_expired(grace) {
                    tracing::debug!(connection = %session.connection().id(), "polling session expired");
                    state.hub.disconnect(session.connection()).await;
                }
            }
        }
    }
    for session in sessions.take_all() {
        state.hub.disconnect(session.connection()).await;
    }
}
