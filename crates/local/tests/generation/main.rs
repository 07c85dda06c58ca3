//! The real SmolLM2 model: answers, cancellation and queueing. Needs `just model` first.

use std::{path::PathBuf, sync::OnceLock, time::Duration};

use futures_util::StreamExt;
use streambed_core::{
    ChatEvent, ChatModel, ChatRequest, ErrorKind, InferenceParams, Message, ToolChoice, ToolSpec,
};
use streambed_local::{LocalConfig, LocalModel, Settings, Stop};

fn config(max_queue: usize) -> LocalConfig {
    let model_path = std::env::var_os("LOCAL_MODEL_PATH").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf"),
        PathBuf::from,
    );
    LocalConfig { model_path, max_queue, ..LocalConfig::default() }
}

/// One model for the tests that don't depend on queue size: loading takes about a second.
fn shared() -> &'static LocalModel {
    static MODEL: OnceLock<LocalModel> = OnceLock::new();
    MODEL.get_or_init(|| LocalModel::load(&config(16)).expect("model loads; run `just model` first"))
}

fn greedy(prompt: &str, max_tokens: u32) -> ChatRequest {
    let mut request = ChatRequest::from_prompt(prompt);
    request.params =
        InferenceParams { max_tokens: Some(max_tokens), temperature: Some(0.0), ..Default::default() };
    request
}

async fn answer(model: &LocalModel, request: ChatRequest) -> (String, streambed_core::Completion) {
    let mut stream = model.stream(request).await.expect("generation starts");
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        match event.expect("no error") {
            ChatEvent::Text(piece) => {
                assert!(!piece.is_empty() && !piece.contains('\u{FFFD}'), "{piece:?}");
                text.push_str(&piece);
            }
            ChatEvent::Done(done) => return (text, done),
            other => panic!("SmolLM2 answers text only: {other:?}"),
        }
    }
    panic!("the stream ended without Done")
}

#[tokio::test]
async fn greedy_decoding_knows_the_capital_of_france() {
    let (text, done) = answer(shared(), greedy("What is the capital of France?", 32)).await;

    assert!(text.contains("Paris"), "{text}");
    assert!(done.usage.input_tokens > 20 && done.usage.output_tokens > 0, "{done:?}");
    assert!(done.streamed);
}

#[tokio::test]
async fn the_kv_cache_is_cleared_between_requests() {
    let first = answer(shared(), greedy("Name a colour.", 12)).await.0;
    let second = answer(shared(), greedy("Name a colour.", 12)).await.0;

    assert_eq!(first, second);
}

#[tokio::test]
async fn a_stop_sequence_ends_the_answer_before_it_with_its_stop_reason() {
    let (whole, _) = answer(shared(), greedy("What is the capital of France?", 32)).await;
    // The answer's second word, whatever the model says: greedy decoding says it again.
    let second = whole.split_whitespace().nth(1).expect("an answer of two words or more");
    let before = &whole[..whole.find(second).unwrap()];
    let mut request = greedy("What is the capital of France?", 32);
    request.stop_sequences = vec![second.into(), "never appears".into()];

    let (text, done) = answer(shared(), request).await;

    assert_eq!(text, before, "the answer up to {second:?}: {whole}");
    assert_eq!(done.stop_reason.as_str(), "stop_sequence");
}

#[tokio::test]
async fn max_tokens_ends_the_answer_with_its_stop_reason() {
    let (_, done) = answer(shared(), greedy("Write a long story about a dragon.", 5)).await;

    assert_eq!((done.stop_reason.as_str(), done.usage.output_tokens), ("max_tokens", 5));
}

#[tokio::test]
async fn an_answer_cut_off_inside_a_character_shows_no_replacement_character() {
    // Greedy, this prompt's answer is emoji, several tokens each: 5, 7 and 10 tokens end inside one.
    for max_tokens in [5, 7, 10] {
        let (text, done) = answer(shared(), greedy("Reply with 10 emojis only: 🎉🚀🔥", max_tokens)).await;

        assert_eq!(done.stop_reason.as_str(), "max_tokens");
        assert!(!text.is_empty() && !text.contains('\u{FFFD}'), "{max_tokens} tokens: {text:?}");
    }
}

#[tokio::test]
async fn tools_are_refused_unless_the_request_says_not_to_call_any() {
    let weather = ToolSpec {
        name: "weather".into(),
        description: None,
        input_schema: serde_json::json!({ "type": "object" }),
    };
    let with_tools = |choice: ToolChoice| ChatRequest {
        tools: vec![weather.clone()],
        tool_choice: choice,
        ..greedy("Say hi.", 3)
    };

    let refused = shared().stream(with_tools(ToolChoice::Auto)).await.err().expect("refused");
    let (text, _) = answer(shared(), with_tools(ToolChoice::None)).await;

    assert_eq!(refused.kind, ErrorKind::InvalidRequest);
    assert!(refused.message.contains("call tools"), "{}", refused.message);
    assert!(!text.is_empty(), "tool_choice none: a text answer");
}

#[tokio::test]
async fn an_image_or_a_document_is_refused_naming_what_it_cannot_do() {
    let mut request = greedy("What is this?", 3);
    let image = streambed_core::Image { format: streambed_core::ImageFormat::Png, data: vec![0x89, b'P'] };
    request.messages[0].content.push(streambed_core::Content::Image(image));
    let mut with_document = greedy("What does it say?", 3);
    let document = streambed_core::Document {
        format: streambed_core::DocumentFormat::Txt,
        name: None,
        context: None,
        data: b"Hello".to_vec(),
    };
    with_document.messages[0].content.push(streambed_core::Content::Document(document));

    let refused = shared().stream(request).await.err().expect("refused");
    let unread = shared().stream(with_document).await.err().expect("refused");

    assert_eq!(refused.kind, ErrorKind::InvalidRequest);
    assert!(refused.message.contains("see images"), "{}", refused.message);
    assert_eq!(unread.kind, ErrorKind::InvalidRequest);
    assert!(unread.message.contains("read documents"), "{}", unread.message);
}

#[tokio::test]
async fn dropping_the_stream_stops_generation_within_one_token() {
    let model = LocalModel::load(&config(4)).expect("model loads");
    let mut stats = model.stats();
    let mut stream = model.stream(greedy("Count from one to two hundred in words.", 400)).await.unwrap();
    for _ in 0..3 {
        stream.next().await.unwrap().unwrap();
    }

    drop(stream);

    let stats = tokio::time::timeout(Duration::from_secs(30), stats.wait_for(|s| s.jobs == 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.last.stop, Stop::ClientLeft);
    assert!(stats.last.generated_after_client_left <= 1, "{:?}", stats.last);
    assert!(stats.last.generated < 40, "stopped soon after the drop: {:?}", stats.last);
}

#[tokio::test]
async fn dropping_the_stream_while_a_long_prompt_is_read_stops_reading_it() {
    let model = LocalModel::load(&config(4)).expect("model loads");
    let mut stats = model.stats();
    let prompt = format!("{}Summarize.", "the quick brown fox jumps over the lazy dog. ".repeat(250));

    drop(model.stream(greedy(&prompt, 10)).await.unwrap());

    let stats = tokio::time::timeout(Duration::from_secs(60), stats.wait_for(|s| s.jobs == 1))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(stats.last.stop, Stop::ClientLeft | Stop::LeftWhileQueued), "{:?}", stats.last);
    assert!(stats.last.prompt_tokens > 2_000, "{:?}", stats.last);
    assert!(stats.last.prefilled <= 256, "read no more than a chunk or two after the drop: {:?}", stats.last);
}

#[tokio::test]
async fn a_full_queue_is_refused_and_a_client_that_left_the_queue_is_skipped() {
    let model = LocalModel::load(&config(1)).expect("model loads");
    let mut stats = model.stats();
    let mut running = model.stream(greedy("Tell me about rivers.", 60)).await.unwrap();
    running.next().await.unwrap().unwrap();
    let waiting = model.stream(greedy("Tell me about lakes.", 60)).await.unwrap();

    let refused = model.stream(greedy("Tell me about seas.", 60)).await.err().expect("the queue is full");

    assert_eq!(refused.kind, ErrorKind::Overloaded);
    assert!(refused.retry_after.is_some());
    drop(waiting);
    let admitted = model.stream(greedy("Tell me about seas.", 4)).await;
    assert!(admitted.is_ok(), "leaving the queue frees a place at once");
    drop(admitted);
    drop(running);
    let stats = tokio::time::timeout(Duration::from_secs(30), stats.wait_for(|s| s.jobs == 3))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.last.stop, Stop::LeftWhileQueued, "queued requests whose clients left are skipped");
}

/// A model with a 400-token context, so trimming is quick to exercise.
fn small_context() -> LocalModel {
    LocalModel::load(&LocalConfig { context_tokens: 400, ..config(4) }).expect("model loads")
}

#[tokio::test]
async fn a_long_conversation_drops_its_oldest_turns_to_fit_the_context() {
    let filler = "word ".repeat(60);
    let mut messages: Vec<Message> = (0..6)
        .flat_map(|i| [Message::user(format!("{i} {filler}")), Message::assistant(format!("ok {i}"))])
        .collect();
    messages.push(Message::user("Say hi."));
    let params = InferenceParams { max_tokens: Some(8), ..Default::default() };

    let (_, done) = answer(&small_context(), ChatRequest { params, ..ChatRequest::new(messages) }).await;

    assert!(done.usage.input_tokens <= 400 - 8, "{done:?}");
    assert!(done.usage.input_tokens > 200, "the recent turns were kept: {done:?}");
}

#[tokio::test]
async fn a_last_message_that_fits_only_with_a_shorter_answer_gets_one() {
    let request = greedy(&"word ".repeat(250), 1_000);

    let (_, done) = answer(&small_context(), request).await;

    assert!(done.usage.input_tokens > 200, "{done:?}");
    assert!(done.usage.input_tokens + done.usage.output_tokens <= 400, "within the context: {done:?}");
}

#[tokio::test]
async fn a_single_message_longer_than_the_context_is_an_invalid_request() {
    let request = ChatRequest::from_prompt("word ".repeat(500));

    let error = small_context().stream(request).await.err().expect("refused before generating");

    assert_eq!(error.kind, ErrorKind::InvalidRequest);
    // In the words clients read as a prompt past the model's context (see `prompt.rs`).
    assert!(error.message.starts_with("prompt is too long: "), "{}", error.message);
    let (tokens, maximum) = error.message["prompt is too long: ".len()..].split_once(" tokens > ").unwrap();
    let maximum = maximum.split_once(' ').unwrap().0;
    assert!(tokens.parse::<usize>().unwrap() > maximum.parse::<usize>().unwrap(), "{}", error.message);
}

#[test]
fn defaults_are_the_documented_ones() {
    let defaults = LocalConfig::default();
    assert_eq!((defaults.max_queue, defaults.context_tokens), (16, 4096));
    assert_eq!(
        defaults.settings,
        Settings {
            max_tokens: 256,
            temperature: 0.2,
            top_p: 0.9,
            top_k: 40,
            repeat_penalty: 1.1,
            repeat_last_n: 64
        }
    );
}

#[test]
fn a_corrupt_model_file_names_the_command_that_fixes_it() {
    let path = std::env::temp_dir().join(format!("streambed-corrupt-{}.gguf", std::process::id()));
    std::fs::write(&path, b"GGUF but not really").unwrap();
    let config = LocalConfig { model_path: path.clone(), ..LocalConfig::default() };

    let message = LocalModel::load(&config).unwrap_err().to_string();

    assert!(message.contains("just model") && message.contains("not a readable GGUF"), "{message}");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_missing_model_names_the_command_that_fetches_it() {
    let config = LocalConfig { model_path: "/nonexistent/model.gguf".into(), ..LocalConfig::default() };
    let message = LocalModel::load(&config).unwrap_err().to_string();
    assert!(message.contains("just model") && message.contains("LOCAL_MODEL_PATH"), "{message}");
}
