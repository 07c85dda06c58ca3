//! What replicas share, on a real engine. With `REDIS_URL`, one Redis server (ElastiCache in
//! production) carries each running answer's frames to followers on other replicas
//! ([`frames`], used by `live`), Stop to the replica that runs the answer ([`stops`]), and one
//! rate-limit allowance, wrong-key lockout and count of each owner's running answers for all
//! replicas ([`counts`]).
//!
//! Redis helps answers but never holds one up. It must answer at start-up (a wrong URL or
//! password stops the server there, naming `REDIS_URL`); after that every call is bounded by a
//! timeout, and a failure is counted (`streambed_redis_errors_total{use}`), logged as a warning
//! (at most every few seconds per use), and met with what one replica can do alone: followers
//! read the store, Stop reaches this replica's answers, limits count in memory.

pub(crate) mod counts;
pub(crate) mod frames;
pub(crate) mod stops;

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    sync::{Arc, Mutex, OnceLock, PoisonError},
    time::{Duration, Instant},
};

use anyhow::Context;
use redis::{
    AsyncConnectionConfig, Client, ConnectionInfo, ErrorKind, IntoConnectionInfo, ProtocolVersion,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::metrics::Metrics;

/// One attempt to open a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest any command may take before it counts as failed. Redis answers in well under a
/// millisecond within an AZ; this only bounds a server that has gone silent.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// How long start-up waits for Redis before giving up.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Reconnection attempts after a lost connection (0.1 s apart, doubling to 1 s): about a minute,
/// as long as a failover takes. Calls made meanwhile wait on it only up to their own timeouts;
/// once it is spent, the next call starts a new round.
const RECONNECT_ATTEMPTS: usize = 60;
/// After a call timed out, the uses on the request path (limits) skip Redis this long, so a
/// silent or absent server (calls wait on the reconnection until their timeout) does not add
/// that timeout to every request. A failure that came at once (an error reply, a connection
/// closed under a call) does not make the next request skip Redis.
const REST_AFTER_FAILURE: Duration = Duration::from_secs(2);
/// At most one warning per use this often while Redis fails; the metric counts every failure.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// Connections held by followers blocked reading another replica's answer; past this, a
/// follower reads the store instead.
const MAX_BLOCKING_READERS: usize = 1000;

/// What Redis is used for: the `use` label of the error metric, and what the server does
/// without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Use {
    /// Copying a running answer's frames to its stream.
    Frames,
    /// Following another replica's answer.
    Follow,
    /// Sending or receiving Stop.
    Stop,
    RateLimit,
    Lockout,
    /// Counting each owner's running answers.
    RunningAnswers,
}

impl Use {
    fn label(self) -> &'static str {
        match self {
            Self::Frames => "frames",
            Self::Follow => "follow",
            Self::Stop => "stop",
            Self::RateLimit => "rate_limit",
            Self::Lockout => "lockout",
            Self::RunningAnswers => "running_answers",
        }
    }

    fn fallback(self) -> &'static str {
        match self {
            Self::Frames | Self::Follow => {
                "clients that resume on another replica follow the answer through the database"
            }
            Self::Stop => "Stop reaches only the answers running on the replica that receives it",
            Self::RateLimit => "each replica counts the rate limit on its own",
            Self::Lockout => "each replica counts wrong keys on its own",
            Self::RunningAnswers => "each replica counts its owners' running answers on its own",
        }
    }
}

/// A failed Redis call.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error("no answer from Redis within {0:?}")]
    Timeout(Duration),
    #[error("unexpected reply from Redis: {0}")]
    Reply(&'static str),
    #[error("the connection to Redis closed")]
    Closed,
    /// Not an error Redis returned: a call timed out moments ago, so this one was not made.
    #[error("Redis timed out moments ago; not asked")]
    Resting,
}

/// The shared Redis server: a multiplexed connection that reconnects by itself, and the client
/// to open the dedicated connections that blocking reads and subscriptions need. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    manager: ConnectionManager,
    /// How long a running answer's stream is kept: `REQUEST_TIMEOUT_SECONDS` and a margin.
    answer_ttl: Duration,
    readers: Arc<Semaphore>,
    /// Set once the app exists; failures before that only stop the start-up.
    metrics: OnceLock<Arc<Metrics>>,
    warned: Mutex<HashMap<Use, Instant>>,
    resting_until: Mutex<Option<Instant>>,
}

impl fmt::Debug for Redis {
    /// Never the URL: it may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis").finish_non_exhaustive()
    }
}

impl Redis {
    /// Connects to `url` and checks that Redis answers; the error names `REDIS_URL`.
    pub(crate) async fn connect(url: &SecretString, request_timeout: Duration) -> anyhow::Result<Self> {
        let info = connection_info(url.expose_secret())
            .context("REDIS_URL: not a usable Redis URL (redis://host:6379, or rediss://… for TLS)")?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(RECONNECT_ATTEMPTS)
            .set_max_delay(Duration::from_secs(1));
        let connect = async {
            let info = match answers_once(info.clone()).await {
                Err(e) if lacks_resp3(&e) => {
                    tracing::warn!(
                        "Redis does not speak RESP3 (it is older than Redis 6, or HELLO is renamed \
                         away): using RESP2, over which the first call after Redis restarts fails \
                         (?protocol=resp2 in REDIS_URL chooses it without this warning)"
                    );
                    let resp2 = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP2);
                    let info = info.set_redis_settings(resp2);
                    answers_once(info.clone()).await.map(|()| info)
                }
                answered => answered.map(|()| info),
            }?;
            // Redis answered, so the error above said why it would not; from here the shared
            // connection's retries keep it open. Opened now, it hears at once if Redis closes it.
            let client = Client::open(info)?;
            let manager = ConnectionManager::new_with_config(client.clone(), config).await?;
            Ok::<_, redis::RedisError>((client, manager))
        };
        let (client, manager) = tokio::time::timeout(START_TIMEOUT, connect)
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {START_TIMEOUT:?}"))
            .and_then(|connected| connected.map_err(anyhow::Error::from))
            .context(
                "REDIS_URL: cannot reach Redis. Check the host and port, the password, rediss:// for a \
                 server that requires TLS (ElastiCache with encryption in transit), and that security \
                 groups let this task in; or unset REDIS_URL to run a single replica without it",
            )?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                manager,
                answer_ttl: request_timeout + Duration::from_secs(60),
                readers: Arc::new(Semaphore::new(MAX_BLOCKING_READERS)),
                metrics: OnceLock::new(),
                warned: Mutex::default(),
                resting_until: Mutex::default(),
            }),
        })
    }

    /// Counts failures from now on in `metrics` (the app's, which exists after this handle; the
    /// first app's, should several be built on one set of conversations, as only tests do).
    pub(crate) fn count_failures_in(&self, metrics: Arc<Metrics>) {
        let _ = self.inner.metrics.set(metrics);
    }

    fn manager(&self) -> ConnectionManager {
        self.inner.manager.clone()
    }

    /// Runs one call on the shared connection, bounded by `timeout`; a failure is counted and
    /// logged here, so callers only choose what to do without Redis.
    async fn call<T>(
        &self,
        purpose: Use,
        timeout: Duration,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Failure> {
        let result = match tokio::time::timeout(timeout, call).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => Failure::Redis(e),
            Err(_) => Failure::Timeout(timeout),
        };
        self.failed(purpose, &result);
        Err(result)
    }

    /// Whether Redis answers a `PING` within a second, for `GET /api/ready`: only looked at, not
    /// counted as a failure that would make the request path rest from Redis.
    pub(crate) async fn answers(&self) -> bool {
        let mut connection = self.manager();
        let ping = redis::cmd("PING");
        let answered = tokio::time::timeout(Duration::from_secs(1), ping.query_async::<()>(&mut connection));
        matches!(answered.await, Ok(Ok(())))
    }

    /// Records a failure: the metric, a warning now and then, and after a timeout a rest for the
    /// request path.
    fn failed(&self, purpose: Use, error: &Failure) {
        if let Some(metrics) = self.inner.metrics.get() {
            metrics.redis_error(purpose.label());
        }
        let now = Instant::now();
        let timed_out = match error {
            Failure::Timeout(_) => true,
            Failure::Redis(e) => e.is_timeout(),
            Failure::Reply(_) | Failure::Closed | Failure::Resting => false,
        };
        if timed_out {
            *self.inner.resting_until.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(now + REST_AFTER_FAILURE);
        }
        let mut warned = self.inner.warned.lock().unwrap_or_else(PoisonError::into_inner);
        if warned.get(&purpose).is_none_or(|at| now.duration_since(*at) >= WARN_EVERY) {
            warned.insert(purpose, now);
            drop(warned);
            tracing::warn!(
                error = %error,
                r#use = purpose.label(),
                "Redis failed; carrying on without it: {}",
                purpose.fallback()
            );
        }
    }

    /// Whether a timeout was recent enough that the request path should not wait on Redis.
    fn resting(&self) -> bool {
        let until = *self.inner.resting_until.lock().unwrap_or_else(PoisonError::into_inner);
        until.is_some_and(|until| Instant::now() < until)
    }
}

/// `url`'s connection, over RESP3 unless the URL chooses a protocol (`?protocol=`). Over RESP3
/// the shared connection hears at once that Redis closed it and reconnects before the next
/// call; over RESP2 it learns only when the next call fails (redis-rs's `ConnectionManager`),
/// so after every Redis restart or failover one claim or count would go missing.
fn connection_info(url: &str) -> redis::RedisResult<ConnectionInfo> {
    let info = url.into_connection_info()?;
    let query = url.split_once('?').map_or("", |(_, query)| query);
    if query.split('&').any(|pair| pair.starts_with("protocol=")) {
        return Ok(info);
    }
    let resp3 = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
    Ok(info.set_redis_settings(resp3))
}

/// Whether Redis at `info` answers a `PING`, on a connection of its own, tried once: the error is
/// the one that stopped it, where the shared connection's retries would end in a timeout.
async fn answers_once(info: ConnectionInfo) -> redis::RedisResult<()> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT));
    let mut connection = Client::open(info)?.get_multiplexed_async_connection_with_config(&config).await?;
    redis::cmd("PING").query_async(&mut connection).await
}

/// Whether the server refused RESP3's `HELLO`. redis-rs recognises Redis 5's wording
/// (``unknown command `HELLO` ``); a server that renamed the command away says `'HELLO'`.
fn lacks_resp3(error: &redis::RedisError) -> bool {
    error.kind() == ErrorKind::RESP3NotSupported
        || error.detail().is_some_and(|d| d.starts_with("unknown command") && d.contains("HELLO"))
}
