//! Reading the JSON bodies of the HTTP transports (`POST /sse/message`, `/poll`,
//! `/short-poll`, `/poll/message`, `/poll/close`): content type, size limit, then strict
//! parsing; and, for the envelopes that act for a session, finding it by its secret
//! token ([`read_envelope`], through [`super::credential`]).
//!
//! Guarantees: a body is never buffered beyond its limit (a `Content-Length` over it is
//! refused before reading, a chunked body as soon as it crosses it), and every refusal is
//! an `error` object with a status: 415 + 202 for a content type other than
//! `application/json`, 413 + 206 for a body over the limit, 400 + 100 for malformed JSON,
//! 400 + 103 for a well-formed body with a missing, unknown or mistyped field, 403 + 400
//! for an envelope without a valid `session_token`, 408 + 208 for a body that did not
//! arrive within the body timeout (`crate::edge::body`).

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;
use switchboard_protocol::{ErrorCode, envelope::SessionCredential};

use super::{credential::session_id, http_error::error_response};
use crate::security::SessionKey;

/// A refused body: the status and `error` it is answered with.
#[derive(Debug)]
pub(crate) struct Rejection {
    status: StatusCode,
    code: ErrorCode,
    message: String,
}

impl Rejection {
    fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        error_response(self.status, self.code, self.message)
    }
}

/// Checks the content type and reads the body, up to `limit` bytes.
pub(crate) async fn read_json_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, Rejection> {
    if !is_json(headers) {
        return Err(Rejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::WrongContentType,
            "send the body as Content-Type: application/json",
        ));
    }
    let too_large = || {
        Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BodyTooLarge,
            format!("the request body is over the {limit}-byte limit"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        tracing::debug!(%err, "request body not read");
        if crate::edge::body::is_body_timeout(&err) {
            return Rejection::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::RequestTimeout,
                "the request body did not arrive within the body timeout",
            );
        }
        // `to_bytes` reports an over-limit body and a broken one the same way; a body
        // that stopped arriving is answered as too large only when it really is.
        too_large()
    })
}

/// Parses a JSON object into `T`, mapping serde's errors onto protocol codes.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Rejection> {
    serde_json::from_slice(bytes).map_err(|err| {
        let code = if err.is_data() {
            ErrorCode::InvalidField
        } else {
            ErrorCode::InvalidJson
        };
        Rejection::new(
            StatusCode::BAD_REQUEST,
            code,
            format!("request body: {err}"),
        )
    })
}

/// Reads and parses an envelope (up to `limit` bytes), checks its `session_token` with
/// `key`, then finds the connection the token grants with `find`; an unknown one (closed,
/// expired) is answered 404 + 200 with `missing(id)` as the message. Every refusal comes
/// back as the response to send.
pub(crate) async fn read_envelope<E: DeserializeOwned + SessionCredential, C>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    key: &SessionKey,
    find: impl FnOnce(&str) -> Option<C>,
    missing: impl FnOnce(&str) -> String,
) -> Result<(E, C), Response> {
    let bytes = read_json_body(headers, body, limit)
        .await
        .map_err(IntoResponse::into_response)?;
    let envelope: E = parse_json(&bytes).map_err(IntoResponse::into_response)?;
    let id = session_id(key, &envelope).map_err(IntoResponse::into_response)?;
    match find(id) {
        Some(connection) => Ok((envelope, connection)),
        None => Err(error_response(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownConnection,
            missing(id),
        )),
    }
}

/// True for `application/json`, with or without parameters (`; charset=utf-8`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers));
        for (value, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("text/plain", false),
            ("application/jsonx", false),
        ] {
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_json(&headers), ok, "{value}");
        }
    }
}
