//! Answers ended together: the finishes waiting while the writer is busy share one statement,
//! and each answer still ends as if it had been written alone.
//!
//! As in `batches`, the futures are joined in the test's own task (`join_all` on the
//! current-thread runtime), so every finish is queued before the writing task first runs, and
//! which finishes share a batch is certain. [`TestDb::finish_writes`] sees how many writes
//! ended them.

use std::time::Duration;

use futures_util::future::join_all;
use streambed_core::{ReasoningBlock, Usage};
use streambed_store::{
    Append, ConversationStore, Ended, Finish, MessageStatus, Owner, ReplicaId, StoreError,
};
use uuid::Uuid;

use crate::harness::{TestDb, finish, last_message, owner};

/// More than four batches hold (32 each), and a number of rows no power of two.
const MANY: usize = 150;

/// `n` answers streaming in conversations of their own, leased by `replica`: `(conversation,
/// answer)` each.
async fn answers(
    store: &dyn ConversationStore,
    owner: &Owner,
    replica: ReplicaId,
    n: usize,
) -> Vec<(Uuid, Uuid)> {
    let mut started = Vec::with_capacity(n);
    for i in 0..n {
        let conversation = store.create(owner, None).await.unwrap().id;
        let (_, answer) =
            store.begin_turn(owner, conversation, &format!("question {i}"), "m", replica).await.unwrap();
        started.push((conversation, answer));
    }
    started
}

async fn alive(store: &dyn ConversationStore) -> ReplicaId {
    let replica = ReplicaId::new();
    store.heartbeat(replica, Duration::from_secs(60)).await.unwrap();
    replica
}

/// The `i`th of many different endings: every status an answer ends with, usage or none, a stop
/// reason or none, an error code for errors, reasoning blocks for some.
fn ending(i: usize) -> Finish {
    let status = [Ended::Complete, Ended::Stopped, Ended::Error][i % 3];
    Finish {
        status,
        stop_reason: i.is_multiple_of(2).then(|| format!("reason {i}")),
        usage: (i % 4 != 1).then(|| Usage::new(i as u32, 2 * i as u32)),
        error_code: (status == Ended::Error).then(|| format!("code {i}")),
        latency_ms: (status == Ended::Complete).then_some(100 + i as u64),
        reasoning_blocks: blocks(i),
    }
}

/// Blocks whose text starts the `i`th answer's reasoning, for one answer in five.
fn blocks(i: usize) -> Vec<ReasoningBlock> {
    if !i.is_multiple_of(5) {
        return Vec::new();
    }
    vec![
        ReasoningBlock::Text { text: format!("thought {i}"), signature: Some(format!("sig {i}")) },
        ReasoningBlock::Redacted { data: format!("redacted {i}") },
    ]
}

pub(crate) async fn concurrent_finishes_each_store_their_own_ending_together(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let replica = alive(&*store).await;
    let started = answers(&*store, &alice, replica, MANY).await;
    let flushed: Vec<Append> = started
        .iter()
        .enumerate()
        .map(|(i, &(_, answer))| Append::new(answer, format!("text {i}"), format!("thought {i}")))
        .collect();
    store.append_answers(&flushed).await.unwrap();
    db.watch_finishes().await;

    let finishes = started.iter().enumerate().map(|(i, &(_, answer))| {
        store.finish_answer(answer, &format!(" and the end {i}"), &format!(" then {i}"), ending(i))
    });
    let replies = join_all(finishes).await;

    for (i, ((conversation, answer), reply)) in started.into_iter().zip(replies).enumerate() {
        reply.unwrap_or_else(|e| panic!("finish {i}: {e}"));
        let stored = last_message(&*store, &alice, conversation).await;
        let expected = ending(i);
        assert_eq!(stored.id, answer);
        assert_eq!(stored.content, format!("text {i} and the end {i}"), "finish {i}");
        assert_eq!(stored.reasoning.as_deref(), Some(format!("thought {i} then {i}").as_str()), "finish {i}");
        assert_eq!(stored.status, expected.status.into(), "finish {i}");
        assert_eq!(stored.usage, expected.usage, "finish {i}");
        assert_eq!(stored.stop_reason, expected.stop_reason, "finish {i}");
        assert_eq!(stored.error_code, expected.error_code, "finish {i}");
        assert_eq!(stored.latency_ms, expected.latency_ms, "finish {i}");
        assert_eq!(stored.reasoning_blocks, expected.reasoning_blocks, "finish {i}");
    }
    assert_eq!(
        db.count("SELECT count(*) FROM messages WHERE usage IS NULL AND role = 'assistant'").await,
        38
    );
    assert_eq!(db.finish_writes().await, 10, "150 waiting finishes take ten writes (9 × 16 and 6)");
}

pub(crate) async fn a_finish_in_a_batch_leaves_an_interrupted_answer_so(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let (sweeper, crashed) = (alive(&*store).await, ReplicaId::new());
    let live = answers(&*store, &alice, sweeper, 3).await;
    let lost = answers(&*store, &alice, crashed, 1).await[0];
    store.append_answers(&[Append::new(lost.1, "Half", "")]).await.unwrap();
    assert_eq!(store.sweep_interrupted(sweeper).await.unwrap(), 1);
    let gone =
        store.append_answers(&[Append::new(lost.1, " more", ""), Append::new(live[0].1, "", "")]).await;
    assert_eq!(gone.unwrap(), [lost.1], "the swept answer is no longer its writer's to record");
    let before = last_message(&*store, &alice, lost.0).await;
    db.watch_finishes().await;

    let replies = join_all(
        live.iter()
            .chain([&lost])
            .map(|&(_, answer)| store.finish_answer(answer, " more", "", finish(Ended::Complete))),
    )
    .await;

    let ended: Vec<bool> = replies.into_iter().map(Result::unwrap).collect();
    assert_eq!(ended, [true, true, true, false], "each told whether it ended its answer");
    assert_eq!(last_message(&*store, &alice, lost.0).await, before, "interrupted, and its text unchanged");
    for &(conversation, _) in &live {
        let stored = last_message(&*store, &alice, conversation).await;
        assert_eq!((stored.status, stored.content.as_str()), (MessageStatus::Complete, " more"));
    }
    assert_eq!(db.finish_writes().await, 1, "the live ones were written together");
}

/// On PostgreSQL only: it refuses a NUL byte in text, an honest way to make one finish fail at
/// the database (SQLite stores it as it is). The batch's statement fails whole; its finishes
/// are written again one by one.
#[tokio::test]
async fn postgres_a_finish_the_database_refuses_fails_alone_and_the_others_are_stored() {
    let db = TestDb::postgres("a_finish_the_database_refuses_fails_alone");
    let store = db.open().await;
    let alice = owner("alice");
    let replica = alive(&*store).await;
    let started = answers(&*store, &alice, replica, 4).await;
    let texts = ["one", "two", "nul \0 byte", "four"];
    db.watch_finishes().await;

    let replies = join_all(
        started
            .iter()
            .zip(texts)
            .map(|(&(_, answer), text)| store.finish_answer(answer, text, "", finish(Ended::Complete))),
    )
    .await;

    for ((&(conversation, _), text), reply) in started.iter().zip(texts).zip(replies) {
        let stored = last_message(&*store, &alice, conversation).await;
        if text.contains('\0') {
            assert!(matches!(reply, Err(StoreError::Database(_))), "{reply:?}");
            assert_eq!((stored.status, stored.content.as_str()), (MessageStatus::Streaming, ""));
        } else {
            reply.unwrap();
            assert_eq!((stored.status, stored.content.as_str()), (MessageStatus::Complete, text));
        }
    }
    assert_eq!(db.finish_writes().await, 3, "written one by one, after the batch failed");
}
