//! What every handler may read: the models, the settings requests need, and the conversation
//! store with the policy that says whose conversations a request may touch.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use anyhow::Context;
use secrecy::ExposeSecret;
use streambed_core::{InferenceParams, Reasoning};
use streambed_store::{ConversationStore, ReplicaId, StoreLimits};
use tokio::time::Instant;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    Config, Shutdown,
    answer_log::AnswerLogs,
    config::Limits,
    limits::StreamSlots,
    live::LiveAnswers,
    metrics::Metrics,
    models::Models,
    owner::OwnerPolicy,
    replicas::{self, Redis, limits::SharedRunning},
};

mod sweep_gate;

use sweep_gate::SweepGate;

pub(crate) struct AppState {
    pub models: Models,
    /// `BEDROCK_REASONING`: the level of a chat that names none, on models that can reason.
    pub reasoning: Reasoning,
    pub system_prompt: Option<String>,
    pub params: InferenceParams,
    pub keep_alive: Duration,
    pub static_dir: PathBuf,
    pub shutdown: Shutdown,
    pub limits: Limits,
    pub streams: StreamSlots,
    pub metrics: Arc<Metrics>,
    pub conversations: Conversations,
}

/// Stored conversations: the store, whose they are, and the answers this process is writing.
#[derive(Debug, Clone)]
pub struct Conversations {
    pub(crate) store: Arc<dyn ConversationStore>,
    pub(crate) owners: OwnerPolicy,
    /// This process, as the leaseholder of the answers it writes.
    pub(crate) replica: ReplicaId,
    /// The answers this process is running.
    pub(crate) live: Arc<LiveAnswers>,
    /// The answers this process is writing, flushed together.
    pub(crate) answer_logs: Arc<AnswerLogs>,
    /// The tasks of answers in progress and their writers, so shutdown can wait for the last write.
    pub(crate) writers: TaskTracker,
    /// With `REDIS_URL`: what this process shares with the other replicas. Running answers and
    /// Stop are conversations' business; the app also hands it to the rate limit and lockout.
    pub(crate) redis: Option<Redis>,
    lease: Duration,
    /// The task that renews the lease ([`Conversations::spawn_upkeep`]), and what ends it:
    /// [`Conversations::flush`] ends it, and waits for a renewal under way, before it gives the
    /// lease up, so that no renewal follows.
    renewing: TaskTracker,
    stop_renewing: CancellationToken,
    /// Other replicas may write the same database: see [`SweepGate`].
    shared: bool,
    policy_reason: &'static str,
    /// When the lease was last renewed in the database, for `GET /api/ready`.
    renewed_at: Arc<Mutex<Instant>>,
}

impl Conversations {
    /// Opens `DATABASE_URL` and runs its migrations, and connects to `REDIS_URL` when it is
    /// set; a failure names the variable.
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        let limits = StoreLimits {
            max_conversations_per_owner: config.store.max_conversations_per_owner,
            max_messages_per_conversation: config.store.max_messages_per_conversation,
            longest_answer: config.limits.request_timeout,
        };
        let store = streambed_store::open(config.store.database_url.expose_secret(), limits).await.context(
            "DATABASE_URL: cannot open or migrate the conversation database; check the URL, that the \
             folder is writable (SQLite) or the server reachable (PostgreSQL)",
        )?;
        let redis = match &config.redis_url {
            Some(url) => Some(Redis::connect(url, config.limits.request_timeout).await?),
            None => None,
        };
        let conversations = Self::new(store, config, redis);
        // Leased before the first answer starts. The lease is the first write: a database that
        // opens and migrates but takes no writes (a read-only SQLite file, a PostgreSQL user
        // without write rights) would otherwise refuse every conversation while the server
        // looked healthy.
        conversations.store.heartbeat(conversations.replica, conversations.lease).await.context(
            "DATABASE_URL: the conversation database takes no writes; check that the user the server \
             runs as may write the file, its folder and its -wal and -shm files (SQLite), or the tables \
             (PostgreSQL)",
        )?;
        // Answers a crash left behind are found now, when no other replica shares the database
        // (see `SweepGate`).
        if !conversations.shared {
            conversations.sweep().await;
        }
        Ok(conversations)
    }

    fn new(store: Arc<dyn ConversationStore>, config: &Config, redis: Option<Redis>) -> Self {
        let (owners, policy_reason) = OwnerPolicy::new(config);
        let answer_logs = Arc::new(AnswerLogs::new(Arc::clone(&store)));
        let max = config.store.max_running_answers_per_owner;
        let counted_everywhere =
            redis.as_ref().map(|redis| SharedRunning::new(redis.clone(), max, config.store.lease));
        Self {
            store,
            owners,
            replica: ReplicaId::new(),
            live: Arc::new(LiveAnswers::new(max, counted_everywhere)),
            answer_logs,
            writers: TaskTracker::new(),
            redis,
            lease: config.store.lease,
            renewing: TaskTracker::new(),
            stop_renewing: CancellationToken::new(),
            shared: config.store.shared_by_replicas(),
            policy_reason,
            // Opened and migrated at start-up.
            renewed_at: Arc::new(Mutex::new(Instant::now())),
        }
    }

    /// Whether the database took a renewal of the lease lately, for `GET /api/ready`: within two
    /// of its intervals (a renewal is due every third of a lease), so that one failing or hanging
    /// is seen without a probe of its own.
    pub(crate) fn store_reached(&self) -> bool {
        self.renewed_at.lock().unwrap_or_else(PoisonError::into_inner).elapsed() <= self.lease * 2 / 3
    }

    /// Whose conversations are stored, and why, for the start-up log.
    pub fn policy_reason(&self) -> &'static str {
        self.policy_reason
    }

    /// Starts the background work the conversations need while the server runs: flushing the
    /// answers being written, the lease on them and, with Redis, listening for Stops sent to
    /// other replicas. Kept out of [`crate::app`], which only builds the router; `main` and the
    /// tests call it.
    pub fn spawn_upkeep(&self) {
        tokio::spawn(Arc::clone(&self.answer_logs).flush_every());
        self.renewing.spawn(self.clone().keep_lease());
        tokio::spawn(self.clone().listen_for_stops());
    }

    /// Keeps this process's answers leased (in the store, and in each owner's count of running
    /// answers in Redis), and marks `interrupted` the answers of processes that stopped renewing
    /// theirs (a crash, a `kill -9`), as a [`SweepGate`] allows. Runs until
    /// [`flush`](Self::flush) ends it, or with the runtime.
    async fn keep_lease(self) {
        let mut every = tokio::time::interval(self.lease / 3);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut gate = SweepGate::new(Instant::now(), self.lease, self.shared);
        loop {
            // Between renewals, never during one: the last is written before flush goes on.
            tokio::select! {
                _ = every.tick() => {}
                () = self.stop_renewing.cancelled() => return,
            }
            // Side by side: Redis slow or away never delays the lease in the database.
            let (_, renewed) =
                tokio::join!(self.live.renew_claims(), self.store.heartbeat(self.replica, self.lease));
            if renewed.is_ok() {
                *self.renewed_at.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
            }
            match renewed {
                Ok(()) => {
                    if gate.renewed(Instant::now()) {
                        self.sweep().await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot renew the lease on running answers");
                    gate.failed();
                }
            }
        }
    }

    /// Marks `interrupted` the answers of processes that stopped renewing their lease.
    async fn sweep(&self) {
        match self.store.sweep_interrupted(self.replica).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(answers = n, "marked answers of a stopped server as interrupted"),
            Err(e) => tracing::warn!(error = %e, "cannot look for interrupted answers"),
        }
    }

    /// Whether running answers, Stop and limits are shared through Redis, for the start-up log.
    pub fn shared_through_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// Stops the answers running here that a Stop sent to another replica names. Without
    /// Redis there is no other replica to hear from, and this returns at once. Runs with the
    /// runtime.
    async fn listen_for_stops(self) {
        if let Some(redis) = self.redis {
            let live = self.live;
            replicas::stops::obey(redis, move |conversation, message| {
                live.stop_from_elsewhere(conversation, message);
            })
            .await;
        }
    }

    /// Waits, until `deadline` resolves, for answers still being written to end and reach the
    /// database, then gives up this process's lease: an answer whose end was not stored in time
    /// is then marked `interrupted` by the next sweep at once, and no longer holds its
    /// conversation's turn for the rest of the lease.
    pub async fn flush(&self, deadline: impl Future<Output = ()>) {
        self.writers.close();
        tokio::select! {
            () = self.writers.wait() => {}
            () = deadline => {
                tracing::warn!(tasks = self.writers.len(), "some answers were not fully stored before exit");
            }
        }
        self.stop_renewing.cancel();
        self.renewing.close();
        self.renewing.wait().await;
        if let Err(e) = self.store.heartbeat(self.replica, Duration::ZERO).await {
            tracing::warn!(error = %e, "cannot give up the lease on running answers");
        }
    }
}
