//! The log against a real SQLite store: flushes, endings, and a full buffer.

use super::*;

use futures_util::FutureExt;
use streambed_core::BoxFuture;
use streambed_store::{MessageStatus, Owner, ReplicaId, StoreError, StoreLimits};

/// Answers started in a fresh SQLite store, as the chat route starts them.
async fn answers(n: usize) -> (tempfile::TempDir, Arc<dyn ConversationStore>, Owner, Vec<(Uuid, Uuid)>) {
    let dir = streambed_testkit::scratch_dir("answer-log");
    let url = format!("sqlite:{}", dir.path().join("s.db").display());
    let limits = StoreLimits {
        max_conversations_per_owner: 100,
        max_messages_per_conversation: 100,
        longest_answer: Duration::from_secs(600),
    };
    let store =
        streambed_store::open(&url, streambed_store::DEFAULT_POSTGRES_CONNECTIONS, limits).await.unwrap();
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
    fn since(&self, from: Cursor) -> (String, String) {
        (self.0.lock().unwrap()[from.text..].to_owned(), String::new())
    }
}

/// The relay's two steps for a text delta: the log is told, the transcript keeps it.
fn say(log: &mut AnswerLog, said: &Said, text: &str) {
    log.event(&ChatEvent::Text(text.to_owned()));
    said.0.lock().unwrap().push_str(text);
}

fn token() -> AnswerToken {
    crate::Shutdown::default().answer_token()
}

async fn stored(store: &dyn ConversationStore, owner: &Owner, conversation: Uuid) -> (String, MessageStatus) {
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
        .map(|(&(_, message), said)| {
            logs.start(message, Arc::clone(said) as _, token(), Instant::now(), &writers)
        })
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
    assert_eq!(stored(&*store, &owner, first).await, ("0: once upon a time".into(), MessageStatus::Error));
    assert_eq!(stored(&*store, &owner, second).await, ("1: once more".into(), MessageStatus::Stopped));
    assert_eq!(stored(&*store, &owner, third).await, ("2: once".into(), MessageStatus::Stopped));
    assert!(logs.open().is_empty());
}

#[tokio::test]
async fn an_answer_with_a_full_buffer_of_unwritten_text_asks_for_a_flush_and_the_flush_takes_it() {
    let (_dir, store, owner, started) = answers(1).await;
    let (logs, writers) = (Arc::new(AnswerLogs::new(Arc::clone(&store))), TaskTracker::new());
    let said = Arc::new(Said::default());
    let mut log = logs.start(started[0].1, Arc::clone(&said) as _, token(), Instant::now(), &writers);
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

#[tokio::test]
async fn an_answer_whose_record_is_gone_is_ended_by_the_flush_that_finds_it_so() {
    let (_dir, store, owner, started) = answers(2).await;
    let (logs, writers) = (Arc::new(AnswerLogs::new(Arc::clone(&store))), TaskTracker::new());
    let (said, tokens): (Vec<Arc<Said>>, Vec<AnswerToken>) =
        started.iter().map(|_| (Arc::default(), token())).unzip();
    let mut open: Vec<AnswerLog> = started
        .iter()
        .zip(&said)
        .zip(&tokens)
        .map(|((&(_, message), said), token)| {
            logs.start(message, Arc::clone(said) as _, token.clone(), Instant::now(), &writers)
        })
        .collect();
    let (gone, kept) = (started[0].0, started[1].0);
    store.delete(&owner, gone).await.unwrap();

    say(&mut open[0], &said[0], "Into the void");
    say(&mut open[1], &said[1], "Kept");
    logs.flush().await;

    assert_eq!(tokens[0].why(), crate::answer_token::Why::Lost, "ended");
    assert!(tokens[1].ended_owned().now_or_never().is_none(), "the other answer runs on");
    assert!(open[0].wait_written().await, "its end went unrecorded");
    assert!(!open[1].wait_written().await);
    assert_eq!(stored(&*store, &owner, kept).await, ("Kept".into(), MessageStatus::Stopped));
}

/// The real store, whose first `failures` finishes fail as a database out of reach does.
#[derive(Debug)]
struct FailingFinishes {
    store: Arc<dyn ConversationStore>,
    failures: AtomicUsize,
}

impl ConversationStore for FailingFinishes {
    fn create(
        &self,
        owner: &Owner,
        title: Option<&streambed_store::Title>,
    ) -> BoxFuture<'_, Result<streambed_store::Conversation, StoreError>> {
        self.store.create(owner, title)
    }

    fn list(
        &self,
        owner: &Owner,
        limit: u32,
        before: Option<&str>,
    ) -> BoxFuture<'_, Result<streambed_store::Page, StoreError>> {
        self.store.list(owner, limit, before)
    }

    fn get(
        &self,
        owner: &Owner,
        id: Uuid,
    ) -> BoxFuture<'_, Result<streambed_store::ConversationWithMessages, StoreError>> {
        self.store.get(owner, id)
    }

    fn conversation(
        &self,
        owner: &Owner,
        id: Uuid,
    ) -> BoxFuture<'_, Result<streambed_store::Conversation, StoreError>> {
        self.store.conversation(owner, id)
    }

    fn rename(
        &self,
        owner: &Owner,
        id: Uuid,
        title: &streambed_store::Title,
    ) -> BoxFuture<'_, Result<streambed_store::Conversation, StoreError>> {
        self.store.rename(owner, id, title)
    }

    fn delete(&self, owner: &Owner, id: Uuid) -> BoxFuture<'_, Result<(), StoreError>> {
        self.store.delete(owner, id)
    }

    fn add_user_message(
        &self,
        owner: &Owner,
        id: Uuid,
        content: &str,
        model: Option<&str>,
    ) -> BoxFuture<'_, Result<Vec<streambed_store::StoredMessage>, StoreError>> {
        self.store.add_user_message(owner, id, content, model)
    }

    fn begin_turn(
        &self,
        owner: &Owner,
        id: Uuid,
        content: &str,
        model: &str,
        replica: ReplicaId,
    ) -> BoxFuture<'_, Result<(Vec<streambed_store::StoredMessage>, Uuid), StoreError>> {
        self.store.begin_turn(owner, id, content, model, replica)
    }

    fn append_answers<'a>(&'a self, batch: &'a [Append]) -> BoxFuture<'a, Result<Vec<Uuid>, StoreError>> {
        self.store.append_answers(batch)
    }

    fn finish_answer(
        &self,
        message: Uuid,
        text: &str,
        reasoning: &str,
        finish: Finish,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let failed = self.failures.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if failed.is_ok() {
            return Box::pin(async { Err(StoreError::Database(sqlx::Error::PoolTimedOut)) });
        }
        self.store.finish_answer(message, text, reasoning, finish)
    }

    fn heartbeat(&self, replica: ReplicaId, ttl: Duration) -> BoxFuture<'_, Result<(), StoreError>> {
        self.store.heartbeat(replica, ttl)
    }

    fn sweep_interrupted(&self, replica: ReplicaId) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.store.sweep_interrupted(replica)
    }

    fn message(
        &self,
        owner: &Owner,
        conversation: Uuid,
        message: Uuid,
    ) -> BoxFuture<'_, Result<Option<streambed_store::StoredMessage>, StoreError>> {
        self.store.message(owner, conversation, message)
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        self.store.close()
    }
}

#[tokio::test]
async fn an_end_the_database_failed_is_written_again_until_it_takes_it() {
    let (_dir, store, owner, started) = answers(1).await;
    let failing: Arc<dyn ConversationStore> =
        Arc::new(FailingFinishes { store: Arc::clone(&store), failures: AtomicUsize::new(2) });
    let (logs, writers) = (Arc::new(AnswerLogs::new(failing)), TaskTracker::new());
    let said = Arc::new(Said::default());
    let mut log = logs.start(started[0].1, Arc::clone(&said) as _, token(), Instant::now(), &writers);
    say(&mut log, &said, "All of it");
    log.event(&ChatEvent::Done(Completion::new(streambed_core::StopReason::EndTurn, Default::default())));

    let lost = tokio::time::timeout(Duration::from_secs(10), log.wait_written()).await;

    assert_eq!(lost.ok(), Some(false), "written on the third try");
    assert_eq!(stored(&*store, &owner, started[0].0).await, ("All of it".into(), MessageStatus::Complete));
}
