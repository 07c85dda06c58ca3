//! The upstream path the relay is measured on, and the load clients. Production reaches Bedrock
//! over TLS, where the SDK's ALPN picks HTTP/2 and multiplexes streams over few connections; the
//! plain HTTP/1.1 path (one upstream connection per stream) stays as the comparison.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
};

use anyhow::Context;
use serde_json::Value;

/// Which paths to measure (`--upstream`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Choice {
    Tls,
    Plain,
    Both,
}

impl Choice {
    /// TLS first: it is the production path.
    pub(crate) fn paths(self) -> Vec<Upstream> {
        match self {
            Self::Tls => vec![Upstream::Tls],
            Self::Plain => vec![Upstream::Plain],
            Self::Both => vec![Upstream::Tls, Upstream::Plain],
        }
    }
}

/// One way of reaching the emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upstream {
    /// HTTPS with ALPN `h2`: Bedrock's path.
    Tls,
    /// `http://`, where the SDK speaks HTTP/1.1.
    Plain,
}

impl Upstream {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Tls => "TLS + HTTP/2",
            Self::Plain => "plain HTTP/1.1",
        }
    }

    /// Where the emulator writes its CA's PEM on this path.
    pub(crate) fn ca_path(self) -> Option<PathBuf> {
        (self == Self::Tls)
            .then(|| std::env::temp_dir().join(format!("streambed-bench-{}-ca.pem", std::process::id())))
    }
}

/// The emulator's arguments for `upstream`, beyond pacing and scenario.
pub(crate) fn emulator_args(upstream: Upstream, h2_max_streams: u32) -> Vec<String> {
    let mut args = vec!["--h2-max-streams".to_owned(), h2_max_streams.to_string()];
    if let Some(ca) = upstream.ca_path() {
        args.extend(["--tls".to_owned(), "--cert-out".to_owned(), ca.display().to_string()]);
    }
    args
}

/// Streams per source address: one loopback address has about 28,000 ephemeral ports.
const STREAMS_PER_ADDRESS: usize = 10_000;

/// Load clients for `n` streams, spread over several of 127.0.0.1 to 127.0.0.100 when one
/// address would run short of ports (the emulator's from 127.0.0.101 on, see
/// [`Clients::of_emulator`]). Each closes a socket once its stream is done (no idle pool)
/// unless it talks to a TLS upstream, where it keeps one HTTP/2 connection as the SDK does.
#[derive(Debug)]
pub(crate) struct Clients(Vec<reqwest::Client>);

/// Source addresses for `n` streams.
fn addresses(n: usize) -> usize {
    n.div_ceil(STREAMS_PER_ADDRESS).clamp(1, 100)
}

/// Streams on one HTTP/2 client connection to the server.
const STREAMS_PER_H2_CLIENT: usize = 100;

impl Clients {
    /// Clients of the server (plain HTTP/1.1, as browsers behind a proxy would be). Each set
    /// takes the addresses after the last set's, round and round from 127.0.0.1 to .100: a
    /// client's closed sockets stay in TIME_WAIT for a minute, holding their ports, and the
    /// rounds of routes at 100 and 1,000 streams left too few on one address for the 5,000.
    pub(crate) fn plain(n: usize) -> anyhow::Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let count = addresses(n);
        let wrapped = |next: usize| if next + count > 100 { 0 } else { next };
        let next = NEXT
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |next| Some(wrapped(next) + count))
            .expect("the update never declines");
        Self::build(n, None, u8::try_from(wrapped(next) + 1).expect("at most 100"))
    }

    /// Clients of the server over HTTP/2 (prior knowledge), `STREAMS_PER_H2_CLIENT` streams on
    /// each connection, as a proxy that speaks HTTP/2 to its targets would send them: the way
    /// to hold 20,000 streams where the open-file limit is 20,000 (one socket per HTTP/1.1
    /// stream would not fit beside the server's upstream connections).
    pub(crate) fn http2(n: usize) -> anyhow::Result<Self> {
        let clients = (0..n.div_ceil(STREAMS_PER_H2_CLIENT).max(1))
            .map(|_| reqwest::Client::builder().tcp_nodelay(true).http2_prior_knowledge().build())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(clients))
    }

    /// Clients of the server, HTTP/2 or HTTP/1.1.
    pub(crate) fn of_server(n: usize, http2: bool) -> anyhow::Result<Self> {
        if http2 { Self::http2(n) } else { Self::plain(n) }
    }

    /// Clients of the emulator on `upstream`: over TLS they trust its CA. From addresses of
    /// their own (127.0.0.101 on): the server's upstream connections to the same emulator come
    /// from 127.0.0.1, and the floor's closed sockets, in TIME_WAIT for a minute, would
    /// otherwise take the ports those need (at 5,000 plain streams they ran out).
    pub(crate) fn of_emulator(n: usize, upstream: Upstream) -> anyhow::Result<Self> {
        let ca = match upstream.ca_path() {
            Some(path) => Some(ca_certificate(&path)?),
            None => None,
        };
        Self::build(n, ca, 101)
    }

    /// Clients from `127.0.0.{first}` on.
    fn build(n: usize, ca: Option<reqwest::Certificate>, first: u8) -> anyhow::Result<Self> {
        let clients = (0..addresses(n))
            .map(|i| {
                let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, first + i as u8));
                let builder = reqwest::Client::builder().tcp_nodelay(true).local_address(source);
                let builder = match &ca {
                    Some(ca) => builder.tls_certs_only([ca.clone()]),
                    None => builder.pool_max_idle_per_host(0),
                };
                builder.build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(clients))
    }

    /// One request on each client first, so a TLS client has negotiated HTTP/2 before a burst
    /// (until then hyper's pool opens a connection per request).
    pub(crate) async fn warm(&self, emulator: &str) -> anyhow::Result<()> {
        for client in &self.0 {
            client.get(format!("{emulator}/_emulator/connections")).send().await?.error_for_status()?;
        }
        Ok(())
    }

    /// The client for stream `i`.
    pub(crate) fn pick(&self, i: usize) -> &reqwest::Client {
        &self.0[i % self.0.len()]
    }
}

fn ca_certificate(path: &Path) -> anyhow::Result<reqwest::Certificate> {
    let pem =
        std::fs::read(path).with_context(|| format!("cannot read the emulator's CA {}", path.display()))?;
    Ok(reqwest::Certificate::from_pem(&pem)?)
}

/// Reads the emulator's connection counts over a connection of its own, kept open throughout
/// (a pooled client), so it adds exactly one to what the emulator counts.
#[derive(Debug)]
pub(crate) struct Control {
    client: reqwest::Client,
    emulator: String,
}

impl Control {
    pub(crate) fn new(upstream: Upstream, emulator: &str) -> anyhow::Result<Self> {
        let builder = reqwest::Client::builder();
        let builder = match upstream.ca_path() {
            Some(path) => builder.tls_certs_only([ca_certificate(&path)?]),
            None => builder,
        };
        Ok(Self { client: builder.build()?, emulator: emulator.to_owned() })
    }

    /// Starts a new peak of open connections, once the load clients' closed sockets are gone.
    pub(crate) async fn reset_peak(&self) -> anyhow::Result<()> {
        // Sockets a dropped client closed a moment ago may still count as open at the emulator.
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        self.client
            .delete(format!("{}/_emulator/connections", self.emulator))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// The most upstream connections open at once since [`Self::reset_peak`], less this one.
    pub(crate) async fn peak(&self) -> anyhow::Result<u64> {
        let url = format!("{}/_emulator/connections", self.emulator);
        let counts: Value = self.client.get(url).send().await?.error_for_status()?.json().await?;
        let peak = counts["peakOpen"].as_u64().context("peakOpen in /_emulator/connections")?;
        Ok(peak.saturating_sub(1))
    }
}

/// Raises this process's open-file limit (which the emulator and server inherit) to fit
/// `streams`: each is a socket here and up to two in the server. Root may raise the hard limit
/// too; otherwise the soft limit goes to the hard one and the largest levels may fail.
pub(crate) fn raise_nofile(streams: usize) -> anyhow::Result<u64> {
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    let wanted = (3 * streams as u64 + 4096).max(hard);
    if rlimit::setrlimit(rlimit::Resource::NOFILE, wanted, wanted).is_ok() {
        return Ok(wanted);
    }
    rlimit::setrlimit(rlimit::Resource::NOFILE, hard, hard)?;
    Ok(hard)
}

#[cfg(test)]
mod tests {
    use streambed_emulator::Emulator;

    use super::*;

    #[tokio::test]
    async fn load_clients_trust_the_tls_emulator_and_the_control_counts_their_connection() {
        let emulator = Emulator::scripted().spawn_tls().await.unwrap();
        let ca_path = Upstream::Tls.ca_path().unwrap();
        std::fs::copy(emulator.ca_bundle().unwrap(), &ca_path).unwrap();
        let url = emulator.endpoint_url();
        let control = Control::new(Upstream::Tls, &url).unwrap();

        let clients = Clients::of_emulator(1, Upstream::Tls).unwrap();
        clients.warm(&url).await.unwrap();
        control.reset_peak().await.unwrap();

        // The warm load client's HTTP/2 connection stays open; the control's own is not counted.
        assert_eq!(control.peak().await.unwrap(), 1);
        let _ = std::fs::remove_file(ca_path);
    }

    #[test]
    fn large_levels_spread_over_source_addresses() {
        assert_eq!(Clients::plain(10_000).unwrap().0.len(), 1);
        assert_eq!(Clients::plain(20_000).unwrap().0.len(), 2);
    }
}
