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
/// claimed, 0 when the owner holds the most already, 2 when the conversation holds one (an
/// answer runs there on another replica: its turn is refused as the store would refuse it).
/// A claim lives a lease and its replica renews it while the answer runs ([`RENEW`]), so one
/// that a dead replica held lapses as its answers' leases in the store do.
const CLAIM: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, claim in ipairs(held) do
  if string.sub(claim, 1, #ARGV[4]) == ARGV[4] then
    return 2
  end
end
if #held >= tonumber(ARGV[2]) then
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
mod tests {
    use secrecy::SecretString;
    use streambed_testkit::Redis as RedisServer;

    use super::*;

    /// The place claimed, if any (claims in conversations of their own).
    fn place(claimed: Claimed) -> Option<Claim> {
        match claimed {
            Claimed::Place(claim) => Some(claim),
            Claimed::OwnerFull | Claimed::ConversationBusy => None,
        }
    }

    async fn connect(server: &RedisServer) -> Redis {
        Redis::connect(&SecretString::from(server.url()), Duration::from_secs(60)).await.unwrap()
    }

    #[tokio::test]
    async fn the_shared_rate_lets_a_burst_through_then_makes_the_client_wait_as_governor_does() {
        let server = RedisServer::start();
        let rate = SharedRate::new(
            connect(&server).await,
            NonZeroU32::new(60).unwrap(),
            NonZeroU32::new(2).unwrap(),
        );

        let burst = [rate.check("a").await.unwrap(), rate.check("a").await.unwrap()];
        let third = rate.check("a").await.unwrap();
        let other = rate.check("b").await.unwrap();

        assert_eq!(burst, [None, None]);
        let wait = third.expect("the third chat in a burst of 2 waits");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        assert_eq!(other, None, "clients are limited separately");
    }

    #[tokio::test]
    async fn running_answers_are_counted_for_all_replicas_and_given_back() {
        let server = RedisServer::start();
        let (a, b) = (connect(&server).await, connect(&server).await);
        let life = Duration::from_secs(60);
        let (on_a, on_b) = (SharedRunning::new(a, 2, life), SharedRunning::new(b, 2, life));
        let (alice, bob) = (Owner("alice".into()), Owner("bob".into()));

        let first = place(on_a.claim(&alice, Uuid::now_v7()).await.unwrap()).expect("a first place");
        let second = place(on_b.claim(&alice, Uuid::now_v7()).await.unwrap())
            .expect("a second place, on the other replica");
        let over = place(on_a.claim(&alice, Uuid::now_v7()).await.unwrap());
        let others = place(on_b.claim(&bob, Uuid::now_v7()).await.unwrap());
        on_b.release(&second).await.unwrap();
        on_b.release(&second).await.unwrap();
        let after_release = place(on_a.claim(&alice, Uuid::now_v7()).await.unwrap());
        let over_again = place(on_b.claim(&alice, Uuid::now_v7()).await.unwrap());

        assert_ne!(first, second);
        assert_eq!(over, None, "two running on two replicas: the most for alice");
        assert!(others.is_some(), "owners are counted apart");
        assert!(after_release.is_some(), "a place given back is free again");
        assert_eq!(over_again, None, "a release given twice frees one place");
    }

    #[tokio::test]
    async fn a_conversation_with_an_answer_running_on_another_replica_is_busy_there() {
        let server = RedisServer::start();
        let (a, b) = (connect(&server).await, connect(&server).await);
        let life = Duration::from_secs(60);
        let (on_a, on_b) = (SharedRunning::new(a, 1, life), SharedRunning::new(b, 1, life));
        let (alice, conversation) = (Owner("alice".into()), Uuid::now_v7());

        let Claimed::Place(first) = on_a.claim(&alice, conversation).await.unwrap() else {
            panic!("a place")
        };
        let same = on_b.claim(&alice, conversation).await.unwrap();
        let other = on_b.claim(&alice, Uuid::now_v7()).await.unwrap();
        on_a.release(&first).await.unwrap();
        let after = on_b.claim(&alice, conversation).await.unwrap();

        assert_eq!(same, Claimed::ConversationBusy, "busy, not full: its turn gets 409, not 429");
        assert_eq!(other, Claimed::OwnerFull);
        assert!(matches!(after, Claimed::Place(_)), "{after:?}");
    }

    #[tokio::test]
    async fn a_claim_lapses_a_life_after_its_last_renewal_as_one_a_dead_replica_held() {
        let server = RedisServer::start();
        let life = Duration::from_millis(1500);
        let live = SharedRunning::new(connect(&server).await, 2, life);
        let dead = SharedRunning::new(connect(&server).await, 2, life);
        let alice = Owner("alice".into());
        let kept = place(live.claim(&alice, Uuid::now_v7()).await.unwrap()).expect("a first place");
        let _lost = place(dead.claim(&alice, Uuid::now_v7()).await.unwrap())
            .expect("a second place, on a replica that dies");
        assert_eq!(
            place(live.claim(&alice, Uuid::now_v7()).await.unwrap()),
            None,
            "both of alice's places are held"
        );

        // The live replica renews its claim for as long as the other's lapses.
        for _ in 0..4 {
            tokio::time::sleep(life / 3).await;
            live.renew(|| vec![kept.clone()]).await.unwrap();
        }

        let freed = place(live.claim(&alice, Uuid::now_v7()).await.unwrap());
        assert!(freed.is_some(), "the dead replica's place lapsed");
        assert_eq!(place(live.claim(&alice, Uuid::now_v7()).await.unwrap()), None, "the renewed one did not");
    }

    #[tokio::test]
    async fn claims_redis_lost_in_a_restart_are_made_again_by_the_next_renewal() {
        let mut server = RedisServer::start();
        let life = Duration::from_secs(60);
        let on_a = SharedRunning::new(connect(&server).await, 1, life);
        let on_b = SharedRunning::new(connect(&server).await, 1, life);
        let alice = Owner("alice".into());
        let running = place(on_a.claim(&alice, Uuid::now_v7()).await.unwrap()).expect("a place");

        server.restart();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while on_a.renew(|| vec![running.clone()]).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "Redis never came back");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let meanwhile = on_b.claim(&alice, Uuid::now_v7()).await;

        assert_eq!(meanwhile.unwrap(), Claimed::OwnerFull, "the running answer holds its place again");
    }

    #[tokio::test]
    async fn the_shared_lockout_locks_an_address_for_the_rest_of_its_window() {
        let server = RedisServer::start();
        let lockout =
            SharedLockout::new(connect(&server).await, NonZeroU32::new(2).unwrap(), Duration::from_secs(60));
        let (client, other) = (IpAddr::from([192, 0, 2, 1]), IpAddr::from([192, 0, 2, 2]));

        lockout.record_failure(client).await.unwrap();
        let after_one = lockout.locked(client).await.unwrap();
        lockout.record_failure(client).await.unwrap();
        let after_two = lockout.locked(client).await.unwrap();

        assert_eq!(after_one, None, "one of two failures");
        let left = after_two.expect("locked after two failures");
        assert!(left > Duration::from_secs(55) && left <= Duration::from_secs(60), "{left:?}");
        assert_eq!(lockout.locked(other).await.unwrap(), None, "other addresses are not affected");
    }
}
