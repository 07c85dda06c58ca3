//! Group commit for turns: a turn joins a queue, and one task at a time writes what is waiting,
//! up to [`sql::BATCH_TURNS`] turns of distinct conversations a batch, until the queue is empty.
//! The turns that arrive while a batch is being written make up the next one, so under a burst
//! each transaction carries many turns, and alone a turn waits for nothing.
//!
//! No task runs while there is nothing to write: the first turn to find none running starts
//! one, and the task ends when it finds the queue empty (both under the queue's lock, so a turn
//! is never left waiting with no task to write it). A turn whose caller stops waiting is written
//! all the same, and cancels nothing for the others.

use std::{
    collections::{HashSet, VecDeque},
    mem,
    sync::{Arc, Mutex, MutexGuard},
};

use tokio::sync::oneshot;
use uuid::Uuid;

use super::{Request, Turn, batch};
use crate::{StoreError, backend::Pools, sql};

/// The turns waiting to be written, and the writer's own handle on the database.
#[derive(Debug)]
pub(crate) struct TurnQueue {
    pools: Pools,
    /// The most messages a conversation holds.
    limit: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    waiting: VecDeque<Waiting>,
    /// A task is writing, and will take whatever is pushed before it finds the queue empty.
    running: bool,
}

/// A turn and where its outcome goes.
#[derive(Debug)]
pub(super) struct Waiting {
    request: Request,
    reply: oneshot::Sender<Result<Turn, StoreError>>,
}

impl Waiting {
    pub(super) fn request(&self) -> &Request {
        &self.request
    }

    pub(super) fn reply(self, outcome: Result<Turn, StoreError>) {
        // A caller that stopped waiting has nothing to be told.
        let _ = self.reply.send(outcome);
    }
}

impl TurnQueue {
    pub(crate) fn new(pools: Pools, limit: u64) -> Self {
        Self { pools, limit, state: Mutex::default() }
    }

    /// Queues `request` and waits for its outcome, starting the writing task if none runs.
    pub(crate) fn write(
        self: &Arc<Self>,
        request: Request,
    ) -> impl Future<Output = Result<Turn, StoreError>> + Send + 'static {
        let queue = Arc::clone(self);
        async move {
            let (reply, outcome) = oneshot::channel();
            let start = {
                let mut state = queue.state();
                state.waiting.push_back(Waiting { request, reply });
                !mem::replace(&mut state.running, true)
            };
            if start {
                // A task of its own, not this caller's: a client that leaves mid-turn must not
                // take the other turns of the batch with it.
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
                let batch = take_batch(&mut state.waiting, sql::BATCH_TURNS, |w| w.request.conversation);
                if batch.is_empty() {
                    state.running = false;
                    running.ended = true;
                    return;
                }
                batch
            };
            batch::write(&self.pools, self.limit, batch).await;
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Only pushes, pops and a flag change under this lock: a panic elsewhere cannot leave
        // it half-done, so a poisoned lock is still good data.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The writing task, until it ends normally. Dropped before that (it panicked, or its runtime is
/// shutting down), it hands the turns still waiting to a new task, so none is stranded; the
/// turns of the batch it was writing were dropped with it, and their callers get an error.
struct Running {
    queue: Arc<TurnQueue>,
    ended: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let mut state = self.queue.state();
        if state.waiting.is_empty() {
            state.running = false;
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                drop(state);
                runtime.spawn(Arc::clone(&self.queue).drain());
            }
            // No runtime to write them: their callers get an error rather than wait forever.
            Err(_) => {
                state.running = false;
                state.waiting.clear();
            }
        }
    }
}

/// Takes, in order, up to `most` of `waiting` with distinct conversations. A second turn for a
/// conversation stays, in its place, for a later batch: it must read the history the first one
/// writes.
fn take_batch<T>(waiting: &mut VecDeque<T>, most: usize, conversation: impl Fn(&T) -> Uuid) -> Vec<T> {
    let mut batch = Vec::new();
    let mut taken = HashSet::new();
    let mut kept = VecDeque::new();
    while batch.len() < most
        && let Some(next) = waiting.pop_front()
    {
        if taken.insert(conversation(&next)) {
            batch.push(next);
        } else {
            kept.push_back(next);
        }
    }
    kept.append(waiting);
    *waiting = kept;
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_takes_one_turn_per_conversation_and_leaves_the_rest_in_order() {
        let [a, b, c] = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
        let mut waiting: VecDeque<(Uuid, u32)> = [(a, 1), (a, 2), (b, 3), (a, 4), (c, 5), (b, 6)].into();

        let first = take_batch(&mut waiting, 128, |turn| turn.0);
        let second = take_batch(&mut waiting, 128, |turn| turn.0);
        let third = take_batch(&mut waiting, 128, |turn| turn.0);

        assert_eq!(first, [(a, 1), (b, 3), (c, 5)]);
        assert_eq!(second, [(a, 2), (b, 6)]);
        assert_eq!(third, [(a, 4)]);
        assert!(waiting.is_empty());
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
