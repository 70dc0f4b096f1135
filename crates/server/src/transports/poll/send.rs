//! `POST /poll/message` and `POST /poll/close`: the side doors of a polling session.
//!
//! A session allows one poll at a time, so a client holding a long poll needs another
//! way to send without dropping it: `POST /poll/message` with
//! `{"connection_id": "...", "message": {<a protocol message>}}` hands the message to the
//! hub as that session and answers `204` at once; replies (`ack`, `pong`, `error` 1xx...)
//! arrive in the session's next poll response, in order with everything else (a held
//! long poll wakes up for them). It is not a poll, so it is allowed while one is held.
//!
//! `POST /poll/close` with `{"session_token": "..."}` ends the session now instead of
//! after its grace period: `204`, and a poll held on it is answered with `"closed"` 1000.
//!
//! Both serve sessions of either endpoint (`/poll`, `/short-poll`). Errors: 503 + 204
//! (both polling transports turned off), 415 + 202, 413 + 206, 400 + 100/103, 403 + 400
//! (no valid `session_token`: nothing is sent, nothing is closed), 404 + 200.

use std::sync::Arc;

use axum::{
    body::Body,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;
use switchboard_protocol::envelope::{CloseRequest, MessageEnvelope, SessionCredential};

use super::poll_session::{PollSession, Sessions};
use crate::{
    app::AppState,
    transports::{http_error::transport_disabled, json_body::read_envelope},
};

/// Reads and parses the body, checks its token, and finds the session it grants.
async fn session_for<E: DeserializeOwned + SessionCredential>(
    state: &AppState,
    sessions: &Sessions,
    headers: &HeaderMap,
    body: Body,
) -> Result<(E, Arc<PollSession>), Response> {
    let config = &state.config.poll;
    if !config.long_enabled && !config.short_enabled {
        return Err(transport_disabled("long_poll"));
    }
    let missing = |id: &str| format!("the polling session {id:?} has ended (expired or closed)");
    read_envelope(
        headers,
        body,
        config.max_body_bytes,
        &state.config.security.session_key,
        |id| sessions.get(id),
        missing,
    )
    .await
}

pub(super) async fn message(
    state: AppState,
    sessions: Arc<Sessions>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let found = session_for::<MessageEnvelope<'static>>(&state, &sessions, &headers, body).await;
    let (request, session) = match found {
        Ok(found) => found,
        Err(response) => return response,
    };
    state
        .hub
        .handle_text(session.connection(), request.message.get())
        .await;
    StatusCode::NO_CONTENT.into_response()
}

pub(super) async fn close(
    state: AppState,
    sessions: Arc<Sessions>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let found = session_for::<CloseRequest<'static>>(&state, &sessions, &headers, body).await;
    let session = match found {
        Ok((_, session)) => session,
        Err(response) => return response,
    };
    sessions.remove(session.connection().id());
    state.hub.disconnect(session.connection()).await;
    tracing::debug!(connection = %session.connection().id(), "polling session closed by the client");
    StatusCode::NO_CONTENT.into_response()
}
