//! Writes the stored answers while they stream, without a database write per token: the text
//! is kept once, by the running answer for its followers (its [`Transcript`]), and one flusher
//! ([`AnswerLogs::flush_every`]) writes what every answer said since the last flush in one
//! statement every [`FLUSH_INTERVAL`] (sooner once an answer has [`FLUSH_BYTES`] unwritten).
//! How an answer ended is recorded exactly once, by a task of its own, after any flush that
//! holds its earlier text. A log dropped before the answer ended records it as `stopped`, with
//! the text received so far.
//!
//! One write for all answers, rather than one per answer: 1,000 answers streaming into SQLite
//! cost two statements a second, not 2,000, and each statement is a round trip to SQLite's
//! thread (or a PostgreSQL connection).

use std::{
    fmt, mem,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use streambed_core::{ChatEvent, Completion, ProviderError, ReasoningBlock};
use streambed_store::{Append, ConversationStore, Finish, MessageStatus};
use tokio::{sync::Notify, task::JoinHandle};
use tokio_util::task::TaskTracker;
use uuid::Uuid;

/// Longest a delta waits in memory: what a crash can lose.
const FLUSH_INTERVAL: Duration = Duration::from_millis(500);
/// An answer with this much text unwritten is flushed at once.
const FLUSH_BYTES: usize = 16 * 1024;

/// Where a stored answer's text is kept while it runs: the running answer's own, which its
/// followers read too. The log reads from it what no flush has written yet, so each token is
/// kept once (and taken without a second lock per token). A transcript is read under its log's
/// lock, so it must never take that lock itself.
pub trait Transcript: Send + Sync + fmt::Debug {
    /// The text from byte `from.text` on, and the reasoning from byte `from.reasoning` on.
    fn since(&self, from: Offsets) -> (String, String);
}

/// Bytes of an answer's text and of its reasoning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offsets {
    pub text: usize,
    pub reasoning: usize,
}

/// The answers this process is writing, flushed together.
#[derive(Debug)]
pub struct AnswerLogs {
    store: Arc<dyn ConversationStore>,
    open: Mutex<Vec<Arc<Shared>>>,
    /// A buffer is full: flush now.
    full: Notify,
}

/// The handle on one stored answer's record.
#[derive(Debug)]
pub struct AnswerLog {
    shared: Arc<Shared>,
    logs: Arc<AnswerLogs>,
    finisher: Option<JoinHandle<()>>,
    /// Bytes of text and reasoning the answer has said.
    said: usize,
}

#[derive(Debug)]
struct Shared {
    message: Uuid,
    transcript: Arc<dyn Transcript>,
    pending: Mutex<Pending>,
    /// Bytes of text and reasoning the flushes have written: `pending.written`, summed, to be
    /// read without the lock.
    written: AtomicUsize,
    /// The answer ended, or a flush holding its text is done: for its finisher.
    changed: Notify,
}

#[derive(Debug, Default)]
struct Pending {
    /// What the flushes have written of the transcript.
    written: Offsets,
    /// The reasoning as sent, block by block with signatures: kept whole until the end.
    blocks: ReasoningBlocks,
    finish: Option<Finish>,
    /// A flush is writing the text past `written`: the finish waits for it.
    flushing: bool,
    /// The finish has taken the rest: flushes leave this answer alone.
    closed: bool,
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

impl AnswerLogs {
    pub fn new(store: Arc<dyn ConversationStore>) -> Self {
        Self { store, open: Mutex::default(), full: Notify::new() }
    }

    /// Starts the record of `message`, whose text `transcript` keeps: it joins the flushes,
    /// and the task that will record how it ended is tracked by `writers` so shutdown can wait
    /// for it.
    pub fn start(
        self: &Arc<Self>,
        message: Uuid,
        transcript: Arc<dyn Transcript>,
        writers: &TaskTracker,
    ) -> AnswerLog {
        let shared = Arc::new(Shared {
            message,
            transcript,
            pending: Mutex::default(),
            written: AtomicUsize::new(0),
            changed: Notify::new(),
        });
        self.open().push(Arc::clone(&shared));
        let finisher = writers.spawn(finish(Arc::clone(&self.store), Arc::clone(&shared)));
        AnswerLog { shared, logs: Arc::clone(self), finisher: Some(finisher), said: 0 }
    }

    fn open(&self) -> MutexGuard<'_, Vec<Arc<Shared>>> {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Flushes every [`FLUSH_INTERVAL`], or when a buffer is full, for as long as the server
    /// runs (started by `Conversations::spawn_upkeep`).
    pub async fn flush_every(self: Arc<Self>) {
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
        let mut taken = Vec::new();
        for shared in open {
            let mut pending = shared.pending();
            if pending.closed {
                continue;
            }
            let (text, reasoning) = shared.transcript.since(pending.written);
            if text.is_empty() && reasoning.is_empty() {
                continue;
            }
            pending.flushing = true;
            batch.push(Append { message: shared.message, text, reasoning });
            drop(pending);
            taken.push(shared);
        }
        if batch.is_empty() {
            return;
        }
        let written = match store.append_answers(&batch).await {
            Ok(()) => vec![true; batch.len()],
            // One answer's text can fail the whole batch (PostgreSQL refuses a NUL byte in
            // text): each is tried on its own, so it fails alone.
            Err(e) => {
                tracing::warn!(answers = batch.len(), error = %e, "cannot store the answers' text together");
                let mut written = Vec::with_capacity(batch.len());
                for append in &batch {
                    let alone = store.append_answers(std::slice::from_ref(append)).await;
                    if let Err(e) = &alone {
                        tracing::warn!(message = %append.message, error = %e, "cannot store part of an answer yet");
                    }
                    written.push(alone.is_ok());
                }
                written
            }
        };
        for ((shared, append), written) in taken.into_iter().zip(batch).zip(written) {
            let mut pending = shared.pending();
            if written {
                pending.written.text += append.text.len();
                pending.written.reasoning += append.reasoning.len();
                shared.written.store(pending.written.text + pending.written.reasoning, Ordering::Relaxed);
            }
            pending.flushing = false;
            drop(pending);
            shared.changed.notify_one();
        }
    }
}

impl AnswerLog {
    /// Records an event the relay is about to send; a text delta is only counted, as its
    /// transcript keeps it.
    pub fn event(&mut self, event: &ChatEvent) {
        let mut pending = match event {
            ChatEvent::Text(text) => return self.said(text.len()),
            // A chat in a stored conversation offers no tools.
            ChatEvent::ToolCall { .. } | ChatEvent::ToolInput(_) => return,
            ChatEvent::Reasoning(text) => {
                self.said(text.len());
                self.shared.pending()
            }
            _ => self.shared.pending(),
        };
        match event {
            ChatEvent::Reasoning(text) => pending.blocks.text(text),
            ChatEvent::ReasoningSignature(signature) => pending.blocks.signature(signature),
            ChatEvent::RedactedReasoning(data) => pending.blocks.redacted(data),
            ChatEvent::Done(completion) => pending.finish = Some(complete(completion)),
            _ => {}
        }
        let done = pending.finish.is_some();
        drop(pending);
        if done {
            self.shared.changed.notify_one();
        }
    }

    /// Counts `bytes` more said, and asks for a flush once too much is unwritten.
    fn said(&mut self, bytes: usize) {
        self.said += bytes;
        if self.said - self.shared.written.load(Ordering::Relaxed) >= FLUSH_BYTES {
            self.logs.full.notify_one();
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
        self.shared.changed.notify_one();
    }

    /// Waits until the answer's last write is done (after it ended, or as `stopped` if not).
    pub async fn written(mut self) {
        self.wait_written().await;
    }

    /// [`written`](Self::written) for a log that stays where it is.
    pub async fn wait_written(&mut self) {
        self.stopped();
        if let Some(finisher) = self.finisher.take() {
            let _ = finisher.await;
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

/// Records how the answer ended, with the text no flush has written yet, once the answer has
/// ended and no flush is writing its earlier text.
async fn finish(store: Arc<dyn ConversationStore>, shared: Arc<Shared>) {
    let ((text, reasoning), finish) = loop {
        {
            let mut pending = shared.pending();
            if !pending.flushing
                && let Some(finish) = pending.finish.take()
            {
                pending.closed = true;
                let finish = Finish { reasoning_blocks: pending.blocks.take(), ..finish };
                break (shared.transcript.since(pending.written), finish);
            }
        }
        // `notify_one` keeps a wake-up that came before this wait.
        shared.changed.notified().await;
    };
    let (message, status) = (shared.message, finish.status);
    if let Err(e) = store.finish_answer(message, &text, &reasoning, finish).await {
        tracing::error!(%message, ?status, error = %e, "cannot record how the answer ended");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use streambed_store::{Owner, ReplicaId, StoreLimits};

    /// Answers started in a fresh SQLite store, as the chat route starts them.
    async fn answers(n: usize) -> (tempfile::TempDir, Arc<dyn ConversationStore>, Owner, Vec<(Uuid, Uuid)>) {
        let dir = streambed_testkit::scratch_dir("answer-log");
        let url = format!("sqlite:{}", dir.path().join("s.db").display());
        let limits = StoreLimits { max_conversations_per_owner: 100, max_messages_per_conversation: 100 };
        let store = streambed_store::open(&url, limits).await.unwrap();
        let (owner, replica) = (Owner("alice".into()), ReplicaId::new());
        store.heartbeat(replica, Duration::from_secs(60)).await.unwrap();
        let mut started = Vec::new();
        for _ in 0..n {
            let conversation = store.create(&owner, None).await.unwrap().id;
            let (_, message) = store.begin_turn(&owner, conversation, "Hi", "m", replica).await.unwrap();
            started.push((conversation, message));
        }
        (dir, store, owner, started)
    }

    /// An answer's text as its running answer keeps it.
    #[derive(Debug, Default)]
    struct Said(Mutex<String>);

    impl Transcript for Said {
        fn since(&self, from: Offsets) -> (String, String) {
            (self.0.lock().unwrap()[from.text..].to_owned(), String::new())
        }
    }

    /// The relay's two steps for a text delta: the log is told, the transcript keeps it.
    fn say(log: &mut AnswerLog, said: &Said, text: &str) {
        log.event(&ChatEvent::Text(text.to_owned()));
        said.0.lock().unwrap().push_str(text);
    }

    async fn stored(
        store: &dyn ConversationStore,
        owner: &Owner,
        conversation: Uuid,
    ) -> (String, MessageStatus) {
        let answer = store.get(owner, conversation).await.unwrap().messages.pop().unwrap();
        (answer.content, answer.status)
    }

    #[tokio::test]
    async fn one_flush_writes_every_answer_and_each_ends_once_with_the_rest() {
        let (_dir, store, owner, started) = answers(3).await;
        let (logs, writers) = (Arc::new(AnswerLogs::new(Arc::clone(&store))), TaskTracker::new());
        let said: Vec<Arc<Said>> = started.iter().map(|_| Arc::default()).collect();
        let mut open: Vec<AnswerLog> = started
            .iter()
            .zip(&said)
            .map(|(&(_, message), said)| logs.start(message, Arc::clone(said) as _, &writers))
            .collect();
        for (i, (log, said)) in open.iter_mut().zip(&said).enumerate() {
            say(log, said, &format!("{i}: once"));
        }

        logs.flush().await;
        for (i, &(conversation, _)) in started.iter().enumerate() {
            let flushed = (format!("{i}: once"), MessageStatus::Streaming);
            assert_eq!(stored(&*store, &owner, conversation).await, flushed);
        }
        say(&mut open[0], &said[0], " upon a time");
        open[0].error(&ProviderError::new(streambed_core::ErrorKind::StreamInterrupted, "cut"));
        open[0].wait_written().await;
        say(&mut open[1], &said[1], " more");
        drop(open.remove(1));
        writers.close();
        open.remove(1).written().await;
        // Ended answers leave the flushes; the one dropped is recorded as stopped.
        logs.flush().await;
        writers.wait().await;

        let [first, second, third] = [0, 1, 2].map(|i| started[i].0);
        assert_eq!(
            stored(&*store, &owner, first).await,
            ("0: once upon a time".into(), MessageStatus::Error)
        );
        assert_eq!(stored(&*store, &owner, second).await, ("1: once more".into(), MessageStatus::Stopped));
        assert_eq!(stored(&*store, &owner, third).await, ("2: once".into(), MessageStatus::Stopped));
        assert!(logs.open().is_empty());
    }

    #[tokio::test]
    async fn an_answer_with_a_full_buffer_of_unwritten_text_asks_for_a_flush_and_the_flush_takes_it() {
        let (_dir, store, owner, started) = answers(1).await;
        let (logs, writers) = (Arc::new(AnswerLogs::new(Arc::clone(&store))), TaskTracker::new());
        let said = Arc::new(Said::default());
        let mut log = logs.start(started[0].1, Arc::clone(&said) as _, &writers);
        let asked = || tokio::time::timeout(Duration::from_millis(10), logs.full.notified());

        say(&mut log, &said, &"a".repeat(FLUSH_BYTES - 1));
        assert!(asked().await.is_err(), "one byte short of a full buffer");
        say(&mut log, &said, "é");
        assert!(asked().await.is_ok());
        logs.flush().await;
        say(&mut log, &said, "b");
        assert!(asked().await.is_err(), "the flush wrote what was unwritten");
        log.written().await;

        let expected = format!("{}éb", "a".repeat(FLUSH_BYTES - 1));
        assert_eq!(stored(&*store, &owner, started[0].0).await, (expected, MessageStatus::Stopped));
    }

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
