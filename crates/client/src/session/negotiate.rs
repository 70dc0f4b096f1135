//! Establishing a session: connect a transport, then wait for `welcome`. With several
//! candidates (the `Auto` cascade) each is tried in order and every failure is kept, so
//! the client can say which transport it settled on and why.
//!
//! A transport counts as working only once `welcome` arrived: a proxy that accepts the
//! WebSocket upgrade but passes nothing, or buffers an SSE stream, fails here by timeout.

use std::time::Duration;

use switchboard_protocol::{ServerMessage, server::Transport};

use crate::link::{self, Inbound, Link, LinkSettings};

/// What `welcome` told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Welcome {
    pub(crate) connection_id: String,
    pub(crate) epoch: String,
    pub(crate) transport: Transport,
    /// The server's heartbeat interval (0: none announced).
    pub(crate) heartbeat: Duration,
    /// Silence longer than this means the connection is dead (0: no limit announced).
    pub(crate) idle_timeout: Duration,
}

/// A working link.
#[derive(Debug)]
pub(crate) struct Established {
    pub(crate) link: Link,
    pub(crate) welcome: Welcome,
    /// Why this transport (the failures of the better ones before it).
    pub(crate) reason: String,
}

/// Tries `candidates` in order; the first that delivers `welcome` wins. On failure the
/// error lists every attempt.
pub(crate) async fn negotiate(
    candidates: &[Transport],
    settings: &LinkSettings,
    welcome_timeout: Duration,
) -> Result<Established, String> {
    let mut failures: Vec<String> = Vec::new();
    for &transport in candidates {
        match attempt(transport, settings, welcome_timeout).await {
            Ok((link, welcome)) => {
                let reason = if failures.is_empty() {
                    if candidates.len() > 1 {
                        format!("{transport} works (first choice)")
                    } else {
                        format!("{transport} as requested")
                    }
                } else {
                    format!("fell back to {transport}: {}", failures.join("; "))
                };
                return Ok(Established {
                    link,
                    welcome,
                    reason,
                });
            }
            Err(why) => {
                tracing::debug!(%transport, %why, "transport attempt failed");
                failures.push(format!("{transport}: {why}"));
            }
        }
    }
    Err(failures.join("; "))
}

async fn attempt(
    transport: Transport,
    settings: &LinkSettings,
    welcome_timeout: Duration,
) -> Result<(Link, Welcome), String> {
    // A proxy may accept the request and never answer it (a held-back stream): the
    // whole attempt is bounded, not only the TCP connect.
    let bound = settings.connect_timeout + welcome_timeout;
    let mut link = tokio::time::timeout(bound, link::connect(transport, settings))
        .await
        .map_err(|_| format!("no welcome within {bound:?} (no response to the request)"))?
        .map_err(|e| e.to_string())?;
    let first = tokio::time::timeout(welcome_timeout, async {
        loop {
            match link.recv().await {
                Inbound::Activity => continue,
                other => return other,
            }
        }
    })
    .await
    .map_err(|_| format!("no welcome within {welcome_timeout:?}"))?;
    let text = match first {
        Inbound::Text(text) => text,
        Inbound::Closed { reason, .. } => return Err(format!("closed before welcome: {reason}")),
        Inbound::Activity => return Err("no welcome".to_owned()),
    };
    match serde_json::from_str::<ServerMessage>(&text) {
        Ok(ServerMessage::Welcome {
            connection_id,
            epoch,
            transport: announced,
            heartbeat_interval_ms,
            idle_timeout_ms,
            ..
        }) => Ok((
            link,
            Welcome {
                connection_id,
                epoch,
                transport: announced,
                heartbeat: Duration::from_millis(heartbeat_interval_ms),
                idle_timeout: Duration::from_millis(idle_timeout_ms),
            },
        )),
        Ok(ServerMessage::Error { code, message, .. }) => {
            Err(format!("server error {code} instead of welcome: {message}"))
        }
        Ok(other) => Err(format!("expected welcome, got {}", other.kind())),
        Err(err) => Err(format!("expected welcome, got unparseable text: {err}")),
    }
}
