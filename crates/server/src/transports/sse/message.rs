//! `POST /sse/message`: the client-to-server half of the SSE transport.
//!
//! Body (`Content-Type: application/json`): `{"connection_id": "<from welcome>",
//! "message": {<a protocol message>}}`. The message is handled as if it arrived on the
//! stream's own connection: replies and errors about its content (`ack`, `pong`,
//! `error` 1xx...) go out as events on that stream, in order with everything else. The
//! request itself is answered `204 No Content`, or an `error` body for an envelope that
//! cannot be delivered: 415 + 202, 413 + 206, 400 + 100/103, 404 + 200 (no such SSE
//! connection), 503 + 204 (SSE turned off).

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use switchboard_hub::Transport;

use crate::{
    app::AppState,
    transports::{
        http_error::transport_disabled,
        json_body::{MessageEnvelope, read_envelope},
    },
};

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
            "no open SSE connection {id:?}; open GET /sse and use the connection_id of its welcome event"
        )
    };
    let found = read_envelope(&headers, body, config.max_body_bytes, find, missing).await;
    let (request, connection): (MessageEnvelope, _) = match found {
        Ok(found) => found,
        Err(response) => return response,
    };
    state
        .hub
        .handle_text(&connection, request.message.get())
        .await;
    StatusCode::NO_CONTENT.into_response()
}
