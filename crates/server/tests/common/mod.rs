//! Shared helpers for the integration tests: a server on 127.0.0.1 port 0 and a small
//! WebSocket test client that speaks the JSON protocol over a real socket.

#![allow(dead_code, unreachable_pub)]

pub mod tcp;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_server::{Server, ServerConfig};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, protocol::CloseFrame},
};

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub async fn start(config: ServerConfig) -> Server {
    Server::start(config).await.expect("server starts")
}

pub async fn start_default() -> Server {
    start(ServerConfig::ephemeral()).await
}

pub struct WsClient {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub connection_id: String,
    pub welcome: Value,
}

impl WsClient {
    /// Connects to `/ws` (with an optional query) and reads the welcome message.
    pub async fn connect(server: &Server, query: &str) -> Self {
        let url = format!("ws://{}/ws{}", server.http_addr(), query);
        let (socket, _) = connect_async(url).await.expect("websocket connects");
        let mut client = Self {
            socket,
            connection_id: String::new(),
            welcome: Value::Null,
        };
        let welcome = client.recv_type("welcome").await;
        client.connection_id = welcome["connection_id"]
            .as_str()
            .expect("connection_id")
            .to_owned();
        client.welcome = welcome;
        client
    }

    /// Connects and waits until the automatic subscriptions are confirmed.
    pub async fn connect_ready(server: &Server, query: &str, subscriptions: usize) -> Self {
        let mut client = Self::connect(server, query).await;
        for _ in 0..subscriptions {
            client.recv_type("subscribed").await;
        }
        client
    }

    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.socket.send(message).await.expect("send");
    }

    /// The next protocol message (skipping WebSocket control frames).
    pub async fn recv(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("a message within the patience window")
                .expect("socket open")
                .expect("valid frame");
            match frame {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
                Message::Close(frame) => panic!("unexpected close: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Skips messages until one of `kind` arrives.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let message = self.recv().await;
            if message["type"] == kind {
                return message;
            }
        }
    }

    /// Reads until the server closes; returns the close frame.
    pub async fn recv_close(&mut self) -> Option<CloseFrame> {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("close within the patience window");
            match frame {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    pub async fn subscribe(&mut self, channel: &str, since: Option<u64>) -> Value {
        let mut message = json!({"type": "subscribe", "channel": channel});
        if let Some(since) = since {
            message["since"] = json!(since);
        }
        self.send(message).await;
        self.recv_type("subscribed").await
    }
}
