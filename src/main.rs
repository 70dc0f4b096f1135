//! The `switchboard` binary: parses the command line (flags, `SWITCHBOARD_*` variables and
//! `.env`), sets up logging, runs the chosen command and maps errors to an exit code.

mod client;
mod serve;
mod token;

use clap::{Parser, Subcommand};

/// The log filter when none is given, and the fallback when the given one does not parse.
const DEFAULT_LOG_FILTER: &str = "info";

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// One readable line per event, for a person at a terminal.
    Pretty,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`), for a log
    /// collector; the fields keep their types.
    Json,
}

/// Readable lines unless asked otherwise: a person starting the binary by hand reads them.
const DEFAULT_LOG_FORMAT: &str = "pretty";

/// switchboard: real-time messages over WebSocket, SSE, long polling, short polling and raw TCP, through one hub.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about = None)]
struct Cli {
    /// Log filter (tracing's env-filter syntax, e.g. `info` or `switchboard_hub=debug`).
    #[arg(long, env = "SWITCHBOARD_LOG", default_value = DEFAULT_LOG_FILTER, global = true)]
    log: String,

    /// Log line format: `pretty` (readable) or `json` (one object per line).
    #[arg(long, env = "SWITCHBOARD_LOG_FORMAT", value_enum, default_value = DEFAULT_LOG_FORMAT, global = true)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

// Parsed once at startup: the size difference between subcommands costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (dashboard and every transport).
    Serve(serve::ServeArgs),
    /// Connect to a server over any transport: demo, chat, listen, stress.
    Client(client::ClientArgs),
    /// Mint a development connection token (HS256) from the configured secret.
    Token(token::TokenArgs),
}

fn main() -> std::process::ExitCode {
    // A missing .env is normal; a malformed one is worth saying, but not fatal.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!("switchboard: ignoring .env: {err}");
    }
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Pretty => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("switchboard: cannot start the async runtime: {err}");
            return std::process::ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Client(args) => client::run(args).await,
            Command::Token(args) => token::run(args),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("switchboard: {err:#}");
            std::process::ExitCode::from(client::exit_code(&err))
        }
    }
}
