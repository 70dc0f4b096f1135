//! The hostile-client suite (issue 9): each test performs one attack over loopback
//! against a real server and asserts the bound that defeats it: server memory (VmRSS)
//! under a budget derived from the configured limits, a bystander client that keeps
//! being answered and is never disconnected, the attacker getting the documented
//! behaviour, and the server recovering once the attack stops. Each runs in seconds and
//! is sized for 2 cores.
//!
//! The server runs in this process, so memory is measured as the growth of this
//! process's VmRSS; tests that measure it take [`abuse::support::SERIAL`] so that no
//! other test in this binary allocates meanwhile.
//!
//! - `history_budget`: finding 1, history has a global byte bound.
//! - `channel_churn`: finding 5, channels are freed and one address has a share.
//! - `hub_smaller`: finding 8 (hub parts): `since` overflow, bounded `stats`, periodic
//!   work that does not walk idle channels.
//! - `protocol_input`: finding 8 (protocol parts): unreadable publish `data` (116),
//!   repeated keys (117), `/ws/echo` in the stats.
//! - `simulator`: finding 7, the connection simulator validates every number, stops
//!   itself, and takes no quota from real clients at `127.0.0.1`.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;
mod http;

mod abuse {
    pub mod support;

    mod channel_churn;
    mod history_budget;
    mod hub_smaller;
    mod protocol_input;
    mod simulator;
}
