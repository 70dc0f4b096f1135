//! The switchboard hub: everything real-time messaging needs except the network.
//!
//! Transports adapt a socket to a [`Connection`]; the [`Hub`] does the rest. It knows
//! nothing of HTTP, WebSocket or TCP: it takes parsed (or raw) client messages in and
//! puts rendered JSON deliveries into each connection's bounded [`Outbox`].
//!
//! # Guarantees
//! - Every channel message gets a sequence number, strictly increasing per channel within
//!   an epoch (one epoch per hub run), and is rendered to JSON once, shared by all subscribers.
//! - Per channel, every subscriber sees messages in `seq` order, with nothing skipped
//!   silently: a resume (`since`) either delivers every missed message still in history,
//!   in order, or says exactly which range is gone (`gap`).
//! - Replies and deliveries to one connection share one FIFO queue, so a `subscribed`
//!   reply always precedes the messages it recovered.
//! - A slow reader never grows memory without bound and never delays anyone else: its
//!   outbox is bounded in messages and bytes, and on overflow the connection is closed
//!   (close code 4001) so it can reconnect and resume from history.
//! - What clients make the hub store is bounded: history by count, age, bytes per
//!   channel and bytes hub-wide (oldest first), channels by a cap and a per-address share;
//!   a channel with no subscriber and no history is freed, and a recreated one continues
//!   its `seq`, so an old cursor gets a `gap`, never a silent hole.
//!
//! # Layout
//! - [`config`]: limits and defaults ([`HubConfig`]).
//! - [`delivery`]: a rendered message shared by subscribers ([`Delivery`]).
//! - [`outbox`]: the bounded per-connection queue and its slow-consumer policy.
//! - [`rate`]: the per-connection token bucket that bounds what a client may send.
//! - [`connection`]: connections, their ids and counters, and the registry.
//! - [`broker`]: the seam where publishing, history and fan-out live ([`Broker`]), with
//!   the in-memory implementation ([`MemoryBroker`]).
//! - [`hub`]: the facade transports call ([`Hub`]): open, handle, disconnect, stats.

pub mod broker;
pub mod config;
pub mod connection;
pub mod delivery;
pub mod hub;
pub mod outbox;
pub mod rate;
pub mod stats;

pub use broker::{Broker, BrokerError, MemoryBroker, Published};
pub use config::HubConfig;
pub use connection::{Connection, ConnectionId, Identity};
pub use delivery::Delivery;
pub use hub::{EchoConnection, Hub, InitialSubscription, Timings};
pub use outbox::{Outbox, Push};
pub use switchboard_protocol::server::Transport;
