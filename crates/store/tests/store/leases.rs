//! Leases: a replica's sweep interrupts only answers whose replica stopped renewing its lease.

use std::time::{Duration, Instant};

use streambed_store::{Append, ConversationStore, MessageStatus, ReplicaId};

use crate::harness::{TestDb, finish, last_message, owner, streaming_answer};

const LONG: Duration = Duration::from_secs(300);

pub(crate) async fn a_sweep_leaves_live_replicas_answers_alone(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let (a, b) = (ReplicaId::new(), ReplicaId::new());
    store.heartbeat(a, LONG).await.unwrap();
    store.heartbeat(b, LONG).await.unwrap();
    let (conversation, answer) = streaming_answer(&*store, &alice, a).await;
    store.append_answers(&[Append::new(answer, "still going", "")]).await.unwrap();

    let swept = store.sweep_interrupted(b).await.unwrap();

    assert_eq!(swept, 0);
    let live = last_message(&*store, &alice, conversation).await;
    assert_eq!((live.content.as_str(), live.status), ("still going", MessageStatus::Streaming));
}

pub(crate) async fn a_sweep_never_interrupts_the_sweepers_own_answers(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let a = ReplicaId::new();
    let (conversation, _answer) = streaming_answer(&*store, &alice, a).await;

    let swept = store.sweep_interrupted(a).await.unwrap();

    assert_eq!(swept, 0, "no lease, but it is the sweeper's own");
    assert_eq!(last_message(&*store, &alice, conversation).await.status, MessageStatus::Streaming);
}

pub(crate) async fn an_expired_lease_lets_another_replica_interrupt(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let (a, b) = (ReplicaId::new(), ReplicaId::new());
    store.heartbeat(a, LONG).await.unwrap();
    let (conversation, answer) = streaming_answer(&*store, &alice, a).await;
    store.append_answers(&[Append::new(answer, "flushed before the crash", "")]).await.unwrap();
    assert_eq!(store.sweep_interrupted(b).await.unwrap(), 0, "live while the lease runs");

    // A's last heartbeat: then it dies.
    store.heartbeat(a, Duration::from_millis(200)).await.unwrap();
    let swept = sweep_until_something(&*store, b).await;

    assert_eq!(swept, 1);
    let interrupted = last_message(&*store, &alice, conversation).await;
    assert_eq!(interrupted.status, MessageStatus::Interrupted);
    assert_eq!(interrupted.content, "flushed before the crash");
    // A, late, must not bring it back.
    store.append_answers(&[Append::new(answer, " and more", "")]).await.unwrap();
    store.finish_answer(answer, " the end", "", finish(MessageStatus::Complete)).await.unwrap();
    assert_eq!(last_message(&*store, &alice, conversation).await, interrupted);
    assert_eq!(store.sweep_interrupted(b).await.unwrap(), 0, "already swept");
}

pub(crate) async fn an_answer_without_a_lease_is_interrupted(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let (crashed, sweeper) = (ReplicaId::new(), ReplicaId::new());
    store.heartbeat(sweeper, LONG).await.unwrap();
    let (conversation, _answer) = streaming_answer(&*store, &alice, crashed).await;
    let (sweepers_own, _) = streaming_answer(&*store, &alice, sweeper).await;

    let swept = store.sweep_interrupted(sweeper).await.unwrap();

    assert_eq!(swept, 1);
    assert_eq!(last_message(&*store, &alice, conversation).await.status, MessageStatus::Interrupted);
    assert_eq!(last_message(&*store, &alice, sweepers_own).await.status, MessageStatus::Streaming);
}

/// Sweeps as `replica` until a sweep interrupts something: the lease's 200 ms, then however
/// long a busy machine takes, within bounds.
async fn sweep_until_something(store: &dyn ConversationStore, replica: ReplicaId) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let swept = store.sweep_interrupted(replica).await.unwrap();
        if swept > 0 || Instant::now() > deadline {
            return swept;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
