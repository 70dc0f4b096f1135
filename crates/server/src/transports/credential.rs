//! Which session a request acts for: the one its `session_token` was issued for, and no
//! other. Shared by `POST /sse/message`, `/poll`, `/short-poll`, `/poll/message` and
//! `/poll/close`.
//!
//! Guarantees: a request that does not carry a token this server issued is refused with
//! `403` and `error` 400 `invalid_session_token` before any session is looked up, so it
//! learns nothing about which sessions exist and touches none: a public `connection_id`
//! (alone, or put where the token goes) is refused exactly like a made-up string. A
//! `connection_id` sent beside a valid token must name the same session.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use switchboard_protocol::{ErrorCode, envelope::SessionCredential};

use super::http_error::error_response;
use crate::security::SessionKey;

/// A request refused for its credential: answered 403 + 400 with the reason.
#[derive(Debug)]
pub(crate) struct TokenRefused(&'static str);

impl IntoResponse for TokenRefused {
    fn into_response(self) -> Response {
        error_response(
            StatusCode::FORBIDDEN,
            ErrorCode::InvalidSessionToken,
            self.0,
        )
    }
}

/// The connection id `envelope`'s token grants, or why the request is refused.
pub(crate) fn session_id<'e>(
    key: &SessionKey,
    envelope: &'e impl SessionCredential,
) -> Result<&'e str, TokenRefused> {
    let Some(token) = envelope.session_token() else {
        return Err(TokenRefused(
            "this request acts for a session: send the `session_token` of its welcome (a connection_id is public and grants nothing)",
        ));
    };
    let Some(id) = key.verify(token) else {
        return Err(TokenRefused(
            "`session_token` is not one this server issued; use the one from the session's welcome",
        ));
    };
    if envelope
        .connection_id()
        .is_some_and(|claimed| claimed != id)
    {
        return Err(TokenRefused(
            "`connection_id` names another session than `session_token`",
        ));
    }
    Ok(id)
}
