//! The cross-transport matrix: a message published over any of the five transports
//! reaches subscribers on all five, in the same order, with the same sequence numbers.
//!
//! One connection per transport (WebSocket, SSE + `POST /sse/message`, long polling,
//! short polling, raw TCP) subscribes to `matrix`, and each of them publishes in turn.
//! Every subscriber must then hold exactly the same list of `(seq, publisher, n)`,
//! with `seq` running 1, 2, 3... and each publisher's messages in the order it sent them.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;
mod http;

use common::{WsClient, tcp::TcpClient};
use http::{SseStream, post_json};
use serde_json::{Value, json};
use switchboard_server::{Server, ServerConfig};

const CHANNEL: &str = "matrix";
const ROUNDS: u64 = 3;

/// One end of the matrix: a subscriber that can also publish.
enum Peer {
    Ws(WsClient),
    Tcp(TcpClient),
    Sse {
        stream: SseStream,
        id: String,
    },
    Poll {
        path: &'static str,
        id: String,
        cursor: u64,
        pending: Vec<Value>,
    },
}

impl Peer {
    fn name(&self) -> &'static str {
        match self {
            Peer::Ws(_) => "websocket",
            Peer::Tcp(_) => "tcp",
            Peer::Sse { .. } => "sse",
            Peer::Poll { path: "/poll", .. } => "long_poll",
            Peer::Poll { .. } => "short_poll",
        }
    }

    async fn open_all(server: &Server) -> Vec<Peer> {
        let ws = WsClient::connect_ready(server, &format!("?channels={CHANNEL}"), 2).await;
        assert_eq!(ws.welcome["transport"], "websocket");
        let mut tcp = TcpClient::connect(server).await;
        tcp.subscribe(CHANNEL, None).await;
        let mut stream =
            SseStream::open(server.http_addr(), &format!("/sse?channels={CHANNEL}"), &[]).await;
        let welcome = stream.next_of("welcome").await.json();
        let sse_id = welcome["session_token"].as_str().unwrap().to_owned();
        // Wait for the stream's own subscription so nothing published later is missed.
        loop {
            let event = stream.next_of("subscribed").await.json();
            if event["channel"] == CHANNEL {
                break;
            }
        }
        let mut peers = vec![
            Peer::Ws(ws),
            Peer::Tcp(tcp),
            Peer::Sse { stream, id: sse_id },
        ];
        for path in ["/poll", "/short-poll"] {
            let opened = post_json(server.http_addr(), path, &json!({"channels": [CHANNEL]})).await;
            assert_eq!(
                opened.status,
                200,
                "{}",
                String::from_utf8_lossy(&opened.body)
            );
            let body = opened.json();
            let id = body["session_token"].as_str().unwrap().to_owned();
            let cursor = body["cursor"].as_u64().unwrap();
            peers.push(Peer::Poll {
                path,
                id,
                cursor,
                pending: Vec::new(),
            });
        }
        peers
    }

    async fn publish(&mut self, server: &Server, n: u64) {
        let publisher = self.name();
        let message = json!({
            "type": "publish",
            "channel": CHANNEL,
            "data": {"publisher": publisher, "n": n},
        });
        match self {
            Peer::Ws(client) => client.send(message).await,
            Peer::Tcp(client) => client.send(message).await,
            Peer::Sse { id, .. } => {
                let body = json!({"session_token": id, "message": message});
                let response = post_json(server.http_addr(), "/sse/message", &body).await;
                assert_eq!(
                    response.status,
                    204,
                    "{}",
                    String::from_utf8_lossy(&response.body)
                );
            }
            Peer::Poll {
                path,
                id,
                cursor,
                pending,
            } => {
                poll_once(server, path, id, cursor, pending, Some(message)).await;
            }
        }
    }

    /// The next `count` messages delivered from the matrix channel, as `(seq, publisher, n)`.
    async fn collect(&mut self, server: &Server, count: usize) -> Vec<(u64, String, u64)> {
        let mut seen = Vec::new();
        let keep = |message: &Value, seen: &mut Vec<(u64, String, u64)>| {
            if message["type"] == "message" && message["channel"] == CHANNEL {
                let data = &message["data"];
                seen.push((
                    message["seq"].as_u64().unwrap(),
                    data["publisher"].as_str().unwrap().to_owned(),
                    data["n"].as_u64().unwrap(),
                ));
            }
            assert_ne!(message["type"], "error", "unexpected error: {message}");
        };
        while seen.len() < count {
            match self {
                Peer::Ws(client) => keep(&client.recv().await, &mut seen),
                Peer::Tcp(client) => keep(&client.recv().await, &mut seen),
                Peer::Sse { stream, .. } => {
                    let event = stream.next_event().await.expect("stream open");
                    keep(&event.json(), &mut seen);
                }
                Peer::Poll {
                    path,
                    id,
                    cursor,
                    pending,
                } => {
                    for message in pending.drain(..) {
                        keep(&message, &mut seen);
                    }
                    if seen.len() >= count {
                        break;
                    }
                    poll_once(server, path, id, cursor, pending, None).await;
                    if *path == "/short-poll" && pending.is_empty() {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                }
            }
        }
        seen
    }
}

/// One poll (optionally carrying `message`): acknowledges `cursor`, keeps the new one,
/// and queues the messages it returned.
async fn poll_once(
    server: &Server,
    path: &str,
    id: &str,
    cursor: &mut u64,
    pending: &mut Vec<Value>,
    message: Option<Value>,
) {
    let mut body = json!({"session_token": id, "cursor": *cursor});
    if let Some(message) = message {
        body["message"] = message;
    }
    let response = post_json(server.http_addr(), path, &body).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let body = response.json();
    *cursor = body["cursor"].as_u64().unwrap();
    pending.extend(body["messages"].as_array().unwrap().iter().cloned());
}

#[tokio::test]
async fn every_transport_reaches_every_transport_in_the_same_order() {
    let mut config = ServerConfig::ephemeral();
    config.poll.timeout = std::time::Duration::from_millis(500);
    let server = common::start(config).await;
    let mut peers = Peer::open_all(&server).await;
    let transports = peers.len();
    assert_eq!(transports, 5);

    for n in 1..=ROUNDS {
        for peer in peers.iter_mut() {
            peer.publish(&server, n).await;
        }
    }
    let total = (ROUNDS as usize) * transports;
    let mut received = Vec::new();
    for peer in peers.iter_mut() {
        let name = peer.name();
        received.push((name, peer.collect(&server, total).await));
    }

    let (first_name, reference) = &received[0];
    let seqs: Vec<u64> = reference.iter().map(|(seq, _, _)| *seq).collect();
    assert_eq!(
        seqs,
        (1..=total as u64).collect::<Vec<_>>(),
        "{first_name} saw seqs {seqs:?}"
    );
    for (name, list) in &received {
        assert_eq!(list, reference, "{name} and {first_name} disagree");
    }
    // Each publisher's own messages arrive in the order it sent them, and nothing is missing.
    for peer in &peers {
        let from: Vec<u64> = reference
            .iter()
            .filter(|(_, p, _)| p == peer.name())
            .map(|(_, _, n)| *n)
            .collect();
        assert_eq!(
            from,
            (1..=ROUNDS).collect::<Vec<_>>(),
            "messages from {}",
            peer.name()
        );
    }
    let stats = common::server_stats(&server);
    for name in ["websocket", "sse", "long_poll", "short_poll", "tcp"] {
        assert_eq!(stats["connections"][name], 1, "{name}: {stats}");
    }
    server.shutdown().await;
}
