//! The connection token on the HTTP transports: where it is read from, and what a
//! refusal looks like. `/ws` and `/sse` take `?token=` (browsers cannot set headers on
//! either); the polling endpoints take `Authorization: Bearer` on the request that opens
//! the session, with `?token=` as a fallback. Raw TCP reads its own `connect` frame.
//!
//! Guarantees: a refused request is answered `401` with the JSON `error` body of its
//! code (403-410) before anything is registered with the hub; the token is never logged
//! nor echoed (see [`crate::security::auth`]).

use axum::{
    http::{HeaderMap, StatusCode, header::AUTHORIZATION},
    response::Response,
};
use switchboard_hub::{Identity, InitialSubscription};
use switchboard_protocol::ChannelName;

use super::http_error::error_response;
use crate::{app::AppState, security::Authenticated};

/// Who connects: an identity (or none, anonymously), and the channels its token adds.
pub(crate) type Granted = Option<Authenticated>;

/// Checks `token` for a new connection; the `Err` is the 401 answer to send (boxed: a
/// `Response` is large, and the accepted path is the common one).
pub(crate) fn authenticate(
    state: &AppState,
    token: Option<&str>,
) -> Result<Granted, Box<Response>> {
    state.auth.authenticate(token).map_err(|refusal| {
        // The code only: the token is a credential and never goes into a log.
        tracing::debug!(code = %refusal.code(), "connection token refused");
        Box::new(error_response(
            StatusCode::UNAUTHORIZED,
            refusal.code(),
            refusal.message(),
        ))
    })
}

/// The token of a polling request: `Authorization: Bearer …`, else the query's `token`.
pub(crate) fn bearer_or_query<'a>(
    headers: &'a HeaderMap,
    query: Option<&'a str>,
) -> Option<&'a str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(str::trim)
        .or(query)
}

/// The identity to register the connection with.
pub(crate) fn identity(granted: &Granted) -> Option<Identity> {
    granted.as_ref().map(|granted| granted.identity.clone())
}

/// `requested` (or, when the client named none, the auto-subscribe list) followed by the
/// token's `channels` not already in it. Unchanged when the token lists none.
pub(crate) fn with_token_channels(
    requested: Option<Vec<InitialSubscription>>,
    auto_subscribe: &[ChannelName],
    granted: &Granted,
) -> Option<Vec<InitialSubscription>> {
    let extra = match granted {
        Some(granted) if !granted.channels.is_empty() => &granted.channels,
        _ => return requested,
    };
    let mut list = requested.unwrap_or_else(|| {
        auto_subscribe
            .iter()
            .cloned()
            .map(InitialSubscription::new)
            .collect()
    });
    for channel in extra {
        if !list.iter().any(|s| s.channel == *channel) {
            list.push(InitialSubscription::new(channel.clone()));
        }
    }
    Some(list)
}
