//! Writes the stored answers while they stream, without a database write per token: the text
//! is kept once, by the running answer for its followers (its [`Transcript`]), and one flusher
//! ([`AnswerLogs::flush_every`]) writes what every answer said since the last flush in one
//! statement every [`FLUSH_INTERVAL`] (sooner once an answer has [`FLUSH_BYTES`] unwritten).
//! How an answer ended is recorded exactly once, by a task of its own, after any flush that
//! holds its earlier text. A log dropped before the answer ended records it as `stopped`, with
//! the text received so far.
//!
//! An answer the store no longer has as `streaming` when a flush writes it (another replica
//! marked it `interrupted` while this one could not renew its lease, or its conversation was
//! deleted) is no longer this process's to record: the flush ends it ([`AnswerToken::lose`]),
//! and with it the upstream generation.
//!
//! One write for all answers, rather than one per answer: 1,000 answers streaming into SQLite
//! cost two statements a second, not 2,000, and each statement is a round trip to SQLite's
//! thread (or a PostgreSQL connection).

mod blocks;
mod finish;
#[cfg(test)]
mod tests;

use std::{
    fmt,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use streambed_core::{ChatEvent, Completion, ProviderError};
use streambed_store::{Append, ConversationStore, Ended, Finish};
use tokio::{sync::Notify, task::JoinHandle};
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use self::{blocks::ReasoningBlocks, finish::finish};
use crate::{answer_token::AnswerToken, frame::Cursor};

/// Longest a delta waits in memory: what a crash can lose.
const FLUSH_INTERVAL: Duration = Duration::from_millis(500);
/// An answer with this much text unwritten is flushed at once.
const FLUSH_BYTES: usize = 16 * 1024;

/// Where a stored answer's text is kept while it runs: the running answer's own, which its
/// followers read too. The log reads from it what no flush has written yet, so each token is
/// kept once (and taken without a second lock per token). A transcript is read under its log's
/// lock, so it must never take that lock itself.
pub(crate) trait Transcript: Send + Sync + fmt::Debug {
    /// The text from byte `from.text` on, and the reasoning from byte `from.reasoning` on.
    fn since(&self, from: Cursor) -> (String, String);
}

/// The answers this process is writing, flushed together.
#[derive(Debug)]
pub(crate) struct AnswerLogs {
    store: Arc<dyn ConversationStore>,
    open: Mutex<Vec<Arc<Shared>>>,
    /// An answer has [`FLUSH_BYTES`] unwritten: flush now.
    full: Notify,
}

/// The handle on one stored answer's record.
#[derive(Debug)]
pub(crate) struct AnswerLog {
    shared: Arc<Shared>,
    logs: Arc<AnswerLogs>,
    /// Records how the answer ended ([`finish`]); `true` when its record was lost.
    finisher: Option<JoinHandle<bool>>,
    /// Bytes of text and reasoning the log was told of (each just before the transcript keeps
    /// them).
    said: usize,
    /// When the answer's request arrived.
    started: Instant,
}

#[derive(Debug)]
struct Shared {
    message: Uuid,
    transcript: Arc<dyn Transcript>,
    pending: Mutex<Pending>,
    /// Bytes of text and reasoning the flushes have written or are writing, to be read without
    /// the lock: so a flush under way is not asked for again by every token while it writes.
    taken: AtomicUsize,
    /// The answer ended, or a flush holding its text is done: for its finisher.
    changed: Notify,
    /// Ends the answer when its record is lost.
    token: AnswerToken,
    /// A flush found the record no longer streaming.
    lost: AtomicBool,
}

#[derive(Debug, Default)]
struct Pending {
    /// What the flushes have written of the transcript.
    written: Cursor,
    /// The reasoning as sent, block by block with signatures: kept whole until the end.
    blocks: ReasoningBlocks,
    finish: Option<Finish>,
    /// A flush is writing the text past `written`: the finish waits for it.
    flushing: bool,
    /// The finish has taken the rest: flushes leave this answer alone.
    closed: bool,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding this lock cannot leave it half-updated (offsets and flags are
        // set whole, and reasoning blocks pushed whole), so a poisoned lock is still good data.
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl AnswerLogs {
    pub(crate) fn new(store: Arc<dyn ConversationStore>) -> Self {
        Self { store, open: Mutex::default(), full: Notify::new() }
    }

    /// Starts the record of `message`, whose text `transcript` keeps and which `token` ends
    /// should the record be lost, for a request that arrived at `started`: it joins the
    /// flushes, and the task that will record how it ended is tracked by `writers` so shutdown
    /// can wait for it.
    pub(crate) fn start(
        self: &Arc<Self>,
        message: Uuid,
        transcript: Arc<dyn Transcript>,
        token: AnswerToken,
        started: Instant,
        writers: &TaskTracker,
    ) -> AnswerLog {
        let shared = Arc::new(Shared {
            message,
            transcript,
            pending: Mutex::default(),
            taken: AtomicUsize::new(0),
            changed: Notify::new(),
            token,
            lost: AtomicBool::new(false),
        });
        self.open().push(Arc::clone(&shared));
        let finisher = writers.spawn(finish(Arc::clone(&self.store), Arc::clone(&shared)));
        AnswerLog { shared, logs: Arc::clone(self), finisher: Some(finisher), said: 0, started }
    }

    fn open(&self) -> MutexGuard<'_, Vec<Arc<Shared>>> {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Flushes every [`FLUSH_INTERVAL`], or when an answer has [`FLUSH_BYTES`] unwritten, for as
    /// long as the server runs (started by `Conversations::spawn_upkeep`).
    pub(crate) async fn flush_every(self: Arc<Self>) {
        let mut every = tokio::time::interval(FLUSH_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                () = self.full.notified() => {}
            }
            self.flush().await;
        }
    }

    /// Writes what every open answer said since the last flush, in one batch. Text that cannot
    /// be written stays unwritten, for the next flush to retry.
    async fn flush(&self) {
        let store = &*self.store;
        let open: Vec<Arc<Shared>> = {
            let mut open = self.open();
            open.retain(|shared| !shared.pending().closed);
            open.clone()
        };
        let mut batch = Vec::new();
        let mut writing = Vec::new();
        for shared in open {
            let mut pending = shared.pending();
            // A lost record is not written again while its answer ends.
            if pending.closed || shared.lost.load(Ordering::Acquire) {
                continue;
            }
            let (text, reasoning) = shared.transcript.since(pending.written);
            if text.is_empty() && reasoning.is_empty() {
                continue;
            }
            pending.flushing = true;
            shared.taken.store(pending.written.bytes() + text.len() + reasoning.len(), Ordering::Relaxed);
            batch.push(Append { message: shared.message, text, reasoning });
            drop(pending);
            writing.push(shared);
        }
        if batch.is_empty() {
            return;
        }
        let (written, lost) = match store.append_answers(&batch).await {
            Ok(lost) => (vec![true; batch.len()], lost),
            Err(e) => {
                tracing::warn!(answers = batch.len(), error = %e, "cannot store the answers' text together");
                append_one_by_one(store, &batch).await
            }
        };
        for shared in writing.iter().filter(|shared| lost.contains(&shared.message)) {
            tracing::warn!(
                message_id = %shared.message,
                "stopping an answer whose record is no longer this server's: its conversation was \
                 deleted, or another replica marked it interrupted while this one could not renew \
                 its lease (the database out of reach, or this process paused)"
            );
            shared.lost.store(true, Ordering::Release);
            shared.token.lose();
        }
        for ((shared, append), written) in writing.into_iter().zip(batch).zip(written) {
            let mut pending = shared.pending();
            if written {
                pending.written.text += append.text.len();
                pending.written.reasoning += append.reasoning.len();
            } else {
                shared.taken.store(pending.written.bytes(), Ordering::Relaxed);
            }
            pending.flushing = false;
            drop(pending);
            shared.changed.notify_one();
        }
    }
}

/// Each answer's text of a batch the database refused, on its own: one answer's text can fail
/// the whole batch (PostgreSQL refuses a NUL byte in text), and then fails alone. Whether each
/// was written, and the answers whose record is gone.
async fn append_one_by_one(store: &dyn ConversationStore, batch: &[Append]) -> (Vec<bool>, Vec<Uuid>) {
    let mut written = Vec::with_capacity(batch.len());
    let mut lost = Vec::new();
    for append in batch {
        match store.append_answers(std::slice::from_ref(append)).await {
            Ok(gone) => {
                lost.extend(gone);
                written.push(true);
            }
            Err(e) => {
                tracing::warn!(message_id = %append.message, error = %e, "cannot store part of an answer yet");
                written.push(false);
            }
        }
    }
    (written, lost)
}

impl AnswerLog {
    /// Records an event the relay is about to send; a text delta is only counted, as its
    /// transcript keeps it.
    pub(crate) fn event(&mut self, event: &ChatEvent) {
        match event {
            ChatEvent::Text(text) => self.said(text.len()),
            ChatEvent::Reasoning(text) => {
                self.said(text.len());
                self.shared.pending().blocks.text(text);
            }
            ChatEvent::ReasoningSignature(signature) => self.shared.pending().blocks.signature(signature),
            ChatEvent::RedactedReasoning(data) => self.shared.pending().blocks.redacted(data),
            ChatEvent::Done(completion) => {
                self.shared.pending().finish = Some(complete(completion, self.started.elapsed()));
                self.shared.changed.notify_one();
            }
            // A chat in a stored conversation offers no tools.
            ChatEvent::ToolCall { .. } | ChatEvent::ToolInput(_) => {}
        }
    }

    /// Counts `bytes` more said, and asks for a flush once too much is unwritten.
    fn said(&mut self, bytes: usize) {
        self.said += bytes;
        // Saturating: `said` runs ahead of the transcript, and so of what a flush can take,
        // only because the relay tells the log first (`live::task`).
        if self.said.saturating_sub(self.shared.taken.load(Ordering::Relaxed)) >= FLUSH_BYTES {
            self.logs.full.notify_one();
        }
    }

    /// Records the error that ended the answer.
    pub(crate) fn error(&self, error: &ProviderError) {
        self.end(Finish {
            error_code: Some(error.kind.code().to_owned()),
            ..Finish::with_status(Ended::Error)
        });
    }

    /// Records that the answer was stopped before its end.
    pub(crate) fn stopped(&self) {
        self.end(Finish::with_status(Ended::Stopped));
    }

    fn end(&self, finish: Finish) {
        self.shared.pending().finish.get_or_insert(finish);
        self.shared.changed.notify_one();
    }

    /// Waits until the answer's last write is done (after it ended, or as `stopped` if not).
    pub(crate) async fn written(mut self) {
        self.wait_written().await;
    }

    /// [`written`](Self::written) for a log that stays where it is; `true` when the record was
    /// lost, and so says something else than how the answer ended here (see the module's
    /// documentation).
    pub(crate) async fn wait_written(&mut self) -> bool {
        self.stopped();
        match self.finisher.take() {
            Some(finisher) => finisher.await.unwrap_or(false),
            None => self.shared.lost.load(Ordering::Acquire),
        }
    }
}

impl Drop for AnswerLog {
    /// A log dropped before its answer ended (a panic, a cancelled task) still leaves a record.
    fn drop(&mut self) {
        self.stopped();
    }
}

/// A complete answer's record, which took `latency` since its request (as its `done` says).
fn complete(completion: &Completion, latency: Duration) -> Finish {
    Finish {
        stop_reason: Some(completion.stop_reason.as_str().to_owned()),
        usage: Some(completion.usage),
        latency_ms: Some(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX)),
        ..Finish::with_status(Ended::Complete)
    }
}
