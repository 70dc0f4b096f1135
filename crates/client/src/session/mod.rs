//! The session: one task per client that owns the current link and everything that must
//! survive it (channel cursors, the epoch, requests waiting for replies, requests waiting
//! for a connection), and runs the connection's life:
//!
//! establish (negotiate + welcome) → drive (route messages, match replies, watch the
//! heartbeat, probe better transports) → on loss, back off with full jitter and
//! establish again, re-subscribing every channel from its last seq. A loss the server
//! explained with a close code that blames the client (1002, 1003, 1007, 1009:
//! [`switchboard_protocol::should_reconnect_after`]) ends the session instead, since a
//! new connection would be closed the same way.
//!
//! Guarantees: channel messages reach the application once each and in order per
//! channel ([`cursor`]); a server that falls silent longer than the idle window it
//! announced in `welcome` is treated as gone; requests made while disconnected are sent
//! after the next welcome (bounded by the offline queue).

pub(crate) mod cursor;
pub(crate) mod negotiate;
mod route;

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use switchboard_protocol::{
    ChannelName, ClientMessage, ServerMessage, server::Transport, should_reconnect_after,
};
use tokio::{
    sync::{mpsc, oneshot, watch},
    task::JoinHandle,
    time::Instant,
};

use self::{
    cursor::Cursors,
    negotiate::{Established, negotiate},
};
use crate::{
    ClientError, ClientEvent, ClientOptions, TransportChoice,
    callbacks::Callbacks,
    link::{Inbound, Link, LinkSettings},
    status::Status,
};

/// Heartbeats missed before a stream with no announced idle window counts as dead.
const MISSED_HEARTBEATS: u32 = 3;
/// How long a closing client waits for its goodbye to be written.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// A reply slot for a request.
pub(crate) type ReplySlot = oneshot::Sender<Result<ServerMessage, ClientError>>;

/// What the [`crate::Client`] handle asks of its session.
pub(crate) enum Command {
    /// Send `text`; when `id` is set, route the reply with that id into `reply`.
    Send {
        text: String,
        id: Option<u64>,
        reply: Option<ReplySlot>,
    },
    /// Close the connection and end the session.
    Close { done: oneshot::Sender<()> },
}

/// Why driving a link stopped.
enum Stop {
    /// The link is gone; `code` is the close code the server gave, if any.
    Lost {
        reason: String,
        code: Option<u16>,
    },
    UserClosed(Option<oneshot::Sender<()>>),
    Upgrade(Box<Established>),
}

pub(crate) struct Session {
    pub(crate) choice: TransportChoice,
    pub(crate) settings: LinkSettings,
    pub(crate) options: ClientOptions,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) events: mpsc::Sender<ClientEvent>,
    pub(crate) callbacks: Arc<Callbacks>,
    pub(crate) status: watch::Sender<Status>,
    pub(crate) ids: Arc<AtomicU64>,
    pub(crate) cursors: Cursors,
    pub(crate) pending: HashMap<u64, ReplySlot>,
    pub(crate) offline: VecDeque<Command>,
    pub(crate) epoch: Option<String>,
    /// Channels the server joined us to on a reconnect that the application had not
    /// (raw TCP joins its configured list on every connect): left again, unseen.
    pub(crate) strays: HashSet<String>,
    /// Set after the first reconnect: unprompted joins are strays from then on.
    pub(crate) resumed: bool,
    /// Messages the router wants sent (leaving strays), flushed after each message.
    pub(crate) replies: Vec<String>,
    /// A `close` that arrived while reconnecting, answered when the session ends.
    pub(crate) closing: Option<oneshot::Sender<()>>,
    /// The code of a `close` message on the current link (raw TCP says goodbye in a
    /// message, not in a close frame), read when the link then ends.
    pub(crate) close_notice: Option<u16>,
}

impl Session {
    /// Runs the session; `ready` hears how the first connection went.
    pub(crate) async fn run(mut self, ready: oneshot::Sender<Result<(), ClientError>>) {
        let candidates = self.choice.candidates();
        let first = negotiate(&candidates, &self.settings, self.options.welcome_timeout).await;
        let established = match first {
            Ok(established) => established,
            Err(failures) => {
                let _ = ready.send(Err(ClientError::Connect(failures)));
                return;
            }
        };
        let mut link = self.start(established, false).await;
        let _ = ready.send(Ok(()));
        // Reconnects join only `broadcast` up front and re-subscribe the rest with `since`.
        self.settings.channels = Some(Vec::new());
        loop {
            let stop = self.drive(&mut link).await;
            match stop {
                Stop::UserClosed(done) => {
                    link.shutdown(CLOSE_GRACE).await;
                    self.finish("closed by the application").await;
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                    return;
                }
                Stop::Upgrade(better) => {
                    link.shutdown(CLOSE_GRACE).await;
                    self.fail_pending();
                    link = self.start(*better, true).await;
                }
                Stop::Lost { reason, code } => {
                    drop(link);
                    self.fail_pending();
                    self.status.send_modify(|s| s.connected = false);
                    self.emit(ClientEvent::Disconnected {
                        reason: reason.clone(),
                    })
                    .await;
                    if let Some(code) = code.filter(|code| !should_reconnect_after(*code)) {
                        self.finish(&format!(
                            "not reconnecting: close code {code} says this client's own messages were refused ({reason})"
                        ))
                        .await;
                        return;
                    }
                    if !self.options.reconnect {
                        self.finish(&format!("connection lost: {reason}")).await;
                        return;
                    }
                    match self.reconnect(&candidates).await {
                        Ok(established) => link = self.start(established, true).await,
                        Err(reason) => {
                            self.finish(&reason).await;
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Announces a new link, then resumes channels and flushes requests made offline.
    async fn start(&mut self, established: Established, resume: bool) -> Link {
        let Established {
            link,
            welcome,
            reason,
        } = established;
        self.close_notice = None;
        if let Some(old) = self.epoch.replace(welcome.epoch.clone())
            && old != welcome.epoch
        {
            self.emit(ClientEvent::EpochChanged {
                old,
                new: welcome.epoch.clone(),
            })
            .await;
        }
        self.status.send_modify(|s| {
            s.connected = true;
            s.transport = Some(welcome.transport);
            s.connection_id = welcome.connection_id.clone();
            s.epoch = welcome.epoch.clone();
            s.reason = reason.clone();
            s.heartbeat = welcome.heartbeat;
            s.idle_timeout = welcome.idle_timeout;
        });
        tracing::debug!(transport = %welcome.transport, %reason, "connected");
        self.emit(ClientEvent::Connected {
            transport: welcome.transport,
            connection_id: welcome.connection_id.clone(),
            epoch: welcome.epoch.clone(),
            reason,
        })
        .await;
        if resume {
            self.resumed = true;
            let ids = self.ids.clone();
            for r in self
                .cursors
                .begin_resume(|| ids.fetch_add(1, Ordering::Relaxed))
            {
                // The name came from the server's own `subscribed`, so it follows the rule.
                let Ok(channel) = ChannelName::new(&r.channel) else {
                    tracing::warn!(channel = %r.channel, "not resuming a channel with an invalid name");
                    continue;
                };
                let resume = ClientMessage::resume(channel, r.since, r.epoch).with_id(r.id);
                link.send(resume.to_json()).await;
            }
        } else if link.transport == Transport::Tcp
            && let Some(channels) = self.options.channels.clone()
        {
            // Raw TCP has no URL to name channels in: join them by message.
            // `Client::connect` checked every name, so none is skipped here.
            for channel in channels.iter().filter_map(|c| ChannelName::new(c).ok()) {
                link.send(ClientMessage::subscribe(channel).to_json()).await;
            }
        }
        while let Some(command) = self.offline.pop_front() {
            self.send_on(&link, command).await;
        }
        link
    }

    /// Waits with backoff and re-establishes; `Err` when attempts run out or on close.
    async fn reconnect(&mut self, candidates: &[Transport]) -> Result<Established, String> {
        let backoff = self.options.backoff;
        let mut attempt = 0u32;
        loop {
            if backoff.max_attempts.is_some_and(|max| attempt >= max) {
                return Err(format!("gave up after {attempt} reconnect attempts"));
            }
            let delay = backoff.delay(attempt);
            self.emit(ClientEvent::Reconnecting {
                attempt: attempt + 1,
                delay,
            })
            .await;
            let wake = Instant::now() + delay;
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(wake) => break,
                    command = self.commands.recv() => match command {
                        Some(Command::Close { done }) => {
                            // Answered by `finish`, once the status says closed.
                            self.closing = Some(done);
                            return Err("closed by the application".to_owned());
                        }
                        None => return Err("the client was dropped".to_owned()),
                        Some(command) => self.queue_offline(command),
                    },
                }
            }
            match negotiate(candidates, &self.settings, self.options.welcome_timeout).await {
                Ok(established) => return Ok(established),
                Err(failures) => {
                    tracing::debug!(attempt, %failures, "reconnect failed");
                    attempt += 1;
                }
            }
        }
    }

    /// Routes traffic on one link until it is lost, closed, or replaced by a better one.
    async fn drive(&mut self, link: &mut Link) -> Stop {
        let (heartbeat, idle) = {
            let s = self.status.borrow();
            (s.heartbeat, s.idle_timeout)
        };
        // A stream that announces a heartbeat but no idle window (SSE) is dead after
        // missing a few heartbeats.
        let idle = if idle.is_zero() {
            heartbeat * MISSED_HEARTBEATS
        } else {
            idle
        };
        let mut last_heard = Instant::now();
        let mut last_sent = Instant::now();
        let mut pinged = false;
        // Check the heartbeat a few times per window, so detection is prompt.
        let tick = [heartbeat, idle]
            .into_iter()
            .filter(|d| !d.is_zero())
            .min()
            .map_or(Duration::from_secs(1), |d| {
                (d / 4).max(Duration::from_millis(20))
            });
        let mut ticker = tokio::time::interval(tick);
        let mut probe = Probe(self.upgrade_probe(link.transport));
        loop {
            tokio::select! {
                inbound = link.recv() => match inbound {
                    Inbound::Text(text) => {
                        last_heard = Instant::now();
                        pinged = false;
                        self.on_text(&text).await;
                        for reply in std::mem::take(&mut self.replies) {
                            link.send(reply).await;
                        }
                    }
                    Inbound::Activity => {
                        last_heard = Instant::now();
                        pinged = false;
                    }
                    Inbound::Closed { reason, code } => {
                        let code = code.or(self.close_notice.take());
                        return Stop::Lost { reason, code };
                    }
                },
                command = self.commands.recv() => match command {
                    Some(Command::Close { done }) => return Stop::UserClosed(Some(done)),
                    None => return Stop::UserClosed(None),
                    Some(command) => {
                        last_sent = Instant::now();
                        if !self.send_on(link, command).await {
                            return Stop::Lost {
                                reason: "the link stopped accepting messages".to_owned(),
                                code: self.close_notice.take(),
                            };
                        }
                    }
                },
                _ = ticker.tick() => {
                    let silent = last_heard.elapsed();
                    if !idle.is_zero() && silent >= idle {
                        return Stop::Lost {
                            reason: format!(
                                "nothing heard from the server for {silent:?} (idle window {idle:?} from welcome)"
                            ),
                            code: None,
                        };
                    }
                    // Half the idle window of silence from the server asks for a sign of
                    // life; half of it without sending keeps servers that cull quiet
                    // clients (raw TCP) from culling us.
                    let quiet = !idle.is_zero()
                        && ((!pinged && silent >= idle / 2) || last_sent.elapsed() >= idle / 2);
                    if quiet {
                        pinged = true;
                        last_sent = Instant::now();
                        link.send(ClientMessage::ping().to_json()).await;
                    }
                }
                better = async {
                    match probe.0.as_mut() {
                        Some(task) => task.await,
                        None => std::future::pending().await,
                    }
                } => {
                    probe.0 = None;
                    // Switch only between requests: a request in flight on the old link
                    // would otherwise fail although nothing went wrong. Busy: next round.
                    self.pending.retain(|_, slot| !slot.is_closed());
                    if let Ok(Ok(better)) = better
                        && self.pending.is_empty()
                    {
                        tracing::info!(from = %link.transport, to = %better.link.transport, "moving up to a better transport");
                        return Stop::Upgrade(Box::new(better));
                    }
                    probe = Probe(self.upgrade_probe(link.transport));
                }
            }
        }
    }

    /// For `Auto` on a fallback transport: a task that waits the upgrade interval, then
    /// tries the transports above the current one.
    fn upgrade_probe(&self, current: Transport) -> Option<JoinHandle<Result<Established, String>>> {
        let interval = self.options.upgrade_interval?;
        if self.choice != TransportChoice::Auto {
            return None;
        }
        let better: Vec<Transport> = TransportChoice::CASCADE
            .iter()
            .copied()
            .take_while(|t| *t != current)
            .collect();
        if better.is_empty() {
            return None;
        }
        let settings = self.settings.clone();
        let welcome_timeout = self.options.welcome_timeout;
        Some(tokio::spawn(async move {
            tokio::time::sleep(interval).await;
            let mut established = negotiate(&better, &settings, welcome_timeout).await?;
            established.reason = format!("moved back up to {}", established.welcome.transport);
            Ok(established)
        }))
    }

    /// Sends a command's text on `link`, registering its reply slot; false when the link is gone.
    async fn send_on(&mut self, link: &Link, command: Command) -> bool {
        let Command::Send { text, id, reply } = command else {
            return true;
        };
        if let (Some(id), Some(reply)) = (id, reply) {
            if self.pending.len() >= self.options.offline_queue {
                self.pending.retain(|_, slot| !slot.is_closed());
            }
            self.pending.insert(id, reply);
        }
        link.send(text).await
    }

    fn queue_offline(&mut self, command: Command) {
        if self.offline.len() >= self.options.offline_queue {
            if let Command::Send {
                reply: Some(reply), ..
            } = command
            {
                let _ = reply.send(Err(ClientError::Backlog(self.offline.len())));
            }
            return;
        }
        self.offline.push_back(command);
    }

    /// Requests sent on a lost link get no reply: say so rather than let them time out.
    fn fail_pending(&mut self) {
        for (_, slot) in self.pending.drain() {
            let _ = slot.send(Err(ClientError::ConnectionLost));
        }
    }

    async fn finish(&mut self, reason: &str) {
        self.fail_pending();
        for command in self.offline.drain(..) {
            if let Command::Send {
                reply: Some(reply), ..
            } = command
            {
                let _ = reply.send(Err(ClientError::Closed));
            }
        }
        self.status.send_modify(|s| {
            s.connected = false;
            s.closed = true;
        });
        self.emit(ClientEvent::Closed {
            reason: reason.to_owned(),
        })
        .await;
        if let Some(done) = self.closing.take() {
            let _ = done.send(());
        }
    }

    /// Hands an event to the callbacks, then to the event queue (waiting for room).
    pub(crate) async fn emit(&self, event: ClientEvent) {
        self.callbacks.call(&event);
        let _ = self.events.send(event).await;
    }
}

/// The upgrade probe task, aborted when driving stops.
struct Probe(Option<JoinHandle<Result<Established, String>>>);

impl Drop for Probe {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}
