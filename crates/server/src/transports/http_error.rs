//! Protocol errors answered over plain HTTP: a status code plus the same JSON `error`
//! object the streaming transports send.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use switchboard_protocol::{ErrorCode, ProtocolError, ServerMessage};

/// An `error` message with the HTTP status that fits it.
pub(crate) fn error_response(
    status: StatusCode,
    code: ErrorCode,
    message: impl Into<String>,
) -> Response {
    let body = ServerMessage::from_error(&ProtocolError::new(code, message));
    (status, Json(body)).into_response()
}

/// The answer when a transport is turned off by configuration.
pub(crate) fn transport_disabled(name: &str) -> Response {
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::TransportDisabled,
        format!("the {name} transport is turned off on this server"),
    )
}
