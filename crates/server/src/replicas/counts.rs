//! The per-client rate limit, the wrong-key lockout and each owner's running answers, counted
//! once for all replicas. Each check is one Lua script run atomically by Redis (EVALSHA through
//! `redis::Script`, which loads it on first use), timed by Redis's own clock (`TIME`), so
//! replicas whose clocks drift apart still agree.
//!
//! Two short scripts rather than a crate: they reproduce exactly what one replica does in
//! memory (governor's GCRA for the rate: emission interval T = 60 s / rate, tolerance
//! τ = T × (burst − 1); the lockout's window that opens at an address's first failure), where
//! the established options change the semantics (the Rust crates on Redis count fixed or
//! sliding windows) or need a server module ElastiCache cannot load (redis-cell's `CL.THROTTLE`).

use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use redis::Script;
use streambed_store::Owner;
use tokio::sync::RwLock;
use uuid::Uuid;

use super::{Failure, Redis, Use};

/// The longest a request waits on Redis for a limit; after a timeout the next requests don't ask
/// (see `REST_AFTER_FAILURE`) and this replica counts alone.
const LIMIT_TIMEOUT: Duration = Duration::from_millis(250);

/// The longest the renewal of a replica's claims waits on Redis: it runs beside the requests
/// and the lease in the database, every third of a lease, and may carry thousands of claims.
const RENEW_TIMEOUT: Duration = Duration::from_secs(1);

/// GCRA, as governor computes it. KEYS[1] holds the client's theoretical arrival time (µs on
/// Redis's clock); ARGV: T and τ in µs. Returns 0 when the request may go, else the µs until it
/// may. The key expires when the client's allowance is whole again.
const GCRA: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
local earliest = tat - tonumber(ARGV[2])
if now < earliest then
  return math.max(1, earliest - now)
end
local next = math.max(tat, now) + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%d', next), 'PX', string.format('%d', math.ceil((next - now) / 1000)))
return 0
";

/// KEYS[1] counts an address's failures in its window; ARGV[1]: failures allowed. Returns the
/// ms left in the window when they are used up, else 0.
const LOCKED: &str = r"
local failures = tonumber(redis.call('GET', KEYS[1])) or 0
if failures < tonumber(ARGV[1]) then
  return 0
end
return math.max(redis.call('PTTL', KEYS[1]), 0)
";

/// Counts a failure in KEYS[1]; the first one opens a window of ARGV[1] ms.
const FAILED: &str = r"
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return failures
";

/// KEYS[1] holds an owner's running answers: a sorted set of claims (`{conversation} {id}`, one
/// per answer) scored by when each lapses (ms on Redis's clock). ARGV: the claim, the most an
/// owner may hold, the claim's life in ms, and its conversation's prefix. Returns 1 when
/// claimed; when the owner holds the most already, 2 if one of them is the conversation's (an
/// answer runs there on another replica: the turn is refused for that, as the store would
/// refuse it), else 0. Below the most, a claim of the conversation's left over (a release that
/// failed, a claim whose reply timed out) never refuses a turn: the store decides that.
/// A claim lives a lease and its replica renews it while the answer runs ([`RENEW`]), so one
/// that a dead replica held lapses as its answers' leases in the store do.
const CLAIM: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZRANGE', KEYS[1], 0, -1)
if #held >= tonumber(ARGV[2]) then
  for _, claim in ipairs(held) do
    if string.sub(claim, 1, #ARGV[4]) == ARGV[4] then
      return 2
    end
  end
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// Renews claims: KEYS[i] holds the claim ARGV[i + 1]; ARGV[1] is their life in ms. A claim
/// no longer there is made again: Redis lost it (a restart, a failover) while its answer runs.
const RENEW: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local life = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + life, ARGV[i + 1])
  redis.call('PEXPIRE', key, life)
end
return 0
";

/// Each owner's running answers, counted in Redis for `MAX_RUNNING_ANSWERS_PER_OWNER`: a claim
/// per answer, given back when it ends, renewed while it runs, and lapsing a `life` (the lease
/// on answers in the store) after it was last renewed, should its replica die holding it.
#[derive(Debug, Clone)]
pub(crate) struct SharedRunning {
    redis: Redis,
    claim: Script,
    renew: Script,
    most: usize,
    life: Duration,
    /// Held to write by a renewal, to read by each release: a release waits for a renewal in
    /// flight, which may have read its claim just before the answer ended and would otherwise
    /// make it again after the release.
    renewing: Arc<RwLock<()>>,
}

/// One answer's place in its owner's count ([`SharedRunning::claim`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claim {
    key: String,
    /// `{conversation} {id}`: an id of its own, so that a late release never takes a later
    /// answer's place, after the conversation it runs in.
    member: String,
}

/// What [`SharedRunning::claim`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Claimed {
    Place(Claim),
    /// The owner has the most answers running already.
    OwnerFull,
    /// An answer runs in the conversation already (on another replica).
    ConversationBusy,
}

impl SharedRunning {
    pub(crate) fn new(redis: Redis, most: usize, life: Duration) -> Self {
        Self {
            redis,
            claim: Script::new(CLAIM),
            renew: Script::new(RENEW),
            most,
            life,
            renewing: Arc::default(),
        }
    }

    fn life_ms(&self) -> u64 {
        u64::try_from(self.life.as_millis()).unwrap_or(u64::MAX)
    }

    /// Claims a place for `owner`'s answer in `conversation`, counting their answers on all
    /// replicas together.
    pub(crate) async fn claim(&self, owner: &Owner, conversation: Uuid) -> Result<Claimed, Failure> {
        if self.redis.resting() {
            return Err(Failure::Resting);
        }
        let prefix = format!("{conversation} ");
        let claim = Claim {
            key: format!("streambed:running:{}", owner.0),
            member: format!("{prefix}{}", Uuid::now_v7()),
        };
        let mut connection = self.redis.manager();
        let mut script = self.claim.key(&claim.key);
        script.arg(&claim.member).arg(self.most).arg(self.life_ms()).arg(prefix);
        let claimed = self
            .redis
            .call(Use::RunningAnswers, LIMIT_TIMEOUT, script.invoke_async::<u8>(&mut connection))
            .await?;
        Ok(match claimed {
            1 => Claimed::Place(claim),
            2 => Claimed::ConversationBusy,
            _ => Claimed::OwnerFull,
        })
    }

    /// Renews the claims of the answers running here, which `running` reads, for another
    /// `life` (making again any Redis lost).
    pub(crate) async fn renew(&self, running: impl FnOnce() -> Vec<Claim>) -> Result<(), Failure> {
        let _renewing = self.renewing.write().await;
        let claims = running();
        if claims.is_empty() {
            return Ok(());
        }
        if self.redis.resting() {
            return Err(Failure::Resting);
        }
        let mut connection = self.redis.manager();
        let mut script = self.renew.prepare_invoke();
        script.arg(self.life_ms());
        for claim in claims {
            script.key(&claim.key).arg(&claim.member);
        }
        let renewed = script.invoke_async::<u8>(&mut connection);
        self.redis.call(Use::RunningAnswers, RENEW_TIMEOUT, renewed).await.map(drop)
    }

    /// Gives the place back once the answer ended (and `running` no longer holds it).
    pub(crate) async fn release(&self, claim: &Claim) -> Result<(), Failure> {
        let _after_any_renewal = self.renewing.read().await;
        let mut connection = self.redis.manager();
        let release = redis::cmd("ZREM").arg(&claim.key).arg(&claim.member).to_owned();
        self.redis
            .call(Use::RunningAnswers, LIMIT_TIMEOUT, release.query_async::<u8>(&mut connection))
            .await
            .map(drop)
    }
}

/// Chats per client per minute with a burst, counted in Redis.
#[derive(Debug)]
pub(crate) struct SharedRate {
    redis: Redis,
    script: Script,
    interval_us: u64,
    tolerance_us: u64,
}

impl SharedRate {
    pub(crate) fn new(redis: Redis, per_minute: NonZeroU32, burst: NonZeroU32) -> Self {
        let interval_us = 60_000_000 / u64::from(per_minute.get());
        let tolerance_us = interval_us * u64::from(burst.get() - 1);
        Self { redis, script: Script::new(GCRA), interval_us, tolerance_us }
    }

    /// `None` when `client` may send a chat now (and it is counted), else how long to wait.
    pub(crate) async fn check(&self, client: &str) -> Result<Option<Duration>, Failure> {
        if self.redis.resting() {
            return Err(Failure::Resting);
        }
        let mut connection = self.redis.manager();
        let mut check = self.script.key(format!("streambed:rate:{client}"));
        check.arg(self.interval_us).arg(self.tolerance_us);
        let wait = self
            .redis
            .call(Use::RateLimit, LIMIT_TIMEOUT, check.invoke_async::<u64>(&mut connection))
            .await?;
        Ok((wait > 0).then(|| Duration::from_micros(wait)))
    }
}

/// Wrong keys or tokens per address, counted in Redis.
#[derive(Debug)]
pub(crate) struct SharedLockout {
    redis: Redis,
    locked: Script,
    failed: Script,
    max_failures: u32,
    window: Duration,
}

impl SharedLockout {
    pub(crate) fn new(redis: Redis, max_failures: NonZeroU32, window: Duration) -> Self {
        Self {
            redis,
            locked: Script::new(LOCKED),
            failed: Script::new(FAILED),
            max_failures: max_failures.get(),
            window,
        }
    }

    fn key(ip: IpAddr) -> String {
        format!("streambed:lockout:{ip}")
    }

    /// How long `ip` must still wait, when it has used up its failures.
    pub(crate) async fn locked(&self, ip: IpAddr) -> Result<Option<Duration>, Failure> {
        if self.redis.resting() {
            return Err(Failure::Resting);
        }
        let mut connection = self.redis.manager();
        let mut check = self.locked.key(Self::key(ip));
        check.arg(self.max_failures);
        let left =
            self.redis.call(Use::Lockout, LIMIT_TIMEOUT, check.invoke_async::<u64>(&mut connection)).await?;
        Ok((left > 0).then(|| Duration::from_millis(left)))
    }

    pub(crate) async fn record_failure(&self, ip: IpAddr) -> Result<(), Failure> {
        if self.redis.resting() {
            return Err(Failure::Resting);
        }
        let mut connection = self.redis.manager();
        let mut record = self.failed.key(Self::key(ip));
        record.arg(u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX));
        self.redis
            .call(Use::Lockout, LIMIT_TIMEOUT, record.invoke_async::<u64>(&mut connection))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests;
