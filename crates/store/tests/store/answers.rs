//! Answers: created `streaming`, flushed in batches, finished once.

use std::time::Duration;

use streambed_core::{ReasoningBlock, Role, Usage};
use streambed_store::{Append, Ended, Finish, MessageStatus, ReplicaId, StoreError};

use crate::harness::{TestDb, finish, last_message, owner, streaming_answer};

pub(crate) async fn an_answer_is_flushed_in_batches_and_finished_once(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let replica = ReplicaId::new();
    store.heartbeat(replica, Duration::from_secs(60)).await.unwrap();
    let (conversation, answer) = streaming_answer(&*store, &alice, replica).await;

    let started = last_message(&*store, &alice, conversation).await;
    let gone = store.append_answers(&[Append::new(answer, "Once upon", "The user wants ")]).await.unwrap();
    assert!(gone.is_empty(), "written: {gone:?}");
    store.append_answers(&[Append::new(answer, " a time", "a story.")]).await.unwrap();
    let flushed = last_message(&*store, &alice, conversation).await;
    let usage = Usage::new(12, 34);
    let signed =
        ReasoningBlock::Text { text: "The user wants a story.".into(), signature: Some("c2ln".into()) };
    let redacted = ReasoningBlock::Redacted { data: "cmVkYWN0ZWQ=".into() };
    let done = Finish {
        status: Ended::Complete,
        stop_reason: Some("end_turn".into()),
        usage: Some(usage),
        latency_ms: Some(1_234),
        reasoning_blocks: vec![signed.clone(), redacted.clone()],
        ..Finish::with_status(Ended::Complete)
    };
    assert!(store.finish_answer(answer, ", the end.", "", done).await.unwrap(), "ended now");
    let stored = store.get(&alice, conversation).await.unwrap();

    assert_eq!(
        (started.id, started.role, started.status),
        (answer, Role::Assistant, MessageStatus::Streaming)
    );
    assert_eq!((started.content.as_str(), started.reasoning), ("", None));
    assert_eq!((flushed.content.as_str(), flushed.status), ("Once upon a time", MessageStatus::Streaming));
    let [prompt, finished] = stored.messages.as_slice() else { panic!("{:?}", stored.messages) };
    assert_eq!(prompt.role, Role::User);
    assert_eq!(finished.id, answer);
    assert_eq!(finished.content, "Once upon a time, the end.");
    assert_eq!(finished.reasoning.as_deref(), Some("The user wants a story."));
    assert_eq!(finished.status, MessageStatus::Complete);
    assert_eq!(finished.usage, Some(usage));
    assert_eq!(finished.stop_reason.as_deref(), Some("end_turn"));
    assert_eq!(finished.error_code, None);
    assert_eq!(finished.latency_ms, Some(1_234));
    assert_eq!(finished.model.as_deref(), Some("test-model"));
    assert_eq!(finished.reasoning_blocks, [signed, redacted], "signatures are kept to send back");
    assert!(started.reasoning_blocks.is_empty() && prompt.reasoning_blocks.is_empty());
}

pub(crate) async fn one_write_appends_to_every_answer_in_progress(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let replica = ReplicaId::new();
    store.heartbeat(replica, Duration::from_secs(60)).await.unwrap();
    // More answers than one statement takes, and a count that is no power of two.
    let mut answers = Vec::new();
    for _ in 0..131 {
        answers.push(streaming_answer(&*store, &alice, replica).await);
    }
    let (ended_in, ended) = answers[7];
    store.finish_answer(ended, "Done.", "", finish(Ended::Complete)).await.unwrap();

    let batch = |round: &str| -> Vec<Append> {
        answers
            .iter()
            .enumerate()
            .map(|(i, &(_, answer))| {
                Append::new(answer, format!("{round}{i} "), if i % 2 == 0 { "" } else { "ü" })
            })
            .collect()
    };
    store.append_answers(&batch("a")).await.unwrap();
    store.append_answers(&batch("b")).await.unwrap();
    store.append_answers(&[]).await.unwrap();

    for (i, &(conversation, answer)) in answers.iter().enumerate() {
        let stored = last_message(&*store, &alice, conversation).await;
        assert_eq!(stored.id, answer);
        if answer == ended {
            assert_eq!((stored.content.as_str(), stored.status), ("Done.", MessageStatus::Complete));
            assert_eq!(conversation, ended_in);
            continue;
        }
        assert_eq!(stored.content, format!("a{i} b{i} "), "answer {i}");
        let reasoning = if i % 2 == 0 { None } else { Some("üü") };
        assert_eq!(stored.reasoning.as_deref(), reasoning, "answer {i}");
        assert_eq!(stored.status, MessageStatus::Streaming);
    }
}

pub(crate) async fn stopped_and_failed_answers_keep_their_partial_text(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let replica = ReplicaId::new();
    store.heartbeat(replica, Duration::from_secs(60)).await.unwrap();
    let (stopped_in, stopped) = streaming_answer(&*store, &alice, replica).await;
    let (failed_in, failed) = streaming_answer(&*store, &alice, replica).await;

    store.append_answers(&[Append::new(stopped, "Half a", "")]).await.unwrap();
    store.finish_answer(stopped, " sentence", "", finish(Ended::Stopped)).await.unwrap();
    store.append_answers(&[Append::new(failed, "Before the", "")]).await.unwrap();
    let error = Finish { error_code: Some("throttled".into()), ..finish(Ended::Error) };
    store.finish_answer(failed, " error", "", error).await.unwrap();

    let stopped = last_message(&*store, &alice, stopped_in).await;
    assert_eq!((stopped.content.as_str(), stopped.status), ("Half a sentence", MessageStatus::Stopped));
    assert_eq!((stopped.usage, stopped.stop_reason, stopped.error_code), (None, None, None));
    let failed = last_message(&*store, &alice, failed_in).await;
    assert_eq!((failed.content.as_str(), failed.status), ("Before the error", MessageStatus::Error));
    assert_eq!(failed.error_code.as_deref(), Some("throttled"));
}

pub(crate) async fn a_finished_answer_is_not_finished_again(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let (conversation, answer) = streaming_answer(&*store, &alice, ReplicaId::new()).await;
    store.finish_answer(answer, "All done.", "", finish(Ended::Complete)).await.unwrap();
    let finished = last_message(&*store, &alice, conversation).await;

    assert_eq!(store.append_answers(&[Append::new(answer, " More?", "")]).await.unwrap(), [answer]);
    assert!(!store.finish_answer(answer, " Again!", "", finish(Ended::Error)).await.unwrap());

    assert_eq!(last_message(&*store, &alice, conversation).await, finished);
}

pub(crate) async fn an_answer_to_a_deleted_conversation_is_not_found(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let (conversation, answer) = streaming_answer(&*store, &alice, ReplicaId::new()).await;
    store.delete(&alice, conversation).await.unwrap();

    let started = store.begin_turn(&alice, conversation, "Hello?", "m", ReplicaId::new()).await;
    let appended = store.append_answers(&[Append::new(answer, "into the void", "")]).await;
    let finished = store.finish_answer(answer, "", "", finish(Ended::Complete)).await;

    assert!(matches!(started, Err(StoreError::NotFound)), "{started:?}");
    assert_eq!(appended.unwrap(), [answer], "a vanished answer is nothing to write to");
    assert!(!finished.unwrap(), "nor to end");
    assert_eq!(db.count("SELECT count(*) FROM messages").await, 0);
}

pub(crate) async fn a_turn_stores_the_prompt_and_starts_its_answer_in_one_step(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let replica = ReplicaId::new();
    store.heartbeat(replica, Duration::from_secs(60)).await.unwrap();
    let conversation = store.create(&alice, None).await.unwrap().id;

    let (history, answer) =
        store.begin_turn(&alice, conversation, "Hello there", "m", replica).await.unwrap();
    let refused = store.begin_turn(&owner("mallory"), conversation, "mine", "m", replica).await;

    assert_eq!(history.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(), ["Hello there"]);
    let stored = store.get(&alice, conversation).await.unwrap();
    assert_eq!(stored.conversation.title, "Hello there");
    let [prompt, started] = stored.messages.as_slice() else { panic!("{:?}", stored.messages) };
    assert_eq!((prompt.role, prompt.status), (Role::User, MessageStatus::Complete));
    assert_eq!(
        (started.id, started.role, started.status),
        (answer, Role::Assistant, MessageStatus::Streaming)
    );
    assert_eq!(started.model.as_deref(), Some("m"));
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
}

pub(crate) async fn reasoning_is_stored_once_and_read_back_with_its_blocks(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let replica = ReplicaId::new();
    store.heartbeat(replica, Duration::from_secs(60)).await.unwrap();
    let (conversation, answer) = streaming_answer(&*store, &alice, replica).await;
    let first = ReasoningBlock::Text { text: "Größe matters. ".into(), signature: Some("c2lnMQ==".into()) };
    let redacted = ReasoningBlock::Redacted { data: "cmVkYWN0ZWQ=".into() };
    let second = ReasoningBlock::Text { text: "So 👋 it is.".into(), signature: Some("c2lnMg==".into()) };
    store.append_answers(&[Append::new(answer, "Hi", "Größe matters. So 👋")]).await.unwrap();
    let done = Finish {
        reasoning_blocks: vec![first.clone(), redacted.clone(), second.clone()],
        ..finish(Ended::Complete)
    };

    store.finish_answer(answer, " there", " it is. Unsigned tail", done).await.unwrap();

    let parts = db.text("SELECT CAST(parts AS TEXT) FROM messages WHERE role = 'assistant'").await;
    assert!(!parts.contains("matters") && !parts.contains("it is"), "no reasoning text in parts: {parts}");
    assert!(parts.contains("c2lnMQ==") && parts.contains("cmVkYWN0ZWQ="), "{parts}");
    let stored = last_message(&*store, &alice, conversation).await;
    assert_eq!(stored.reasoning.as_deref(), Some("Größe matters. So 👋 it is. Unsigned tail"));
    assert_eq!(stored.reasoning_blocks, [first, redacted, second]);
}

pub(crate) async fn reasoning_blocks_stored_with_their_text_still_read(db: TestDb) {
    let store = db.open().await;
    let alice = owner("alice");
    let replica = ReplicaId::new();
    store.heartbeat(replica, Duration::from_secs(60)).await.unwrap();
    let (conversation, answer) = streaming_answer(&*store, &alice, replica).await;
    store.finish_answer(answer, "Answer", "Let me think.", finish(Ended::Complete)).await.unwrap();

    // As rows were written before the text moved out of `parts`.
    db.execute(
        r#"UPDATE messages SET parts = '[{"type":"text","text":"Let me think.","signature":"sig"},{"type":"redacted","data":"b64"}]' WHERE role = 'assistant'"#,
    )
    .await;

    let stored = last_message(&*store, &alice, conversation).await;
    assert_eq!(
        stored.reasoning_blocks,
        [
            ReasoningBlock::Text { text: "Let me think.".into(), signature: Some("sig".into()) },
            ReasoningBlock::Redacted { data: "b64".into() }
        ]
    );
}
