//! `switchboard token`: mints a development connection token (HS256, signed with the same
//! `--auth-hmac-secret` / `SWITCHBOARD_AUTH_HMAC_SECRET` the server verifies with), as
//! Centrifugo's `gentoken` does. Production tokens come from the application's own
//! backend; this is for trying auth out and for tests.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use switchboard_server::security::{
    Secret,
    auth::{MIN_AUTH_HMAC_SECRET_BYTES, mint_hs256},
};

/// The lifetime of a minted token when `--ttl` is not given.
const DEFAULT_TOKEN_TTL: &str = "1h";

/// Mint a development connection token (HS256 JWT) and print it.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// The user id (`sub`): the connection's `user` in welcome, chat and presence.
    #[arg(long)]
    sub: String,
    /// How long the token is valid (`exp` = now + ttl), e.g. 30m, 1h, 7d.
    #[arg(long, default_value = DEFAULT_TOKEN_TTL, value_parser = humantime::parse_duration)]
    ttl: Duration,
    /// A channel the connection joins on connect (`channels` claim); repeat for more.
    #[arg(long = "channel", value_name = "CHANNEL")]
    channels: Vec<String>,
    /// The secret the server verifies HS256 tokens with (at least 32 bytes).
    #[arg(
        long,
        env = "SWITCHBOARD_AUTH_HMAC_SECRET",
        hide_env_values = true,
        default_value = ""
    )]
    auth_hmac_secret: String,
}

/// Prints the token on stdout (nothing else, so `$(switchboard token …)` captures it).
pub(crate) fn run(args: TokenArgs) -> anyhow::Result<()> {
    println!("{}", mint(&args)?);
    Ok(())
}

fn mint(args: &TokenArgs) -> anyhow::Result<String> {
    if args.auth_hmac_secret.len() < MIN_AUTH_HMAC_SECRET_BYTES {
        bail!(
            "set --auth-hmac-secret or SWITCHBOARD_AUTH_HMAC_SECRET (at least {MIN_AUTH_HMAC_SECRET_BYTES} bytes), the secret the server verifies with"
        );
    }
    let secret = Secret::new(args.auth_hmac_secret.as_bytes());
    mint_hs256(&secret, &args.sub, args.ttl, &args.channels).context("cannot sign the token")
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use switchboard_server::security::{AuthConfig, Authenticator};

    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn args(extra: &[&str]) -> TokenArgs {
        let cli = crate::Cli::try_parse_from(["switchboard", "token"].iter().chain(extra))
            .expect("parses");
        let crate::Command::Token(args) = cli.command else {
            panic!("not token")
        };
        args
    }

    #[test]
    fn a_minted_token_is_accepted_by_a_server_with_the_same_secret() {
        let token = mint(&args(&[
            "--sub",
            "alice",
            "--channel",
            "news",
            "--auth-hmac-secret",
            SECRET,
        ]))
        .unwrap();
        let auth = Authenticator::new(&AuthConfig {
            hmac_secret: Some(Secret::new(SECRET)),
            ..AuthConfig::default()
        })
        .unwrap();
        let granted = auth.authenticate(Some(&token)).unwrap().unwrap();
        assert_eq!(granted.identity.user, "alice");
        assert_eq!(granted.channels[0].as_str(), "news");
    }

    #[test]
    fn no_secret_is_an_error() {
        let err = mint(&args(&["--sub", "alice"])).unwrap_err();
        assert!(
            err.to_string().contains("SWITCHBOARD_AUTH_HMAC_SECRET"),
            "{err}"
        );
    }
}
