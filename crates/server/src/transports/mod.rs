//! One module per transport. Each adapts its kind of connection to the hub: it reads
//! client messages into [`Hub::handle_text`](switchboard_hub::Hub::handle_text) and writes
//! the connection's outbox to the wire in its own framing. None of them knows about
//! channels, sequence numbers or history.

pub mod echo;
pub(crate) mod http_error;
pub(crate) mod json_body;
pub mod poll;
pub mod sse;
pub(crate) mod tcp;
pub(crate) mod upgrade;
pub mod ws;
