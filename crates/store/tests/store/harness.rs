//! A fresh database per test, on either backend, and the helpers the behaviours share.

use std::sync::Arc;

use sqlx::{PgPool, SqlitePool};
use streambed_store::{
    ConversationStore, DEFAULT_POSTGRES_CONNECTIONS, Ended, Finish, Owner, ReplicaId, StoreLimits,
};
use streambed_testkit::{Postgres, TempDir, scratch_dir};
use uuid::Uuid;

/// Far above what any test stores.
pub(crate) const ROOMY: StoreLimits = StoreLimits {
    max_conversations_per_owner: 1000,
    max_messages_per_conversation: 1000,
    longest_answer: std::time::Duration::from_secs(600),
};

pub(crate) enum TestDb {
    /// `streambed.db` in a directory removed with it.
    Sqlite { url: String, _dir: TempDir },
    /// A database of its own on the binary's shared server.
    Postgres { url: String },
}

impl TestDb {
    pub(crate) fn sqlite() -> Self {
        let dir = scratch_dir("store");
        Self::Sqlite { url: format!("sqlite:{}", dir.path().join("streambed.db").display()), _dir: dir }
    }

    pub(crate) fn postgres(test: &str) -> Self {
        Self::Postgres { url: Postgres::shared().database(test) }
    }

    pub(crate) fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url } => url,
        }
    }

    pub(crate) async fn open(&self) -> Arc<dyn ConversationStore> {
        self.open_with(ROOMY).await
    }

    pub(crate) async fn open_with(&self, limits: StoreLimits) -> Arc<dyn ConversationStore> {
        streambed_store::open(self.url(), DEFAULT_POSTGRES_CONNECTIONS, limits).await.expect("open the store")
    }

    /// Runs a `SELECT count(*) …` beside the store, for what its API cannot show (rows gone).
    pub(crate) async fn count(&self, sql: &'static str) -> i64 {
        match self {
            Self::Sqlite { url, .. } => {
                let pool = SqlitePool::connect(url).await.expect("connect to SQLite");
                sqlx::query_scalar(sql).fetch_one(&pool).await.expect("count")
            }
            Self::Postgres { url } => {
                let pool = PgPool::connect(url).await.expect("connect to PostgreSQL");
                sqlx::query_scalar(sql).fetch_one(&pool).await.expect("count")
            }
        }
    }

    /// Runs a `SELECT` of one text value beside the store, for how a row is laid out.
    pub(crate) async fn text(&self, sql: &'static str) -> String {
        match self {
            Self::Sqlite { url, .. } => {
                let pool = SqlitePool::connect(url).await.expect("connect to SQLite");
                sqlx::query_scalar(sql).fetch_one(&pool).await.expect("select")
            }
            Self::Postgres { url } => {
                let pool = PgPool::connect(url).await.expect("connect to PostgreSQL");
                sqlx::query_scalar(sql).fetch_one(&pool).await.expect("select")
            }
        }
    }

    /// Runs a statement beside the store, for rows as an earlier version wrote them.
    pub(crate) async fn execute(&self, sql: &'static str) {
        match self {
            Self::Sqlite { url, .. } => {
                let pool = SqlitePool::connect(url).await.expect("connect to SQLite");
                sqlx::query(sql).execute(&pool).await.expect("execute");
            }
            Self::Postgres { url } => {
                let pool = PgPool::connect(url).await.expect("connect to PostgreSQL");
                sqlx::query(sql).execute(&pool).await.expect("execute");
            }
        }
    }

    /// Starts keeping what [`finish_writes`](Self::finish_writes) counts. PostgreSQL keeps it
    /// already: each row names the transaction that last wrote it (`xmin`). SQLite does not, so
    /// a trigger logs each answer ended with a number that is the same for all the rows of one
    /// statement and grows between statements: the connection's changes so far
    /// (`total_changes()`, which counts the log's own rows as they are inserted, and the
    /// statement's rows only once it completes), less the log's rows.
    pub(crate) async fn watch_finishes(&self) {
        if let Self::Sqlite { url, .. } = self {
            let pool = SqlitePool::connect(url).await.expect("connect to SQLite");
            for sql in [
                "CREATE TABLE finish_log (message BLOB NOT NULL, statement INTEGER NOT NULL)",
                "CREATE TRIGGER finish_log AFTER UPDATE OF status ON messages \
                 WHEN old.status = 'streaming' AND new.status IN ('complete', 'stopped', 'error') \
                 BEGIN \
                   INSERT INTO finish_log SELECT new.id, total_changes() - count(*) FROM finish_log; \
                 END",
            ] {
                sqlx::query(sql).execute(&pool).await.expect("log finishes");
            }
        }
    }

    /// How many writes ended the answers ended since [`watch_finishes`](Self::watch_finishes):
    /// statements on SQLite, transactions on PostgreSQL (a batch's statement is both).
    pub(crate) async fn finish_writes(&self) -> i64 {
        match self {
            Self::Sqlite { .. } => self.count("SELECT count(DISTINCT statement) FROM finish_log").await,
            Self::Postgres { .. } => {
                self.count(
                    "SELECT count(DISTINCT xmin::text) FROM messages \
                     WHERE role = 'assistant' AND status IN ('complete', 'stopped', 'error')",
                )
                .await
            }
        }
    }
}

pub(crate) fn owner(name: &str) -> Owner {
    Owner(name.to_owned())
}

/// A conversation of `owner` with one user turn, ready for an answer.
pub(crate) async fn conversation_with_prompt(
    store: &dyn ConversationStore,
    owner: &Owner,
    prompt: &str,
) -> Uuid {
    let conversation = store.create(owner, None).await.expect("create").id;
    store.add_user_message(owner, conversation, prompt, Some("test-model")).await.expect("add the prompt");
    conversation
}

/// Starts an answer in a new conversation of `owner`, leased by `replica`.
pub(crate) async fn streaming_answer(
    store: &dyn ConversationStore,
    owner: &Owner,
    replica: ReplicaId,
) -> (Uuid, Uuid) {
    let conversation = store.create(owner, None).await.expect("create").id;
    let (_, message) = store
        .begin_turn(owner, conversation, "Tell me a story", "test-model", replica)
        .await
        .expect("a turn");
    (conversation, message)
}

pub(crate) fn finish(status: Ended) -> Finish {
    Finish::with_status(status)
}

/// The last message of `conversation`, as stored now.
pub(crate) async fn last_message(
    store: &dyn ConversationStore,
    owner: &Owner,
    conversation: Uuid,
) -> streambed_store::StoredMessage {
    let stored = store.get(owner, conversation).await.expect("get");
    stored.messages.last().cloned().expect("a message")
}
