//! The SSE link: `GET /sse` carries every server message as an event (`event:` type,
//! `data:` JSON); client messages go as `POST /sse/message` with the secret
//! `session_token` from `welcome` (the public `connection_id` grants nothing), each
//! answered `204` (replies arrive on the stream, in order).
//!
//! The event-stream parser follows the WHATWG rules a client needs: lines end in `\n`,
//! `\r\n` or `\r`; `data:` lines are joined with `\n`; a blank line dispatches; comment
//! lines (`:`) are proof of life. Events are bounded by [`MAX_SSE_EVENT`]. The server's
//! `: close <code> <reason>` comment before it ends the stream is kept as the link's
//! close code.

use std::borrow::Cow;

use http_body_util::BodyExt;
use hyper::{Method, StatusCode, header};
use serde::Deserialize;
use switchboard_protocol::{envelope::MessageEnvelope, server::Transport};
use tokio::sync::{mpsc, watch};

use super::{
    Inbound, LINK_RECV_QUEUE, LINK_SEND_QUEUE, Link, LinkSettings, envelope_message,
    http::{HttpConn, read_body, refusal},
};
use crate::error::LinkError;

/// The largest event accepted (bytes of `data`); a stream past it is broken.
pub(crate) const MAX_SSE_EVENT: usize = 16 * 1024 * 1024;

pub(crate) async fn connect(settings: &LinkSettings) -> Result<Link, LinkError> {
    let mut stream_conn = HttpConn::open(settings).await?;
    let path = format!(
        "{}{}",
        settings.endpoint.path_for(Transport::Sse),
        settings.connect_query()
    );
    let response = stream_conn
        .send(Method::GET, &path, "text/event-stream", None)
        .await?;
    if response.status() != StatusCode::OK {
        return Err(refusal(response).await);
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !content_type.starts_with("text/event-stream") {
        return Err(LinkError::Refused(format!(
            "expected text/event-stream, got {content_type:?}"
        )));
    }
    let (in_tx, in_rx) = mpsc::channel(LINK_RECV_QUEUE);
    let (out_tx, mut out_rx) = mpsc::channel::<String>(LINK_SEND_QUEUE);
    let (token_tx, mut token_rx) = watch::channel(None::<String>);
    let closed_tx = in_tx.clone();
    let read_task = tokio::spawn(async move {
        let _conn = stream_conn;
        let mut body = response.into_body();
        let mut parser = EventParser::default();
        let reason = loop {
            match body.frame().await {
                None => break "the SSE stream ended".to_owned(),
                Some(Err(err)) => break format!("the SSE stream failed: {err}"),
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let events = match parser.feed(&data) {
                        Ok(events) => events,
                        Err(why) => break why,
                    };
                    for event in events {
                        let inbound = match event {
                            Some(data) => {
                                if token_tx.borrow().is_none() {
                                    let _ = token_tx.send(welcome_token(&data));
                                }
                                Inbound::Text(data)
                            }
                            None => Inbound::Activity,
                        };
                        if in_tx.send(inbound).await.is_err() {
                            return;
                        }
                    }
                }
            }
        };
        let code = parser.close_code;
        let _ = in_tx.send(Inbound::Closed { reason, code }).await;
    });
    let settings = settings.clone();
    let mut post_conn: Option<HttpConn> = None;
    let write_task = tokio::spawn(async move {
        let Ok(token) = token_rx
            .wait_for(Option::is_some)
            .await
            .map(|token| token.clone())
        else {
            return;
        };
        let token = token.unwrap_or_default();
        let path = format!("{}/message", settings.endpoint.path_for(Transport::Sse));
        while let Some(text) = out_rx.recv().await {
            let message = match envelope_message(text) {
                Ok(message) => message,
                Err(refusal) => {
                    let _ = closed_tx.send(Inbound::Text(refusal)).await;
                    continue;
                }
            };
            let envelope = MessageEnvelope {
                session_token: Some(Cow::Borrowed(token.as_str())),
                connection_id: None,
                message: &*message,
            };
            // Cannot fail: a string and already-valid raw JSON.
            let body = serde_json::to_vec(&envelope).unwrap_or_default();
            if let Err(why) = post(&settings, &mut post_conn, &path, body, &closed_tx).await {
                let _ = closed_tx.send(Inbound::lost(why)).await;
                return;
            }
        }
    });
    Ok(Link::new(
        Transport::Sse,
        out_tx,
        in_rx,
        vec![read_task.abort_handle(), write_task.abort_handle()],
    ))
}

/// One `POST /sse/message` on the kept-alive send connection (reopened when it broke).
/// A 4xx answer about the message itself is passed up as the `error` it carries.
async fn post(
    settings: &LinkSettings,
    conn: &mut Option<HttpConn>,
    path: &str,
    body: Vec<u8>,
    inbound: &mpsc::Sender<Inbound>,
) -> Result<(), String> {
    let mut current = conn.take();
    for _ in 0..2 {
        let mut http = match current.take() {
            Some(http) => http,
            None => HttpConn::open(settings).await.map_err(|e| e.to_string())?,
        };
        match http
            .send(Method::POST, path, "application/json", Some(body.clone()))
            .await
        {
            Ok(response) => {
                let status = response.status();
                let reply = read_body(response).await.map_err(|e| e.to_string())?;
                *conn = Some(http);
                if status.is_success() {
                    return Ok(());
                }
                if status == StatusCode::NOT_FOUND || status == StatusCode::SERVICE_UNAVAILABLE {
                    return Err(format!(
                        "POST {path}: HTTP {status}: {}",
                        String::from_utf8_lossy(&reply)
                    ));
                }
                let _ = inbound
                    .send(Inbound::Text(String::from_utf8_lossy(&reply).into_owned()))
                    .await;
                return Ok(());
            }
            // A kept-alive connection the server closed: retry once on a fresh one.
            Err(err) => tracing::debug!(%err, "SSE send connection broke; reopening"),
        }
    }
    Err(format!("POST {path} failed twice"))
}

/// The `session_token` of a `welcome` (the first event), for `POST /sse/message`. A
/// welcome without one (a server that predates tokens) gives the empty token, which the
/// server refuses with an `error` the session hands up.
fn welcome_token(data: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Welcome {
        #[serde(default)]
        session_token: String,
    }
    serde_json::from_str::<Welcome>(data)
        .ok()
        .map(|w| w.session_token)
}

/// An incremental `text/event-stream` parser.
#[derive(Debug, Default)]
pub(crate) struct EventParser {
    line: Vec<u8>,
    data: Option<String>,
    last_was_cr: bool,
    /// The code of a `: close <code> <reason>` comment, once one was read.
    pub(crate) close_code: Option<u16>,
}

impl EventParser {
    /// Feeds bytes; returns the events completed: `Some(data)` for an event, `None` for
    /// a comment (proof of life).
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Option<String>>, String> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\n' && self.last_was_cr {
                self.last_was_cr = false;
                continue;
            }
            self.last_was_cr = b == b'\r';
            if b == b'\n' || b == b'\r' {
                let line = std::mem::take(&mut self.line);
                self.line_done(&line, &mut out);
                continue;
            }
            if self.line.len() >= MAX_SSE_EVENT {
                return Err(format!("an SSE line exceeds {MAX_SSE_EVENT} bytes"));
            }
            self.line.push(b);
        }
        Ok(out)
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<Option<String>>) {
        let line = String::from_utf8_lossy(line);
        if line.is_empty() {
            if let Some(data) = self.data.take() {
                out.push(Some(data));
            }
            return;
        }
        if let Some(comment) = line.strip_prefix(':') {
            if let Some(notice) = comment.trim_start().strip_prefix("close ") {
                self.close_code = notice.split(' ').next().and_then(|c| c.parse().ok());
            }
            out.push(None);
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        if field == "data" {
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            }
        }
        // `event`, `id` and `retry` need no action: the JSON carries its own type, and
        // resume works by `subscribe` with `since`, the same on every transport.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_split_anywhere_with_any_line_ending() {
        let stream = b"retry: 1000\n\n: heartbeat\n\nid: 1\nevent: chat\ndata: {\"a\":\r\ndata: 1}\r\n\r\nevent: x\rdata: 2\r\r";
        for split in 0..stream.len() {
            let mut p = EventParser::default();
            let mut events = p.feed(&stream[..split]).unwrap();
            events.extend(p.feed(&stream[split..]).unwrap());
            assert_eq!(
                events,
                vec![None, Some("{\"a\":\n1}".to_owned()), Some("2".to_owned())],
                "split at {split}"
            );
        }
    }

    #[test]
    fn keeps_the_code_of_a_close_comment() {
        let mut p = EventParser::default();
        assert_eq!(p.feed(b": heartbeat\n\n").unwrap(), vec![None]);
        assert_eq!(p.close_code, None);
        let events = p.feed(b": close 1009 message too big\n\n").unwrap();
        assert_eq!(events, vec![None], "a close comment is still proof of life");
        assert_eq!(p.close_code, Some(1009));
    }
}
