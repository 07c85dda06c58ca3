//! Stored conversations: the data layer behind `/api/conversations` and the answers `/api/chat`
//! streams into them. It knows nothing of HTTP: the server opens a [`ConversationStore`] from
//! `DATABASE_URL` once at start-up ([`open`]) and calls it with an [`Owner`] it has already
//! authenticated. SQLite (embedded, the default) and PostgreSQL (several replicas) sit behind
//! the same trait; each has its own embedded migrations, run by [`open`].
//!
//! Answers are written in batches, never per token: [`ConversationStore::begin_turn`] creates
//! the assistant message as `streaming` with its question,
//! [`ConversationStore::append_answers`] adds the text that arrived since, for every answer in
//! progress at once, and [`ConversationStore::finish_answer`] records how it ended, in one
//! statement with the other answers that end while the writer is busy (answers streamed
//! together tend to end together, and a statement and a commit each was most of what a burst of
//! stored answers cost). Each running answer is leased by the replica writing it
//! ([`ReplicaId`]); [`ConversationStore::sweep_interrupted`] marks answers whose replica
//! stopped renewing its lease as `interrupted`, never a live one.
//!
//! Turns are grouped too: the turns that arrive while the writer is busy share its next
//! transaction, a few statements for all of them ([`ConversationStore::begin_turn`] and
//! [`ConversationStore::add_user_message`] wait for it).

mod backend;
mod cursor;
mod finish;
mod group_commit;
mod migrate;
mod reasoning;
mod rows;
mod sql;
mod store;
mod timestamp;
mod title;
mod turn;

use std::{sync::Arc, time::Duration};

use streambed_core::{BoxFuture, ReasoningBlock, Role, Usage};
use time::OffsetDateTime;
use uuid::Uuid;

pub use title::{BadTitle, Title};

/// Whose conversations these are: an authenticated principal, already reduced by the server to
/// a stable opaque string (a JWT `sub`, a digest of an API key, or `local`). Never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner(pub String);

/// One server process that may write answers; a fresh one per process start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplicaId(pub Uuid);

impl ReplicaId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for ReplicaId {
    fn default() -> Self {
        Self::new()
    }
}

/// A conversation without its messages, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: Uuid,
    pub title: String,
    /// The model this conversation talks to, once it has one.
    pub model: Option<String>,
    pub created_at: OffsetDateTime,
    /// The last change: a message added or the title renamed. Lists are ordered by it.
    pub updated_at: OffsetDateTime,
}

/// How a stored message stands. User messages are always `complete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    Complete,
    /// Being written by a live replica.
    Streaming,
    /// Ended early by Stop (a client that only goes away leaves its answer running).
    Stopped,
    /// Ended by an upstream error; `error_code` says which.
    Error,
    /// Its replica died mid-answer; the text is what was flushed before.
    Interrupted,
}

impl MessageStatus {
    /// The lower-case word the API and the database both use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Streaming => "streaming",
            Self::Stopped => "stopped",
            Self::Error => "error",
            Self::Interrupted => "interrupted",
        }
    }
}

/// One turn, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub id: Uuid,
    pub role: Role,
    pub content: String,
    pub status: MessageStatus,
    pub model: Option<String>,
    /// The model's visible reasoning, when it sent any.
    pub reasoning: Option<String>,
    /// The reasoning as the provider sent it, with its signatures and redacted blocks: never
    /// shown, kept so a later turn can send it back. Not part of the API.
    pub reasoning_blocks: Vec<ReasoningBlock>,
    pub usage: Option<Usage>,
    pub stop_reason: Option<String>,
    pub error_code: Option<String>,
    /// How long a complete answer took, from its request to its end.
    pub latency_ms: Option<u64>,
    pub created_at: OffsetDateTime,
}

impl StoredMessage {
    /// A complete message with nothing but its text, as a question is stored.
    pub fn new(role: Role, content: impl Into<String>, created_at: OffsetDateTime) -> Self {
        Self {
            id: Uuid::now_v7(),
            role,
            content: content.into(),
            status: MessageStatus::Complete,
            model: None,
            reasoning: None,
            reasoning_blocks: Vec::new(),
            usage: None,
            stop_reason: None,
            error_code: None,
            latency_ms: None,
            created_at,
        }
    }

    /// An answer that ended otherwise than as the model ended it: stopped, failed, or cut off
    /// with its server. Never one still running.
    pub fn broke_off(&self) -> bool {
        self.role == Role::Assistant
            && matches!(
                self.status,
                MessageStatus::Stopped | MessageStatus::Error | MessageStatus::Interrupted
            )
    }
}

/// A conversation with its messages in order.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationWithMessages {
    pub conversation: Conversation,
    pub messages: Vec<StoredMessage>,
}

/// One page of an owner's conversations, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub conversations: Vec<Conversation>,
    /// Pass as `before` for the next page; `None` on the last one.
    pub next: Option<String>,
}

/// The text (and reasoning) that arrived for a streaming answer since it was last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append {
    pub message: Uuid,
    pub text: String,
    pub reasoning: String,
}

impl Append {
    pub fn new(message: Uuid, text: impl Into<String>, reasoning: impl Into<String>) -> Self {
        Self { message, text: text.into(), reasoning: reasoning.into() }
    }
}

/// The statuses an answer can end with through [`ConversationStore::finish_answer`]: it is
/// `streaming` until then, and only a sweep makes it `interrupted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Complete,
    Stopped,
    Error,
}

impl From<Ended> for MessageStatus {
    fn from(ended: Ended) -> Self {
        match ended {
            Ended::Complete => Self::Complete,
            Ended::Stopped => Self::Stopped,
            Ended::Error => Self::Error,
        }
    }
}

/// How an answer ended, written once by [`ConversationStore::finish_answer`].
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    pub status: Ended,
    pub stop_reason: Option<String>,
    pub usage: Option<Usage>,
    pub error_code: Option<String>,
    /// How long the answer took, from its request to its end (kept for complete answers).
    pub latency_ms: Option<u64>,
    /// The answer's reasoning blocks with their signatures (empty for most answers). Their text
    /// blocks, in order, must be the start of the answer's reasoning as appended: only their
    /// lengths are stored, and their text is read back from the reasoning.
    pub reasoning_blocks: Vec<ReasoningBlock>,
}

impl Finish {
    /// An ending with nothing more to say than its status.
    pub fn with_status(status: Ended) -> Self {
        Self {
            status,
            stop_reason: None,
            usage: None,
            error_code: None,
            latency_ms: None,
            reasoning_blocks: Vec::new(),
        }
    }
}

/// What the store refuses or fails at.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such conversation for this owner (or it was deleted).
    #[error("no such conversation")]
    NotFound,
    /// An owner has as many conversations as it may keep, or a conversation as many messages;
    /// `max` is the limit.
    #[error("limit of {max} {} reached", limit.counted())]
    Full { limit: Limit, max: u64 },
    /// A `before` cursor that this store did not hand out.
    #[error("invalid cursor")]
    BadCursor,
    /// An answer is being written in the conversation (its replica's lease holds): a turn that
    /// starts one on another replica, or a question stored alone, waits for it to end.
    #[error("an answer is running in the conversation")]
    AnswerRunning,
    /// The database failed; its own words (once: its causes follow it as the error's source).
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The limits of [`StoreLimits`], as [`StoreError::Full`] names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`StoreLimits::max_conversations_per_owner`].
    ConversationsPerOwner,
    /// [`StoreLimits::max_messages_per_conversation`].
    MessagesPerConversation,
}

impl Limit {
    /// What it counts, in the plural.
    pub fn counted(self) -> &'static str {
        match self {
            Self::ConversationsPerOwner => "conversations",
            Self::MessagesPerConversation => "messages",
        }
    }
}

impl StoreError {
    /// What to change when [`lost_prepared_statement`](Self::lost_prepared_statement) holds:
    /// the pooler, not the database.
    pub const POOLER_ADVICE: &str = "a connection pooler in transaction mode lost the server's prepared \
        statements; give it max_prepared_statements above 0 (pgbouncer 1.21 or later) or use session \
        mode (docs/deploy.md, connection poolers)";

    /// Whether PostgreSQL said one of the store's prepared statements is missing or already
    /// there: what a pooler in transaction mode that does not keep prepared statements
    /// (pgbouncer before 1.21, or with `max_prepared_statements = 0`) makes of them.
    pub fn lost_prepared_statement(&self) -> bool {
        // 26000 invalid_sql_statement_name, 42P05 duplicate_prepared_statement.
        matches!(self.database_code().as_deref(), Some("26000" | "42P05"))
    }

    /// The migration the database has and this build does not know, when that is why opening
    /// failed: a newer version of the server migrated it.
    pub fn newer_schema(&self) -> Option<i64> {
        let Self::Database(sqlx::Error::Migrate(error)) = self else { return None };
        match **error {
            sqlx::migrate::MigrateError::VersionMissing(version) => Some(version),
            _ => None,
        }
    }

    /// Whether the database's disk is full (SQLite's `SQLITE_FULL`, PostgreSQL's `disk_full`):
    /// nothing more is stored until space is freed, and retrying alone will not help.
    pub fn disk_full(&self) -> bool {
        matches!(self.database_code().as_deref(), Some("13" | "53100"))
    }

    /// What to do about this error, where it says more than "the database failed": a pooler
    /// that loses prepared statements, a full disk, a schema a newer release migrated. For the
    /// operator: the server puts it in its start-up error and in its log.
    pub fn advice(&self) -> Option<String> {
        if self.lost_prepared_statement() {
            Some(Self::POOLER_ADVICE.to_owned())
        } else if self.disk_full() {
            Some("the disk holding the conversation database is full: free space on it".to_owned())
        } else {
            self.newer_schema().map(|version| {
                format!(
                    "the conversation database was migrated by a newer version of Streambed (its \
                     migration {version} is unknown to this one): run that version or a later one, \
                     or restore a backup taken before the upgrade"
                )
            })
        }
    }

    /// The database's own error code, from a statement or from a migration's statement.
    fn database_code(&self) -> Option<std::borrow::Cow<'_, str>> {
        use sqlx::migrate::MigrateError;
        let Self::Database(error) = self else { return None };
        let error = match error {
            sqlx::Error::Migrate(migrating) => match &**migrating {
                MigrateError::Execute(error) | MigrateError::ExecuteMigration(error, _) => error,
                _ => return None,
            },
            error => error,
        };
        match error {
            sqlx::Error::Database(e) => e.code(),
            _ => None,
        }
    }
}

/// Limits the store enforces, from the server's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    pub max_conversations_per_owner: u64,
    pub max_messages_per_conversation: u64,
    /// The longest an answer runs (the server's deadline): one still `streaming` after that
    /// (its replica could not record how it ended) no longer holds its conversation's turn.
    pub longest_answer: std::time::Duration,
}

/// What the server keeps of conversations. Every method that takes an [`Owner`] acts only on
/// that owner's conversations: another owner's id is [`StoreError::NotFound`].
pub trait ConversationStore: Send + Sync + std::fmt::Debug + 'static {
    /// A new, empty conversation. Without a `title` it is untitled (`""`) until the first user
    /// message names it.
    fn create(&self, owner: &Owner, title: Option<&Title>)
    -> BoxFuture<'_, Result<Conversation, StoreError>>;

    /// Newest first (by `updated_at`, then id), at most `limit`; `before` is a previous page's
    /// `next`.
    fn list(
        &self,
        owner: &Owner,
        limit: u32,
        before: Option<&str>,
    ) -> BoxFuture<'_, Result<Page, StoreError>>;

    fn get(&self, owner: &Owner, id: Uuid) -> BoxFuture<'_, Result<ConversationWithMessages, StoreError>>;

    /// One message of the conversation, as [`get`](Self::get) would list it; `None` when the
    /// conversation (for this owner) or the message is not there. One row: for polling an
    /// answer while another replica writes it.
    fn message(
        &self,
        owner: &Owner,
        conversation: Uuid,
        message: Uuid,
    ) -> BoxFuture<'_, Result<Option<StoredMessage>, StoreError>>;

    /// The conversation alone, without its messages (one row).
    fn conversation(&self, owner: &Owner, id: Uuid) -> BoxFuture<'_, Result<Conversation, StoreError>>;

    fn rename(
        &self,
        owner: &Owner,
        id: Uuid,
        title: &Title,
    ) -> BoxFuture<'_, Result<Conversation, StoreError>>;

    /// Deletes the conversation and all its messages.
    fn delete(&self, owner: &Owner, id: Uuid) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Stores a user turn (status `complete`) and returns the conversation's whole history,
    /// oldest first, ending with it. An untitled conversation takes its title from `content`
    /// (trimmed, first line, about 60 characters cut at a word). `model`, when given, becomes
    /// the conversation's model. [`StoreError::AnswerRunning`] while an answer is being written
    /// there: the question would come between it and the question it answers.
    fn add_user_message(
        &self,
        owner: &Owner,
        id: Uuid,
        content: &str,
        model: Option<&str>,
    ) -> BoxFuture<'_, Result<Vec<StoredMessage>, StoreError>>;

    /// [`add_user_message`](Self::add_user_message) and the start of its answer in one
    /// transaction: the user turn, the history ending with it, and the id of the new
    /// `streaming` assistant message, leased by `replica` (which must already hold a lease: see
    /// [`heartbeat`](Self::heartbeat)). What the server does for each turn, so a turn
    /// costs one write transaction before the model is asked.
    ///
    /// Asking the conversation's last question again is a retry, not a second question: when
    /// it has no answer yet, or one that ended without a word (`error`, `stopped` or
    /// `interrupted`, with no text or reasoning), that question is reused and the new answer
    /// takes the place of the empty one, so the conversation keeps one question and one answer.
    fn begin_turn(
        &self,
        owner: &Owner,
        id: Uuid,
        content: &str,
        model: &str,
        replica: ReplicaId,
    ) -> BoxFuture<'_, Result<(Vec<StoredMessage>, Uuid), StoreError>>;

    /// Appends to each streaming message the text (and reasoning) that arrived for it since its
    /// last write: every answer in progress in one statement (or one per
    /// [`APPEND_ROWS`](sql::APPEND_ROWS) answers). A message that is no longer streaming (swept
    /// as `interrupted` by another replica, or deleted with its conversation) is left as it is,
    /// and returned: the answer is no longer this writer's to record, and should stop.
    fn append_answers<'a>(&'a self, batch: &'a [Append]) -> BoxFuture<'a, Result<Vec<Uuid>, StoreError>>;

    /// Ends a streaming message, appending the last unflushed `text`/`reasoning`; `false` when
    /// it was no longer streaming, and was left as it is: an `interrupted` answer is never
    /// resurrected. Finishes that arrive together are written together; one the database
    /// refuses fails alone. Once asked, the finish is written even if the caller stops waiting.
    fn finish_answer(
        &self,
        message: Uuid,
        text: &str,
        reasoning: &str,
        finish: Finish,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;

    /// Renews `replica`'s lease: its streaming answers are live for another `ttl`. Call it
    /// before the first [`begin_turn`](Self::begin_turn) and then well within `ttl` (every
    /// `ttl / 3`, say): a lease that runs out lets another replica's sweep interrupt the answers.
    /// On PostgreSQL leases are measured by the database server's clock.
    fn heartbeat(&self, replica: ReplicaId, ttl: Duration) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Marks `interrupted` every streaming answer whose replica's lease has run out (or that
    /// has none), other than `replica`'s own. Returns how many.
    fn sweep_interrupted(&self, replica: ReplicaId) -> BoxFuture<'_, Result<u64, StoreError>>;

    /// Closes the database connections, once the last writes are done; every later call fails.
    /// On SQLite the last connection to close folds the write-ahead log (`streambed.db-wal`)
    /// into the database file, so after a clean exit the file alone holds everything, as
    /// whoever copies it expects.
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// Where `url` keeps the conversations, for a log: the SQLite file's whole path, or the
/// PostgreSQL server, database and user (never the password). `None` when it does not parse.
pub fn location(url: &str) -> Option<String> {
    backend::location(url)
}

/// Connections one process opens to PostgreSQL by default: the server is shared by every
/// replica, so each takes a modest share.
pub const DEFAULT_POSTGRES_CONNECTIONS: u32 = 16;

/// Opens `url` (`sqlite:…` or `postgres://…`), creating a SQLite file and its folder when
/// missing, and runs the migrations.
///
/// SQLite files run in WAL mode with foreign keys on, and writers wait up to 10 s for each
/// other. `sqlite::memory:` is one private in-memory database, gone with the store.
/// PostgreSQL URLs take libpq's options, `sslmode=require` included (TLS through rustls; for
/// `verify-full` on RDS also pass `sslrootcert=` the RDS bundle). A server that refuses
/// connections is retried for 15 s. Errors are [`StoreError::Database`]: the server names
/// `DATABASE_URL` when reporting them. A PostgreSQL pool opens at most `postgres_connections`
/// connections (per process: replicas each open theirs).
pub async fn open(
    url: &str,
    postgres_connections: u32,
    limits: StoreLimits,
) -> Result<Arc<dyn ConversationStore>, StoreError> {
    let pools = backend::Pools::open(url, postgres_connections).await?;
    Ok(Arc::new(store::SqlStore::new(pools, limits)))
}
