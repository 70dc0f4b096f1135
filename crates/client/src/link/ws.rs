//! The WebSocket link: `GET /ws` upgraded by tokio-tungstenite over a (tapped) TCP
//! socket; one text frame per protocol message. One task reads frames and writes queued
//! messages. A refused upgrade (any HTTP status but 101) is reported as
//! [`LinkError::Refused`] so the cascade can fall back.

use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::server::Transport;
use tokio::sync::mpsc;
use tokio_tungstenite::{
    client_async,
    tungstenite::{self, Message},
};

use super::{Inbound, LINK_RECV_QUEUE, LINK_SEND_QUEUE, Link, LinkSettings, tcp_connect};
use crate::{
    error::LinkError,
    wire::{Direction, Tap, ws_frame_header},
};

pub(crate) async fn connect(settings: &LinkSettings) -> Result<Link, LinkError> {
    let stream = tcp_connect(settings).await?;
    let tap = Tap::head_only(stream, settings.wire.clone());
    let switch = tap.switch();
    let url = format!(
        "ws://{}{}{}",
        settings.endpoint.authority(),
        settings.endpoint.path_for(Transport::Websocket),
        settings.connect_query()
    );
    let handshake = tokio::time::timeout(settings.connect_timeout, client_async(url, tap));
    let (socket, _response) = match handshake.await {
        Err(_) => return Err(LinkError::Timeout(settings.connect_timeout)),
        Ok(Err(tungstenite::Error::Http(response))) => {
            return Err(LinkError::Refused(format!(
                "WebSocket upgrade answered with HTTP {}",
                response.status()
            )));
        }
        Ok(Err(err)) => return Err(LinkError::Refused(format!("WebSocket handshake: {err}"))),
        Ok(Ok(done)) => done,
    };
    // From here on frames are reported one by one, with their headers.
    switch.store(false, std::sync::atomic::Ordering::Relaxed);
    let wire = settings.wire.clone();
    let (out_tx, mut out_rx) = mpsc::channel::<String>(LINK_SEND_QUEUE);
    let (in_tx, in_rx) = mpsc::channel(LINK_RECV_QUEUE);
    let task = tokio::spawn(async move {
        let mut socket = socket;
        let show = |direction: Direction, opcode: u8, name: &str, payload: &[u8]| {
            if let Some(wire) = &wire {
                let header = ws_frame_header(direction, opcode, name, payload.len());
                wire.log(
                    direction,
                    &format!("{header}\n{}", String::from_utf8_lossy(payload)),
                );
            }
        };
        let mut code = None;
        let reason = loop {
            tokio::select! {
                frame = socket.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        show(Direction::Received, 1, "text", text.as_bytes());
                        if in_tx.send(Inbound::Text(text.as_str().to_owned())).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(Message::Ping(payload))) => {
                        show(Direction::Received, 9, "ping", &payload);
                        let _ = in_tx.send(Inbound::Activity).await;
                    }
                    Some(Ok(Message::Pong(payload))) => {
                        show(Direction::Received, 10, "pong", &payload);
                        let _ = in_tx.send(Inbound::Activity).await;
                    }
                    Some(Ok(Message::Binary(payload))) => {
                        show(Direction::Received, 2, "binary", &payload);
                    }
                    Some(Ok(Message::Close(frame))) => {
                        break match frame {
                            Some(f) => {
                                code = Some(u16::from(f.code));
                                format!("server closed the WebSocket: {} {}", u16::from(f.code), f.reason)
                            }
                            None => "server closed the WebSocket".to_owned(),
                        };
                    }
                    Some(Ok(Message::Frame(_))) => {}
                    Some(Err(err)) => break format!("WebSocket error: {err}"),
                    None => break "WebSocket closed".to_owned(),
                },
                out = out_rx.recv() => match out {
                    Some(text) => {
                        show(Direction::Sent, 1, "text", text.as_bytes());
                        if let Err(err) = socket.send(Message::Text(text.into())).await {
                            break format!("WebSocket write failed: {err}");
                        }
                    }
                    None => {
                        let _ = socket.close(None).await;
                        return;
                    }
                },
            }
        };
        let _ = in_tx.send(Inbound::Closed { reason, code }).await;
    });
    Ok(Link::new(
        Transport::Websocket,
        out_tx,
        in_rx,
        vec![task.abort_handle()],
    ))
}
