//! The connection variables: how many clients may be connected, how long a request may take to
//! arrive, and how long what is sent may stay unread. None of them limits how long an answer may
//! stream while it is read (`REQUEST_TIMEOUT_SECONDS` does).

use std::time::Duration;

use super::{ConfigError, Vars};

/// What one connection may hold on to, and how many there may be.
#[derive(Debug, Clone, PartialEq)]
pub struct Connections {
    /// `MAX_CONNECTIONS`: open client connections; more are closed as soon as they are accepted
    /// (20,000: twice the default stream cap, within ECS's usual 65,536 descriptors).
    pub max: usize,
    /// `HEADER_READ_TIMEOUT_SECONDS`: longest a client may take to send a request's headers,
    /// which is also how long a connection with nothing in flight is kept (10; behind proxies,
    /// [`BEHIND_PROXIES`]).
    pub header_read_timeout: Duration,
    /// `REQUEST_BODY_TIMEOUT_SECONDS`: longest a request's whole body may take to arrive; then 408 (30).
    pub body_read_timeout: Duration,
    /// `SEND_TIMEOUT_SECONDS`: longest a client may leave what the server sends unread (its
    /// receive window full) before the connection is closed (60).
    pub send_timeout: Duration,
}

/// The header timeout's default behind proxies (`TRUSTED_PROXY_HOPS` above 0), in seconds. A
/// proxy keeps its idle connections to the server open to reuse them (an ALB and nginx's
/// `keepalive` for 60 s, Caddy for 120), and one the server closes just as the proxy sends a
/// request on it is a 502 to that client; the proxy, which forwards only whole request headers,
/// takes the slow clients the short default guards against.
const BEHIND_PROXIES: f64 = 125.0;

/// `behind_proxies`: `TRUSTED_PROXY_HOPS` is above 0.
pub(super) fn read(vars: &Vars, behind_proxies: bool) -> Result<Connections, ConfigError> {
    let header_read_default = if behind_proxies { BEHIND_PROXIES } else { 10.0 };
    Ok(Connections {
        max: vars.at_least_one("MAX_CONNECTIONS", 20_000)?,
        header_read_timeout: vars.seconds("HEADER_READ_TIMEOUT_SECONDS", header_read_default)?,
        body_read_timeout: vars.seconds("REQUEST_BODY_TIMEOUT_SECONDS", 30.0)?,
        send_timeout: vars.seconds("SEND_TIMEOUT_SECONDS", 60.0)?,
    })
}
