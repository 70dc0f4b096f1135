//! Which browser origins and which `Host` names the server answers: the rules of
//! `--allowed-origins` and `--allowed-hosts`, how they parse and how they match.
//!
//! An origin rule is `local`, `*` (any origin), or a pattern of a serialized origin,
//! `scheme://host[:port]` (no path, no trailing slash), where `*` matches any run of
//! characters: `https://*.example.com`, `http://localhost:*`. A host rule is `local`, `*`
//! or a host name pattern (`example.com`, `*.example.com`, `192.168.1.5`, `[fe80::1]`);
//! ports are not compared for hosts (the request reached the listener's port anyway).
//!
//! `local` is the default of both:
//! - for hosts: `localhost`, `127.0.0.1`, `[::1]` and the address the listener is bound
//!   to (when it is a specific one, not `0.0.0.0` or `[::]`);
//! - for origins: `http(s)://localhost`, `127.0.0.1` or `[::1]` on any port, and the
//!   request's own origin (the `Origin` names the same host and port as `Host`) *when that
//!   `Host` is itself allowed*. The last condition is what stops DNS rebinding: a page
//!   on `evil.example` whose name was re-pointed at this server is "same-origin" with a
//!   request naming `Host: evil.example`, and `evil.example` is not an allowed host.
//!
//! Matching is on lowercase ASCII. An `Origin` that does not parse as a serialized origin
//! (`null` from a sandboxed frame or a `file:` page, garbage) matches no rule but `*`.

use std::{fmt, net::SocketAddr, str::FromStr};

/// The host names `local` always allows.
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// One entry of `--allowed-origins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginRule {
    /// Loopback origins on any port, and same-origin requests to an allowed host.
    Local,
    /// Every origin (`*`): only for a server meant to be driven by any web page.
    Any,
    /// A serialized-origin pattern, lowercase, `*` matching any run of characters.
    Pattern(String),
}

/// One entry of `--allowed-hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRule {
    /// Loopback names and the bound address.
    Local,
    /// Every host (`*`).
    Any,
    /// A host name pattern, lowercase, `*` matching any run of characters.
    Pattern(String),
}

impl FromStr for OriginRule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let rule = text.trim().to_ascii_lowercase();
        match rule.as_str() {
            "local" => return Ok(Self::Local),
            "*" => return Ok(Self::Any),
            _ => {}
        }
        let Some((scheme, authority)) = rule.split_once("://") else {
            return Err(format!(
                "{text:?}: an origin is scheme://host[:port] (e.g. https://app.example.com), `local` or `*`"
            ));
        };
        let scheme_ok = scheme == "*" || scheme == "http" || scheme == "https";
        if !scheme_ok || authority.is_empty() {
            return Err(format!("{text:?}: the scheme must be http, https or *"));
        }
        if authority.contains('/') {
            return Err(format!(
                "{text:?}: an origin has no path, not even a trailing slash"
            ));
        }
        if !authority.bytes().all(is_authority_byte) {
            return Err(format!("{text:?}: not a host[:port]"));
        }
        Ok(Self::Pattern(rule))
    }
}

impl fmt::Display for OriginRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::Any => f.write_str("*"),
            Self::Pattern(pattern) => f.write_str(pattern),
        }
    }
}

impl FromStr for HostRule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let rule = text.trim().to_ascii_lowercase();
        match rule.as_str() {
            "local" => return Ok(Self::Local),
            "*" => return Ok(Self::Any),
            _ => {}
        }
        let bracketed = rule.starts_with('[') && rule.ends_with(']');
        if rule.is_empty()
            || (!bracketed && rule.contains(':'))
            || !rule.bytes().all(is_authority_byte)
        {
            return Err(format!(
                "{text:?}: a host is a name or an address without port or scheme (example.com, *.example.com, 192.168.1.5, [fe80::1]), `local` or `*`"
            ));
        }
        Ok(Self::Pattern(rule))
    }
}

impl fmt::Display for HostRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::Any => f.write_str("*"),
            Self::Pattern(pattern) => f.write_str(pattern),
        }
    }
}

/// Parses a comma-separated list of rules (empty entries skipped).
pub fn parse_rules<R: FromStr<Err = String>>(text: &str) -> Result<Vec<R>, String> {
    text.split(',')
        .filter(|entry| !entry.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// A list of rules written back the way it parses.
pub fn format_rules<R: fmt::Display>(rules: &[R]) -> String {
    rules
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A parsed `Origin` header: `scheme://host[:port]`, lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// Parses a serialized origin; `None` for `null` and anything else that is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.to_ascii_lowercase();
        let (scheme, authority) = text.split_once("://")?;
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return None;
        }
        let (host, port) = split_host_port(authority)?;
        Some(Self {
            scheme: scheme.to_owned(),
            host: host.to_owned(),
            port,
        })
    }

    /// The port, or the scheme's default one.
    fn effective_port(&self) -> Option<u16> {
        self.port.or(match self.scheme.as_str() {
            "http" | "ws" => Some(80),
            "https" | "wss" => Some(443),
            _ => None,
        })
    }

    fn serialized(&self) -> String {
        match self.port {
            Some(port) => format!("{}://{}:{port}", self.scheme, self.host),
            None => format!("{}://{}", self.scheme, self.host),
        }
    }
}

/// Splits `host[:port]` (IPv6 in brackets); `None` when either part is malformed.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || !host.bytes().all(is_authority_byte) || host.contains('*') {
        return None;
    }
    let port = match port {
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some(digits.parse().ok()?)
        }
        Some(_) => return None,
        None => None,
    };
    Some((host, port))
}

/// What an origin or host may be made of (and `*` in patterns).
fn is_authority_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._:[]*".contains(&b)
}

/// The server's compiled rules, with the address its listener is bound to.
#[derive(Debug, Clone)]
pub struct Rules {
    /// `--allowed-origins`: a request carrying an `Origin` that matches none is answered
    /// 403 with `error` 401 `origin_not_allowed`.
    pub origins: Vec<OriginRule>,
    /// `--allowed-hosts`: a request to the dashboard or its API whose `Host` matches none
    /// is answered 421 with `error` 402 `host_not_allowed` (what defeats DNS rebinding).
    pub hosts: Vec<HostRule>,
    /// Where the HTTP listener is bound: `local` also allows this address as a host when
    /// it is a specific one (not `0.0.0.0` or `[::]`).
    pub bound: SocketAddr,
}

impl Rules {
    /// Whether a request naming `host` (a `Host` header, `name[:port]`) is answered.
    /// A request without `Host` (HTTP/1.0, not a browser) is.
    pub fn host_allowed(&self, host: Option<&str>) -> bool {
        let Some(host) = host else { return true };
        let host = host.to_ascii_lowercase();
        let Some((name, _)) = split_host_port(&host) else {
            return false;
        };
        self.hosts.iter().any(|rule| match rule {
            HostRule::Any => true,
            HostRule::Local => LOOPBACK_HOSTS.contains(&name) || self.is_bound_name(name),
            HostRule::Pattern(pattern) => glob(pattern, name),
        })
    }

    /// Whether a request carrying `Origin: origin` (and `Host: host`) is allowed.
    pub fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        if self.origins.contains(&OriginRule::Any) {
            return true;
        }
        let Some(origin) = Origin::parse(origin) else {
            return false;
        };
        let web = origin.scheme == "http" || origin.scheme == "https";
        self.origins.iter().any(|rule| match rule {
            OriginRule::Any => true,
            OriginRule::Local => {
                web && (LOOPBACK_HOSTS.contains(&origin.host.as_str())
                    || (self.same_origin(&origin, host) && self.host_allowed(host)))
            }
            OriginRule::Pattern(pattern) => glob(pattern, &origin.serialized()),
        })
    }

    /// The origin names the host and port the request was sent to.
    fn same_origin(&self, origin: &Origin, host: Option<&str>) -> bool {
        let Some(host) = host.map(str::to_ascii_lowercase) else {
            return false;
        };
        let Some((name, port)) = split_host_port(&host) else {
            return false;
        };
        // Plain HTTP: a `Host` without a port means 80.
        name == origin.host && port.or(Some(80)) == origin.effective_port()
    }

    fn is_bound_name(&self, name: &str) -> bool {
        let ip = self.bound.ip();
        if ip.is_unspecified() {
            return false;
        }
        match ip {
            std::net::IpAddr::V4(v4) => name == v4.to_string(),
            std::net::IpAddr::V6(v6) => name == format!("[{v6}]"),
        }
    }
}

/// `*` matches any run of bytes (none included); everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(origins: &str, hosts: &str, bound: &str) -> Rules {
        Rules {
            origins: parse_rules(origins).unwrap(),
            hosts: parse_rules(hosts).unwrap(),
            bound: bound.parse().unwrap(),
        }
    }

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("https://*.example.com", "https://a.b.example.com"));
        assert!(!glob("https://*.example.com", "https://example.com"));
        assert!(!glob(
            "https://*.example.com",
            "https://a.example.com.evil.net"
        ));
        assert!(glob("http://localhost:*", "http://localhost:5173"));
        assert!(glob("a*b*c", "aXbYbZc"));
        assert!(!glob("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn the_default_allows_loopback_pages_and_same_origin_on_an_allowed_host() {
        let r = rules("local", "local", "127.0.0.1:8000");
        let host = Some("127.0.0.1:8000");
        for origin in [
            "http://127.0.0.1:8000",
            "http://localhost:5173",
            "https://localhost",
            "http://[::1]:9000",
        ] {
            assert!(r.origin_allowed(origin, host), "{origin}");
        }
        for origin in [
            "http://evil.example",
            "http://127.0.0.1.evil.example:8000",
            "null",
            "file://",
            "chrome-extension://abc",
            "http://localhost:80x",
            "",
        ] {
            assert!(!r.origin_allowed(origin, host), "{origin}");
        }
    }

    #[test]
    fn dns_rebinding_is_not_same_origin() {
        let r = rules("local", "local", "127.0.0.1:8000");
        let rebound = Some("evil.example:8000");
        assert!(!r.host_allowed(rebound));
        assert!(!r.origin_allowed("http://evil.example:8000", rebound));
        // Once the operator allows the name, same-origin pages on it are allowed.
        let r = rules("local", "local,app.example", "0.0.0.0:8000");
        assert!(r.origin_allowed("http://app.example:8000", Some("app.example:8000")));
        assert!(!r.origin_allowed("http://app.example:9000", Some("app.example:8000")));
        assert!(r.origin_allowed("http://app.example", Some("app.example")));
    }

    #[test]
    fn hosts() {
        let r = rules("local", "local", "192.168.1.5:8000");
        for host in [
            "localhost:8000",
            "127.0.0.1",
            "[::1]:8000",
            "192.168.1.5:8000",
            "LOCALHOST",
        ] {
            assert!(r.host_allowed(Some(host)), "{host}");
        }
        for host in [
            "evil.example",
            "192.168.1.6:8000",
            "localhost.evil.example",
            "",
        ] {
            assert!(!r.host_allowed(Some(host)), "{host}");
        }
        assert!(r.host_allowed(None), "no Host header: not a browser");
        // An unspecified bind adds no name of its own.
        assert!(!rules("local", "local", "0.0.0.0:8000").host_allowed(Some("0.0.0.0")));
        assert!(rules("local", "*", "0.0.0.0:8000").host_allowed(Some("anything.example")));
        let r = rules("local", "*.example.com", "127.0.0.1:1");
        assert!(r.host_allowed(Some("a.example.com:8000")));
        assert!(!r.host_allowed(Some("localhost")), "local was not listed");
    }

    #[test]
    fn explicit_origin_lists() {
        let r = rules(
            "https://*.example.com,http://localhost:3000",
            "local",
            "127.0.0.1:8000",
        );
        assert!(r.origin_allowed("https://app.example.com", None));
        assert!(r.origin_allowed("http://localhost:3000", None));
        assert!(!r.origin_allowed("http://localhost:3001", None));
        assert!(
            !r.origin_allowed("http://127.0.0.1:8000", Some("127.0.0.1:8000")),
            "local was not listed"
        );
        assert!(rules("*", "local", "127.0.0.1:8000").origin_allowed("null", None));
    }

    #[test]
    fn rules_parse_and_display_as_written() {
        let origins: Vec<OriginRule> = parse_rules("local, HTTPS://*.Example.com ,*").unwrap();
        assert_eq!(format_rules(&origins), "local,https://*.example.com,*");
        for bad in [
            "example.com",
            "https://example.com/",
            "ftp://x",
            "https://",
            "https://a b",
        ] {
            assert!(bad.parse::<OriginRule>().is_err(), "{bad}");
        }
        let hosts: Vec<HostRule> = parse_rules("local,[::1],*.example.com").unwrap();
        assert_eq!(format_rules(&hosts), "local,[::1],*.example.com");
        for bad in ["example.com:8000", "http://example.com", "a/b"] {
            assert!(bad.parse::<HostRule>().is_err(), "{bad}");
        }
        assert!(parse_rules::<HostRule>("").unwrap().is_empty());
    }
}
