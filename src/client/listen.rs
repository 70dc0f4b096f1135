//! `switchboard client listen <channel>...`: print messages as they arrive, as text
//! lines or as JSON lines (`--json`), until interrupted or the connection is given up.

use clap::Args;
use switchboard_client::{ClientEvent, ClientOptions};
use tokio::io::AsyncWriteExt;

use super::{
    ClientArgs, ClientExit, EXIT_CONNECT,
    print::{event_json, event_line},
};

#[derive(Debug, Args)]
pub(crate) struct ListenArgs {
    /// Channels to listen to (e.g. lobby, clock, metrics, weather); `broadcast` is always on.
    #[arg(required = true)]
    channels: Vec<String>,
    /// One JSON object per line: messages as the server sent them, connection events as
    /// `{"event": ...}`.
    #[arg(long)]
    json: bool,
    /// Stop after this many channel messages (0: never).
    #[arg(long, default_value_t = 0)]
    count: u64,
}

pub(crate) async fn run(args: &ClientArgs, listen: &ListenArgs) -> Result<(), ClientExit> {
    let options = ClientOptions {
        channels: Some(listen.channels.clone()),
        ..args.options()
    };
    let client = args.connect(options).await?;
    let mut out = tokio::io::stdout();
    let mut seen = 0u64;
    while let Some(event) = client.next_event().await {
        let line = if listen.json {
            event_json(&event)
        } else {
            event_line(&event)
        };
        let is_channel_message =
            matches!(&event, ClientEvent::Message(m) if m.channel_seq().is_some());
        // Text mode keeps stdout for messages; connection events go to stderr.
        if listen.json || matches!(event, ClientEvent::Message(_)) {
            let written = out.write_all(format!("{line}\n").as_bytes()).await;
            if written.is_err() || out.flush().await.is_err() {
                // Nobody reads any more (`listen ... | head`): stop quietly.
                client.close().await;
                return Ok(());
            }
        } else {
            eprintln!("{line}");
        }
        if let ClientEvent::Closed { reason } = &event {
            return Err(ClientExit::new(EXIT_CONNECT, format!("gave up: {reason}")));
        }
        if is_channel_message {
            seen += 1;
            if listen.count > 0 && seen >= listen.count {
                client.close().await;
                return Ok(());
            }
        }
    }
    Ok(())
}
