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

use streambed_core::{ChatEvent, Completion, ProviderError, ReasoningBlock};
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
    /// The reasoning as sent, block by block with signatures: kept whole until the end.
    blocks: ReasoningBlocks,
    finish: Option<Finish>,
}

/// Reasoning blocks as they arrive: text runs closed by their signature, redacted blocks.
#[derive(Debug, Default)]
struct ReasoningBlocks {
    done: Vec<ReasoningBlock>,
    open: Option<String>,
}

impl ReasoningBlocks {
    fn text(&mut self, text: &str) {
        self.open.get_or_insert_with(String::new).push_str(text);
    }

    fn signature(&mut self, signature: &str) {
        let text = self.open.take().unwrap_or_default();
        self.done.push(ReasoningBlock::Text { text, signature: Some(signature.to_owned()) });
    }

    fn redacted(&mut self, data: &str) {
        self.done.push(ReasoningBlock::Redacted { data: data.to_owned() });
    }

    /// The signed and redacted blocks; an unsigned run cannot be sent back, so it is left out
    /// (its text is in the message's reasoning).
    fn take(&mut self) -> Vec<ReasoningBlock> {
        self.open = None;
        mem::take(&mut self.done)
    }
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
            ChatEvent::Reasoning(text) => {
                pending.reasoning.push_str(text);
                pending.blocks.text(text);
            }
            ChatEvent::ReasoningSignature(signature) => pending.blocks.signature(signature),
            ChatEvent::RedactedReasoning(data) => pending.blocks.redacted(data),
            ChatEvent::Done(completion) => pending.finish = Some(complete(completion)),
            // A chat in a stored conversation offers no tools.
            ChatEvent::ToolCall { .. } | ChatEvent::ToolInput(_) => {}
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
            error_code: Some(error.kind.code().to_owned()),
            ..Finish::with_status(MessageStatus::Error)
        });
    }

    /// Records that the answer was stopped before its end.
    pub fn stopped(&self) {
        self.end(Finish::with_status(MessageStatus::Stopped));
    }

    fn end(&self, finish: Finish) {
        self.shared.pending().finish.get_or_insert(finish);
        self.shared.wake.notify_one();
    }

    /// Waits until the answer's last write is done (after it ended, or as `stopped` if not).
    pub async fn written(mut self) {
        self.wait_written().await;
    }

    /// [`written`](Self::written) for a log that stays where it is.
    pub async fn wait_written(&mut self) {
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
        stop_reason: Some(completion.stop_reason.as_str().to_owned()),
        usage: Some(completion.usage),
        ..Finish::with_status(MessageStatus::Complete)
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
            let finish = pending
                .finish
                .take()
                .map(|finish| Finish { reasoning_blocks: pending.blocks.take(), ..finish });
            (mem::take(&mut pending.text), mem::take(&mut pending.reasoning), finish)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_blocks_close_at_their_signature_and_unsigned_runs_are_left_out() {
        let mut blocks = ReasoningBlocks::default();
        blocks.text("Let me ");
        blocks.text("think.");
        blocks.signature("sig-1");
        blocks.redacted("b64");
        blocks.text("cut off before its signature");

        assert_eq!(
            blocks.take(),
            [
                ReasoningBlock::Text { text: "Let me think.".into(), signature: Some("sig-1".into()) },
                ReasoningBlock::Redacted { data: "b64".into() },
            ]
        );
        assert!(blocks.take().is_empty());
    }
}
