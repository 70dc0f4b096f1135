//! The one heartbeat ticker of a server: a single task that, every heartbeat of each
//! streaming transport, wakes all of that transport's connections. A woken connection
//! asks its [`KeepaliveClock`](super::KeepaliveClock) what is due. One timer per
//! transport for the whole server instead of one per connection (see
//! docs/benchmarks.md, idle memory).
//!
//! Hub connections (`/ws`, `/sse`, TCP) are woken through their outbox waker
//! ([`Hub::wake_connections`]), which costs them nothing per connection; connections
//! outside the hub (`/ws/echo`) hold a [`TickWaiter`]: a slot in one shared table of
//! wakers (16 bytes per connection there, 16 in the connection's future). A future that
//! waited on a channel instead (a `watch` receiver, a cancellation token) would keep a
//! waiter node of 60–100 bytes inside every connection's task, and with it push the
//! echo's task over tokio's next size step (see docs/benchmarks.md).
//!
//! Started by [`super::super::routes`] on the state's task tracker and stopped by its
//! shutdown token, so every router (and so every server) has exactly the tickers its
//! routes need. When it stops it wakes every [`TickWaiter`] one last time and from then
//! on they report [`TickWait::Stopped`]: that is how bare connections learn of shutdown.

use std::{
    sync::Arc,
    task::{Context, Poll, Waker},
};

use parking_lot::Mutex;
use switchboard_hub::{Hub, Transport};
use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::Keepalive;
use crate::config::ServerConfig;

/// The shared tick for connections outside the hub: every WebSocket heartbeat it wakes
/// each [`TickWaiter`]. Cloning shares it.
#[derive(Debug, Clone)]
pub(crate) struct Ticks(Arc<BareTicks>);

#[derive(Debug)]
struct BareTicks {
    /// The keepalive every bare WebSocket is held to (the same for all of them, so
    /// kept here once rather than in each connection).
    keepalive: Keepalive,
    wakers: Mutex<Wakers>,
}

/// The waker table: one slot per [`TickWaiter`], freed slots reused first.
#[derive(Debug, Default)]
struct Wakers {
    slots: Vec<Option<Waker>>,
    free: Vec<u32>,
    /// The ticker has stopped (shutdown).
    stopped: bool,
}

impl Wakers {
    fn wake_all(&self) {
        for waker in self.slots.iter().flatten() {
            waker.wake_by_ref();
        }
    }
}

/// What a [`TickWaiter`] learns when it registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TickWait {
    /// Registered: the next tick (or the stop) wakes the task.
    Waiting,
    /// The ticker has stopped: the server is shutting down.
    Stopped,
}

impl Ticks {
    fn new(keepalive: Keepalive) -> Self {
        Self(Arc::new(BareTicks {
            keepalive,
            wakers: Mutex::default(),
        }))
    }

    /// A place in the table for one connection; it is given back when the waiter drops.
    pub(crate) fn waiter(&self) -> TickWaiter {
        let mut wakers = self.0.wakers.lock();
        let slot = match wakers.free.pop() {
            Some(slot) => slot,
            None => {
                wakers.slots.push(None);
                // More than 4 billion at once cannot be open (file descriptors run out first).
                u32::try_from(wakers.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        TickWaiter {
            ticks: self.0.clone(),
            slot,
        }
    }

    fn wake_all(&self) {
        self.0.wakers.lock().wake_all();
    }

    /// Marks the ticker stopped and wakes every waiter a last time.
    fn stop(&self) {
        let mut wakers = self.0.wakers.lock();
        wakers.stopped = true;
        wakers.wake_all();
        wakers.slots.iter_mut().for_each(|waker| *waker = None);
    }
}

/// One connection's place among the [`Ticks`] waiters.
#[derive(Debug)]
pub(crate) struct TickWaiter {
    ticks: Arc<BareTicks>,
    slot: u32,
}

impl TickWaiter {
    /// The keepalive of bare WebSockets.
    pub(crate) fn keepalive(&self) -> Keepalive {
        self.ticks.keepalive
    }

    /// Makes sure the next tick wakes `cx`'s task; says whether the ticker still runs.
    pub(crate) fn register(&self, cx: &Context<'_>) -> TickWait {
        let mut wakers = self.ticks.wakers.lock();
        if wakers.stopped {
            return TickWait::Stopped;
        }
        if let Some(slot) = wakers.slots.get_mut(self.slot as usize)
            && !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker()))
        {
            *slot = Some(cx.waker().clone());
        }
        TickWait::Waiting
    }
}

impl Drop for TickWaiter {
    fn drop(&mut self) {
        let mut wakers = self.ticks.wakers.lock();
        if let Some(slot) = wakers.slots.get_mut(self.slot as usize) {
            *slot = None;
            wakers.free.push(self.slot);
        }
    }
}

/// Who a tick wakes.
enum Wakes {
    /// Every hub connection of this transport.
    Hub(Transport),
    /// Every [`TickWaiter`] (and the hub's WebSocket connections).
    WebSockets(Ticks),
}

/// Starts the ticker for every enabled streaming transport of `config`; hands back the
/// tick that connections outside the hub wait on.
pub(crate) fn spawn(
    hub: &Arc<Hub>,
    config: &ServerConfig,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> Ticks {
    let bare = Ticks::new(Keepalive::websocket(&config.ws));
    let mut beats = Vec::new();
    if config.ws.enabled {
        beats.push((
            Keepalive::websocket(&config.ws),
            Wakes::WebSockets(bare.clone()),
        ));
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
    let (hub, shutdown, stopping) = (hub.clone(), shutdown.clone(), bare.clone());
    tasks.spawn(async move {
        let ticks = std::future::poll_fn(|cx| poll_beats(cx, &mut beats, &hub));
        tokio::select! {
            () = ticks => {}
            () = shutdown.cancelled() => {}
        }
        stopping.stop();
    });
    bare
}

/// Wakes whoever each elapsed interval is for; never ready.
fn poll_beats(cx: &mut Context<'_>, beats: &mut [(Interval, Wakes)], hub: &Hub) -> Poll<()> {
    for (interval, wakes) in beats.iter_mut() {
        while interval.poll_tick(cx).is_ready() {
            match wakes {
                Wakes::Hub(transport) => hub.wake_connections(*transport),
                Wakes::WebSockets(bare) => {
                    hub.wake_connections(Transport::Websocket);
                    bare.wake_all();
                }
            }
        }
    }
    Poll::Pending
}

#[cfg(test)]
mod tests {
    use std::{sync::atomic::AtomicUsize, sync::atomic::Ordering, task::Wake};

    use super::*;
    use crate::config::WsConfig;

    /// Counts its wake-ups.
    struct Counting(AtomicUsize);

    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn waiters_are_woken_by_ticks_and_told_of_the_stop() {
        let ticks = Ticks::new(Keepalive::websocket(&WsConfig::default()));
        let counter = Arc::new(Counting(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let cx = Context::from_waker(&waker);
        let first = ticks.waiter();
        assert_eq!(first.register(&cx), TickWait::Waiting);
        ticks.wake_all();
        assert_eq!(counter.0.load(Ordering::Relaxed), 1);
        // A dropped waiter gives its slot back and is not woken any more.
        let second = ticks.waiter();
        drop(first);
        ticks.wake_all();
        assert_eq!(counter.0.load(Ordering::Relaxed), 1);
        assert_eq!(ticks.waiter().slot, 0, "the freed slot is reused");
        // The stop wakes the registered and refuses later registrations.
        assert_eq!(second.register(&cx), TickWait::Waiting);
        ticks.stop();
        assert_eq!(counter.0.load(Ordering::Relaxed), 2);
        assert_eq!(second.register(&cx), TickWait::Stopped);
    }

    /// Every idle `/ws/echo` connection holds one: a pointer and a slot number.
    #[test]
    fn a_waiter_stays_small() {
        assert_eq!(std::mem::size_of::<TickWaiter>(), 16);
    }
}
