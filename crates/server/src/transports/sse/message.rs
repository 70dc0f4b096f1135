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
use serde::Deserialize;
use serde_json::value::RawValue;
use switchboard_hub::Transport;
use switchboard_protocol::ErrorCode;

use crate::{
    app::AppState,
    transports::{
        http_error::{error_response, transport_disabled},
        json_body::{parse_json, read_json_body},
    },
};

/// The body of `POST /sse/message`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SseMessage {
    connection_id: String,
    message: Box<RawValue>,
}

pub async fn message_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let config = &state.config.sse;
    if !config.enabled {
        return transport_disabled("sse");
    }
    let bytes = match read_json_body(&headers, body, config.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(rejection) => return rejection.into_response(),
    };
    let request: SseMessage = match parse_json(&bytes) {
        Ok(request) => request,
        Err(rejection) => return rejection.into_response(),
    };
    let connection = state
        .hub
        .connection(&request.connection_id)
        .filter(|c| c.transport() == Transport::Sse);
    let Some(connection) = connection else {
        return error_response(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownConnection,
            format!(
                "no open SSE connection {:?}; open GET /sse and use the connection_id of its welcome event",
                request.connection_id
            ),
        );
    };
    state
        .hub
        .handle_text(&connection, request.message.get())
        .await;
    StatusCode::NO_CONTENT.into_response()
}
