//! Asking again: a question repeated after its answer came to nothing is stored once.

use std::time::Duration;

use streambed_core::Role;
use streambed_store::{ConversationStore, Ended, Finish, MessageStatus, Owner, ReplicaId};
use uuid::Uuid;

use crate::harness::{TestDb, finish, owner};

/// A conversation's messages as `(role, content, status)`.
async fn turns(
    store: &dyn ConversationStore,
    owner: &Owner,
    conversation: Uuid,
) -> Vec<(Role, String, MessageStatus)> {
    let stored = store.get(owner, conversation).await.expect("get");
    stored.messages.into_iter().map(|m| (m.role, m.content, m.status)).collect()
}

fn refused() -> Finish {
    Finish { error_code: Some("access_denied".into()), ..finish(Ended::Error) }
}

pub(crate) async fn a_retry_reuses_the_question_and_replaces_the_answer_that_came_to_nothing(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let replica = ReplicaId::new();
    store.heartbeat(replica, Duration::from_secs(60)).await.unwrap();
    let conversation = store.create(&alice, None).await.unwrap().id;
    let (first, refused_answer) = store.begin_turn(&alice, conversation, "Hi", "m", replica).await.unwrap();
    store.finish_answer(refused_answer, "", "", refused()).await.unwrap();

    let (again, stopped_answer) = store.begin_turn(&alice, conversation, "Hi", "m", replica).await.unwrap();
    store.finish_answer(stopped_answer, "", "", finish(Ended::Stopped)).await.unwrap();
    let (third, answer) = store.begin_turn(&alice, conversation, "Hi", "m", replica).await.unwrap();
    store.finish_answer(answer, "Hello!", "", finish(Ended::Complete)).await.unwrap();

    assert_eq!(again, first, "the history sent upstream has the question once");
    assert_eq!(third, first);
    let stored = store.get(&alice, conversation).await.unwrap().messages;
    assert_eq!(stored.iter().map(|m| m.id).collect::<Vec<_>>(), [first[0].id, answer]);
    assert_eq!(
        turns(&*store, &alice, conversation).await,
        [
            (Role::User, "Hi".to_owned(), MessageStatus::Complete),
            (Role::Assistant, "Hello!".to_owned(), MessageStatus::Complete)
        ]
    );
    assert_eq!(db.count("SELECT count(*) FROM messages").await, 2, "the empty answers are gone");
}

pub(crate) async fn a_retry_that_fails_again_leaves_one_question_and_its_failure(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let replica = ReplicaId::new();
    store.heartbeat(replica, Duration::from_secs(60)).await.unwrap();
    let conversation = store.create(&alice, None).await.unwrap().id;

    for _ in 0..3 {
        let (_, answer) = store.begin_turn(&alice, conversation, "Hi", "m", replica).await.unwrap();
        store.finish_answer(answer, "", "", refused()).await.unwrap();
    }

    let stored = store.get(&alice, conversation).await.unwrap().messages;
    let [question, failed] = stored.as_slice() else { panic!("{stored:?}") };
    assert_eq!((question.role, question.content.as_str()), (Role::User, "Hi"));
    assert_eq!(
        (failed.status, failed.error_code.as_deref()),
        (MessageStatus::Error, Some("access_denied")),
        "the last failure is kept, truthfully"
    );
}

pub(crate) async fn an_answer_with_words_or_another_question_keeps_the_turn_before(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let replica = ReplicaId::new();
    store.heartbeat(replica, Duration::from_secs(60)).await.unwrap();
    let conversation = store.create(&alice, None).await.unwrap().id;
    let (_, partial) = store.begin_turn(&alice, conversation, "Hi", "m", replica).await.unwrap();
    store.finish_answer(partial, "Hel", "", refused()).await.unwrap();
    let (_, refused_answer) = store.begin_turn(&alice, conversation, "Hi", "m", replica).await.unwrap();
    store.finish_answer(refused_answer, "", "", refused()).await.unwrap();

    let (history, _) = store.begin_turn(&alice, conversation, "Something else", "m", replica).await.unwrap();

    let contents: Vec<_> = history.iter().map(|m| (m.role, m.content.as_str())).collect();
    assert_eq!(
        contents,
        [
            (Role::User, "Hi"),
            (Role::Assistant, "Hel"),
            (Role::User, "Hi"),
            (Role::Assistant, ""),
            (Role::User, "Something else")
        ],
        "a partial answer is kept and asked again after; a new question keeps the failure before it"
    );
}

pub(crate) async fn a_message_added_without_an_answer_is_always_stored(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let conversation = store.create(&alice, None).await.unwrap().id;

    store.add_user_message(&alice, conversation, "Hi", None).await.unwrap();
    let history = store.add_user_message(&alice, conversation, "Hi", None).await.unwrap();

    let hi = (Role::User, "Hi".to_owned(), MessageStatus::Complete);
    assert_eq!(history.len(), 2);
    assert_eq!(turns(&*store, &alice, conversation).await, [hi.clone(), hi]);
}
