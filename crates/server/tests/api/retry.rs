//! Asking again in a stored conversation after Bedrock refused the answer before its first
//! token: on reload, one question and one answer; upstream, the question once.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use serde_json::{Value, json};
use streambed_core::{BoxFuture, ChatModel, ChatRequest, ChatStream, ErrorKind, ModelInfo, ProviderError};
use streambed_emulator::{Emulator, Scripted};

use crate::helpers::{read_frames, spawn_app_with};

/// The emulator's scripted answers, refused as an overloaded Bedrock refuses them (503
/// ServiceUnavailableException before any stream) while `refusing` is set.
struct Flaky {
    scripted: Scripted,
    refusing: Arc<AtomicBool>,
}

impl ChatModel for Flaky {
    fn info(&self) -> &ModelInfo {
        self.scripted.info()
    }

    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<ChatStream, ProviderError>> {
        if self.refusing.load(Ordering::SeqCst) {
            return Box::pin(async { Err(ProviderError::new(ErrorKind::Overloaded, "Too busy.")) });
        }
        self.scripted.stream(request)
    }
}

fn turns(conversation: &Value) -> Vec<(String, String, String)> {
    let text = |m: &Value, key: &str| m[key].as_str().unwrap_or_default().to_owned();
    let messages = conversation["messages"].as_array().unwrap();
    messages.iter().map(|m| (text(m, "role"), text(m, "content"), text(m, "status"))).collect()
}

#[tokio::test]
async fn asking_again_after_a_refusal_before_the_first_token_stores_the_question_once() {
    let refusing = Arc::new(AtomicBool::new(true));
    let source = Flaky { scripted: Scripted::default(), refusing: Arc::clone(&refusing) };
    let app = spawn_app_with(Emulator::new(Arc::new(source)), &[]).await;
    let id = app.new_conversation(None).await;
    let ask = || app.post_chat(json!({ "conversationId": id, "prompt": "Hi" }));

    let refused = ask().await;
    assert_eq!(refused.status(), 503);
    let after_refusal = app.conversation(&id, None).await;
    let again = ask().await;
    assert_eq!(again.status(), 503);
    let after_second_refusal = app.conversation(&id, None).await;
    refusing.store(false, Ordering::SeqCst);
    let answered = ask().await;
    assert_eq!(answered.status(), 200);
    let frames = read_frames(answered).await;
    app.settled_answer(&id).await;

    let failed = || ("assistant".to_owned(), String::new(), "error".to_owned());
    let question = ("user".to_owned(), "Hi".to_owned(), "complete".to_owned());
    assert_eq!(turns(&after_refusal), [question.clone(), failed()], "the refusal is recorded");
    assert_eq!(after_refusal["messages"][1]["errorCode"], "overloaded");
    assert_eq!(turns(&after_second_refusal), [question.clone(), failed()], "not the question twice");
    assert_eq!(frames.last().0, "done");
    let answer = ("assistant".to_owned(), frames.text(), "complete".to_owned());
    assert_eq!(turns(&app.conversation(&id, None).await), [question, answer], "one question, one answer");
    let sent = app.emulator.recorder.requests().last().expect("the answered request").body.clone();
    assert_eq!(sent["messages"], json!([{ "role": "user", "content": [{ "text": "Hi" }] }]));
}

#[tokio::test]
async fn a_new_question_after_a_refusal_keeps_the_refused_turn() {
    let refusing = Arc::new(AtomicBool::new(true));
    let source = Flaky { scripted: Scripted::default(), refusing: Arc::clone(&refusing) };
    let app = spawn_app_with(Emulator::new(Arc::new(source)), &[]).await;
    let id = app.new_conversation(None).await;
    let refused = app.post_chat(json!({ "conversationId": id, "prompt": "Hi" })).await;
    assert_eq!(refused.status(), 503);
    refusing.store(false, Ordering::SeqCst);

    let answered = app.post_chat(json!({ "conversationId": id, "prompt": "Something else" })).await;
    read_frames(answered).await;
    app.settled_answer(&id).await;

    let roles_and_statuses: Vec<_> = turns(&app.conversation(&id, None).await)
        .into_iter()
        .map(|(role, _, status)| (role, status))
        .collect();
    assert_eq!(
        roles_and_statuses,
        [("user", "complete"), ("assistant", "error"), ("user", "complete"), ("assistant", "complete")]
            .map(|(role, status)| (role.to_owned(), status.to_owned()))
    );
}

#[tokio::test]
async fn asking_again_after_an_answer_broke_off_asks_the_model_once_and_keeps_what_it_said() {
    let app = crate::helpers::spawn_app().await;
    let id = app.new_conversation(None).await;
    let ask = |prompt: &str| app.post_chat(json!({ "conversationId": id, "prompt": prompt }));
    let question = "Tell me [[scenario:exception type=throttlingException after=3]]";

    read_frames(ask(question).await).await;
    app.settled_answer(&id).await;
    read_frames(ask(question).await).await;
    app.settled_answer(&id).await;

    let sent = app.emulator.recorder.requests().last().expect("the second request").body.clone();
    assert_eq!(sent["messages"], json!([{ "role": "user", "content": [{ "text": question }] }]));
    let statuses: Vec<String> =
        turns(&app.conversation(&id, None).await).into_iter().map(|(_, _, s)| s).collect();
    assert_eq!(
        statuses,
        ["complete", "error", "complete", "error"],
        "the broken-off answer stays in the record"
    );
}
