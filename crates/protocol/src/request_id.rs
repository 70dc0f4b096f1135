//! The request id a client may put on any message, echoed in the reply that answers it
//! (`pong`, `ack`, `subscribed`, `error`...). Its own module because both the client
//! messages and the errors carry it.

use serde::{Deserialize, Serialize};

/// The longest string request id accepted, in bytes.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// A client-chosen request id, echoed in the reply (`pong`, `ack`, `subscribed`, `error`...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// A non-negative JSON integer (a negative or fractional number is error 103).
    Number(u64),
    /// A JSON string of at most [`MAX_REQUEST_ID_LEN`] bytes.
    Text(String),
}
