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

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use aws_config::SdkConfig;
use aws_sdk_bedrockruntime::Client;
use aws_smithy_http_client::tls::TlsContext;

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

#[derive(Debug)]
struct Shard {
    client: Client,
    open: AtomicUsize,
}

/// An answer's place on a client, given back when the answer's stream is dropped.
#[derive(Debug)]
pub(crate) struct Lease(Arc<Shard>);

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Upstream {
    /// The first client uses `sdk_config` as it is (its HTTP client, e.g. a test's); later ones
    /// get HTTP clients of their own, trusting `tls` too.
    pub(crate) fn new(sdk_config: SdkConfig, tls: Option<TlsContext>, per_connection: usize) -> Self {
        let first = Arc::new(Shard { client: Client::new(&sdk_config), open: AtomicUsize::new(0) });
        Self { sdk_config, tls, per_connection: per_connection.max(1), shards: Mutex::new(vec![first]) }
    }

    /// A client with room for one more answer, and the answer's place on it.
    pub(crate) fn client(&self) -> (Client, Lease) {
        let mut shards = self.shards.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let roomy = shards.iter().find(|s| s.open.load(Ordering::Relaxed) < self.per_connection).cloned();
        let shard = roomy.unwrap_or_else(|| {
            let config =
                self.sdk_config.to_builder().http_client(trust::http_client(self.tls.clone())).build();
            let shard = Arc::new(Shard { client: Client::new(&config), open: AtomicUsize::new(0) });
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
}
