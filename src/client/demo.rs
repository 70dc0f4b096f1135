//! `switchboard client demo`: a guided tour of the protocol over the chosen transport,
//! printing each step and what came back (the classic WebSocket client's demo mode, for every transport).

use std::time::Duration;

use serde_json::json;
use switchboard_client::{Client, ClientEvent, ServerMessage};
use switchboard_protocol::{ChannelName, ClientMessage};

use super::{ClientArgs, ClientExit, EXIT_USAGE, print::message_line};

/// How long the demo waits to see a message it caused come back.
const ECHO_WAIT: Duration = Duration::from_secs(5);

/// Channel the subscribe/resume step uses.
const DEMO_CHANNEL: &str = "demo";

pub(crate) async fn run(args: &ClientArgs) -> Result<(), ClientExit> {
    step(1, "connect");
    let client = args.connect(args.options()).await?;
    let status = client.status();
    let transport = status.transport.map_or("?".to_owned(), |t| t.to_string());
    say(&format!(
        "connected over {transport} as {} (server epoch {}); {}",
        status.connection_id, status.epoch, status.reason
    ));
    if status.heartbeat.is_zero() {
        say(&format!(
            "no heartbeats on this transport: every poll is a sign of life, and the server ends a session not polled for {:?}",
            status.idle_timeout
        ));
    } else if status.idle_timeout.is_zero() {
        say(&format!(
            "the server heartbeats every {:?}; three missed heartbeats mean the connection is dead",
            status.heartbeat
        ));
    } else {
        say(&format!(
            "the server heartbeats every {:?}; silence past {:?} means the connection is dead",
            status.heartbeat, status.idle_timeout
        ));
    }

    step(2, "chat");
    let seq = client
        .chat(None, &args.user, "Hello from the switchboard demo!")
        .await?;
    say(&format!("ack: the chat line got seq {seq} on lobby"));
    show_echo(
        &client,
        |m| matches!(m, ServerMessage::Chat { seq: s, .. } if *s == seq),
    )
    .await;

    step(3, "broadcast");
    let seq = client
        .broadcast("This message goes to every client!")
        .await?;
    say(&format!("ack: broadcast #{seq}"));
    show_echo(
        &client,
        |m| matches!(m, ServerMessage::Broadcast { seq: s, .. } if *s == seq),
    )
    .await;

    step(4, "ping");
    for _ in 0..3 {
        let rtt = client.ping().await?;
        say(&format!("pong after {:.3} ms", rtt.as_secs_f64() * 1000.0));
    }

    step(5, "stats (custom action get_stats)");
    let (server, me) = client.get_stats().await?;
    say(&format!(
        "server {} up {} s: {} connections open ({} websocket, {} sse, {} long-poll, {} short-poll, {} tcp), {} messages in, {} out",
        server.version,
        server.uptime_ms / 1000,
        server.connections.total(),
        server.connections.websocket,
        server.connections.sse,
        server.connections.long_poll,
        server.connections.short_poll,
        server.connections.tcp,
        server.messages_in,
        server.messages_out,
    ));
    say(&format!(
        "this connection: {} in, {} out, subscribed to {}",
        me.messages_in,
        me.messages_out,
        me.subscriptions.join(", ")
    ));

    step(6, "a custom message the server does not know");
    match client
        .custom("get_weather_on_mars", Some(json!({"key": "value"})))
        .await
    {
        Ok(reply) => say(&format!("reply: {}", message_line(&reply))),
        Err(err) => say(&format!("the server says: {err}")),
    }

    step(7, "subscribe, publish, and resume from a sequence number");
    let subscribed = client.subscribe(DEMO_CHANNEL).await?;
    say(&format!("reply: {}", message_line(&subscribed)));
    let mut last = 0;
    for n in 1..=3 {
        last = client.publish(DEMO_CHANNEL, &json!({"n": n})).await?;
        say(&format!("published {{\"n\":{n}}} as seq {last}"));
        show_echo(
            &client,
            |m| matches!(m, ServerMessage::Message { seq, .. } if *seq == last),
        )
        .await;
    }
    client.unsubscribe(DEMO_CHANNEL).await?;
    say(&format!(
        "left {DEMO_CHANNEL} after seq {last}; two more are published while we are away"
    ));
    for n in 4..=5 {
        client.publish(DEMO_CHANNEL, &json!({"n": n})).await?;
    }
    let demo_channel = ChannelName::new(DEMO_CHANNEL)
        .map_err(|e| ClientExit::new(EXIT_USAGE, format!("{DEMO_CHANNEL}: {e}")))?;
    let resume = ClientMessage::resume(demo_channel, last, status.epoch.clone());
    say(&format!("sending {}", resume.to_json()));
    let reply = client.request(resume).await?;
    say(&format!("reply: {}", message_line(&reply)));
    for _ in 0..2 {
        match wait_message(
            &client,
            |m| matches!(m, ServerMessage::Message { channel, .. } if channel == DEMO_CHANNEL),
        )
        .await
        {
            Some(message) => say(&format!("recovered: {}", message_line(&message))),
            None => say("(a recovered message did not arrive in time)"),
        }
    }

    step(8, "disconnect");
    client.close().await;
    say("closed politely; a reconnecting client would resume every channel from its last seq");
    Ok(())
}

fn step(n: u32, title: &str) {
    println!("\n== step {n}/8: {title}");
}

fn say(text: &str) {
    println!("   {text}");
}

async fn show_echo(client: &Client, pick: impl Fn(&ServerMessage) -> bool) {
    match wait_message(client, pick).await {
        Some(message) => say(&format!("delivered: {}", message_line(&message))),
        None => say("(the message did not come back in time)"),
    }
}

/// The next message matching `pick`, skipping others (at most [`ECHO_WAIT`]).
async fn wait_message(
    client: &Client,
    pick: impl Fn(&ServerMessage) -> bool,
) -> Option<ServerMessage> {
    tokio::time::timeout(ECHO_WAIT, async {
        loop {
            match client.next_event().await? {
                ClientEvent::Message(message) if pick(&message) => return Some(message),
                _ => continue,
            }
        }
    })
    .await
    .ok()
    .flatten()
}
