//! Losing the connection: a proxy that cuts every connection mid-stream, a server that
//! restarts (new epoch), and a path that goes silent (heartbeat). The application must
//! see every message exactly once and in order, or be told plainly what was lost.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{proxy::Proxy, quick_options, start_server, wait_for};
use serde_json::json;
use switchboard_client::{Client, ClientEvent, ClientOptions, ServerMessage, TransportChoice};
use switchboard_protocol::server::GapReason;
use switchboard_server::{Server, ServerConfig};

const MESSAGES: u64 = 150;

/// Publishes `MESSAGES` on `feed` while the proxy cuts the subscriber's connection
/// three times; the subscriber must see 1..=MESSAGES exactly once, in order.
async fn survives_cuts(choice: TransportChoice, tcp: bool) {
    let server = start_server().await;
    let target = if tcp {
        server.tcp_addr().unwrap()
    } else {
        server.http_addr()
    };
    let proxy = Proxy::start(target).await;
    let url = if tcp {
        format!("tcp://{}", proxy.addr)
    } else {
        proxy.http_url()
    };
    let options = ClientOptions {
        channels: Some(vec!["feed".to_owned()]),
        ..quick_options()
    };
    let subscriber = Client::connect(&url, choice, options).await.unwrap();
    let publisher = Client::connect(
        &common::http_url(&server),
        TransportChoice::Websocket,
        quick_options(),
    )
    .await
    .unwrap();
    let publishing = tokio::spawn(async move {
        for n in 1..=MESSAGES {
            publisher.publish("feed", &json!({"n": n})).await.unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        publisher
    });
    let mut seen = Vec::new();
    let mut disconnects = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(12);
    while (seen.len() as u64) < MESSAGES {
        let event = tokio::time::timeout_at(deadline, subscriber.next_event())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{choice}: only {} of {MESSAGES} arrived: {seen:?}",
                    seen.len()
                )
            })
            .unwrap();
        match event {
            ClientEvent::Message(ServerMessage::Message { channel, seq, .. })
                if channel == "feed" =>
            {
                seen.push(seq);
                if seq % 40 == 0 {
                    proxy.cut();
                }
            }
            ClientEvent::Disconnected { .. } => disconnects += 1,
            ClientEvent::Gap { .. } => panic!("{choice}: unexpected gap"),
            _ => {}
        }
    }
    publishing.await.unwrap();
    assert_eq!(
        seen,
        (1..=MESSAGES).collect::<Vec<_>>(),
        "{choice}: lost, duplicated or reordered"
    );
    assert!(
        disconnects >= 3,
        "{choice}: the proxy cut {disconnects} times only"
    );
}

#[tokio::test]
async fn websocket_resumes_after_cuts_without_loss_or_duplicates() {
    survives_cuts(TransportChoice::Websocket, false).await;
}

#[tokio::test]
async fn sse_resumes_after_cuts_without_loss_or_duplicates() {
    survives_cuts(TransportChoice::Sse, false).await;
}

#[tokio::test]
async fn long_polling_resumes_after_cuts_without_loss_or_duplicates() {
    survives_cuts(TransportChoice::LongPoll, false).await;
}

#[tokio::test]
async fn short_polling_resumes_after_cuts_without_loss_or_duplicates() {
    survives_cuts(TransportChoice::ShortPoll, false).await;
}

#[tokio::test]
async fn tcp_resumes_after_cuts_without_loss_or_duplicates() {
    survives_cuts(TransportChoice::Tcp, true).await;
}

#[tokio::test]
async fn a_server_restart_is_reported_as_an_epoch_change() {
    let first = start_server().await;
    let addr = first.http_addr();
    let old_epoch = first.hub().epoch().to_owned();
    let options = ClientOptions {
        channels: Some(vec!["feed".to_owned()]),
        ..quick_options()
    };
    let client = Client::connect(
        &format!("http://{addr}"),
        TransportChoice::Websocket,
        options,
    )
    .await
    .unwrap();
    for n in 1..=3 {
        client.publish("feed", &json!(n)).await.unwrap();
    }
    first.shutdown().await;
    let second = Server::start(ServerConfig {
        http: addr,
        ..ServerConfig::ephemeral()
    })
    .await
    .expect("the port is free again");
    let new_epoch = second.hub().epoch().to_owned();
    let change = wait_for(&client, |e| match e {
        ClientEvent::EpochChanged { old, new } => Some((old.clone(), new.clone())),
        _ => None,
    })
    .await;
    assert_eq!(change, (old_epoch, new_epoch));
    let gap = wait_for(&client, |e| match e {
        ClientEvent::Gap {
            channel,
            from,
            reason,
            ..
        } if channel == "feed" => Some((*from, *reason)),
        _ => None,
    })
    .await;
    assert_eq!(gap, (4, GapReason::EpochChanged));
    // Numbering starts over in the new epoch, and seq 1 is not mistaken for a duplicate.
    assert_eq!(client.publish("feed", &json!("new")).await.unwrap(), 1);
    let seq = wait_for(&client, |e| match e {
        ClientEvent::Message(ServerMessage::Message { channel, seq, .. }) if channel == "feed" => {
            Some(*seq)
        }
        _ => None,
    })
    .await;
    assert_eq!(seq, 1);
}

#[tokio::test]
async fn a_silent_connection_is_replaced() {
    let mut config = ServerConfig::ephemeral();
    config.ws.heartbeat = Duration::from_millis(100);
    config.ws.idle_timeout = Duration::from_millis(600);
    let server = Server::start(config).await.unwrap();
    let proxy = Proxy::start(server.http_addr()).await;
    let client = Client::connect(
        &proxy.http_url(),
        TransportChoice::Websocket,
        quick_options(),
    )
    .await
    .unwrap();
    let first_id = client.status().connection_id;
    proxy.freeze();
    let reason = wait_for(&client, |e| match e {
        ClientEvent::Disconnected { reason } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(reason.contains("nothing heard"), "{reason}");
    let id = wait_for(&client, |e| match e {
        ClientEvent::Connected { connection_id, .. } => Some(connection_id.clone()),
        _ => None,
    })
    .await;
    assert_ne!(id, first_id);
    client.ping().await.unwrap();
}

#[tokio::test]
async fn a_reconnect_restores_exactly_the_channels_the_application_had() {
    let server = start_server().await;
    let proxy = Proxy::start(server.tcp_addr().unwrap()).await;
    let client = Client::connect(
        &format!("tcp://{}", proxy.addr),
        TransportChoice::Tcp,
        quick_options(),
    )
    .await
    .unwrap();
    // Raw TCP joins lobby (and clock) on every connect; the application leaves lobby.
    client.unsubscribe("lobby").await.unwrap();
    client.subscribe("mine").await.unwrap();
    let before = client.get_stats().await.unwrap().1.subscriptions;
    proxy.cut();
    wait_for(&client, |e| {
        matches!(e, ClientEvent::Disconnected { .. }).then_some(())
    })
    .await;
    wait_for(&client, |e| {
        matches!(e, ClientEvent::Connected { .. }).then_some(())
    })
    .await;
    // Give the stray re-join its unsubscribe, then compare.
    client.ping().await.unwrap();
    let after = client.get_stats().await.unwrap().1.subscriptions;
    assert_eq!(after, before);
    let talker = Client::connect(
        &common::http_url(&server),
        TransportChoice::Websocket,
        quick_options(),
    )
    .await
    .unwrap();
    talker.chat(None, "bob", "not for you").await.unwrap();
    talker.publish("mine", &json!("for you")).await.unwrap();
    let got = wait_for(&client, |e| match e {
        // (`clock` may tick meanwhile; only lobby and mine matter here.)
        ClientEvent::Message(m)
            if m.channel_seq()
                .is_some_and(|(c, _)| c == "lobby" || c == "mine") =>
        {
            Some(m.clone())
        }
        _ => None,
    })
    .await;
    assert!(
        matches!(got, ServerMessage::Message { ref channel, .. } if channel == "mine"),
        "{got:?}"
    );
}

#[tokio::test]
async fn closing_while_reconnecting_ends_the_client() {
    let server = start_server().await;
    let proxy = Proxy::start(server.http_addr()).await;
    let options = ClientOptions {
        backoff: switchboard_client::Backoff {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(5),
            max_attempts: None,
        },
        ..quick_options()
    };
    let client = Client::connect(&proxy.http_url(), TransportChoice::Websocket, options)
        .await
        .unwrap();
    proxy.cut();
    wait_for(&client, |e| {
        matches!(e, ClientEvent::Reconnecting { .. }).then_some(())
    })
    .await;
    client.close().await;
    assert!(client.status().closed);
    let reason = wait_for(&client, |e| match e {
        ClientEvent::Closed { reason } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(reason.contains("closed by the application"), "{reason}");
    assert!(matches!(
        client.ping().await,
        Err(switchboard_client::ClientError::Closed)
    ));
}
