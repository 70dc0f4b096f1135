//! `connect`: the first frame of a raw TCP connection to a server that checks connection
//! tokens, `{"type":"connect","token":"<JWT>"}`. The HTTP transports carry the token in
//! the request instead (`?token=`, `Authorization: Bearer`), so this is not a
//! [`ClientMessage`](super::ClientMessage): the hub never sees it, and sent at any other
//! time it is an `invalid_field` error (103).
//!
//! Parsed and built here, so the client writes exactly what the server reads.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, ProtocolError};

/// The `type` of a connect frame.
pub const CONNECT_TYPE: &str = "connect";

/// A `connect` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "connect")]
pub struct Connect {
    /// The connection token; absent connects anonymously (refused with 403 where
    /// authentication is required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Connect {
    /// A connect frame carrying `token`.
    pub fn with_token(token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
        }
    }

    /// The JSON text to send as the first frame.
    pub fn to_json(&self) -> String {
        // Cannot fail: a tag and an optional string.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Reads a first frame: `Ok(Some(_))` for a `connect` frame, `Ok(None)` for any other
/// message (the caller handles it as usual), `Err` for a `connect` frame whose `token`
/// is not a string.
pub fn parse_connect(text: &str) -> Result<Option<Connect>, ProtocolError> {
    #[derive(Deserialize)]
    struct Kind<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<&'a str>,
    }
    match serde_json::from_str::<Kind<'_>>(text) {
        Ok(Kind {
            kind: Some(CONNECT_TYPE),
        }) => {}
        _ => return Ok(None),
    }
    serde_json::from_str::<Connect>(text)
        .map(Some)
        .map_err(|_| {
            ProtocolError::new(
                ErrorCode::InvalidField,
                "invalid `connect` message: `token` must be a string",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_what_it_parses() {
        let connect = Connect::with_token("a.b.c");
        assert_eq!(connect.to_json(), r#"{"type":"connect","token":"a.b.c"}"#);
        assert_eq!(parse_connect(&connect.to_json()).unwrap(), Some(connect));
        let anonymous = Connect { token: None };
        assert_eq!(anonymous.to_json(), r#"{"type":"connect"}"#);
        assert_eq!(
            parse_connect(r#"{"type":"connect"}"#).unwrap(),
            Some(anonymous)
        );
    }

    #[test]
    fn other_messages_are_not_connect() {
        assert_eq!(parse_connect(r#"{"type":"ping"}"#).unwrap(), None);
        assert_eq!(parse_connect("not json").unwrap(), None);
        let err = parse_connect(r#"{"type":"connect","token":5}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidField);
    }
}
