//! `switchboard client`: the library's client on the command line, for every transport.
//!
//! Subcommands: `demo` (a guided tour), `chat` (interactive, or driven by piped stdin),
//! `listen` (print channel messages as text or JSON lines) and `stress` (N connections ×
//! M messages, latency percentiles). `--show-wire` prints the raw bytes to stderr.
//!
//! Exit codes (scripts may rely on them): 0 success; 1 an unexpected failure; 2 bad
//! usage (clap's code); 3 cannot connect; 4 protocol or server error (an `error` reply,
//! a reply that never came, a connection lost mid-command); 5 `stress` finished with
//! errors or lost messages.

mod chat;
mod demo;
mod listen;
mod print;
mod stress;

use std::{sync::Arc, time::Duration};

use clap::{Args, Subcommand};
use switchboard_client::{
    Client, ClientError, ClientOptions, TransportChoice,
    wire::{StderrWire, WireLog},
};

/// Exit code: bad usage (clap exits with the same code for its own errors).
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code: no transport could connect.
pub(crate) const EXIT_CONNECT: u8 = 3;
/// Exit code: the server answered with an error, or the protocol broke.
pub(crate) const EXIT_PROTOCOL: u8 = 4;
/// Exit code: a stress run lost messages or saw errors.
pub(crate) const EXIT_STRESS_FAILED: u8 = 5;

fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (use e.g. 500ms, 5s)"))
}

#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 success, 1 unexpected failure, 2 bad usage, 3 cannot connect, 4 protocol or server error, 5 stress lost messages or saw errors."
)]
pub(crate) struct ClientArgs {
    /// Server URL: http://host:port or ws://host:port[/ws] for the HTTP transports,
    /// tcp://host:port for raw TCP.
    #[arg(
        long,
        env = "SWITCHBOARD_CLIENT_URL",
        default_value = "http://127.0.0.1:8000"
    )]
    url: String,
    /// Transport: websocket, sse, long-poll, short-poll, tcp, or auto (the fallback cascade).
    #[arg(long, env = "SWITCHBOARD_CLIENT_PROTOCOL", default_value = "websocket")]
    protocol: TransportChoice,
    /// Print the raw bytes exchanged (HTTP heads, SSE chunks, WebSocket frame headers,
    /// TCP length headers) to stderr.
    #[arg(long)]
    show_wire: bool,
    /// The user name chat messages carry.
    #[arg(long, env = "SWITCHBOARD_CLIENT_USER", default_value = "cli")]
    user: String,
    /// Connection token (JWT) for a server that checks them, e.g. from `switchboard
    /// token`: sent as ?token= (WebSocket, SSE), Authorization: Bearer (polling) or a
    /// connect frame (TCP). Empty: anonymous.
    #[arg(
        long,
        env = "SWITCHBOARD_CLIENT_TOKEN",
        hide_env_values = true,
        default_value = ""
    )]
    token: String,
    /// How long a request waits for its reply.
    #[arg(long, default_value = "10s", value_parser = duration)]
    timeout: Duration,
    /// How long connecting (and waiting for welcome) may take per transport.
    #[arg(long, default_value = "3s", value_parser = duration)]
    connect_timeout: Duration,
    /// Short polling asks this often when idle.
    #[arg(long, default_value = "1s", value_parser = duration)]
    poll_interval: Duration,

    #[command(subcommand)]
    command: ClientCommand,
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// A guided tour: connect, chat, broadcast, ping, stats, custom, subscribe/resume, disconnect.
    Demo,
    /// Interactive chat: `/broadcast <text>`, `/ping`, `/stats`, `/join <ch>`, `/leave <ch>`,
    /// `/exit`; plain text is a chat line. Works with piped stdin (exits at end of input).
    Chat,
    /// Print messages from channels as they arrive.
    Listen(listen::ListenArgs),
    /// Load test: N connections × M messages at a rate; latency percentiles at the end.
    Stress(stress::StressArgs),
}

/// A failure with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct ClientExit {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl ClientExit {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<ClientError> for ClientExit {
    fn from(err: ClientError) -> Self {
        let code = match err {
            // Only names typed on the command line can break the protocol before sending.
            ClientError::InvalidUrl { .. } | ClientError::InvalidRequest(_) => EXIT_USAGE,
            ClientError::Connect(_) => EXIT_CONNECT,
            _ => EXIT_PROTOCOL,
        };
        Self::new(code, err.to_string())
    }
}

/// The exit code for an error from any command (1 unless it is a [`ClientExit`]).
pub(crate) fn exit_code(err: &anyhow::Error) -> u8 {
    err.downcast_ref::<ClientExit>().map_or(1, |e| e.code)
}

impl ClientArgs {
    /// Library options from the flags.
    fn options(&self) -> ClientOptions {
        ClientOptions {
            request_timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            welcome_timeout: self.connect_timeout,
            short_poll_interval: self.poll_interval,
            wire: self
                .show_wire
                .then(|| Arc::new(StderrWire) as Arc<dyn WireLog>),
            token: (!self.token.is_empty()).then(|| self.token.clone()),
            ..ClientOptions::default()
        }
    }

    async fn connect(&self, options: ClientOptions) -> Result<Client, ClientExit> {
        Client::connect(&self.url, self.protocol, options)
            .await
            .map_err(ClientExit::from)
    }
}

pub(crate) async fn run(args: ClientArgs) -> anyhow::Result<()> {
    let result = match &args.command {
        ClientCommand::Demo => demo::run(&args).await,
        ClientCommand::Chat => chat::run(&args).await,
        ClientCommand::Listen(listen) => listen::run(&args, listen).await,
        ClientCommand::Stress(stress) => stress::run(&args, stress).await,
    };
    result.map_err(anyhow::Error::from)
}
