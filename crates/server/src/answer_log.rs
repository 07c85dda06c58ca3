//! Writes one stored answer while it streams, without a database write per token: the relay
//! appends deltas to a buffer in memory, and a writer task flushes the buffer every
//! [`FLUSH_INTERVAL`] (or sooner once it holds [`FLUSH_BYTES`]), then records how the answer
//! ended exactly once. A log dropped before the answer ended records it as `stopped`, with the
//! text received so far.

use std::{
    mem,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use streambed_core::{ChatEvent, Completion, ProviderError};
use streambed_store::{ConversationStore, Finish, MessageStatus};
use tokio::{sync::Notify, task::JoinHandle};
use tokio_util::task::TaskTracker;
use uuid::Uuid;

/// Longest a delta waits in memory: what a crash can lose.
const FLUSH_INTERVAL: Duration = Duration::from_millis(500);
/// A buffer this large is flushed at once.
const FLUSH_BYTES: usize = 16 * 1024;

/// The handle on one stored answer's record.
#[derive(Debug)]
pub struct AnswerLog {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    pending: Mutex<Pending>,
    wake: Notify,
}

#[derive(Debug, Default)]
struct Pending {
    text: String,
    reasoning: String,
    finish: Option<Finish>,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding this lock cannot leave the buffer half-written (only
        // `push_str`/`take` run under it), so a poisoned lock is still good data.
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl AnswerLog {
    /// Starts the writer for `message`, tracked by `writers` so shutdown can wait for it.
    pub fn start(store: Arc<dyn ConversationStore>, message: Uuid, writers: &TaskTracker) -> Self {
        let shared = Arc::new(Shared::default());
        let writer = writers.spawn(write(store, message, Arc::clone(&shared)));
        Self { shared, writer: Some(writer) }
    }

    /// Records an event the relay is about to send.
    pub fn event(&self, event: &ChatEvent) {
        let mut pending = self.shared.pending();
        match event {
            ChatEvent::Text(text) => pending.text.push_str(text),
            ChatEvent::Reasoning(text) => pending.reasoning.push_str(text),
            ChatEvent::Done(completion) => pending.finish = Some(complete(completion)),
            // Signatures and tool calls are not part of a stored chat answer yet.
            _ => {}
        }
        let full = pending.text.len() + pending.reasoning.len() >= FLUSH_BYTES;
        let done = pending.finish.is_some();
        drop(pending);
        if full || done {
            self.shared.wake.notify_one();
        }
    }

    /// Records the error that ended the answer.
    pub fn error(&self, error: &ProviderError) {
        self.end(Finish {
            status: MessageStatus::Error,
            stop_reason: None,
            usage: None,
            error_code: Some(error.kind.code().to_owned()),
        });
    }

    /// Records that the answer was stopped before its end.
    pub fn stopped(&self) {
        self.end(Finish { status: MessageStatus::Stopped, stop_reason: None, usage: None, error_code: None });
    }

    fn end(&self, finish: Finish) {
        self.shared.pending().finish.get_or_insert(finish);
        self.shared.wake.notify_one();
    }

    /// Waits until the answer's last write is done (after it ended, or as `stopped` if not).
    pub async fn written(mut self) {
        self.stopped();
        if let Some(writer) = self.writer.take() {
            let _ = writer.await;
        }
    }
}

impl Drop for AnswerLog {
    /// A log dropped before its answer ended (a panic, a cancelled task) still leaves a record.
    fn drop(&mut self) {
        self.stopped();
    }
}

fn complete(completion: &Completion) -> Finish {
    Finish {
        status: MessageStatus::Complete,
        stop_reason: Some(completion.stop_reason.as_str().to_owned()),
        usage: Some(completion.usage),
        error_code: None,
    }
}

/// The writer task: flushes batches until the answer has ended, then finishes it.
async fn write(store: Arc<dyn ConversationStore>, message: Uuid, shared: Arc<Shared>) {
    loop {
        tokio::select! {
            () = shared.wake.notified() => {}
            () = tokio::time::sleep(FLUSH_INTERVAL) => {}
        }
        let (text, reasoning, finish) = {
            let mut pending = shared.pending();
            (mem::take(&mut pending.text), mem::take(&mut pending.reasoning), pending.finish.take())
        };
        if let Some(finish) = finish {
            let status = finish.status;
            if let Err(e) = store.finish_answer(message, &text, &reasoning, finish).await {
                tracing::error!(%message, ?status, error = %e, "cannot record how the answer ended");
            }
            return;
        }
        if text.is_empty() && reasoning.is_empty() {
            continue;
        }
        if let Err(e) = store.append_answer(message, &text, &reasoning).await {
            // Put the batch back in front of what came since, for the next flush to retry.
            tracing::warn!(%message, error = %e, bytes = text.len(), "cannot store part of an answer yet");
            let mut pending = shared.pending();
            pending.text.insert_str(0, &text);
            pending.reasoning.insert_str(0, &reasoning);
        }
    }
}
