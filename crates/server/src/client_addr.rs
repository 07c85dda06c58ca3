//! The address a request came from, for the rate limit and the lockout of wrong credentials.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Once,
};

use axum::{extract::ConnectInfo, http::HeaderMap};

/// The client's address: the peer (put in the request's extensions by `connections`), or with
/// `hops` trusted proxies in front, the address the outermost of them saw.
pub(crate) fn client_ip<B>(request: &axum::http::Request<B>, hops: usize) -> Option<IpAddr> {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    behind_proxies(request.headers(), peer, hops)
}

/// With `hops` trusted proxies in front (each appending the address it saw to
/// `X-Forwarded-For`), the entry the outermost trusted proxy appended, else the `peer`. Entries
/// further left were written by the client and could be forged.
fn behind_proxies(headers: &HeaderMap, peer: Option<IpAddr>, hops: usize) -> Option<IpAddr> {
    if hops == 0 {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if entries.len() < hops {
        short_of_proxies(entries.len(), hops);
    }
    entries.len().checked_sub(hops).and_then(|i| entries[i].parse().ok()).or(peer)
}

/// Says once per process that a request came through fewer proxies than `TRUSTED_PROXY_HOPS`
/// (or from one that sets no `X-Forwarded-For`): every client then counts as the proxy, one
/// rate limit and one lockout for all of them.
fn short_of_proxies(entries: usize, hops: usize) {
    static WARNED: Once = Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            x_forwarded_for_entries = entries,
            trusted_proxy_hops = hops,
            "a request named fewer addresses in X-Forwarded-For than TRUSTED_PROXY_HOPS: clients are \
             counted as the proxy's address, all together. Have the proxy append the client's \
             (nginx: proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for), or lower \
             TRUSTED_PROXY_HOPS"
        );
    });
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_client_is_found_behind_trusted_proxies_only() {
        let peer = Some(IpAddr::from([10, 0, 0, 1]));
        let headers = HeaderMap::from_iter([(
            "x-forwarded-for".parse().unwrap(),
            HeaderValue::from_static("6.6.6.6, 203.0.113.7, 198.51.100.2"),
        )]);
        assert_eq!(behind_proxies(&headers, peer, 0), peer, "no proxies: forwarded headers are ignored");
        assert_eq!(behind_proxies(&headers, peer, 1), Some(IpAddr::from([198, 51, 100, 2])));
        assert_eq!(behind_proxies(&headers, peer, 2), Some(IpAddr::from([203, 0, 113, 7])));
        assert_eq!(behind_proxies(&headers, peer, 5), peer, "fewer entries than proxies");
        assert_eq!(behind_proxies(&HeaderMap::new(), peer, 1), peer);
    }
}
