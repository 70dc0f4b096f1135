//! The connection edge: what every accepted socket goes through before a transport sees
//! it, so that nothing one client does with connections can take the server down or
//! crowd out other clients.
//!
//! Guarantees (each in its module):
//! - Caps on open connections, in all and per client address, counted on every
//!   listener: HTTP (plain requests, polls, event streams and upgraded WebSockets, which
//!   keep their place until they close) and raw TCP ([`admission`]).
//! - HTTP timeouts: the first request head within `http_header_timeout`; on a
//!   persistent connection, the next head within `http_keepalive_timeout` of the last
//!   response (`timer`); a request body within `http_body_timeout` of its head, else
//!   408 (`body`); a response (or event stream) that the client takes nothing of for
//!   `http_write_timeout` is cut and its memory freed (`stream`).
//! - A full server still answers `/healthz`, and refuses everything else with a status
//!   and an `error` body; accept errors back off instead of spinning (`http`).
//!
//! # Layout
//! - [`admission`]: the caps and the slot each admitted connection holds.
//! - `http`: the HTTP accept loop and one connection's life under hyper.
//! - `stream`: the accepted socket and its write-stall watch.
//! - `timer`: hyper's header timer, split into header and keep-alive timeouts.
//! - `body`: the request body deadline.
//! - `burst_log`: one log line per burst of refusals or accept errors.
//! - `accept`: the accept step both listeners share (backoff on errors, `TCP_NODELAY`).

pub(crate) mod accept;
pub mod admission;
pub(crate) mod body;
mod burst_log;
pub(crate) mod http;
mod stream;
mod timer;

pub(crate) use burst_log::BurstLog;
