//! The protocol academy: the measuring instruments behind the dashboard, as a library
//! with no HTTP server (crates/server serves them under `/api/academy` and
//! `/api/simulator`).
//!
//! - [`simulator`]: one run at a time of N connections of one transport against a
//!   switchboard server, pinging at a set rate, sampled every second.
//! - [`compare`](mod@compare): the same ping workload over every transport, one after
//!   another, with bytes and HTTP requests counted at the client's socket.
//!
//! Every connection either makes is a [`switchboard_client::Client`], the project's one
//! client implementation, so what the academy measures is what applications get.
//!
//! # Layout
//! - [`simulator`]: limits, the run, its samples and the server's resident memory.
//!   Its `connection` module is one simulated connection (a client that pings and counts).
//! - [`compare`](mod@compare): the comparison and its figures.
//! - `meter`: the wire log that counts every byte and request, and keeps a transcript.
//! - `render`: a transcript's bytes shown for people (HTTP text, WebSocket and TCP frames).

pub mod compare;
mod meter;
mod render;
pub mod simulator;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use switchboard_client::TransportChoice;
use switchboard_protocol::frame::Framing;

pub use compare::{COMPARE_PINGS, TransportFigures, compare};
pub use simulator::{SimulationRequest, Simulator, SimulatorConfig, StartError};

/// The transports the simulator and the comparison drive, as the API names them.
pub const ACADEMY_TRANSPORTS: [&str; 5] = ["websocket", "sse", "long-poll", "short-poll", "tcp"];

/// The server the academy's connections dial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The HTTP listener (WebSocket, SSE, long and short polling).
    pub http: SocketAddr,
    /// The raw TCP listener, when the server runs one.
    pub tcp: Option<SocketAddr>,
    /// How the server frames raw TCP.
    pub framing: Framing,
}

impl Target {
    /// The target for a server bound at these addresses: an unspecified address
    /// (`0.0.0.0`, `::`) is dialled on the loopback.
    pub fn loopback(http: SocketAddr, tcp: Option<SocketAddr>, framing: Framing) -> Self {
        let dialable = |addr: SocketAddr| match addr {
            SocketAddr::V4(v4) if v4.ip().is_unspecified() => {
                SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
            }
            SocketAddr::V6(v6) if v6.ip().is_unspecified() => {
                SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
            }
            addr => addr,
        };
        Self {
            http: dialable(http),
            tcp: tcp.map(dialable),
            framing,
        }
    }

    /// The client's transport and URL for `transport` (one of [`ACADEMY_TRANSPORTS`]),
    /// or why this server cannot be reached that way.
    pub fn dial(&self, transport: &str) -> Result<(TransportChoice, String), String> {
        let choice: TransportChoice = transport.parse()?;
        let url = match choice {
            TransportChoice::Websocket => format!("ws://{}", self.http),
            TransportChoice::Tcp => {
                let addr = self.tcp.ok_or("raw TCP is turned off on this server")?;
                // The client frames raw TCP with a 4-byte length only.
                if self.framing != Framing::U32 {
                    return Err(format!(
                        "switchboard's client frames raw TCP as u32 only; this server uses {}",
                        self.framing.as_str()
                    ));
                }
                format!("tcp://{addr}")
            }
            TransportChoice::Auto => return Err("name one transport, not auto".to_owned()),
            _ => format!("http://{}", self.http),
        };
        Ok((choice, url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dials_every_transport_on_the_loopback() {
        let target = Target::loopback(
            "0.0.0.0:8000".parse().unwrap(),
            Some("[::]:1234".parse().unwrap()),
            Framing::U32,
        );
        let urls: Vec<String> = ACADEMY_TRANSPORTS
            .iter()
            .map(|t| target.dial(t).unwrap().1)
            .collect();
        assert_eq!(
            urls,
            [
                "ws://127.0.0.1:8000",
                "http://127.0.0.1:8000",
                "http://127.0.0.1:8000",
                "http://127.0.0.1:8000",
                "tcp://[::1]:1234"
            ]
        );
        let no_tcp = Target {
            tcp: None,
            ..target
        };
        assert!(no_tcp.dial("tcp").is_err());
        let decimal = Target {
            framing: Framing::Decimal10,
            ..target
        };
        assert!(decimal.dial("tcp").unwrap_err().contains("decimal10"));
        assert!(target.dial("pigeon").is_err());
    }
}
