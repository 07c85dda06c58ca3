//! Group commit: a write joins a queue, and one task at a time writes what is waiting, up to
//! [`Batch::MOST`] jobs of distinct keys a batch, until the queue is empty. The jobs that arrive
//! while a batch is being written make up the next one, so under a burst each transaction
//! carries many jobs, and alone a job waits for nothing. On SQLite each statement is a round trip
//! to the connection's thread and each commit is the one writer's, so that is what a burst costs.
//!
//! No task runs while there is nothing to write: the first job to find none running starts one,
//! and the task ends when it finds the queue empty (both under the queue's lock, so a job is
//! never left waiting with no task to write it). A job whose caller stops waiting is written all
//! the same, and cancels nothing for the others.
//!
//! What a batch is, and how it is written, is the [`Batch`]'s: turns ([`crate::turn`]) and
//! finished answers ([`crate::finish`]) share the rest.

use std::{
    collections::{HashSet, VecDeque},
    fmt, mem,
    sync::{Arc, Mutex, MutexGuard},
};

use tokio::sync::oneshot;
use uuid::Uuid;

use crate::StoreError;

/// One kind of write that is committed in groups, and what it needs to write them.
pub(crate) trait Batch: Sized + Send + Sync + 'static {
    /// One write, as queued.
    type Job: Send + 'static;
    /// What its caller is told when it is written.
    type Output: Send + 'static;
    /// The most jobs one batch takes.
    const MOST: usize;

    /// Jobs with the same key never share a batch: the second one waits, in its place, for the
    /// next (a turn must read the history the one before it writes; one statement can set a row
    /// only once).
    fn key(job: &Self::Job) -> Uuid;

    /// Writes `batch` (at most [`MOST`](Self::MOST) jobs of distinct keys) and replies to each.
    fn write(&self, batch: Vec<Waiting<Self>>) -> impl Future<Output = ()> + Send;

    /// Writes one job in a transaction of its own: how the jobs of a batch the database refused
    /// are written again ([`one_by_one`]), so that the job at fault fails alone.
    fn write_alone(&self, job: &Self::Job) -> impl Future<Output = Result<Self::Output, StoreError>> + Send;
}

/// The jobs waiting to be written, and what writes them.
pub(crate) struct Queue<B: Batch> {
    writer: B,
    state: Mutex<State<B>>,
}

struct State<B: Batch> {
    waiting: VecDeque<Waiting<B>>,
    /// A task is writing, and will take whatever is pushed before it finds the queue empty.
    running: bool,
}

/// A job and where its outcome goes.
pub(crate) struct Waiting<B: Batch> {
    job: B::Job,
    reply: oneshot::Sender<Result<B::Output, StoreError>>,
}

impl<B: Batch> Waiting<B> {
    pub(crate) fn job(&self) -> &B::Job {
        &self.job
    }

    pub(crate) fn reply(self, outcome: Result<B::Output, StoreError>) {
        // A caller that stopped waiting has nothing to be told.
        let _ = self.reply.send(outcome);
    }
}

impl<B: Batch> Queue<B> {
    pub(crate) fn new(writer: B) -> Self {
        Self { writer, state: Mutex::new(State { waiting: VecDeque::new(), running: false }) }
    }

    /// Queues `job` and waits for its outcome, starting the writing task if none runs.
    pub(crate) fn write(
        self: &Arc<Self>,
        job: B::Job,
    ) -> impl Future<Output = Result<B::Output, StoreError>> + Send + 'static {
        let queue = Arc::clone(self);
        async move {
            let (reply, outcome) = oneshot::channel();
            let start = {
                let mut state = queue.state();
                state.waiting.push_back(Waiting { job, reply });
                !mem::replace(&mut state.running, true)
            };
            if start {
                // A task of its own, not this caller's: a client that leaves mid-write must not
                // take the other jobs of the batch with it.
                tokio::spawn(Arc::clone(&queue).drain());
            }
            // The reply is dropped unsent only when the writing task could not go on (a panic).
            outcome.await.unwrap_or(Err(StoreError::Database(sqlx::Error::WorkerCrashed)))
        }
    }

    /// Writes batches until the queue is empty.
    async fn drain(self: Arc<Self>) {
        let mut running = Running { queue: Arc::clone(&self), ended: false };
        loop {
            let batch = {
                let mut state = self.state();
                let batch = take_batch(&mut state.waiting, B::MOST, |w| B::key(&w.job));
                if batch.is_empty() {
                    state.running = false;
                    running.ended = true;
                    return;
                }
                batch
            };
            self.writer.write(batch).await;
        }
    }

    fn state(&self) -> MutexGuard<'_, State<B>> {
        // Only pushes, pops and a flag change under this lock: a panic elsewhere cannot leave
        // it half-done, so a poisoned lock is still good data.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<B: Batch + fmt::Debug> fmt::Debug for Queue<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the waiting jobs: their lock is the writers', not for printing.
        f.debug_struct("Queue").field("writer", &self.writer).finish_non_exhaustive()
    }
}

/// The writing task, until it ends normally. Dropped before that (it panicked, or its runtime is
/// shutting down), it fails the jobs still waiting rather than start another task, which a
/// runtime that is shutting down would cancel before it ran, leaving the queue marked as
/// written forever. Their callers, and those of the batch it was writing, get an error; the
/// next job starts a new task.
struct Running<B: Batch> {
    queue: Arc<Queue<B>>,
    ended: bool,
}

impl<B: Batch> Drop for Running<B> {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let mut state = self.queue.state();
        state.running = false;
        // Dropping their reply senders tells their callers.
        state.waiting.clear();
    }
}

/// Takes, in order, up to `most` of `waiting` with distinct keys. A second job for a key stays,
/// in its place, for a later batch.
fn take_batch<T>(waiting: &mut VecDeque<T>, most: usize, key: impl Fn(&T) -> Uuid) -> Vec<T> {
    let mut batch = Vec::new();
    let mut taken = HashSet::new();
    let mut kept = VecDeque::new();
    while batch.len() < most
        && let Some(next) = waiting.pop_front()
    {
        if taken.insert(key(&next)) {
            batch.push(next);
        } else {
            kept.push_back(next);
        }
    }
    kept.append(waiting);
    *waiting = kept;
    batch
}

/// Whether the jobs of a batch the database did not write are tried again one by one: only
/// when the database refused a statement (a constraint, a deadlock, a value it cannot store),
/// which rolled the transaction back whole, so that the job at fault fails alone. Any other
/// error (no connection in time, the store closing, a connection lost, perhaps during the
/// commit) goes to every job as it is: writing them again could write some twice, or wait as
/// long again for each.
pub(crate) fn retry_alone(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(_))
}

/// Writes each job of a batch the database refused alone ([`Batch::write_alone`]), so that the
/// job at fault fails alone. An error other than the database's refusal (see [`retry_alone`]:
/// the connection lost, no connection in time) ends it: the jobs not tried yet get that error
/// at once, rather than each waiting as long for it again.
pub(crate) async fn one_by_one<B: Batch>(writer: &B, batch: Vec<Waiting<B>>) {
    let mut rest = batch.into_iter();
    while let Some(waiting) = rest.next() {
        let outcome = writer.write_alone(waiting.job()).await;
        let lost = match &outcome {
            Err(StoreError::Database(error)) if !retry_alone(error) => Some(again(error)),
            _ => None,
        };
        waiting.reply(outcome);
        if let Some(error) = lost {
            return fail_all(rest.collect(), &error);
        }
    }
}

/// Gives every job of `batch` `error` (one that [`retry_alone`] does not retry).
pub(crate) fn fail_all<B: Batch>(batch: Vec<Waiting<B>>, error: &sqlx::Error) {
    for waiting in batch {
        waiting.reply(Err(StoreError::Database(again(error))));
    }
}

/// `error` again, for the next job of the batch (`sqlx::Error` is not `Clone`).
fn again(error: &sqlx::Error) -> sqlx::Error {
    match error {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        other => sqlx::Error::Io(std::io::Error::other(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_takes_one_job_per_key_and_leaves_the_rest_in_order() {
        let [a, b, c] = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
        let mut waiting: VecDeque<(Uuid, u32)> = [(a, 1), (a, 2), (b, 3), (a, 4), (c, 5), (b, 6)].into();

        let first = take_batch(&mut waiting, 128, |job| job.0);
        let second = take_batch(&mut waiting, 128, |job| job.0);
        let third = take_batch(&mut waiting, 128, |job| job.0);

        assert_eq!(first, [(a, 1), (b, 3), (c, 5)]);
        assert_eq!(second, [(a, 2), (b, 6)]);
        assert_eq!(third, [(a, 4)]);
        assert!(waiting.is_empty());
    }

    /// Jobs written alone as scripted: a job's number says how its write goes.
    struct Scripted {
        tried: Mutex<Vec<u32>>,
    }

    impl Batch for Scripted {
        type Job = u32;
        type Output = u32;
        const MOST: usize = 8;

        fn key(_: &u32) -> Uuid {
            Uuid::now_v7()
        }

        async fn write(&self, _: Vec<Waiting<Self>>) {
            unreachable!("only written one by one here")
        }

        async fn write_alone(&self, job: &u32) -> Result<u32, StoreError> {
            self.tried.lock().unwrap().push(*job);
            match job {
                // The job's own fault: the rest are still written.
                2 => Err(StoreError::NotFound),
                // The database is out of reach: so it is for the rest.
                4 => Err(StoreError::Database(sqlx::Error::PoolTimedOut)),
                _ => Ok(*job),
            }
        }
    }

    #[tokio::test]
    async fn written_one_by_one_a_batch_stops_at_an_error_that_is_not_the_jobs_own() {
        let writer = Scripted { tried: Mutex::default() };
        let (batch, outcomes): (Vec<_>, Vec<_>) = (1..=6)
            .map(|job| {
                let (reply, outcome) = oneshot::channel();
                (Waiting { job, reply }, outcome)
            })
            .unzip();

        one_by_one(&writer, batch).await;

        assert_eq!(*writer.tried.lock().unwrap(), [1, 2, 3, 4], "5 and 6 are not tried");
        let outcomes: Vec<String> = futures_util::future::join_all(outcomes)
            .await
            .into_iter()
            .map(|o| format!("{:?}", o.unwrap()))
            .collect();
        assert_eq!(outcomes[..3], ["Ok(1)", "Err(NotFound)", "Ok(3)"]);
        assert!(outcomes[3..].iter().all(|o| o.contains("PoolTimedOut")), "{outcomes:?}");
    }

    #[test]
    fn a_batch_stops_at_its_size_and_the_rest_waits() {
        let mut waiting: VecDeque<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
        let all: Vec<Uuid> = waiting.iter().copied().collect();

        let first = take_batch(&mut waiting, 2, |id| *id);

        assert_eq!(first, all[..2]);
        assert_eq!(waiting, &all[2..]);
    }
}
