//! Conversations: create, list, get, rename, delete, owners, titles and limits.

use std::sync::Arc;

use streambed_core::Role;
use streambed_store::{Append, Ended, Limit, MessageStatus, StoreError, StoreLimits, Title};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::harness::{ROOMY, TestDb, conversation_with_prompt, owner, streaming_answer};

pub(crate) async fn a_new_conversation_is_empty_and_untitled(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");

    let created = store.create(&alice, None).await.unwrap();
    let stored = store.get(&alice, created.id).await.unwrap();

    assert_eq!(created.title, "");
    assert_eq!(created.model, None);
    assert_eq!(created.created_at, created.updated_at);
    assert_eq!(stored.conversation, created);
    assert!(stored.messages.is_empty());
    let titled = store.create(&alice, Some(&Title::new("  Trip plans \n").unwrap())).await.unwrap();
    assert_eq!(titled.title, "Trip plans");
}

pub(crate) async fn lists_are_newest_first_and_paged_by_cursor(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(store.create(&alice, Some(&Title::new(&format!("number {n}")).unwrap())).await.unwrap().id);
    }
    // A new turn moves the oldest to the top.
    store.add_user_message(&alice, ids[0], "hello again", None).await.unwrap();
    let newest_first = [ids[0], ids[4], ids[3], ids[2], ids[1]];

    let first = store.list(&alice, 2, None).await.unwrap();
    let second = store.list(&alice, 2, first.next.as_deref()).await.unwrap();
    let third = store.list(&alice, 2, second.next.as_deref()).await.unwrap();
    let everything = store.list(&alice, 10, None).await.unwrap();

    let listed: Vec<Uuid> =
        [&first, &second, &third].iter().flat_map(|page| page.conversations.iter().map(|c| c.id)).collect();
    assert_eq!(listed, newest_first);
    assert!(first.next.is_some() && second.next.is_some());
    assert_eq!(third.next, None, "the last page has no cursor");
    assert_eq!(everything.conversations.len(), 5);
    assert_eq!(everything.next, None);
    assert_eq!(
        everything.conversations[0].updated_at,
        store.get(&alice, ids[0]).await.unwrap().conversation.updated_at
    );
}

pub(crate) async fn a_malformed_cursor_is_refused(db: TestDb) {
    let store = db.open().await;

    for cursor in ["", "nonsense", "123", "123.not-a-uuid"] {
        let refused = store.list(&owner("alice"), 10, Some(cursor)).await;

        assert!(matches!(refused, Err(StoreError::BadCursor)), "{cursor:?}: {refused:?}");
    }
}

pub(crate) async fn renaming_retitles_and_moves_to_the_top(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let older = store.create(&alice, Some(&Title::new("older").unwrap())).await.unwrap();
    let newer = store.create(&alice, Some(&Title::new("newer").unwrap())).await.unwrap();

    let renamed = store.rename(&alice, older.id, &Title::new("  Renamed  ").unwrap()).await.unwrap();

    assert_eq!(renamed.title, "Renamed");
    assert!(renamed.updated_at > older.updated_at);
    let listed = store.list(&alice, 10, None).await.unwrap().conversations;
    assert_eq!(listed.iter().map(|c| c.id).collect::<Vec<_>>(), [older.id, newer.id]);
    assert_eq!(store.get(&alice, older.id).await.unwrap().conversation, renamed);
}

pub(crate) async fn deleting_removes_the_messages_too(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let (conversation, _answer) = streaming_answer(&*store, &alice, Default::default()).await;
    let kept = conversation_with_prompt(&*store, &alice, "keep me").await;

    store.delete(&alice, conversation).await.unwrap();

    assert!(matches!(store.get(&alice, conversation).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete(&alice, conversation).await, Err(StoreError::NotFound)));
    let listed = store.list(&alice, 10, None).await.unwrap().conversations;
    assert_eq!(listed.iter().map(|c| c.id).collect::<Vec<_>>(), [kept]);
    assert_eq!(db.count("SELECT count(*) FROM messages").await, 1, "only the kept conversation's prompt");
}

pub(crate) async fn another_owner_gets_not_found_everywhere(db: TestDb) {
    let store = db.open().await;
    let (alice, mallory) = (owner("alice"), owner("mallory"));
    let conversation = conversation_with_prompt(&*store, &alice, "private thoughts").await;
    let before = store.get(&alice, conversation).await.unwrap();

    let get = store.get(&mallory, conversation).await;
    let rename = store.rename(&mallory, conversation, &Title::new("mine now").unwrap()).await;
    let add = store.add_user_message(&mallory, conversation, "hi", Some("other-model")).await;
    let delete = store.delete(&mallory, conversation).await;
    let list = store.list(&mallory, 10, None).await.unwrap();
    let message = store.message(&mallory, conversation, before.messages[0].id).await;

    assert!(matches!(get, Err(StoreError::NotFound)), "{get:?}");
    assert!(matches!(rename, Err(StoreError::NotFound)), "{rename:?}");
    assert!(matches!(add, Err(StoreError::NotFound)), "{add:?}");
    assert!(matches!(delete, Err(StoreError::NotFound)), "{delete:?}");
    assert!(list.conversations.is_empty() && list.next.is_none());
    assert!(matches!(message, Ok(None)), "{message:?}");
    assert_eq!(store.get(&alice, conversation).await.unwrap(), before, "untouched");
}

pub(crate) async fn one_message_reads_as_the_conversation_lists_it(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let replica = streambed_store::ReplicaId::new();
    store.heartbeat(replica, std::time::Duration::from_secs(60)).await.unwrap();
    let (conversation, answer) = streaming_answer(&*store, &alice, replica).await;
    let listed = store.get(&alice, conversation).await.unwrap().messages;

    for expected in &listed {
        let read = store.message(&alice, conversation, expected.id).await.unwrap();
        assert_eq!(read.as_ref(), Some(expected));
    }
    let elsewhere = conversation_with_prompt(&*store, &alice, "another").await;
    assert_eq!(store.message(&alice, elsewhere, answer).await.unwrap(), None, "not that conversation's");
    store.delete(&alice, conversation).await.unwrap();
    assert_eq!(store.message(&alice, conversation, answer).await.unwrap(), None, "deleted with it");
}

pub(crate) async fn the_first_prompt_names_an_untitled_conversation(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let untitled = store.create(&alice, None).await.unwrap().id;
    let titled = store.create(&alice, Some(&Title::new("My title").unwrap())).await.unwrap().id;
    let prompt = "  Summarise the attached meeting notes and list every action item with its owner\nNotes: …";

    store.add_user_message(&alice, untitled, prompt, None).await.unwrap();
    store.add_user_message(&alice, untitled, "A second question", None).await.unwrap();
    store.add_user_message(&alice, titled, prompt, None).await.unwrap();

    let named = store.get(&alice, untitled).await.unwrap().conversation.title;
    assert_eq!(named, "Summarise the attached meeting notes and list every action…");
    assert_eq!(store.get(&alice, titled).await.unwrap().conversation.title, "My title");
    store.rename(&alice, untitled, &Title::new("Chosen").unwrap()).await.unwrap();
    store.add_user_message(&alice, untitled, "A third question", None).await.unwrap();
    assert_eq!(store.get(&alice, untitled).await.unwrap().conversation.title, "Chosen");
}

pub(crate) async fn a_user_turn_returns_the_history_and_sets_the_model(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let conversation = store.create(&alice, None).await.unwrap();

    let first = store.add_user_message(&alice, conversation.id, "one", Some("model-a")).await.unwrap();
    let second = store.add_user_message(&alice, conversation.id, "two", None).await.unwrap();
    let stored = store.get(&alice, conversation.id).await.unwrap();

    assert_eq!(first.len(), 1);
    assert_eq!(second.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(), ["one", "two"]);
    assert_eq!(second[0], first[0]);
    assert!(second.iter().all(|m| m.role == Role::User && m.status == MessageStatus::Complete));
    assert!(second[0].id < second[1].id && second[0].created_at <= second[1].created_at);
    assert_eq!(stored.messages, second);
    assert_eq!(stored.conversation.model.as_deref(), Some("model-a"), "kept when no model is given");
    assert!(stored.conversation.updated_at > conversation.updated_at);
    store.add_user_message(&alice, conversation.id, "three", Some("model-b")).await.unwrap();
    let alone = store.conversation(&alice, conversation.id).await.unwrap();
    assert_eq!(alone.model.as_deref(), Some("model-b"));
    assert_eq!(alone.id, conversation.id);
    let other = store.conversation(&owner("mallory"), conversation.id).await;
    assert!(matches!(other, Err(StoreError::NotFound)), "another owner's conversation is not found");
}

pub(crate) async fn limits_refuse_with_full(db: TestDb) {
    let limits = StoreLimits { max_conversations_per_owner: 2, max_messages_per_conversation: 4, ..ROOMY };
    let store = db.open_with(limits).await;
    let (alice, bob) = (owner("alice"), owner("bob"));
    let conversation = store.create(&alice, None).await.unwrap().id;
    store.create(&alice, None).await.unwrap();

    let third = store.create(&alice, None).await;

    assert!(
        matches!(third, Err(StoreError::Full { limit: Limit::ConversationsPerOwner, max: 2 })),
        "{third:?}"
    );
    assert!(store.create(&bob, None).await.is_ok(), "the limit is per owner");
    for turn in ["first", "second"] {
        store.begin_turn(&alice, conversation, turn, "m", Default::default()).await.unwrap();
    }
    let before = store.get(&alice, conversation).await.unwrap();
    let fifth = store.add_user_message(&alice, conversation, "third", None).await;
    assert!(
        matches!(fifth, Err(StoreError::Full { limit: Limit::MessagesPerConversation, max: 4 })),
        "{fifth:?}"
    );
    assert_eq!(store.get(&alice, conversation).await.unwrap(), before, "a refused turn changes nothing");
}

pub(crate) async fn concurrent_writers_wait_their_turn(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(store.create(&alice, None).await.unwrap().id);
    }

    let mut writers = JoinSet::new();
    for (n, &id) in ids.iter().enumerate() {
        let (store, alice) = (Arc::clone(&store), alice.clone());
        writers.spawn(async move {
            for turn in 0..5 {
                let (_, answer) =
                    store.begin_turn(&alice, id, &format!("{n}-{turn}"), "m", Default::default()).await?;
                store.append_answers(&[Append::new(answer, "partial ", "")]).await?;
                store.finish_answer(answer, "answer", "", crate::harness::finish(Ended::Complete)).await?;
            }
            Ok::<_, StoreError>(())
        });
    }

    while let Some(written) = writers.join_next().await {
        written.unwrap().expect("no writer fails while another writes");
    }
    for id in ids {
        let messages = store.get(&alice, id).await.unwrap().messages;
        assert_eq!(messages.len(), 10);
        assert!(messages.iter().all(|m| m.status == MessageStatus::Complete));
    }
}
