//! Whose conversations a request may see. With authentication on, each principal owns its own;
//! with it off on loopback (one person's machine), everything belongs to one local owner; with it
//! off on a public address, storing conversations would show every visitor everyone's history,
//! so the conversation routes refuse unless the operator opted in.
//!
//! On loopback, the local owner is granted only to requests addressed to this machine by name
//! (`localhost`, `127.0.0.1`, `[::1]`) and, from a browser, sent by a page of this machine: a
//! web page whose own name an attacker re-points at 127.0.0.1 (DNS rebinding) reaches the
//! server as a page of its own origin, its name as `Host`; any other site's page can still send
//! requests that need no CORS preflight (a bodiless `POST` creating conversations), its name as
//! `Origin`. Nor is it granted to what a reverse proxy forwards: behind one, whoever reaches the
//! proxy reaches the server, whatever `Host` the proxy sends (nginx's plain `proxy_pass` sends
//! the upstream's own, `127.0.0.1`). A server told of proxies (`TRUSTED_PROXY_HOPS`) is treated as
//! public, and a request carrying a forwarding header (`Forwarded`, `X-Forwarded-For`,
//! `X-Forwarded-Host`, `X-Real-IP`) is refused; a proxy that adds none cannot be told apart, which
//! the README says.

use std::net::IpAddr;

use axum::http::{HeaderMap, Uri, header};
use streambed_store::Owner;

use crate::{Config, auth::Principal, error::AppError};

/// How owners are found, decided once from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnerPolicy {
    /// Each authenticated principal owns its conversations.
    Principal,
    /// One local owner, for requests addressed to this machine: no authentication, on loopback.
    ThisMachine,
    /// One local owner: no authentication, by `CONVERSATIONS_WITHOUT_AUTH`.
    Local,
    /// No authentication on a public address: conversation routes answer 403.
    Refused,
}

/// The single owner of a server without authentication.
const LOCAL: &str = "local";

/// Headers a reverse proxy adds to say whom it forwards for: a request that has one came from
/// beyond this machine.
const FORWARDING: [&str; 4] = ["forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip"];

impl OwnerPolicy {
    /// The policy and why, for the start-up log.
    pub(crate) fn new(config: &Config) -> (Self, &'static str) {
        if config.auth.is_enabled() {
            (Self::Principal, "authentication is on: each key or token subject has its own")
        } else if config.store.without_auth {
            (Self::Local, "CONVERSATIONS_WITHOUT_AUTH=true: every visitor shares one history")
        } else if config.limits.trusted_proxy_hops > 0 {
            (
                Self::Refused,
                "no authentication behind a reverse proxy (TRUSTED_PROXY_HOPS is set): set API_KEYS or \
                 AUTH_JWT_ISSUER (or CONVERSATIONS_WITHOUT_AUTH=true)",
            )
        } else if config.host.is_loopback() {
            (Self::ThisMachine, "no authentication on a loopback address: one local owner, on this machine")
        } else {
            (
                Self::Refused,
                "no authentication on a public address: set API_KEYS or AUTH_JWT_ISSUER (or CONVERSATIONS_WITHOUT_AUTH=true)",
            )
        }
    }

    /// The owner of a request with these headers and URI, by `principal` when there is one.
    pub(crate) fn owner(
        self,
        principal: Option<&Principal>,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Result<Owner, AppError> {
        match (self, principal) {
            (Self::Principal, Some(principal)) => Ok(Owner(principal.id())),
            // The auth layer runs before every conversation route, so a principal is always
            // there when authentication is on; refuse rather than share if it ever is not.
            (Self::Principal, None) | (Self::Refused, _) => Err(AppError::ConversationsRefused),
            (Self::ThisMachine, _) => {
                let forwarded = FORWARDING.iter().any(|name| headers.contains_key(*name));
                let addressed = !forwarded && host(headers, uri).is_none_or(names_this_machine);
                // `scheme://host[:port]`; `null` (a file, a sandboxed frame) names no machine.
                let sent_from = headers.get(header::ORIGIN).map(|origin| {
                    let authority = origin.to_str().ok().and_then(|o| o.split_once("://"));
                    authority.is_some_and(|(_scheme, authority)| names_this_machine(without_port(authority)))
                });
                if addressed && sent_from.unwrap_or(true) {
                    Ok(Owner(LOCAL.to_owned()))
                } else {
                    Err(AppError::ConversationsElsewhere)
                }
            }
            (Self::Local, _) => Ok(Owner(LOCAL.to_owned())),
        }
    }
}

/// The name a request was addressed to, without its port: `Host` (HTTP/1.1), or the URI's
/// authority (HTTP/2). `None` for a request with neither (HTTP/1.0), which no browser sends.
fn host<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    let authority = match headers.get(header::HOST) {
        Some(value) => value.to_str().ok().unwrap_or("?"),
        None => uri.authority()?.as_str(),
    };
    Some(without_port(authority))
}

/// `host[:port]` or `[v6]:port` without the port (and the brackets).
fn without_port(authority: &str) -> &str {
    match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(name, _port)| name),
    }
}

/// `localhost` (and its subdomains, which resolve to loopback by RFC 6761) or a loopback address.
fn names_this_machine(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addressed_to(value: &str) -> Option<bool> {
        let headers = HeaderMap::from_iter([(header::HOST, value.parse().unwrap())]);
        host(&headers, &Uri::from_static("/api/conversations")).map(names_this_machine)
    }

    #[test]
    fn only_names_of_this_machine_are_this_machine() {
        for local in [
            "localhost:4000",
            "LOCALHOST",
            "127.0.0.1:4000",
            "127.8.9.10",
            "[::1]:4000",
            "app.localhost:4000",
        ] {
            assert_eq!(addressed_to(local), Some(true), "{local}");
        }
        for foreign in
            ["evil.example:4000", "localhost.evil.example", "10.0.0.5:4000", "[::2]:4000", "0.0.0.0:4000"]
        {
            assert_eq!(addressed_to(foreign), Some(false), "{foreign}");
        }
        let from = |origin: &str| {
            let headers = HeaderMap::from_iter([(header::ORIGIN, origin.parse().unwrap())]);
            let uri = Uri::from_static("/api/conversations");
            OwnerPolicy::ThisMachine.owner(None, &headers, &uri).is_ok()
        };
        assert!(from("http://localhost:5173") && from("http://127.0.0.1:4000") && from("http://[::1]:4000"));
        assert!(!from("https://evil.example") && !from("null") && !from("http://localhost.evil.example"));
        for forwarding in FORWARDING {
            let headers = HeaderMap::from_iter([
                (header::HOST, "127.0.0.1:4000".parse().unwrap()),
                (forwarding.parse().unwrap(), "203.0.113.9".parse().unwrap()),
            ]);
            let uri = Uri::from_static("/api/conversations");
            assert!(OwnerPolicy::ThisMachine.owner(None, &headers, &uri).is_err(), "forwarded: {forwarding}");
        }
        let http2 = Uri::from_static("http://evil.example:4000/api/conversations");
        assert_eq!(host(&HeaderMap::new(), &http2).map(names_this_machine), Some(false));
        assert_eq!(host(&HeaderMap::new(), &Uri::from_static("/api/conversations")), None);
    }
}
