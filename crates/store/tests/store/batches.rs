//! Turns written together: the turns waiting while the writer is busy share one transaction,
//! and each still stores and answers as if it had been written alone.
//!
//! The futures are joined in the test's own task (`join_all` on the current-thread runtime), so
//! every turn is queued before the writing task first runs: which turns share a batch is
//! certain, not left to the scheduler. Turns written in one transaction share its time, which
//! is how these tests see that they were.

use std::{collections::HashSet, time::Duration};

use futures_util::future::join_all;
use streambed_core::Role;
use streambed_store::{
    ConversationStore, Ended, Finish, Limit, MessageStatus, Owner, ReplicaId, StoreError, StoreLimits,
};
use uuid::Uuid;

use crate::harness::{ROOMY, TestDb, finish, owner};

/// More than one batch holds (128), and a number of rows no power of two.
const MANY: usize = 150;

/// `n` new conversations of `owner`, each with one question already asked.
async fn conversations(store: &dyn ConversationStore, owner: &Owner, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = store.create(owner, None).await.unwrap().id;
        store.add_user_message(owner, id, &format!("before {i}"), None).await.unwrap();
        ids.push(id);
    }
    ids
}

/// A conversation's messages as `(role, content)`.
async fn contents(store: &dyn ConversationStore, owner: &Owner, conversation: Uuid) -> Vec<(Role, String)> {
    let stored = store.get(owner, conversation).await.expect("get");
    stored.messages.into_iter().map(|m| (m.role, m.content)).collect()
}

async fn updated_at(
    store: &dyn ConversationStore,
    owner: &Owner,
    conversation: Uuid,
) -> time::OffsetDateTime {
    store.conversation(owner, conversation).await.unwrap().updated_at
}

async fn alive(store: &dyn ConversationStore) -> ReplicaId {
    let replica = ReplicaId::new();
    store.heartbeat(replica, Duration::from_secs(60)).await.unwrap();
    replica
}

pub(crate) async fn concurrent_turns_in_different_conversations_are_stored_together(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let replica = alive(&*store).await;
    let ids = conversations(&*store, &alice, MANY).await;

    // Half start an answer, half do not: batches of row counts that are not powers of two
    // (192, 33), so each insert pads its rows out with NULL ones.
    let turns = ids.iter().enumerate().map(|(i, &id)| {
        let (store, alice) = (&store, &alice);
        async move {
            let question = format!("question {i}");
            if i % 2 == 0 {
                let (history, answer) = store.begin_turn(alice, id, &question, "m", replica).await?;
                Ok::<_, StoreError>((history, Some(answer)))
            } else {
                Ok((store.add_user_message(alice, id, &question, None).await?, None))
            }
        }
    });
    let replies = join_all(turns).await;

    for (i, (&id, reply)) in ids.iter().zip(replies).enumerate() {
        let (history, answer) = reply.unwrap_or_else(|e| panic!("turn {i}: {e}"));
        let asked: Vec<_> = history.iter().map(|m| (m.role, m.content.clone())).collect();
        assert_eq!(asked, [(Role::User, format!("before {i}")), (Role::User, format!("question {i}"))]);
        let stored = store.get(&alice, id).await.unwrap().messages;
        assert_eq!(stored[..2], history[..], "turn {i}: the reply is what was stored");
        match answer {
            Some(answer) => {
                let started = stored.last().unwrap();
                assert_eq!((stored.len(), started.id, started.status), (3, answer, MessageStatus::Streaming));
            }
            None => assert_eq!(stored.len(), 2),
        }
    }
    let mut times = HashSet::new();
    for &id in &ids {
        times.insert(updated_at(&*store, &alice, id).await);
    }
    assert_eq!(times.len(), 2, "150 waiting turns take two transactions (128 and 22)");
}

pub(crate) async fn concurrent_turns_in_one_conversation_are_each_stored_once(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let replica = alive(&*store).await;
    let conversation = store.create(&alice, None).await.unwrap().id;
    let others = conversations(&*store, &alice, 3).await;

    let questions: Vec<String> = (0..10).map(|i| format!("question {i}")).collect();
    let turns =
        questions.iter().map(|question| store.begin_turn(&alice, conversation, question, "m", replica));
    // Turns for other conversations queue among them, and ride along in the same batches.
    let beside = others.iter().map(|&id| store.add_user_message(&alice, id, "beside", None));
    let (replies, beside) = futures_util::future::join(join_all(turns), join_all(beside)).await;

    let stored = store.get(&alice, conversation).await.unwrap().messages;
    assert_eq!(stored.len(), 20, "ten questions and ten answers");
    let mut lengths = Vec::new();
    for (question, reply) in questions.iter().zip(replies) {
        let (history, answer) = reply.unwrap();
        let last = history.last().unwrap();
        assert_eq!(
            (last.role, &last.content),
            (Role::User, question),
            "each history ends with its own question"
        );
        assert_eq!(stored[..history.len()], history[..], "and is what was stored before it");
        assert_eq!(stored[history.len()].id, answer, "its answer follows it");
        lengths.push(history.len());
    }
    assert_eq!(lengths, (0..10).map(|i| 2 * i + 1).collect::<Vec<_>>(), "one turn per batch, in order");
    let asked: HashSet<&str> =
        stored.iter().filter(|m| m.role == Role::User).map(|m| m.content.as_str()).collect();
    assert_eq!(asked.len(), 10, "no question lost or doubled");
    for (id, reply) in others.iter().zip(beside) {
        assert_eq!(reply.unwrap().len(), 2);
        assert_eq!(
            updated_at(&*store, &alice, *id).await,
            store.conversation(&alice, others[0]).await.unwrap().updated_at,
            "the other conversations' turns were written together"
        );
    }
}

pub(crate) async fn a_turn_for_a_missing_or_foreign_conversation_fails_alone_in_a_batch(db: TestDb) {
    let store = db.open().await;
    let (alice, mallory) = (owner("alice"), owner("mallory"));
    let replica = alive(&*store).await;
    let ids = conversations(&*store, &alice, 4).await;
    let gone = store.create(&alice, None).await.unwrap().id;
    store.delete(&alice, gone).await.unwrap();
    let before = store.get(&alice, ids[1]).await.unwrap();

    let (fine, (foreign, (missing, deleted))) = futures_util::future::join(
        join_all([0, 2, 3].map(|i| store.begin_turn(&alice, ids[i], "Hi", "m", replica))),
        futures_util::future::join(
            store.begin_turn(&mallory, ids[1], "mine now", "other-model", replica),
            futures_util::future::join(
                store.add_user_message(&alice, Uuid::now_v7(), "nowhere", None),
                store.begin_turn(&alice, gone, "Hi", "m", replica),
            ),
        ),
    )
    .await;

    for refused in [foreign.map(|_| ()), missing.map(|_| ()), deleted.map(|_| ())] {
        assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    }
    assert_eq!(store.get(&alice, ids[1]).await.unwrap(), before, "another owner's turn changes nothing");
    let mut times = HashSet::new();
    for (i, reply) in [0, 2, 3].into_iter().zip(fine) {
        assert_eq!(reply.unwrap().0.last().unwrap().content, "Hi");
        assert_eq!(contents(&*store, &alice, ids[i]).await.len(), 3);
        times.insert(updated_at(&*store, &alice, ids[i]).await);
    }
    assert_eq!(times.len(), 1, "the others were written together");
    assert_eq!(db.count("SELECT count(*) FROM messages").await, 4 + 3 * 2);
}

pub(crate) async fn a_full_conversation_fails_alone_in_a_batch_and_is_left_unchanged(db: TestDb) {
    let limits = StoreLimits { max_conversations_per_owner: 10, max_messages_per_conversation: 3, ..ROOMY };
    let store = db.open_with(limits).await;
    let alice = owner("alice");
    let replica = alive(&*store).await;
    let ids = conversations(&*store, &alice, 4).await;
    let full = ids[2];
    store.add_user_message(&alice, full, "second", None).await.unwrap();
    let before = store.get(&alice, full).await.unwrap();

    let replies =
        join_all(ids.iter().map(|&id| store.begin_turn(&alice, id, "Hi", "other-model", replica))).await;

    let mut times = HashSet::new();
    for (&id, reply) in ids.iter().zip(replies) {
        if id == full {
            assert!(
                matches!(reply, Err(StoreError::Full { limit: Limit::MessagesPerConversation, max: 3 })),
                "{reply:?}"
            );
        } else {
            let (history, _) = reply.unwrap();
            assert_eq!(history.len(), 2);
            assert_eq!(contents(&*store, &alice, id).await.len(), 3);
            times.insert(updated_at(&*store, &alice, id).await);
        }
    }
    assert_eq!(
        store.get(&alice, full).await.unwrap(),
        before,
        "a refused turn changes nothing, model and time included"
    );
    assert_eq!(times.len(), 1, "the others were written together");
}

pub(crate) async fn retries_arriving_together_each_replace_their_empty_answer(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let replica = alive(&*store).await;
    let ids: Vec<Uuid> = join_all((0..4).map(|_| store.create(&alice, None)))
        .await
        .into_iter()
        .map(|created| created.unwrap().id)
        .collect();
    // Each first try comes to nothing, except the last, which said a word before it failed.
    let first = join_all(ids.iter().map(|&id| store.begin_turn(&alice, id, "Hi", "m", replica))).await;
    let mut first_questions = Vec::new();
    for (i, tried) in first.into_iter().enumerate() {
        let (history, answer) = tried.unwrap();
        first_questions.push(history[0].id);
        let (text, ended) = match i {
            0 => ("", refused()),
            1 => ("", finish(Ended::Stopped)),
            // Left `streaming`, to be interrupted below as a stopped server's answer is.
            2 => continue,
            _ => ("Hel", refused()),
        };
        store.finish_answer(answer, text, "", ended).await.unwrap();
    }
    store.heartbeat(replica, Duration::ZERO).await.unwrap();
    assert_eq!(store.sweep_interrupted(ReplicaId::new()).await.unwrap(), 1);
    store.heartbeat(replica, Duration::from_secs(60)).await.unwrap();

    let again = join_all(ids.iter().map(|&id| store.begin_turn(&alice, id, "Hi", "m", replica))).await;

    let mut times = HashSet::new();
    for (i, (&id, reply)) in ids.iter().zip(again).enumerate() {
        times.insert(updated_at(&*store, &alice, id).await);
        let (history, answer) = reply.unwrap();
        let stored = store.get(&alice, id).await.unwrap().messages;
        if i < 3 {
            assert_eq!(history.iter().map(|m| m.id).collect::<Vec<_>>(), [first_questions[i]], "turn {i}");
            assert_eq!(
                stored.iter().map(|m| m.id).collect::<Vec<_>>(),
                [first_questions[i], answer],
                "turn {i}"
            );
        } else {
            let words: Vec<_> = stored.iter().map(|m| m.content.as_str()).collect();
            assert_eq!(words, ["Hi", "Hel", "Hi", ""], "an answer with words is kept");
            assert_eq!(history.len(), 3);
        }
    }
    assert_eq!(times.len(), 1, "the retries were written together");
    assert_eq!(db.count("SELECT count(*) FROM messages").await, 3 * 2 + 4);
}

/// On PostgreSQL only: it refuses a NUL byte in text, an honest way to make one turn fail at
/// the database (SQLite stores it as it is). The batch's transaction fails and is rolled back
/// whole; its turns are written again one by one, each in its own transaction.
#[tokio::test]
async fn postgres_a_turn_the_database_refuses_fails_alone_and_the_others_are_stored() {
    let db = TestDb::postgres("a_turn_the_database_refuses_fails_alone");
    let store = db.open().await;
    let alice = owner("alice");
    let replica = alive(&*store).await;
    let ids = conversations(&*store, &alice, 4).await;
    let questions = ["one", "two", "nul \0 byte", "four"];

    let replies =
        join_all(ids.iter().zip(questions).map(|(&id, q)| store.begin_turn(&alice, id, q, "m", replica)))
            .await;

    let mut times = HashSet::new();
    for ((&id, question), reply) in ids.iter().zip(questions).zip(replies) {
        if question.contains('\0') {
            assert!(matches!(reply, Err(StoreError::Database(_))), "{reply:?}");
            assert_eq!(contents(&*store, &alice, id).await.len(), 1, "nothing of it was stored");
        } else {
            let (history, answer) = reply.unwrap();
            assert_eq!(history.last().unwrap().content, question);
            assert_eq!(store.get(&alice, id).await.unwrap().messages.last().unwrap().id, answer);
            times.insert(updated_at(&*store, &alice, id).await);
        }
    }
    assert_eq!(times.len(), 3, "written one by one, after the batch failed");
    assert_eq!(db.count("SELECT count(*) FROM messages").await, 4 + 3 * 2, "none stored twice");
}

fn refused() -> Finish {
    Finish { error_code: Some("access_denied".into()), ..finish(Ended::Error) }
}
