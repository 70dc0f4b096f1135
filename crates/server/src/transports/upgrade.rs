//! The WebSocket opening handshake (RFC 6455 section 4.2), shared by `/ws` and `/ws/echo`.
//!
//! Done here rather than through a framework extractor so the connection gets exactly the
//! tungstenite configuration we choose (small read buffer, size limits) and its errors
//! stay typed, which is what lets the session map them to the right close codes.

use std::future::Future;

use axum::{
    extract::Request,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::{FutureExt, future::Either};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use switchboard_protocol::ErrorCode;
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{handshake::derive_accept_key, protocol::Role, protocol::WebSocketConfig},
};
use tokio_util::task::TaskTracker;

use super::http_error::error_response;

/// An upgraded server-side WebSocket.
pub(crate) type ServerSocket = WebSocketStream<TokioIo<Upgraded>>;

fn header_has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Validates the handshake and answers `101 Switching Protocols`; once the connection is
/// upgraded, `on_socket` runs on `tasks` (so shutdown can wait for it).
pub(crate) fn accept<F, Fut>(
    mut request: Request,
    config: WebSocketConfig,
    tasks: &TaskTracker,
    on_socket: F,
) -> Response
where
    F: FnOnce(ServerSocket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let headers = request.headers();
    if !header_has_token(headers, header::UPGRADE, "websocket")
        || !header_has_token(headers, header::CONNECTION, "upgrade")
    {
        let mut response = error_response(
            StatusCode::UPGRADE_REQUIRED,
            ErrorCode::WrongContentType,
            "this endpoint speaks WebSocket: send a GET with `Connection: Upgrade` and `Upgrade: websocket`",
        );
        response
            .headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return response;
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(|v| v.as_bytes())
        != Some(b"13")
    {
        let mut response = error_response(
            StatusCode::UPGRADE_REQUIRED,
            ErrorCode::WrongContentType,
            "only WebSocket version 13 (RFC 6455) is supported",
        );
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return response;
    }
    // The key must be the base64 of 16 bytes: 24 characters ending in "==".
    let key = match headers.get(header::SEC_WEBSOCKET_KEY) {
        Some(key) if key.len() == 24 && key.as_bytes().ends_with(b"==") => key.clone(),
        _ => {
            return error_response(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidField,
                "missing or malformed Sec-WebSocket-Key",
            );
        }
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    // Combinators rather than an `async` block: the task then holds either the upgrade
    // in flight or the connection's future, never both, and no copy of the socket
    // beside it (an idle connection's task is as small as its session; see
    // docs/benchmarks.md, idle memory).
    let connection = on_upgrade.then(move |upgraded| {
        match upgraded.map(|upgraded| {
            // Never pending: tokio-tungstenite only wraps the stream.
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .now_or_never()
        }) {
            Ok(Some(socket)) => Either::Left(on_socket(socket)),
            Ok(None) => {
                tracing::debug!("WebSocket setup unexpectedly pending; dropped");
                Either::Right(std::future::ready(()))
            }
            Err(err) => {
                tracing::debug!(%err, "WebSocket upgrade failed");
                Either::Right(std::future::ready(()))
            }
        }
    });
    tasks.spawn(connection);
    let accept = derive_accept_key(key.as_bytes());
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, HeaderValue::from_static("upgrade")),
            (header::UPGRADE, HeaderValue::from_static("websocket")),
            (
                header::SEC_WEBSOCKET_ACCEPT,
                HeaderValue::from_str(&accept).unwrap_or_else(|_| HeaderValue::from_static("")),
            ),
        ],
    )
        .into_response()
}
