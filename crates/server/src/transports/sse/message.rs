//! `POST /sse/message`: the client-to-server half of the SSE transport.
//!
//! Body (`Content-Type: application/json`): `{"session_token": "<from welcome>",
//! "message": {<a protocol message>}}` (the protocol crate's `MessageEnvelope`). The
//! token, not the public `connection_id`, is what lets the request act for the stream
//! (see [`super::super::credential`]). The message is handled as if it arrived on the
//! stream's own connection: replies and errors about its content (`ack`, `pong`,
//! `error` 1xx...) go out as events on that stream, in order with everything else. The
//! request itself is answered `204 No Content`, or an `error` body for an envelope that
//! cannot be delivered: 415 + 202, 413 + 206, 400 + 100/103, 403 + 400 (no valid
//! `session_token`), 404 + 200 (the token's stream has ended), 503 + 204 (SSE turned off).

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use switchboard_hub::Transport;
use switchboard_protocol::envelope::MessageEnvelope;

use crate::{
    app::AppState,
    transports::{http_error::transport_disabled, json_body::read_envelope},
};

/// `POST /sse/message`: checks the envelope and its `session_token`, then hands the
/// message to the stream's hub connection as if it had arrived on the stream; `204` at
/// once, the replies follow as events on the stream.
pub async fn message_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let config = &state.config.sse;
    if !config.enabled {
        return transport_disabled("sse");
    }
    let find = |id: &str| {
        let connection = state.hub.connection(id)?;
        (connection.transport() == Transport::Sse).then_some(connection)
    };
    let missing = |id: &str| {
        format!(
            "the SSE stream {id:?} has ended; open GET /sse again and use the session_token of its welcome event"
        )
    };
    let key = &state.config.security.session_key;
    let found = read_envelope(&headers, body, config.max_body_bytes, key, find, missing).await;
    let (request, connection): (MessageEnvelope<'static>, _) = match found {
        Ok(found) => found,
        Err(response) => return response,
    };
    state
        .hub
        .handle_text(&connection, request.message.get())
        .await;
    StatusCode::NO_CONTENT.into_response()
}
