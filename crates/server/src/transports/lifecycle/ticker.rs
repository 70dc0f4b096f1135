//! The one heartbeat ticker of a server: a single task that, every heartbeat of each
//! streaming transport, wakes all of that transport's connections. A woken connection
//! asks its [`KeepaliveClock`](super::KeepaliveClock) what is due. One timer per
//! transport for the whole server instead of one per connection (see
//! docs/benchmarks.md, idle memory).
//!
//! Hub connections (`/ws`, `/sse`, TCP) are woken through their outbox waker
//! ([`Hub::wake_connections`]), which costs them nothing per connection; connections
//! outside the hub (`/ws/echo`) wait on [`Ticks`].
//!
//! Started by [`super::super::routes`] on the state's task tracker and stopped by its
//! shutdown token, so every router (and so every server) has exactly the tickers its
//! routes need.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use switchboard_hub::{Hub, Transport};
use tokio::{
    sync::watch,
    time::{Interval, MissedTickBehavior},
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::Keepalive;
use crate::config::ServerConfig;

/// The shared tick for connections outside the hub: changes once per WebSocket
/// heartbeat.
#[derive(Debug, Clone)]
pub(crate) struct Ticks(watch::Receiver<()>);

impl Ticks {
    /// Waits for the next tick. If the ticker is gone (shutdown), never returns: the
    /// connection then ends by the shutdown token, not by a spinning keepalive.
    pub(crate) async fn next(&mut self) {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Who a tick wakes.
enum Wakes {
    /// Every hub connection of this transport.
    Hub(Transport),
    /// Every connection waiting on [`Ticks`] (and the hub's WebSocket connections).
    WebSockets(watch::Sender<()>),
}

/// Starts the ticker for every enabled streaming transport of `config`; hands back the
/// tick that connections outside the hub wait on.
pub(crate) fn spawn(
    hub: &Arc<Hub>,
    config: &ServerConfig,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> Ticks {
    let (sender, receiver) = watch::channel(());
    let mut beats = Vec::new();
    if config.ws.enabled {
        beats.push((Keepalive::websocket(&config.ws), Wakes::WebSockets(sender)));
    }
    if config.sse.enabled {
        beats.push((Keepalive::sse(&config.sse), Wakes::Hub(Transport::Sse)));
    }
    if config.tcp.enabled {
        beats.push((Keepalive::tcp(&config.tcp), Wakes::Hub(Transport::Tcp)));
    }
    let mut beats: Vec<(Interval, Wakes)> = beats
        .into_iter()
        .map(|(keepalive, wakes)| {
            let mut interval = tokio::time::interval(keepalive.heartbeat());
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            (interval, wakes)
        })
        .collect();
    let (hub, shutdown) = (hub.clone(), shutdown.clone());
    tasks.spawn(async move {
        let ticks = std::future::poll_fn(|cx| poll_beats(cx, &mut beats, &hub));
        tokio::select! {
            () = ticks => {}
            () = shutdown.cancelled() => {}
        }
    });
    Ticks(receiver)
}

/// Wakes whoever each elapsed interval is for; never ready.
fn poll_beats(cx: &mut Context<'_>, beats: &mut [(Interval, Wakes)], hub: &Hub) -> Poll<()> {
    for (interval, wakes) in beats.iter_mut() {
        while interval.poll_tick(cx).is_ready() {
            match wakes {
                Wakes::Hub(transport) => hub.wake_connections(*transport),
                Wakes::WebSockets(bare) => {
                    hub.wake_connections(Transport::Websocket);
                    bare.send_replace(());
                }
            }
        }
    }
    Poll::Pending
}
