//! What every handler may read: the models, the settings requests need, and the conversation
//! store with the policy that says whose conversations a request may touch.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use secrecy::ExposeSecret;
use streambed_core::{InferenceParams, Reasoning};
use streambed_store::{ConversationStore, ReplicaId, StoreError, StoreLimits};
use tokio::time::Instant;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    Config, Shutdown,
    admission::StreamSlots,
    answer_log::AnswerLogs,
    config::Limits,
    live::LiveAnswers,
    metrics::Metrics,
    models::Models,
    owner::OwnerPolicy,
    replicas::{Redis, counts::SharedRunning},
};

mod sweep_gate;
mod upkeep;

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
        let database = &config.store;
        let store =
            streambed_store::open(database.database_url.expose_secret(), database.max_connections, limits)
                .await
                .map_err(|e| {
                    explained(
                        e,
                        "DATABASE_URL: cannot open or migrate the conversation database; check the URL, \
                         that the folder is writable (SQLite) or the server reachable (PostgreSQL)",
                    )
                })?;
        let redis = match &config.redis_url {
            Some(url) => Some(Redis::connect(url, config.limits.request_timeout).await?),
            None => None,
        };
        let conversations = Self::new(store, config, redis);
        // Leased before the first answer starts. The lease is the first write: a database that
        // opens and migrates but takes no writes (a read-only SQLite file, a PostgreSQL user
        // without write rights) would otherwise refuse every conversation while the server
        // looked healthy.
        conversations.store.heartbeat(conversations.replica, conversations.lease).await.map_err(|e| {
            explained(
                e,
                "DATABASE_URL: the conversation database takes no writes; check that the user the server \
                 runs as may write the file, its folder and its -wal and -shm files (SQLite), or the \
                 tables (PostgreSQL)",
            )
        })?;
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

    /// Whether running answers, Stop and limits are shared through Redis, for the start-up log.
    pub fn shared_through_redis(&self) -> bool {
        self.redis.is_some()
    }
}

/// A store error at start-up with what to check, or the error's own advice where it has one
/// ([`StoreError::advice`]: the pooler, the disk, a newer release's schema).
fn explained(error: StoreError, check: &'static str) -> anyhow::Error {
    let context = error.advice().map_or_else(|| check.to_owned(), |advice| format!("DATABASE_URL: {advice}"));
    anyhow::Error::new(error).context(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_a_newer_server_migrated_is_explained_as_such() {
        let newer = sqlx::migrate::MigrateError::VersionMissing(99);
        let error = explained(StoreError::Database(sqlx::Error::Migrate(Box::new(newer))), "check the URL");

        let said = error.to_string();
        assert!(said.contains("migrated by a newer version of Streambed (its migration 99"), "{said}");
        assert!(!said.contains("check the URL"), "{said}");
    }
}
