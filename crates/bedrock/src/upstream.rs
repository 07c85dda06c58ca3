//! The SDK clients requests go out on, a few streams to each connection.
//!
//! The SDK's HTTP client (hyper) puts every request to one host on a single HTTP/2 connection
//! and never opens a second one: past the server's `SETTINGS_MAX_CONCURRENT_STREAMS` further
//! requests wait for a free stream, and one connection error ends every answer on it. Worse,
//! under load the h2 crate closes a connection that holds too many small unread DATA frames
//! (`GOAWAY ENHANCE_YOUR_CALM "too_many_data_frames"`), which is what thousands of streamed
//! answers on one connection look like: at 5,000 streams the bench saw all of them fail at
//! once. So requests are spread over clients of their own (each with its own connection pool),
//! at most `BEDROCK_STREAMS_PER_CONNECTION` open answers on each, and a client is added when
//! all are full. The SDK offers no per-connection stream cap itself, hence this file.
//!
//! A new client's first request goes alone: until a connection has negotiated HTTP/2 through
//! ALPN, hyper's pool cannot share it, so a burst on a cold client would open a TLS connection
//! per request (the bench saw 4,000 handshakes for 5,000 streams). The rest of the burst waits
//! for that first request to be sent, then shares its connection; or for [`WARM_UP_WAIT`] at
//! most, by when its connection is up, should the answer's head be slow to come (a long prompt).

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use aws_config::SdkConfig;
use aws_sdk_bedrockruntime::Client;
use aws_smithy_http_client::tls::TlsContext;
use tokio::sync::Notify;

use crate::trust;

/// The clients, grown on demand; never shrunk (an idle one's connections close by themselves).
#[derive(Debug)]
pub(crate) struct Upstream {
    sdk_config: SdkConfig,
    /// `AWS_CA_BUNDLE`'s trust, for the clients added later.
    tls: Option<TlsContext>,
    per_connection: usize,
    shards: Mutex<Vec<Arc<Shard>>>,
}

/// Longest the others wait for a client's first request: its connection is up well within it
/// (a TLS handshake), while the answer's head may take as long as the model needs.
const WARM_UP_WAIT: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Shard {
    client: Client,
    open: AtomicUsize,
    /// A first request has been sent on this client: its connection can be shared.
    warm: AtomicBool,
    /// A first request is being sent.
    warming: AtomicBool,
    warmed: Notify,
}

impl Shard {
    fn new(client: Client) -> Self {
        Self {
            client,
            open: AtomicUsize::new(0),
            warm: AtomicBool::new(false),
            warming: AtomicBool::new(false),
            warmed: Notify::new(),
        }
    }
}

/// An answer's place on a client, given back when the answer's stream is dropped.
#[derive(Debug)]
pub(crate) struct Lease(Arc<Shard>);

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Held while a client's first request is sent; dropped, it lets the others go.
#[derive(Debug)]
pub(crate) struct WarmingUp(Arc<Shard>);

impl WarmingUp {
    /// Sends the client's first request: the others go once it is sent, or after
    /// [`WARM_UP_WAIT`], whichever is first.
    pub(crate) async fn send<T>(self, send: impl Future<Output = T>) -> T {
        let mut send = std::pin::pin!(send);
        let sent = tokio::time::timeout(WARM_UP_WAIT, &mut send).await;
        drop(self);
        match sent {
            Ok(sent) => sent,
            Err(_) => send.await,
        }
    }
}

impl Drop for WarmingUp {
    fn drop(&mut self) {
        self.0.warm.store(true, Ordering::Release);
        self.0.warmed.notify_waiters();
    }
}

impl Lease {
    /// Returns at once on a warm client; on a cold one, the first caller gets the
    /// [`WarmingUp`] to hold while it sends, and the others wait until it has.
    pub(crate) async fn warm_up(&self) -> Option<WarmingUp> {
        let shard = &self.0;
        if shard.warm.load(Ordering::Acquire) {
            return None;
        }
        if !shard.warming.swap(true, Ordering::AcqRel) {
            return Some(WarmingUp(Arc::clone(shard)));
        }
        let warmed = shard.warmed.notified();
        if !shard.warm.load(Ordering::Acquire) {
            let _ = tokio::time::timeout(WARM_UP_WAIT, warmed).await;
        }
        None
    }
}

impl Upstream {
    /// The first client uses `sdk_config` as it is (its HTTP client, e.g. a test's); later ones
    /// get HTTP clients of their own, trusting `tls` too.
    pub(crate) fn new(sdk_config: SdkConfig, tls: Option<TlsContext>, per_connection: usize) -> Self {
        let first = Arc::new(Shard::new(Client::new(&sdk_config)));
        Self { sdk_config, tls, per_connection: per_connection.max(1), shards: Mutex::new(vec![first]) }
    }

    /// A client with room for one more answer, and the answer's place on it.
    pub(crate) fn client(&self) -> (Client, Lease) {
        let mut shards = self.shards.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let roomy = shards.iter().find(|s| s.open.load(Ordering::Relaxed) < self.per_connection).cloned();
        let shard = roomy.unwrap_or_else(|| {
            let config =
                self.sdk_config.to_builder().http_client(trust::http_client(self.tls.clone())).build();
            let shard = Arc::new(Shard::new(Client::new(&config)));
            shards.push(Arc::clone(&shard));
            tracing::debug!(clients = shards.len(), "another upstream client for more streams");
            shard
        });
        shard.open.fetch_add(1, Ordering::Relaxed);
        (shard.client.clone(), Lease(shard))
    }

    #[cfg(test)]
    fn clients(&self) -> usize {
        self.shards.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use aws_config::{BehaviorVersion, Region};

    use super::*;

    fn upstream(per_connection: usize) -> Upstream {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .build();
        Upstream::new(config, None, per_connection)
    }

    #[test]
    fn a_client_is_added_only_when_every_client_is_full() {
        let upstream = upstream(2);

        let first: Vec<Lease> = (0..2).map(|_| upstream.client().1).collect();
        assert_eq!(upstream.clients(), 1);
        let third = upstream.client().1;
        assert_eq!(upstream.clients(), 2);

        drop(first);
        let _reused = upstream.client().1;
        assert_eq!(upstream.clients(), 2, "a freed place is used before a new client is made");
        drop(third);
    }

    #[tokio::test]
    async fn a_cold_clients_first_request_goes_alone_and_the_others_follow_it() {
        let upstream = upstream(10);
        let (_, first) = upstream.client();
        let (_, second) = upstream.client();

        let warming = first.warm_up().await.expect("the first request warms the client up");
        let waiting = tokio::spawn(async move { second.warm_up().await.is_none() });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the second waits for the first to be sent");
        drop(warming);

        assert!(waiting.await.unwrap(), "then goes, sharing its connection");
        assert!(first.warm_up().await.is_none(), "a warm client lets everyone through");
    }

    #[tokio::test]
    async fn a_first_request_slow_to_be_answered_holds_the_others_back_a_moment_only() {
        let upstream = upstream(10);
        let (_, first) = upstream.client();
        let (_, second) = upstream.client();
        let warming = first.warm_up().await.expect("the first request warms the client up");
        let slow_head = tokio::spawn(warming.send(tokio::time::sleep(Duration::from_secs(30))));

        let asked = tokio::time::Instant::now();
        assert!(second.warm_up().await.is_none());

        let waited = asked.elapsed();
        assert!(
            waited >= WARM_UP_WAIT && waited < 10 * WARM_UP_WAIT,
            "not the 30 s the head takes: {waited:?}"
        );
        assert!(!slow_head.is_finished(), "the first request goes on");
        let (_, third) = upstream.client();
        let asked = tokio::time::Instant::now();
        assert!(third.warm_up().await.is_none());
        assert!(asked.elapsed() < WARM_UP_WAIT, "the client is warm from then on");
    }
}
