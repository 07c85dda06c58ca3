//! A batch of turns, each in a different conversation, written in one transaction whose
//! statements each cover the whole batch: one update of the conversations, one read of their
//! messages, the retry rule and the limit in Rust, then the deletes (rare) and one insert. Each
//! statement is padded to a power of two rows, so a few prepared statements serve every batch
//! size; the backends differ only in how the statements write their parameters
//! ([`sql::Dialect`]).

use std::collections::HashMap;

use uuid::Uuid;

use super::{
    Request, Turn, Turns,
    plan::{Plan, plan},
};
use crate::{
    StoreError, StoreLimits,
    backend::{Pools, with_writer},
    group_commit::{Waiting, fail_all, one_by_one, retry_alone},
    rows::{ConversationMessageRow, History, role_text},
    sql,
    timestamp::Timestamp,
};

/// How a turn of a batch went.
type Outcome = Result<Turn, StoreError>;

/// What a turn of a batch writes, or why it writes nothing.
type Planned<'r> = Result<Plan<'r>, StoreError>;

/// The turns (by position in the batch) refused in conversations the batch touched: past the
/// message limit, or an answer running there on another replica.
type Refusals = Vec<(usize, StoreError)>;

/// How a batch's transaction ended, when the database did not fail it.
enum Attempt {
    /// Committed: each turn's outcome, in the batch's order.
    Written(Vec<Outcome>),
    /// Rolled back, because these turns (by position) would take their conversations past the
    /// limit, or start an answer where another replica's runs. Their conversations were touched
    /// already, and a refused turn must change nothing, so the rest are written again without
    /// them: rare, where a second update of the conversations after the reads would cost every
    /// batch a statement.
    Refused(Refusals),
}

/// Writes `batch` (at most [`sql::BATCH_TURNS`] turns of distinct conversations: a second turn
/// must read the history the first one writes) and answers each turn. When the database fails
/// the transaction, nothing of it was written, and each turn is written again alone.
pub(super) async fn write(turns: &Turns, mut batch: Vec<Waiting<Turns>>) {
    debug_assert!(batch.len() <= sql::BATCH_TURNS);
    while !batch.is_empty() {
        let requests: Vec<&Request> = batch.iter().map(Waiting::job).collect();
        match attempt(&turns.pools, &turns.limits, &requests).await {
            Ok(Attempt::Written(outcomes)) => {
                for (waiting, outcome) in batch.into_iter().zip(outcomes) {
                    waiting.reply(outcome);
                }
                return;
            }
            Ok(Attempt::Refused(mut refused)) => {
                let mut rest = Vec::with_capacity(batch.len());
                for (position, waiting) in batch.into_iter().enumerate() {
                    match refused.iter().position(|(at, _)| *at == position) {
                        Some(found) => waiting.reply(Err(refused.swap_remove(found).1)),
                        None => rest.push(waiting),
                    }
                }
                batch = rest;
            }
            Err(error) => {
                if !retry_alone(&error) {
                    return fail_all(batch, &error);
                }
                tracing::warn!(turns = batch.len(), %error, "cannot store the turns together; storing them one by one");
                return one_by_one(turns, batch).await;
            }
        }
    }
}

/// One transaction for `requests`.
async fn attempt(pools: &Pools, limits: &StoreLimits, requests: &[&Request]) -> Result<Attempt, sqlx::Error> {
    let now = Timestamp::now();
    let dialect = pools.dialect();
    with_writer!(pools, |pool| {
        let mut tx = pool.begin().await?;
        // The conversations' rows are written first, as a turn alone writes its own: that takes
        // SQLite's write lock at once and locks the rows in PostgreSQL, so no other writer can
        // slip in between the reads and the inserts. They go in order of id: PostgreSQL locks
        // them in the order of the list, so two replicas whose batches share conversations lock
        // them in the same order rather than deadlock (which would abort one batch, its turns
        // then written again one by one).
        let mut touched: Vec<_> = requests
            .iter()
            .map(|r| (r.conversation, r.owner.as_str(), r.model.as_deref(), r.title.as_str()))
            .collect();
        touched.sort_unstable_by_key(|row| row.0);
        let rows = requests.len().next_power_of_two();
        let mut touch = sqlx::query_scalar(sql::touch(dialect, rows)).bind(now);
        let padding = std::iter::repeat((Uuid::nil(), "", None, ""));
        for (id, owner, model, title) in touched.into_iter().chain(padding).take(rows) {
            touch = touch.bind(id).bind(owner).bind(model).bind(title);
        }
        // The conversations found, each with its history, read next.
        let mut histories: HashMap<Uuid, History> =
            touch.fetch_all(&mut *tx).await?.into_iter().map(|id| (id, History::default())).collect();
        if !histories.is_empty() {
            let rows = histories.len().next_power_of_two();
            let mut select = sqlx::query_as(sql::messages_of(dialect, rows));
            for id in histories.keys().copied().chain(std::iter::repeat(Uuid::nil())).take(rows) {
                select = select.bind(id);
            }
            let messages: Vec<ConversationMessageRow> = select.fetch_all(&mut *tx).await?;
            for row in messages {
                if let Some(history) = histories.get_mut(&row.conversation_id) {
                    history.push(row.message)?;
                }
            }
        }

        let clock = lease_clock!(dialect, histories.values(), tx, now);
        let plans = match plan_all(requests, histories, limits, now, clock) {
            Ok(plans) => plans,
            // Dropping the transaction rolls it back.
            Err(refused) => return Ok(Attempt::Refused(refused)),
        };

        // Only retries replace an answer, and only after one came to nothing: a statement each.
        for empty in plans.iter().flatten().filter_map(|plan| plan.replaces) {
            sqlx::query(sql::DELETE_MESSAGE).bind(empty).execute(&mut *tx).await?;
        }
        let inserted: Vec<_> = plans.iter().flatten().flat_map(|plan| &plan.rows).collect();
        if !inserted.is_empty() {
            // The rows, then NULL rows up to the statement's size, which it leaves out.
            let padded = inserted.len().next_power_of_two();
            let mut insert = sqlx::query(sql::insert_messages(dialect, padded));
            for row in &inserted {
                insert = insert
                    .bind(Some(row.id))
                    .bind(Some(row.conversation))
                    .bind(Some(role_text(row.role)))
                    .bind(Some(row.content))
                    .bind(Some(row.status.as_str()))
                    .bind(row.model)
                    .bind(row.replica)
                    .bind(Some(row.created_at));
            }
            for _ in inserted.len()..padded {
                insert = insert
                    .bind(None::<Uuid>)
                    .bind(None::<Uuid>)
                    .bind(None::<&str>)
                    .bind(None::<&str>)
                    .bind(None::<&str>)
                    .bind(None::<&str>)
                    .bind(None::<Uuid>)
                    .bind(None::<Timestamp>);
            }
            insert.execute(&mut *tx).await?;
        }
        tx.commit().await?;

        let outcomes = plans
            .into_iter()
            .zip(requests)
            .map(|(plan, request)| plan.map(|plan| (plan.history, request.answer_id())))
            .collect();
        Ok(Attempt::Written(outcomes))
    })
}

/// Each turn's plan on its conversation's history (a conversation the touch did not find is
/// [`StoreError::NotFound`]), or, when any turn is refused in a conversation the touch changed
/// (past the message limit, or an answer running there), those turns by position.
fn plan_all<'r>(
    requests: &[&'r Request],
    mut histories: HashMap<Uuid, History>,
    limits: &StoreLimits,
    now: Timestamp,
    clock: Timestamp,
) -> Result<Vec<Planned<'r>>, Refusals> {
    let plans: Vec<_> = requests
        .iter()
        .map(|request| match histories.remove(&request.conversation) {
            Some(history) => plan(request, history, limits, now, clock),
            None => Err(StoreError::NotFound),
        })
        .collect();
    let touched_in_vain =
        |plan: &Planned<'_>| matches!(plan, Err(StoreError::Full { .. } | StoreError::AnswerRunning));
    if !plans.iter().any(touched_in_vain) {
        return Ok(plans);
    }
    Err(plans
        .into_iter()
        .enumerate()
        .filter(|(_, plan)| touched_in_vain(plan))
        .filter_map(|(position, plan)| plan.err().map(|refusal| (position, refusal)))
        .collect())
}
