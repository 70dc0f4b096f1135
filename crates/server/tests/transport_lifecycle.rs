//! The shared transport lifecycle seen from the outside: `/ws/echo` is kept alive and
//! culled like `/ws`, raw TCP honours the heartbeat floor, and the heartbeat ticker
//! comes with the routes (a router built from a hand-made `AppState` still pings).

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use common::{
    PATIENCE,
    raw::{OP_CLOSE, OP_PING, OP_TEXT, RawWs},
    start,
    tcp::TcpClient,
};
use futures_util::{SinkExt, StreamExt};
use switchboard_hub::Hub;
use switchboard_server::{
    ServerConfig, app::AppState, config::MIN_HEARTBEAT, security::Authenticator,
};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

fn quick_websocket_keepalive() -> ServerConfig {
    let mut config = ServerConfig::ephemeral();
    config.ws.heartbeat = Duration::from_millis(100);
    config.ws.idle_timeout = Duration::from_millis(400);
    config
}

#[tokio::test]
async fn ws_echo_culls_a_client_that_never_answers_pings_with_4000() {
    let server = start(quick_websocket_keepalive()).await;
    let mut raw = RawWs::connect(server.http_addr(), "/ws/echo").await;
    raw.send_text("hello").await;
    let echoed = raw.read_frame().await.expect("the echo");
    assert_eq!((echoed.opcode, echoed.text()), (OP_TEXT, "hello"));
    // The client says nothing more, and never answers a ping.
    let silent_since = tokio::time::Instant::now();
    let mut pings = 0;
    let close = loop {
        let frame = raw.read_frame().await.expect("frames until the close");
        match frame.opcode {
            OP_PING => pings += 1,
            OP_CLOSE => break frame,
            other => panic!("unexpected opcode {other}"),
        }
    };
    let silent_for = silent_since.elapsed();
    assert_eq!(close.close_code(), Some(4000));
    assert_eq!(&close.payload[2..], b"idle timeout");
    assert!(pings >= 2, "heartbeats were sent first ({pings})");
    // Noticed at the first tick after the idle timeout: within idle + heartbeat, plus
    // slack for a loaded machine.
    assert!(
        silent_for >= Duration::from_millis(400) && silent_for < Duration::from_secs(3),
        "{silent_for:?}"
    );
    assert!(
        raw.read_frame().await.is_none(),
        "the server ended the stream"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn ws_echo_closes_a_client_that_stops_reading_with_4001() {
    use common::raw::{OP_BINARY, client_frame};
    use tokio::io::AsyncWriteExt;

    let server = start(quick_websocket_keepalive()).await;
    let mut raw = RawWs::connect(server.http_addr(), "/ws/echo").await;
    // Send echoes and read none, until the server's writes and then ours stall.
    let frame = client_frame(OP_BINARY, &[7u8; 32 * 1024], Some([1, 2, 3, 4]));
    let mut sent = 0;
    loop {
        let write = raw.stream.write_all(&frame);
        match tokio::time::timeout(Duration::from_millis(200), write).await {
            Ok(result) => result.unwrap(),
            Err(_) => break,
        }
        sent += 1;
        assert!(sent < 100_000, "the server kept reading");
    }
    // Nothing outside shows when the server gives up on the stuck echo (its write
    // timeout, 400 ms, checked at its 100 ms ticks): stay silent past that, then read.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let close = loop {
        let frame = tokio::time::timeout(PATIENCE, raw.read_frame())
            .await
            .unwrap()
            .expect("echoes, then the close");
        match frame.opcode {
            OP_BINARY | OP_PING => continue,
            OP_CLOSE => break frame,
            other => panic!("unexpected opcode {other}"),
        }
    };
    assert_eq!(close.close_code(), Some(4001));
    server.shutdown().await;
}

#[tokio::test]
async fn ws_echo_keeps_a_client_that_answers_pings() {
    let server = start(quick_websocket_keepalive()).await;
    let url = format!("ws://{}/ws/echo", server.http_addr());
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    // tungstenite answers each ping while we read; read for three idle timeouts.
    let until = tokio::time::Instant::now() + Duration::from_millis(1200);
    let mut pings = 0;
    while let Ok(frame) = tokio::time::timeout_at(until, socket.next()).await {
        match frame.expect("open").expect("valid") {
            Message::Ping(_) => pings += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(pings >= 5, "{pings}");
    socket
        .send(Message::Text("still here".into()))
        .await
        .unwrap();
    let echoed = loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await.unwrap() {
            Some(Ok(Message::Ping(_))) => continue,
            other => break other.expect("open").expect("valid"),
        }
    };
    assert_eq!(echoed, Message::Text("still here".into()));
    server.shutdown().await;
}

#[tokio::test]
async fn tcp_heartbeats_are_held_to_the_floor() {
    let mut config = ServerConfig::ephemeral();
    config.clock.enabled = false;
    // A misconfiguration: a zero interval would flood the client with heartbeats, so
    // the server refuses to start with it...
    config.tcp.heartbeat = Duration::ZERO;
    match switchboard_server::Server::start(config.clone()).await {
        Err(switchboard_server::ServerError::Config(
            switchboard_server::config::ConfigError::BelowFloor { field, floor, .. },
        )) => assert_eq!((field, floor), ("tcp.heartbeat", MIN_HEARTBEAT)),
        other => panic!("a zero TCP heartbeat must be refused at start, got {other:?}"),
    }
    // ...and at the floor, TCP keeps to it.
    config.tcp.heartbeat = MIN_HEARTBEAT;
    let server = start(config).await;
    let mut client = TcpClient::connect_ready(&server, 3).await;
    assert_eq!(
        client.welcome["heartbeat_interval_ms"], 10,
        "the floor is announced"
    );
    let window = Duration::from_millis(300);
    let until = tokio::time::Instant::now() + window;
    let mut heartbeats = 0;
    while let Ok(message) = tokio::time::timeout_at(until, client.recv_any()).await {
        assert_eq!(message["type"], "heartbeat", "{message}");
        heartbeats += 1;
    }
    // One per 10 ms tick at most (30 in the window); none at all would mean no ticker.
    assert!(
        (3..=45).contains(&heartbeats),
        "{heartbeats} heartbeats in {window:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_router_from_a_hand_made_state_still_sends_websocket_heartbeats() {
    let mut config = ServerConfig::ephemeral();
    config.ws.heartbeat = Duration::from_millis(50);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_addr = listener.local_addr().unwrap();
    let (tasks, shutdown) = (TaskTracker::new(), CancellationToken::new());
    let state = AppState {
        hub: Hub::memory(config.hub.clone()),
        auth: Arc::new(Authenticator::new(&config.security.auth).unwrap()),
        config: Arc::new(config),
        tasks: tasks.clone(),
        shutdown: shutdown.clone(),
        http_addr,
        tcp_addr: None,
    };
    let app = switchboard_server::routes::router(state)
        .into_make_service_with_connect_info::<SocketAddr>();
    let serving = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut raw = RawWs::connect(http_addr, "/ws").await;
    let ping = loop {
        let frame = raw.read_frame().await.expect("frames until a ping");
        if frame.opcode == OP_PING {
            break frame;
        }
    };
    assert!(ping.payload.is_empty());

    shutdown.cancel();
    tasks.close();
    serving.abort();
}
