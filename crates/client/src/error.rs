//! The client's typed errors. Each maps to one process exit code in the CLI, so scripts
//! can tell "could not connect" from "the server said no" from "bad arguments".

use std::time::Duration;

use switchboard_protocol::{ProtocolError, ServerMessage};

/// Everything a [`crate::Client`] call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL cannot be used (scheme, host or port).
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it, in words.
        reason: String,
    },
    /// No transport could establish a session (every attempt is listed).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The server answered the request with an `error` message.
    #[error("server error {code} ({name}): {message}")]
    Server {
        /// The error's number (`code`), e.g. 109; see `docs/protocol.md` for the table.
        code: u16,
        /// The error's stable snake_case name (`error`), e.g. `read_only_channel`.
        name: String,
        /// The server's explanation in words (`message`).
        message: String,
    },
    /// The request breaks the protocol (a bad channel name, say) and was not sent; the
    /// error carries the code the server would have answered with.
    #[error("invalid request: {0}")]
    InvalidRequest(ProtocolError),
    /// The server sent something that is not the protocol (unparseable, or the wrong reply).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// No reply within the request timeout.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The connection was lost before the reply arrived (the request may or may not have
    /// taken effect; `publish` is not retried, so nothing is sent twice).
    #[error("connection lost before the reply arrived")]
    ConnectionLost,
    /// More requests are waiting for a connection than the offline queue holds.
    #[error("{0} requests already wait for the connection; try again later")]
    Backlog(usize),
    /// The client was closed.
    #[error("the client is closed")]
    Closed,
}

impl ClientError {
    /// The error a server `error` reply stands for; `Protocol` for any other message.
    pub(crate) fn from_reply(reply: &ServerMessage) -> Self {
        match reply {
            ServerMessage::Error {
                code,
                error,
                message,
                ..
            } => ClientError::Server {
                code: *code,
                name: error.clone(),
                message: message.clone(),
            },
            other => ClientError::Protocol(format!("unexpected reply of type {}", other.kind())),
        }
    }
}

/// Why one transport attempt failed (collected by the fallback cascade).
#[derive(Debug, Clone, thiserror::Error)]
pub enum LinkError {
    /// TCP connect failed, or the socket broke.
    #[error("{0}")]
    Io(String),
    /// The server (or a proxy) answered the HTTP request but refused it.
    #[error("refused: {0}")]
    Refused(String),
    /// Nothing usable arrived in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The server sent bytes that are not the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
}
