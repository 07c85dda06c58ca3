//! Abuse limits in front of the model: a per-client request rate and a cap on answers streaming
//! at once. Request size limits (prompt, turns, answer length) are `config::Limits`'s, checked
//! by each route where it validates a body; the per-request deadline is enforced by the relay.

use std::{num::NonZeroU32, sync::Arc};

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};
use metrics::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{
    auth::Principal,
    client_addr::client_ip,
    config::Limits,
    error::AppError,
    replicas::{Redis, counts::SharedRate},
};

/// Chats per client per minute, with a burst allowance (governor's GCRA: no background timers,
/// one atomic per check). With Redis, the same GCRA runs there, so all replicas share one
/// allowance; this replica's own count is kept too, and decides while Redis cannot.
#[derive(Debug)]
pub(crate) struct RateLimit {
    limiter: DefaultKeyedRateLimiter<String>,
    shared: Option<SharedRate>,
    trusted_proxy_hops: usize,
}

impl RateLimit {
    /// `None` when `RATE_LIMIT_PER_MINUTE` is 0.
    pub(crate) fn new(limits: &Limits, redis: Option<&Redis>) -> Option<Arc<Self>> {
        let per_minute = NonZeroU32::new(limits.rate_per_minute)?;
        let burst = NonZeroU32::new(limits.rate_burst).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst));
        let shared = redis.map(|redis| SharedRate::new(redis.clone(), per_minute, burst));
        Some(Arc::new(Self { limiter, shared, trusted_proxy_hops: limits.trusted_proxy_hops }))
    }

    /// Forgets clients whose allowance is full again, so the table does not grow forever.
    pub(crate) fn forget_idle_clients(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// This replica's own count.
    fn check(&self, key: String) -> Result<(), AppError> {
        self.limiter
            .check_key(&key)
            .map_err(|not_until| AppError::RateLimited(not_until.wait_time_from(self.limiter.clock().now())))
    }

    /// The shared count when Redis answers, else this replica's.
    async fn check_everywhere(&self, key: String) -> Result<(), AppError> {
        let Some(shared) = &self.shared else { return self.check(key) };
        let shared = shared.check(&key).await;
        let here = self.check(key);
        match shared {
            Ok(None) => Ok(()),
            Ok(Some(wait)) => Err(AppError::RateLimited(wait)),
            // Counted and logged by `replicas`; this replica decides alone meanwhile.
            Err(_) => here,
        }
    }
}

/// Middleware: 429 with `Retry-After` once a client is over its rate. The client is its API key
/// or token subject when authenticated, else its IP address.
pub(crate) async fn rate_limit(
    State(limit): State<Arc<RateLimit>>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let key = match request.extensions().get::<Principal>() {
        Some(principal) => principal.id(),
        None => match client_ip(&request, limit.trusted_proxy_hops) {
            Some(ip) => format!("ip:{ip}"),
            None => "ip:unknown".to_owned(),
        },
    };
    limit.check_everywhere(key).await?;
    Ok(next.run(request).await)
}

/// The cap on answers streaming at once.
#[derive(Debug)]
pub(crate) struct StreamSlots {
    free: Arc<Semaphore>,
    active: Gauge,
}

/// Held by a streaming answer; frees its place when the stream ends or the client leaves.
#[derive(Debug)]
pub(crate) struct StreamSlot {
    _permit: OwnedSemaphorePermit,
    active: Gauge,
}

impl StreamSlots {
    pub(crate) fn new(max: usize, active: Gauge) -> Self {
        Self { free: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))), active }
    }

    pub(crate) fn take(&self) -> Result<StreamSlot, AppError> {
        let permit = Arc::clone(&self.free).try_acquire_owned().map_err(|_| AppError::Busy)?;
        self.active.increment(1.0);
        Ok(StreamSlot { _permit: permit, active: self.active.clone() })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.active.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_the_client_waits() {
        let limits = Limits { rate_per_minute: 60, rate_burst: 2, ..crate::config::Limits::defaults() };
        let limit = RateLimit::new(&limits, None).unwrap();
        assert!(limit.check("a".into()).is_ok() && limit.check("a".into()).is_ok());
        let Err(AppError::RateLimited(wait)) = limit.check("a".into()) else {
            panic!("third request in a burst of 2")
        };
        assert!(wait.as_secs_f64() > 0.0 && wait.as_secs_f64() <= 1.0, "{wait:?}");
        assert!(limit.check("b".into()).is_ok(), "clients are limited separately");
    }

    #[test]
    fn slots_are_returned_when_dropped() {
        let slots = StreamSlots::new(1, Gauge::noop());
        let first = slots.take().unwrap();
        assert!(matches!(slots.take(), Err(AppError::Busy)));
        drop(first);
        assert!(slots.take().is_ok());
    }
}
