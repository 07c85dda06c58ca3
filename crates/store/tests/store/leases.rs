//! Leases: a replica's sweep interrupts only answers whose replica stopped renewing its lease.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use streambed_store::{Append, ConversationStore, Ended, MessageStatus, ReplicaId, StoreError};

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
    store.finish_answer(answer, " the end", "", finish(Ended::Complete)).await.unwrap();
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

/// One answer runs in a conversation at a time, across replicas: a turn that would start a
/// second while another replica's still runs under its lease is refused and changes nothing
/// (alone, or in a batch with turns of other conversations); once that answer ends, or its
/// replica's lease runs out (it died), the turn is taken.
pub(crate) async fn a_turn_waits_while_another_replicas_answer_runs_in_its_conversation(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let (a, b, dying) = (ReplicaId::new(), ReplicaId::new(), ReplicaId::new());
    for replica in [a, b, dying] {
        store.heartbeat(replica, LONG).await.unwrap();
    }
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(store.create(&alice, None).await.unwrap().id);
    }
    let [busy, other, abandoned] = ids[..] else { unreachable!() };
    store.begin_turn(&alice, busy, "First", "m", a).await.unwrap();
    store.begin_turn(&alice, abandoned, "First", "m", dying).await.unwrap();
    let before = store.get(&alice, busy).await.unwrap();

    let alone = store.begin_turn(&alice, busy, "Second", "other-model", b).await;
    let together =
        join_all([busy, other].map(|id| store.begin_turn(&alice, id, "Second", "other-model", b))).await;
    let refused_left = store.get(&alice, busy).await.unwrap();
    let on_a = store.begin_turn(&alice, busy, "Second", "m", a).await;

    assert!(matches!(alone, Err(StoreError::AnswerRunning)), "{alone:?}");
    assert!(matches!(together[0], Err(StoreError::AnswerRunning)), "{:?}", together[0]);
    assert!(together[1].is_ok(), "the other conversation's turn is stored: {:?}", together[1]);
    assert!(on_a.is_ok(), "a replica keeps to one answer per conversation itself, in memory");
    assert_eq!(refused_left, before, "a refused turn changes nothing, model and time included");
    let after = store.get(&alice, busy).await.unwrap();
    assert_eq!(after.messages.len(), before.messages.len() + 2, "only A's own turn was added");
    // The dying replica's last renewal: then its lease runs out.
    store.heartbeat(dying, Duration::from_millis(200)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert!(store.begin_turn(&alice, abandoned, "Again", "m", b).await.is_ok(), "its replica died");
}

/// A question stored without an answer (`add_user_message`) would come between a running
/// answer and the question it answers: refused while the answer runs, on any replica, and
/// taken once it ends.
pub(crate) async fn a_question_alone_waits_while_an_answer_runs(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let replica = ReplicaId::new();
    store.heartbeat(replica, LONG).await.unwrap();
    let (conversation, answer) = streaming_answer(&*store, &alice, replica).await;
    let before = store.get(&alice, conversation).await.unwrap();

    let during = store.add_user_message(&alice, conversation, "And then?", None).await;
    let refused_left = store.get(&alice, conversation).await.unwrap();
    store.finish_answer(answer, "Once upon a time.", "", finish(Ended::Complete)).await.unwrap();
    let after = store.add_user_message(&alice, conversation, "And then?", None).await;

    assert!(matches!(during, Err(StoreError::AnswerRunning)), "{during:?}");
    assert_eq!(refused_left, before, "a refused question changes nothing");
    let history = after.expect("the answer has ended");
    let said: Vec<_> = history.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(said, ["Tell me a story", "Once upon a time.", "And then?"]);
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
