//! `serve` flags for who may talk to the server: allowed browser origins, allowed `Host`
//! names, the session-token key, and connection tokens (`--auth-*`). Defaults are the named constants of
//! `switchboard_server::config`; `docs/security.md` says what each protects.

use std::{fmt, str::FromStr};

use clap::Args;
use switchboard_server::{
    config::{self as server, SecurityConfig},
    security::{
        AuthConfig, HostRule, OriginRule, Secret, SessionKey,
        rules::{format_rules, parse_rules},
    },
};

/// Allowed origins and hosts, and the key that signs session tokens.
#[derive(Debug, Args)]
#[command(next_help_heading = "Security")]
pub(crate) struct SecurityArgs {
    /// Web origins whose pages may use the server (comma-separated): `local` (pages on
    /// localhost, 127.0.0.1 or `[::1]` at any port, and same-origin pages on an allowed
    /// host), `*` (any page on the web), or origins such as https://*.example.com
    /// (`*` matches any run of characters). Requests without `Origin` are not browsers'
    /// and are not refused; others get 403.
    #[arg(long, env = "SWITCHBOARD_ALLOWED_ORIGINS", default_value = server::DEFAULT_ALLOWED_ORIGINS)]
    allowed_origins: RuleList<OriginRule>,
    /// Host names the dashboard and its API answer to (comma-separated): `local`
    /// (localhost, 127.0.0.1, `[::1]` and the bound address), `*` (any), or names such as
    /// app.example.com, *.example.com. Others get 421 (defeats DNS rebinding).
    #[arg(long, env = "SWITCHBOARD_ALLOWED_HOSTS", default_value = server::DEFAULT_ALLOWED_HOSTS)]
    allowed_hosts: RuleList<HostRule>,
    /// Secret that signs session tokens (at least 32 bytes). Empty: a random key per
    /// process. Give every node of a deployment the same one so any node can verify a
    /// session another one opened.
    #[arg(
        long,
        env = "SWITCHBOARD_SESSION_KEY",
        hide_env_values = true,
        default_value = ""
    )]
    session_key: String,
    /// Refuse connections without a valid connection token (true|false). Needs a key
    /// (--auth-hmac-secret or --auth-public-key); false keeps anonymous connections.
    #[arg(
        long,
        env = "SWITCHBOARD_AUTH_REQUIRED",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_name = "BOOL"
    )]
    auth_required: bool,
    /// Secret (at least 32 bytes) that verifies HS256 connection tokens (and that
    /// `switchboard token` signs with). Empty: none.
    #[arg(
        long,
        env = "SWITCHBOARD_AUTH_HMAC_SECRET",
        hide_env_values = true,
        default_value = ""
    )]
    auth_hmac_secret: String,
    /// The previous HMAC secret, still accepted while tokens signed with it expire
    /// (rotation). Empty: none.
    #[arg(
        long,
        env = "SWITCHBOARD_AUTH_HMAC_SECRET_PREVIOUS",
        hide_env_values = true,
        default_value = ""
    )]
    auth_hmac_secret_previous: String,
    /// PEM file with the RSA (RS256) or EC P-256 (ES256) public key that verifies
    /// connection tokens. Empty: none.
    #[arg(
        long,
        env = "SWITCHBOARD_AUTH_PUBLIC_KEY",
        default_value = "",
        value_name = "FILE"
    )]
    auth_public_key: String,
    /// When set, tokens must name it in `aud`.
    #[arg(long, env = "SWITCHBOARD_AUTH_AUDIENCE", default_value = "")]
    auth_audience: String,
    /// When set, tokens must carry it as `iss`.
    #[arg(long, env = "SWITCHBOARD_AUTH_ISSUER", default_value = "")]
    auth_issuer: String,
}

impl SecurityArgs {
    pub(super) fn into_config(self) -> SecurityConfig {
        SecurityConfig {
            allowed_origins: self.allowed_origins.0,
            allowed_hosts: self.allowed_hosts.0,
            session_key: if self.session_key.is_empty() {
                SessionKey::random()
            } else {
                SessionKey::from_secret(self.session_key.as_bytes())
            },
            auth: AuthConfig {
                required: self.auth_required,
                hmac_secret: non_empty(self.auth_hmac_secret).map(Secret::new),
                hmac_secret_previous: non_empty(self.auth_hmac_secret_previous).map(Secret::new),
                public_key_file: non_empty(self.auth_public_key).map(Into::into),
                audience: non_empty(self.auth_audience),
                issuer: non_empty(self.auth_issuer),
            },
        }
    }
}

/// `None` for the empty string, the flags' way of saying "not set".
fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

/// A comma-separated list of origin or host rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleList<R>(pub(crate) Vec<R>);

impl<R: FromStr<Err = String>> FromStr for RuleList<R> {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_rules(text).map(Self)
    }
}

impl<R: fmt::Display> fmt::Display for RuleList<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_rules(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use switchboard_server::{ServerConfig, config::ConfigError};

    use super::*;

    fn config(args: &[&str]) -> ServerConfig {
        let cli = crate::Cli::try_parse_from(["switchboard", "serve"].iter().chain(args))
            .expect("parses");
        let crate::Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        args.into_config()
    }

    #[test]
    fn the_defaults_are_local_with_a_random_key() {
        let defaults = config(&[]);
        assert_eq!(defaults.security.allowed_origins, [OriginRule::Local]);
        assert_eq!(defaults.security.allowed_hosts, [HostRule::Local]);
        assert!(!defaults.security.session_key.is_configured());
        defaults.validate().expect("valid");
    }

    #[test]
    fn lists_and_a_configured_key() {
        let custom = config(&[
            "--allowed-origins",
            "https://*.example.com, local",
            "--allowed-hosts",
            "app.example.com",
            "--session-key",
            "0123456789abcdef0123456789abcdef",
        ]);
        assert_eq!(
            custom.security.allowed_origins,
            [
                OriginRule::Pattern("https://*.example.com".into()),
                OriginRule::Local
            ]
        );
        assert_eq!(
            custom.security.allowed_hosts,
            [HostRule::Pattern("app.example.com".into())]
        );
        assert!(custom.security.session_key.is_configured());
        custom.validate().expect("valid");
    }

    #[test]
    fn auth_is_off_by_default_and_checked_when_set() {
        let defaults = config(&[]);
        assert!(!defaults.security.auth.required && !defaults.security.auth.has_keys());
        let secret = "0123456789abcdef0123456789abcdef";
        let on = config(&[
            "--auth-required",
            "true",
            "--auth-hmac-secret",
            secret,
            "--auth-audience",
            "switchboard",
        ]);
        assert!(on.security.auth.required);
        assert_eq!(on.security.auth.audience.as_deref(), Some("switchboard"));
        on.validate().expect("valid");
        assert!(!format!("{:?}", on.security.auth).contains(secret));
        let no_key = config(&["--auth-required", "true"]);
        assert!(matches!(
            no_key.validate(),
            Err(ConfigError::AuthRequiredWithoutKey)
        ));
        let bad_pem = config(&["--auth-public-key", "Cargo.toml"]);
        let err = bad_pem.validate().unwrap_err();
        assert!(matches!(err, ConfigError::AuthPublicKey { .. }), "{err}");
        assert!(err.to_string().contains("Cargo.toml"), "{err}");
    }

    #[test]
    fn secrets_are_not_shown_by_help() {
        use clap::CommandFactory;
        let command = crate::Cli::command();
        for (sub, flag) in [
            ("serve", "session_key"),
            ("serve", "auth_hmac_secret"),
            ("serve", "auth_hmac_secret_previous"),
            ("token", "auth_hmac_secret"),
        ] {
            let arg = command
                .find_subcommand(sub)
                .and_then(|sub| sub.get_arguments().find(|arg| arg.get_id() == flag))
                .unwrap_or_else(|| panic!("{sub} --{flag}"));
            // A variable's value would otherwise be printed after `env:` in --help.
            assert!(arg.is_hide_env_values_set(), "{sub} --{flag}");
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        let short = config(&["--session-key", "too short"]);
        assert!(matches!(
            short.validate(),
            Err(ConfigError::SessionKeyTooShort { len: 9, min: 32 })
        ));
        let none = config(&["--allowed-origins", ","]);
        assert!(matches!(
            none.validate(),
            Err(ConfigError::EmptyList { .. })
        ));
        for bad in [
            ["--allowed-origins", "https://example.com/"],
            ["--allowed-hosts", "example.com:8000"],
        ] {
            let parsed = crate::Cli::try_parse_from(["switchboard", "serve"].iter().chain(&bad));
            assert!(parsed.is_err(), "{bad:?}");
        }
    }
}
