//! Stop, delivered to whichever replica runs the answer: the replica that receives
//! `POST …/stop` for an answer it does not run publishes `{conversation} {message}` on
//! [`CHANNEL`], and every replica, subscribed since start-up ([`obey`]), stops that answer if it
//! runs it. Pub/sub keeps nothing: a replica that is not subscribed at that moment misses it, and
//! the sender, which waits for the store to show the answer ended, says so.

use std::time::Duration;

use futures_util::StreamExt;
use uuid::Uuid;

use super::{COMMAND_TIMEOUT, CONNECT_TIMEOUT, Failure, Redis, Use};

const CHANNEL: &str = "streambed:stop";
/// How often an idle subscription checks that Redis still answers (a connection that went
/// silent would otherwise never say so).
const PING_EVERY: Duration = Duration::from_secs(15);
/// Waits between attempts to subscribe again, doubling from the first to the second: short, as
/// an attempt while Redis is away costs a refused connection, and a replica that is not
/// subscribed misses the Stops other replicas send.
const RETRY: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(2));

impl Redis {
    /// Asks every replica to stop `message` in `conversation`; how many replicas heard it.
    pub(crate) async fn publish_stop(&self, conversation: Uuid, message: Uuid) -> Result<usize, Failure> {
        let mut connection = self.manager();
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(CHANNEL).arg(format!("{conversation} {message}"));
        self.call(Use::Stop, COMMAND_TIMEOUT, publish.query_async::<usize>(&mut connection)).await
    }
}

/// Hands each Stop another replica was asked for to `stop_here` (with the conversation and the
/// message), which stops that answer if it runs here. Runs until dropped, subscribing again
/// (with backoff) whenever the subscription is lost.
pub(crate) async fn obey(redis: Redis, stop_here: impl Fn(Uuid, Uuid)) {
    let mut retry = RETRY.0;
    loop {
        if listen(&redis, &stop_here).await {
            retry = RETRY.0;
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY.1);
    }
}

/// One subscription, until it fails; whether it was established.
async fn listen(redis: &Redis, stop_here: &impl Fn(Uuid, Uuid)) -> bool {
    let subscribe = async {
        let mut pubsub = redis.inner.client.get_async_pubsub().await?;
        pubsub.subscribe(CHANNEL).await?;
        Ok::<_, redis::RedisError>(pubsub.split())
    };
    let Ok((mut sink, mut messages)) =
        redis.call(Use::Stop, CONNECT_TIMEOUT + COMMAND_TIMEOUT, subscribe).await
    else {
        return false;
    };
    tracing::debug!(channel = CHANNEL, "listening for Stop from other replicas");
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else { break };
                let payload = String::from_utf8_lossy(message.get_payload_bytes()).into_owned();
                stop(stop_here, &payload);
            }
            _ = ping.tick() => {
                let alive = redis.call(Use::Stop, COMMAND_TIMEOUT, sink.ping::<redis::Value>()).await;
                if alive.is_err() {
                    return true;
                }
            }
        }
    }
    redis.failed(Use::Stop, &Failure::Closed);
    true
}

/// Hands the answer `payload` names to `stop_here`.
fn stop(stop_here: &impl Fn(Uuid, Uuid), payload: &str) {
    let ids =
        payload.split_once(' ').and_then(|(c, m)| Some((c.parse::<Uuid>().ok()?, m.parse::<Uuid>().ok()?)));
    match ids {
        Some((conversation, message)) => stop_here(conversation, message),
        None => tracing::debug!(payload, "ignored a Stop message this server did not send"),
    }
}
