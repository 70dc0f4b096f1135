//! Where to connect: a small URL parser (`ws://`, `http://`, `tcp://` with host and port)
//! and the path each transport uses on a switchboard server.
//!
//! TLS (`wss://`, `https://`) is refused with a clear error rather than silently sent in
//! clear text.

use crate::{TransportChoice, error::ClientError};
use switchboard_protocol::server::Transport;

/// The default raw TCP port, the one the server listens on unless told otherwise
/// (`SWITCHBOARD_TCP_PORT`).
pub const DEFAULT_TCP_PORT: u16 = 1234;

/// A parsed server address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The host as written (name or address), without brackets.
    pub host: String,
    /// The port as written, else the scheme's default: 80 for `ws` and `http`,
    /// [`DEFAULT_TCP_PORT`] for `tcp`.
    pub port: u16,
    /// The scheme as written: `ws`, `http` or `tcp`.
    pub scheme: String,
    /// The path as written (empty when none).
    pub path: String,
}

impl Endpoint {
    /// Parses `scheme://host[:port][/path]`.
    pub fn parse(url: &str) -> Result<Self, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("expected scheme://host:port"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "ws" | "http" => 80,
            "tcp" => DEFAULT_TCP_PORT,
            "wss" | "https" => return Err(invalid("TLS is not supported by this client yet")),
            _ => return Err(invalid("the scheme must be ws, http or tcp")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let (host, after) = inner
                .split_once(']')
                .ok_or_else(|| invalid("unclosed [ in the host"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| invalid("the port must be 1-65535"))?,
            None => default_port,
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            scheme,
            path: path.trim_end_matches('/').to_owned(),
        })
    }

    /// `host:port`, for connecting and for the `Host` header.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The path a transport uses on this server: the URL's own path when it names the
    /// transport's endpoint already, else the switchboard default.
    pub fn path_for(&self, transport: Transport) -> String {
        let default = match transport {
            Transport::Websocket => "/ws",
            Transport::Sse => "/sse",
            Transport::LongPoll => "/poll",
            Transport::ShortPoll => "/short-poll",
            Transport::Tcp => "",
        };
        if self.path.is_empty() || self.path == "/ws" {
            default.to_owned()
        } else if transport == Transport::Websocket {
            self.path.clone()
        } else {
            default.to_owned()
        }
    }

    /// Checks that the scheme fits the transport choice (`tcp://` only for TCP).
    pub(crate) fn check(&self, choice: TransportChoice) -> Result<(), ClientError> {
        let tcp_url = self.scheme == "tcp";
        let tcp_choice = choice == TransportChoice::Tcp;
        if tcp_url != tcp_choice {
            return Err(ClientError::InvalidUrl {
                url: format!("{}://{}{}", self.scheme, self.authority(), self.path),
                reason: if tcp_choice {
                    "the TCP transport needs a tcp://host:port URL".to_owned()
                } else {
                    "a tcp:// URL needs --protocol tcp".to_owned()
                },
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_paths() {
        let e = Endpoint::parse("ws://127.0.0.1:8000/ws").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("127.0.0.1", 8000, "/ws")
        );
        assert_eq!(e.path_for(Transport::Sse), "/sse");
        let e = Endpoint::parse("http://localhost").unwrap();
        assert_eq!(
            (e.port, e.path_for(Transport::Websocket)),
            (80, "/ws".to_owned())
        );
        let e = Endpoint::parse("tcp://[::1]").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", DEFAULT_TCP_PORT));
        assert_eq!(e.authority(), "[::1]:1234");
        assert!(Endpoint::parse("wss://x").is_err());
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("http://x:99999").is_err());
        assert!(Endpoint::parse("localhost:8000").is_err());
    }
}
