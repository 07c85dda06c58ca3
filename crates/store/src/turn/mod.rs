//! A turn: the user's message and, when the server asks for it, the `streaming` answer that
//! follows, written in one transaction (the conversation row first, so the message count and
//! the inserts cannot race another turn).
//!
//! Asking the same question again right after its answer came to nothing (refused before its
//! first token, stopped or interrupted before it wrote a word) is a retry: the question already
//! stored is the one answered, and the empty answer makes way for the new one. So a conversation
//! reads, on reload and to the model, as one question and one answer, never the question twice.
//! An answer that said anything stays, and the question asked again follows it.
//!
//! One answer runs in a conversation at a time. Each replica keeps to that for its own answers
//! in memory; a turn also reads whether its conversation ends in another replica's answer whose
//! lease still holds, and then starts none ([`StoreError::AnswerRunning`]).
//!
//! Turns are written in batches ([`group_commit`](crate::group_commit)): the turns waiting when
//! the writer frees up go into one transaction whose statements each cover the whole batch
//! ([`batch`]), so a burst of turns costs the writer a few statements per batch rather than five
//! per turn. On SQLite each
//! statement is a round trip to the connection's thread, and there is one writing connection.
//! A batch that fails is written again turn by turn ([`alone`]), so a bad turn fails alone.

/// The clock to read `histories`' leases by, `$now` unless one of them ends in an answer running
/// under a lease (rare): this process's on SQLite, and PostgreSQL's on PostgreSQL
/// ([`Pools::clock`]), read on the turn's own transaction `$tx` (`now()` is its start, a moment
/// ago), never on a second connection while it holds row locks. A macro, as the transaction's
/// type is each backend's (see [`with_writer!`]).
macro_rules! lease_clock {
    ($dialect:expr, $histories:expr, $tx:ident, $now:expr) => {
        match $dialect {
            $crate::sql::Dialect::Postgres if $crate::turn::leased($histories) => {
                sqlx::query_scalar($crate::sql::POSTGRES_NOW).fetch_one(&mut *$tx).await?
            }
            _ => $now,
        }
    };
}

mod batch;
mod plan;

use streambed_core::BoxFuture;
use uuid::Uuid;

use self::plan::plan;
use crate::{
    Owner, ReplicaId, StoreError, StoreLimits, StoredMessage,
    backend::{Pools, with_writer},
    group_commit::{Batch, Queue, Waiting},
    rows::{self, History},
    sql,
    store::{SqlStore, boxed},
    timestamp::Timestamp,
    title,
};

/// A turn as stored: the history ending with the user's message, and its answer's id if started.
pub(crate) type Turn = (Vec<StoredMessage>, Option<Uuid>);

/// A turn waiting to be written.
#[derive(Debug)]
pub(crate) struct Request {
    owner: String,
    conversation: Uuid,
    content: String,
    /// Becomes the conversation's model, when given.
    model: Option<String>,
    /// The title an untitled conversation takes: from `content`.
    title: String,
    /// The answer to start and the replica that leases it, when the turn starts one.
    answer: Option<(Uuid, ReplicaId)>,
}

impl Request {
    fn answer_id(&self) -> Option<Uuid> {
        self.answer.map(|(id, _)| id)
    }
}

/// Turns waiting to be written together.
pub(crate) type TurnQueue = Queue<Turns>;

/// Writes turns a batch at a time: up to [`sql::BATCH_TURNS`] turns, of distinct conversations
/// (a second turn must read the history the first one writes).
#[derive(Debug)]
pub(crate) struct Turns {
    pools: Pools,
    limits: StoreLimits,
}

impl Turns {
    pub(crate) fn new(pools: Pools, limits: StoreLimits) -> Self {
        Self { pools, limits }
    }
}

impl Batch for Turns {
    type Job = Request;
    type Output = Turn;
    const MOST: usize = sql::BATCH_TURNS;

    fn key(request: &Request) -> Uuid {
        request.conversation
    }

    fn write(&self, batch: Vec<Waiting<Self>>) -> impl Future<Output = ()> + Send {
        batch::write(self, batch)
    }

    fn write_alone(&self, request: &Request) -> impl Future<Output = Result<Turn, StoreError>> + Send {
        alone(&self.pools, &self.limits, request)
    }
}

impl SqlStore {
    /// Stores a user turn (or, for a retry, reuses it: see the module) and, given a `replica`,
    /// the `streaming` answer that follows it, in one transaction; returns the history ending
    /// with the user turn, and the answer's id. Once asked, the turn is written even if the
    /// caller stops waiting.
    pub(crate) fn turn(
        &self,
        owner: &Owner,
        id: Uuid,
        content: &str,
        model: Option<&str>,
        replica: Option<ReplicaId>,
    ) -> BoxFuture<'_, Result<Turn, StoreError>> {
        let request = Request {
            owner: owner.0.clone(),
            conversation: id,
            content: content.to_owned(),
            model: model.map(str::to_owned),
            title: title::from_prompt(content),
            answer: replica.map(|replica| (Uuid::now_v7(), replica)),
        };
        boxed(self.turns.write(request))
    }
}

/// Writes one turn in a transaction of its own: the way back when a batch fails, so that a turn
/// the database refuses fails alone. Its statements are the single-conversation forms of the
/// batch's (a row per insert), kept apart so that this path does not share a fault with the
/// batched SQL.
async fn alone(pools: &Pools, limits: &StoreLimits, request: &Request) -> Result<Turn, StoreError> {
    let now = Timestamp::now();
    let history: Vec<StoredMessage> = with_writer!(pools, |pool| {
        let mut tx = pool.begin().await?;
        // The conversation's row is written first: that takes SQLite's write lock at once (a
        // transaction that read first could fail to upgrade) and locks the row in PostgreSQL,
        // so no other turn can slip in between the reads and the inserts.
        let found = sqlx::query(sql::TOUCH)
            .bind(request.conversation)
            .bind(&request.owner)
            .bind(now)
            .bind(request.model.as_deref())
            .bind(&request.title)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if found == 0 {
            return Err(StoreError::NotFound);
        }
        let history = History::read(
            sqlx::query_as(sql::MESSAGES).bind(request.conversation).fetch_all(&mut *tx).await?,
        )?;
        let clock = lease_clock!(pools.dialect(), [&history], tx, now);
        let plan = plan(request, history, limits, now, clock)?;
        if let Some(empty) = plan.replaces {
            sqlx::query(sql::DELETE_MESSAGE).bind(empty).execute(&mut *tx).await?;
        }
        for row in &plan.rows {
            sqlx::query(sql::INSERT_MESSAGE)
                .bind(row.id)
                .bind(row.conversation)
                .bind(rows::role_text(row.role))
                .bind(row.content)
                .bind(row.status.as_str())
                .bind(row.model)
                .bind(row.replica)
                .bind(row.created_at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        plan.history
    });
    Ok((history, request.answer_id()))
}

/// Whether any of `histories` ends in an answer running under a lease.
fn leased<'h>(histories: impl IntoIterator<Item = &'h History>) -> bool {
    histories.into_iter().any(|h| h.writer.is_some_and(|writer| writer.lease_until.is_some()))
}
