//! The polling links: long polling (`POST /poll`, held by the server until messages
//! arrive or its timeout) and short polling (`POST /short-poll`, answered at once and
//! repeated every `short_poll_interval`).
//!
//! A request without `session_token` opens the session (answered with `welcome` and
//! `subscribed`); every later request carries the session's secret `session_token`
//! (from the responses; the public `connection_id` grants nothing), acknowledges the
//! last `cursor` and may carry one `message`. Nothing is lost when a response is: messages
//! stay pending on the server until a later `cursor` acknowledges them.
//!
//! Sending while a long poll is held: the server allows one poll per session at a time,
//! so the message goes beside it, on a second HTTP connection, to `POST /poll/message`
//! (answered `204`; the replies come back in the held poll, which wakes up for them).
//! The held poll is never dropped, so sending costs one request and no lost wait. A
//! `409` (201: a previous poll is still being torn down after a reconnect) is retried
//! after [`CONCURRENT_POLL_RETRY`].
//!
//! Request and response bodies are the protocol crate's [`switchboard_protocol::envelope`] types; the message
//! inside is the text the session queued, carried as raw JSON and never parsed again.
//!
//! Closing says goodbye: `POST /poll/close` ends the session on the server at once
//! instead of leaving it to the server's grace period (bounded by [`GOODBYE_TIMEOUT`]).

use std::{borrow::Cow, collections::VecDeque, time::Duration};

use hyper::{Method, StatusCode};
use serde_json::value::RawValue;
use switchboard_protocol::{
    envelope::{ChannelSpec, CloseRequest, MessageEnvelope, PollRequest, PollResponse},
    server::Transport,
};
use tokio::sync::mpsc;

use super::{
    Inbound, LINK_RECV_QUEUE, LINK_SEND_QUEUE, Link, LinkSettings, envelope_message,
    http::{HttpConn, read_body, refusal},
};
use crate::error::LinkError;

/// Wait before re-polling after a `409` (the previous poll is still being torn down).
pub(crate) const CONCURRENT_POLL_RETRY: Duration = Duration::from_millis(20);
/// `409` retries in a row before the link is declared broken.
pub(crate) const CONCURRENT_POLL_ATTEMPTS: u32 = 250;
/// How long a closing link waits for `POST /poll/close`: the session's grace period
/// ends it anyway, so a slow goodbye is not worth holding the close for.
pub(crate) const GOODBYE_TIMEOUT: Duration = Duration::from_secs(1);
/// Why a link ends when the application closed it (or dropped the client).
const CLOSED_BY_CLIENT: &str = "closed by the client";

/// Which polling flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Long,
    Short,
}

pub(crate) async fn connect(settings: &LinkSettings, mode: Mode) -> Result<Link, LinkError> {
    let transport = match mode {
        Mode::Long => Transport::LongPoll,
        Mode::Short => Transport::ShortPoll,
    };
    let path = settings.endpoint.path_for(transport);
    let mut conn = HttpConn::open(settings).await?;
    let open = PollRequest::<&RawValue> {
        channels: settings
            .channels
            .as_ref()
            .map(|list| list.iter().cloned().map(ChannelSpec::Name).collect()),
        ..PollRequest::default()
    };
    let open = body_of(&open);
    let response = conn
        .send_with_bearer(
            Method::POST,
            &path,
            "application/json",
            Some(open),
            settings.token.as_deref(),
        )
        .await?;
    if response.status() != StatusCode::OK {
        return Err(refusal(response).await);
    }
    let body = read_body(response).await?;
    let first: PollResponse = serde_json::from_slice(&body)
        .map_err(|e| LinkError::Protocol(format!("poll response: {e}")))?;
    let (in_tx, in_rx) = mpsc::channel(LINK_RECV_QUEUE);
    let (out_tx, out_rx) = mpsc::channel::<String>(LINK_SEND_QUEUE);
    let poller = Poller {
        settings: settings.clone(),
        mode,
        path,
        conn: Some(conn),
        session_token: first.session_token.clone().unwrap_or_default(),
        cursor: first.cursor,
        inbound: in_tx,
        outgoing: out_rx,
        waiting: VecDeque::new(),
        sender: None,
        closed_code: None,
    };
    let task = tokio::spawn(poller.run(first));
    Ok(Link::new(
        transport,
        out_tx,
        in_rx,
        vec![task.abort_handle()],
    ))
}

struct Poller {
    settings: LinkSettings,
    mode: Mode,
    path: String,
    conn: Option<HttpConn>,
    /// The session's secret, from the opening response.
    session_token: String,
    cursor: u64,
    inbound: mpsc::Sender<Inbound>,
    outgoing: mpsc::Receiver<String>,
    /// Messages taken from the queue but not yet sent (one goes per request).
    waiting: VecDeque<Box<RawValue>>,
    /// The second connection that carries `POST /poll/message` beside a held long poll.
    sender: Option<HttpConn>,
    /// The close code of the response that ended the session.
    closed_code: Option<u16>,
}

/// What one poll came to.
enum Outcome {
    Response(PollResponse),
    /// The poll's message was refused (400, handed up as an `error`); poll again.
    Interrupted,
    /// Retry the same request shortly (409).
    Retry,
}

impl Poller {
    async fn run(mut self, first: PollResponse) {
        let reason = match self.deliver(first).await {
            Some(reason) => reason,
            None => self.poll_loop().await,
        };
        if reason == CLOSED_BY_CLIENT {
            let _ = tokio::time::timeout(GOODBYE_TIMEOUT, self.goodbye()).await;
        }
        let code = self.closed_code;
        let _ = self.inbound.send(Inbound::Closed { reason, code }).await;
    }

    /// Queues a text for sending, or hands up the `error` a text that is not JSON gets.
    async fn queue(&mut self, text: String) {
        match envelope_message(text) {
            Ok(message) => self.waiting.push_back(message),
            Err(refusal) => {
                let _ = self.inbound.send(Inbound::Text(refusal)).await;
            }
        }
    }

    /// `POST /poll/close`: ends the session on the server now. Sent on the idle second
    /// connection when there is one (the poll connection may hold an abandoned poll).
    async fn goodbye(&mut self) {
        let mut conn = match self.sender.take() {
            Some(conn) => conn,
            None => match HttpConn::open(&self.settings).await {
                Ok(conn) => conn,
                Err(err) => {
                    tracing::debug!(%err, "no connection for POST /poll/close");
                    return;
                }
            },
        };
        let path = format!(
            "{}/close",
            self.settings.endpoint.path_for(Transport::LongPoll)
        );
        let body = body_of(&CloseRequest {
            session_token: Some(Cow::Borrowed(&self.session_token)),
            connection_id: None,
        });
        match conn
            .send(Method::POST, &path, "application/json", Some(body))
            .await
        {
            Ok(response) => {
                let _ = read_body(response).await;
            }
            Err(err) => tracing::debug!(%err, "POST /poll/close failed"),
        }
    }

    async fn poll_loop(&mut self) -> String {
        let mut conflicts = 0;
        loop {
            if self.waiting.is_empty() {
                while let Ok(text) = self.outgoing.try_recv() {
                    self.queue(text).await;
                }
            }
            if self.mode == Mode::Short && self.waiting.is_empty() {
                let interval = self.settings.short_poll_interval;
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    text = self.outgoing.recv() => match text {
                        Some(text) => self.queue(text).await,
                        None => return CLOSED_BY_CLIENT.to_owned(),
                    },
                }
            }
            let message = self.waiting.pop_front();
            let outcome = match self.poll(message.as_deref()).await {
                Ok(outcome) => outcome,
                Err(why) => return why,
            };
            match outcome {
                Outcome::Response(response) => {
                    conflicts = 0;
                    if let Some(reason) = self.deliver(response).await {
                        return reason;
                    }
                }
                Outcome::Interrupted => {}
                Outcome::Retry => {
                    if let Some(message) = message {
                        self.waiting.push_front(message);
                    }
                    conflicts += 1;
                    if conflicts > CONCURRENT_POLL_ATTEMPTS {
                        return "the server kept refusing polls as concurrent (409)".to_owned();
                    }
                    tokio::time::sleep(CONCURRENT_POLL_RETRY).await;
                }
            }
        }
    }

    /// One poll request; a long poll without a message gives way to the next message.
    async fn poll(&mut self, message: Option<&RawValue>) -> Result<Outcome, String> {
        let body = body_of(&PollRequest {
            session_token: Some(Cow::Borrowed(&self.session_token)),
            cursor: Some(self.cursor),
            message,
            ..PollRequest::default()
        });
        if self.conn.is_none() {
            self.conn = Some(
                HttpConn::open(&self.settings)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err("no connection".to_owned());
        };
        let request = conn.send(Method::POST, &self.path, "application/json", Some(body));
        let response = if self.mode == Mode::Long {
            // While the poll is held, messages go beside it on the second connection.
            tokio::pin!(request);
            loop {
                tokio::select! {
                    response = &mut request => break response,
                    text = self.outgoing.recv() => match text {
                        Some(text) => match envelope_message(text) {
                            Ok(message) => {
                                let message_path = format!("{}/message", self.path);
                                let body = body_of(&MessageEnvelope {
                                    session_token: Some(Cow::Borrowed(&self.session_token)),
                                    connection_id: None,
                                    message: &*message,
                                });
                                send_beside(&mut self.sender, &self.settings, &message_path, body)
                                    .await?;
                            }
                            Err(refusal) => {
                                let _ = self.inbound.send(Inbound::Text(refusal)).await;
                            }
                        },
                        None => return Err(CLOSED_BY_CLIENT.to_owned()),
                    },
                }
            }
        } else {
            request.await
        };
        let response = match response {
            Ok(response) => response,
            Err(err) => {
                self.conn = None;
                return Err(format!("poll failed: {err}"));
            }
        };
        let status = response.status();
        let body = read_body(response).await.map_err(|e| e.to_string())?;
        if status == StatusCode::CONFLICT {
            return Ok(Outcome::Retry);
        }
        if status == StatusCode::BAD_REQUEST {
            // The message itself was refused: hand the `error` up and carry on.
            let _ = self
                .inbound
                .send(Inbound::Text(String::from_utf8_lossy(&body).into_owned()))
                .await;
            return Ok(Outcome::Interrupted);
        }
        if status != StatusCode::OK {
            return Err(format!(
                "poll answered HTTP {status}: {}",
                String::from_utf8_lossy(&body).trim()
            ));
        }
        serde_json::from_slice(&body)
            .map(Outcome::Response)
            .map_err(|e| format!("poll response: {e}"))
    }

    /// Passes a response's messages up; `Some(reason)` when the session ended.
    async fn deliver(&mut self, response: PollResponse) -> Option<String> {
        self.cursor = response.cursor;
        if response.messages.is_empty() {
            let _ = self.inbound.send(Inbound::Activity).await;
        }
        for message in response.messages {
            if self
                .inbound
                .send(Inbound::Text(message.get().to_owned()))
                .await
                .is_err()
            {
                return Some(CLOSED_BY_CLIENT.to_owned());
            }
        }
        let closed = response.closed?;
        self.closed_code = Some(closed.code);
        Some(format!(
            "the server closed the session: {} {}",
            closed.code, closed.reason
        ))
    }
}

/// Sends one message as the session without polling (`POST /poll/message`, `204`), on
/// its own connection (opened on first use, reopened after a failure).
async fn send_beside(
    sender: &mut Option<HttpConn>,
    settings: &LinkSettings,
    path: &str,
    body: Vec<u8>,
) -> Result<(), String> {
    if sender.is_none() {
        *sender = Some(HttpConn::open(settings).await.map_err(|e| e.to_string())?);
    }
    let Some(conn) = sender.as_mut() else {
        return Err("no connection".to_owned());
    };
    let sent = conn
        .send(Method::POST, path, "application/json", Some(body))
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(err) => {
            *sender = None;
            return Err(format!("sending beside the poll failed: {err}"));
        }
    };
    let status = response.status();
    let body = read_body(response).await.map_err(|e| e.to_string())?;
    if status == StatusCode::NO_CONTENT {
        return Ok(());
    }
    Err(format!(
        "POST {path} answered HTTP {status}: {}",
        String::from_utf8_lossy(&body).trim()
    ))
}

/// An envelope's JSON body. Cannot fail: strings, numbers and already-valid raw JSON.
fn body_of(envelope: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(envelope).unwrap_or_default()
}
