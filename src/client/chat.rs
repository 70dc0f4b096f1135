//! `switchboard client chat`: interactive chat. Lines from stdin are chat messages to
//! `lobby`; commands start with `/`. Incoming messages print as they arrive. Works the
//! same with a terminal and with piped stdin: at end of input the client closes after
//! printing everything that came back.

use std::sync::Arc;

use switchboard_client::{Client, ClientError, ClientEvent};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{ClientArgs, ClientExit, EXIT_CONNECT, print::event_line};

const HELP: &str = "commands: /broadcast <text>, /ping, /stats, /join <channel>, /leave <channel>, /exit; anything else is a chat line";

pub(crate) async fn run(args: &ClientArgs) -> Result<(), ClientExit> {
    let client = Arc::new(args.connect(args.options()).await?);
    let status = client.status();
    eprintln!(
        "connected over {} as {}; {HELP}",
        status.transport.map_or("?".to_owned(), |t| t.to_string()),
        status.connection_id
    );
    let printer_client = client.clone();
    let printer = tokio::spawn(async move {
        let mut gave_up = None;
        while let Some(event) = printer_client.next_event().await {
            println!("{}", event_line(&event));
            if let ClientEvent::Closed { reason } = event {
                gave_up = Some(reason);
                break;
            }
        }
        gave_up
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            // End of input (or unreadable stdin): leave as `/exit` would.
            Ok(None) | Err(_) => break,
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "/exit" || line == "/quit" {
            break;
        }
        if let Err(err) = command(&client, &args.user, line).await {
            match err {
                ClientError::Closed => break,
                err => println!("! {err}"),
            }
        }
    }
    client.close().await;
    let reason = printer.await.ok().flatten().unwrap_or_default();
    if reason.contains("gave up") {
        return Err(ClientExit::new(EXIT_CONNECT, reason));
    }
    Ok(())
}

/// Runs one line of input.
async fn command(client: &Client, user: &str, line: &str) -> Result<(), ClientError> {
    let (word, rest) = match line.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (line, ""),
    };
    match word {
        "/broadcast" if !rest.is_empty() => {
            let seq = client.broadcast(rest).await?;
            println!("> broadcast sent (#{seq})");
        }
        "/ping" => {
            let rtt = client.ping().await?;
            println!("> pong in {:.3} ms", rtt.as_secs_f64() * 1000.0);
        }
        "/stats" => {
            let (server, me) = client.get_stats().await?;
            println!(
                "> server: {} connections, {} messages in, {} out; you: {} in, {} out, channels {}",
                server.connections.total(),
                server.messages_in,
                server.messages_out,
                me.messages_in,
                me.messages_out,
                me.subscriptions.join(",")
            );
        }
        "/join" if !rest.is_empty() => {
            client.subscribe(rest).await?;
            println!("> joined {rest}");
        }
        "/leave" if !rest.is_empty() => {
            client.unsubscribe(rest).await?;
            println!("> left {rest}");
        }
        "/help" => println!("> {HELP}"),
        w if w.starts_with('/') => println!("> unknown or incomplete command {line:?}; {HELP}"),
        _ => {
            client.chat(None, user, line).await?;
        }
    }
    Ok(())
}
