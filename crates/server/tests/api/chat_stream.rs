use std::time::Duration;

use serde_json::{Value, json};
use streambed_emulator::{Emulator, UNICODE_DELTAS, long_text};

use crate::helpers::{MODEL, read_frames, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_prompt_streams_one_token_frame_per_delta_then_done() {
    let app = spawn_app().await;

    let response = app.post_chat(json!({ "prompt": "hi there" })).await;

    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache, no-transform");
    assert_eq!(headers["x-accel-buffering"], "no");
    assert!(headers.contains_key("x-request-id"));
    let frames = read_frames(response).await;
    assert_eq!(frames.text(), "Hello from the Streambed emulator. You said: hi there");
    assert_eq!(frames.tokens().len(), app.emulator.recorder.requests()[0].deltas_sent);
    let (event, done) = frames.last();
    assert_eq!(event, "done");
    assert_eq!(done["stopReason"], "end_turn");
    assert_eq!(done["usage"], json!({ "inputTokens": 2, "outputTokens": 9 }));
    assert_eq!(done["model"], MODEL);
    assert_eq!(done["streamed"], true);
    assert!(done["latencyMs"].is_u64());
}

#[tokio::test]
async fn the_seed_frame_is_byte_compatible() {
    let app = spawn_app().await;

    let body = app.post_chat(json!({ "prompt": "x" })).await.text().await.unwrap();

    assert!(body.starts_with(": keep-alive\n\n"), "{body}");
    assert!(body.contains("data: {\"token\":\"Hello \"}\n\n"), "{body}");
    assert!(body.contains("event: done\ndata: {"), "{body}");
}

#[tokio::test]
async fn long_and_unicode_answers_reassemble_exactly() {
    let app = spawn_app().await;

    let long = app.chat("[[scenario:long n=3000]]").await;
    let unicode = app.chat("[[scenario:unicode]]").await;

    assert_eq!(long.tokens().len(), 3000);
    assert_eq!(long.text(), long_text(3000));
    assert_eq!(unicode.tokens(), UNICODE_DELTAS);
    assert_eq!(unicode.count("done"), 1);
}

#[tokio::test]
async fn a_conversation_reaches_bedrock_with_roles_system_prompt_and_settings() {
    let vars = [
        ("BEDROCK_SYSTEM_PROMPT", "Answer in French."),
        ("BEDROCK_MAX_TOKENS", "321"),
        ("BEDROCK_TEMPERATURE", "0.25"),
        ("BEDROCK_TOP_P", "0.75"),
    ];
    let app = spawn_app_with(Emulator::scripted(), &vars).await;
    let messages = json!([
        { "role": "user", "content": "Hi" },
        { "role": "assistant", "content": "Hello!" },
        { "role": "user", "content": "[[scenario:echo]] Tell me more" },
    ]);

    let response = app.post_chat(json!({ "messages": messages })).await;
    let echoed: Value = serde_json::from_str(&read_frames(response).await.text()).unwrap();

    assert_eq!(echoed["system"], json!([{ "text": "Answer in French." }]));
    assert_eq!(echoed["inferenceConfig"], json!({ "maxTokens": 321, "temperature": 0.25, "topP": 0.75 }));
    let roles: Vec<_> = echoed["messages"].as_array().unwrap().iter().map(|m| m["role"].clone()).collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(echoed["messages"][1]["content"][0]["text"], "Hello!");
}

#[tokio::test]
async fn reasoning_goes_out_as_its_own_event_type() {
    let app = spawn_app().await;

    let frames = app.chat("[[scenario:reasoning]]").await;

    assert_eq!(frames.count("reasoning"), 3);
    assert_eq!(frames.text(), "Hello there!", "seed clients see only the answer");
    assert_eq!(frames.last().0, "done");
}

#[tokio::test]
async fn keep_alive_comments_arrive_while_the_first_token_is_slow() {
    let app = spawn_app_with(Emulator::scripted(), &[("SSE_KEEPALIVE_SECONDS", "0.1")]).await;

    let response = app.post_chat(json!({ "prompt": "[[scenario:slow delay_ms=700 n=1]]" })).await;
    let body = tokio::time::timeout(Duration::from_secs(5), response.text()).await.unwrap().unwrap();

    let before_token = &body[..body.find("data:").unwrap()];
    assert!(before_token.matches(": keep-alive\n\n").count() >= 3, "{body}");
}

#[tokio::test]
async fn a_model_slow_to_start_answering_gets_the_response_started_and_kept_alive_meanwhile() {
    let app = spawn_app_with(Emulator::scripted(), &[("FIRST_BYTE_SECONDS", "1")]).await;
    // A first answer warms the SDK's client (see `upstream.rs`), so the two below go at once.
    app.chat("hi").await;
    // Bedrock's response head held back 3 s (a long prompt), longer than the server waits for
    // it: past that wait the headers and a keep-alive go out, where a proxy would otherwise
    // time out waiting for a first byte, and the answer follows.
    let slow = "[[scenario:slow head_ms=3000 delay_ms=10 n=3]]";
    let asked = tokio::time::Instant::now();
    let openai = app
        .http
        .post(app.url("/v1/chat/completions"))
        .json(&json!({ "model": MODEL, "stream": true, "messages": [{ "role": "user", "content": slow }] }))
        .send();
    let (ours, openai) = tokio::join!(app.post_chat(json!({ "prompt": slow })), openai);
    let headers_after = asked.elapsed();
    let openai = openai.unwrap();

    assert!(headers_after < Duration::from_secs(2), "the response started after {headers_after:?}");
    assert_eq!((ours.status().as_u16(), openai.status().as_u16()), (200, 200));
    let (ours, openai) = tokio::join!(ours.text(), openai.text());
    let (ours, openai) = (ours.unwrap(), openai.unwrap());
    assert!(ours.starts_with(": keep-alive\n\n"), "{ours}");
    assert!(ours.trim_end().ends_with(r#""streamed":true}"#) && ours.contains("event: done"), "{ours}");
    assert!(openai.trim_end().ends_with("data: [DONE]"), "{openai}");
    assert!(asked.elapsed() >= Duration::from_secs(3), "the answers came once the model started");
}
