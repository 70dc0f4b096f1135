//! switchboard's client: one API over every transport the server speaks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), switchboard_client::ClientError> {
//! use switchboard_client::{Client, ClientOptions, TransportChoice};
//! let client = Client::connect("ws://127.0.0.1:8000", TransportChoice::Auto, ClientOptions::default()).await?;
//! client.set_message_callback(|message| println!("{message:?}"));
//! let seq = client.chat(None, "ann", "hello").await?;
//! let rtt = client.ping().await?;
//! println!("chat #{seq}, ping {rtt:?} over {:?}", client.transport());
//! client.close().await;
//! # Ok(()) }
//! ```
//!
//! Guarantees: channel messages reach the application once each, in `seq` order per
//! channel, across reconnects (resumed with `since` + `epoch`); what cannot be recovered
//! is reported as [`ClientEvent::Gap`], a server restart as [`ClientEvent::EpochChanged`].
//! A server silent past the idle window it announced is replaced by a new connection.
//!
//! # Layout
//! - [`client`]: the [`Client`] handle (requests, events, callbacks); [`status`]: where
//!   its connection stands; `callbacks`: what the application registered.
//! - `session`: the task that owns the connection: negotiation, reply routing, resume
//!   cursors, heartbeat watch, reconnect with backoff.
//! - `link`: one module per transport, each reduced to "texts out, events in".
//! - [`options`], [`backoff`], [`endpoint`]: settings, reconnect delays, URLs.
//! - [`wire`]: `--show-wire` rendering of the raw bytes.

pub mod backoff;
mod callbacks;
pub mod client;
pub mod endpoint;
pub mod error;
pub mod event;
mod link;
pub mod options;
mod session;
pub mod status;
pub mod wire;

pub use backoff::Backoff;
pub use client::Client;
pub use error::ClientError;
pub use event::ClientEvent;
pub use options::{ClientOptions, TransportChoice};
pub use status::Status;
pub use switchboard_protocol::{ServerMessage, server::Transport};
