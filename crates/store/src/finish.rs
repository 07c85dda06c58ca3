//! How answers end, written together: the finishes that arrive while the writer is busy share
//! one statement ([`group_commit`](crate::group_commit)). Answers streamed side by side tend to
//! end side by side, and each finish written alone would be a statement and a commit of its own
//! through the one writing connection: under a burst, most of what a stored answer costs beyond
//! a stateless one.
//!
//! A batch is one `UPDATE` ([`sql::finish`]) that does for each of its answers what
//! [`sql::FINISH`] does for one, only to answers still `streaming` (one swept to `interrupted`
//! stays so). When the database fails it, nothing of it was written, and each answer is written
//! again alone with [`sql::FINISH`], so a finish the database refuses fails alone.

use std::collections::HashSet;

use sqlx::types::Json;
use streambed_core::Usage;
use uuid::Uuid;

use crate::{
    Ended, Finish, MessageStatus, StoreError,
    backend::{Pools, with_writer},
    group_commit::{Batch, Queue, Waiting, fail_all, one_by_one, retry_alone},
    reasoning::{self, ReasoningPart},
    sql,
};

/// Finishes waiting to be written together.
pub(crate) type FinishQueue = Queue<Finishes>;

/// How one answer ended, and the text no flush wrote before it: the row [`sql::FINISH`] writes.
#[derive(Debug)]
pub(crate) struct Ending {
    message: Uuid,
    text: String,
    reasoning: String,
    status: MessageStatus,
    usage: Option<Usage>,
    stop_reason: Option<String>,
    error_code: Option<String>,
    /// Where each reasoning block ends, with its signature; `None` without blocks.
    parts: Option<Vec<ReasoningPart>>,
    latency_ms: Option<i64>,
}

impl Ending {
    pub(crate) fn new(message: Uuid, text: &str, reasoning: &str, finish: Finish) -> Self {
        // The blocks' text is in `reasoning` already: `parts` keeps only where each one ends.
        let parts = (!finish.reasoning_blocks.is_empty()).then(|| reasoning::parts(&finish.reasoning_blocks));
        Self {
            message,
            text: text.to_owned(),
            reasoning: reasoning.to_owned(),
            status: finish.status.into(),
            usage: finish.usage,
            stop_reason: finish.stop_reason,
            error_code: finish.error_code,
            parts,
            latency_ms: finish.latency_ms.map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
        }
    }

    /// A padding row of a batch's statement: the nil id names no message.
    fn padding() -> Self {
        Self::new(Uuid::nil(), "", "", Finish::with_status(Ended::Complete))
    }
}

/// Binds an [`Ending`]'s nine parameters, in [`sql::FINISH`]'s order (a row of
/// [`sql::finish`]'s). A macro, as [`with_writer!`] is, so it is written once and compiled for
/// each backend.
macro_rules! bind_ending {
    ($query:expr, $ending:expr) => {{
        let ending: &Ending = $ending;
        $query
            .bind(ending.message)
            .bind(ending.text.as_str())
            .bind(ending.reasoning.as_str())
            .bind(ending.status.as_str())
            .bind(ending.usage.as_ref().map(Json))
            .bind(ending.stop_reason.as_deref())
            .bind(ending.error_code.as_deref())
            .bind(ending.parts.as_ref().map(Json))
            .bind(ending.latency_ms)
    }};
}

/// Writes finishes a batch at a time: up to [`sql::BATCH_FINISHES`] answers, each once (one
/// statement sets a row only once).
#[derive(Debug)]
pub(crate) struct Finishes {
    pools: Pools,
}

impl Finishes {
    pub(crate) fn new(pools: Pools) -> Self {
        Self { pools }
    }
}

impl Batch for Finishes {
    type Job = Ending;
    /// Whether the answer was still streaming, and so ended now.
    type Output = bool;
    const MOST: usize = sql::BATCH_FINISHES;

    fn key(ending: &Ending) -> Uuid {
        ending.message
    }

    fn write(&self, batch: Vec<Waiting<Self>>) -> impl Future<Output = ()> + Send {
        write(self, batch)
    }

    async fn write_alone(&self, ending: &Ending) -> Result<bool, StoreError> {
        alone(&self.pools, ending).await.map_err(StoreError::Database)
    }
}

/// Writes `batch` and answers each finish. A finish alone takes [`sql::FINISH`] at once: the
/// batch's statement would only be a longer way to say the same.
async fn write(finishes: &Finishes, mut batch: Vec<Waiting<Finishes>>) {
    debug_assert!(batch.len() <= sql::BATCH_FINISHES);
    if batch.len() == 1 {
        let waiting = batch.pop().expect("a batch of one");
        let outcome = finishes.write_alone(waiting.job()).await;
        waiting.reply(outcome);
        return;
    }
    let endings: Vec<&Ending> = batch.iter().map(Waiting::job).collect();
    let error = match together(&finishes.pools, &endings).await {
        Ok(ended) => {
            for waiting in batch {
                let now = ended.contains(&waiting.job().message);
                waiting.reply(Ok(now));
            }
            return;
        }
        Err(error) => error,
    };
    if !retry_alone(&error) {
        return fail_all(batch, &error);
    }
    tracing::warn!(answers = batch.len(), %error, "cannot record the answers' endings together; recording them one by one");
    one_by_one(finishes, batch).await;
}

/// One statement for several finishes: autocommitted, so one transaction, and no `BEGIN` or
/// `COMMIT` to send. Returns the answers it ended (those still streaming).
async fn together(pools: &Pools, endings: &[&Ending]) -> Result<HashSet<Uuid>, sqlx::Error> {
    let rows = endings.len().next_power_of_two();
    let padding = Ending::padding();
    let rows_bound = endings.iter().copied().chain(std::iter::repeat(&padding)).take(rows);
    Ok(with_writer!(pools, |pool| {
        let mut update = sqlx::query_scalar::<_, Uuid>(sql::finish(rows));
        for ending in rows_bound {
            update = bind_ending!(update, ending);
        }
        update.fetch_all(pool).await?.into_iter().collect()
    }))
}

/// One finish in a statement of its own: a lone finish, or each of a batch the database failed.
/// Whether it ended the answer (it was still streaming).
async fn alone(pools: &Pools, ending: &Ending) -> Result<bool, sqlx::Error> {
    Ok(with_writer!(pools, |pool| {
        bind_ending!(sqlx::query(sql::FINISH), ending).execute(pool).await?.rows_affected() == 1
    }))
}
