//! The origin and host guard: two axum middlewares, one around the transports and one
//! around the dashboard and its API (see `crate::routes`).
//!
//! - Transports (`/ws`, `/ws/echo`, `/sse`, `/sse/message`, `/poll`, `/short-poll`,
//!   `/poll/message`, `/poll/close`): a request carrying `Origin` must come from an
//!   allowed origin, or it is answered `403` with an `error` 401 `origin_not_allowed`
//!   before any handler runs (a WebSocket is never upgraded, no session is opened). A
//!   request without `Origin` is not a browser's and passes: the origin is what a browser
//!   adds and a page cannot forge. Allowed cross-origin requests get CORS headers
//!   (`Access-Control-Allow-Origin` naming the origin, `Vary: Origin`), and a preflight
//!   (`OPTIONS` with `Access-Control-Request-Method`) is answered `204` here.
//! - Dashboard (`/`, its scripts, `/api/...`): the `Host` must be an allowed host, or the
//!   answer is `421 Misdirected Request` with an `error` 402 `host_not_allowed` (the
//!   defence against DNS rebinding: a page whose name was re-pointed at this server names
//!   its own host); then the same origin rule as above, without CORS (the dashboard
//!   API is for the dashboard's own page).
//!
//! `/healthz` is outside both: a load balancer's probe names whatever host it likes.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use switchboard_protocol::ErrorCode;

use super::rules::Rules;
use crate::transports::http_error::error_response;

/// How long a browser may cache a preflight answer, in seconds: ten minutes spares a
/// polling client one `OPTIONS` per poll, and a changed rule takes effect soon enough.
pub(crate) const CORS_MAX_AGE_SECS: u32 = 600;
/// What the HTTP transports accept: `GET /sse`, `POST` for the rest.
const CORS_ALLOW_METHODS: &str = "GET, POST";
/// Request headers a cross-origin client may set: the JSON bodies' type, and the resume
/// header of a hand-made SSE client.
const CORS_ALLOW_HEADERS: &str = "content-type, last-event-id";

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    // A header that is not visible ASCII is treated as garbage, never as absent.
    headers.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"))
}

fn refuse_origin(origin: &str) -> Response {
    error_response(
        StatusCode::FORBIDDEN,
        ErrorCode::OriginNotAllowed,
        format!(
            "requests from the web origin {origin:?} are not allowed here (see --allowed-origins)"
        ),
    )
}

/// Around the transports: origin check, CORS headers, preflight answers.
pub(crate) async fn transports(
    State(rules): State<Arc<Rules>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let Some(origin) = header_text(headers, header::ORIGIN).map(str::to_owned) else {
        return next.run(request).await;
    };
    if !rules.origin_allowed(&origin, header_text(headers, header::HOST)) {
        tracing::debug!(%origin, path = %request.uri().path(), "origin refused");
        return refuse_origin(&origin);
    }
    let preflight = request.method() == Method::OPTIONS
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(CORS_ALLOW_METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(CORS_ALLOW_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(CORS_MAX_AGE_SECS),
        );
        response
    } else {
        next.run(request).await
    };
    // The origin was matched against the rules, so it is a valid header value; echoing
    // it (never `*`) keeps the answer for that origin only.
    if let Ok(value) = HeaderValue::from_str(&origin) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.append(header::VARY, HeaderValue::from_static("origin"));
    }
    response
}

/// Around the dashboard and its API: host check, then origin check.
pub(crate) async fn dashboard(
    State(rules): State<Arc<Rules>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let host = header_text(headers, header::HOST);
    if !rules.host_allowed(host) {
        let host = host.unwrap_or_default();
        tracing::debug!(%host, path = %request.uri().path(), "host refused");
        return error_response(
            StatusCode::MISDIRECTED_REQUEST,
            ErrorCode::HostNotAllowed,
            format!("this server does not answer to the host {host:?} (see --allowed-hosts)"),
        );
    }
    if let Some(origin) = header_text(headers, header::ORIGIN) {
        if !rules.origin_allowed(origin, host) {
            return refuse_origin(origin);
        }
    }
    next.run(request).await
}
