//! Abuse limits: every refusal is a quick JSON answer with Retry-After, never a hang, and the
//! server goes on serving.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::{StreamExt, future::join_all};
use serde_json::{Value, json};
use streambed_emulator::Emulator;

use crate::helpers::{MODEL, TestApp, read_frames, spawn_app, spawn_app_with};

fn retry_after(response: &reqwest::Response) -> Duration {
    let secs = response.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap();
    Duration::from_secs(secs)
}

const KEY: &str = "limits-key-0123456789abcdef";

/// Sends 40 chats at once from one address (with `key` as the credential, if any); the statuses.
async fn forty_chats_at_once(app: &TestApp, key: Option<&str>) -> Vec<u16> {
    let chat = |i: usize| {
        let mut request = app.http.post(app.url("/api/chat")).json(&json!({ "prompt": format!("chat {i}") }));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            if status == 200 {
                assert_eq!(read_frames(response).await.last().0, "done");
            } else {
                assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "rate_limited");
            }
            status
        }
    };
    join_all((0..40).map(chat)).await
}

/// How many of `statuses` were let through: the default burst (20), plus the one chat a second
/// the rate gives back while the 40 are sent, and never all of them.
fn assert_default_rate_applied(statuses: &[u16]) {
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!((20..=30).contains(&ok), "{ok} of 40 chats let through: {statuses:?}");
    assert!(statuses.iter().all(|s| matches!(s, 200 | 429)), "{statuses:?}");
}

#[tokio::test]
async fn without_authentication_a_busy_client_is_not_rate_limited() {
    let app = spawn_app().await;

    let statuses = forty_chats_at_once(&app, None).await;

    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(app.emulator.recorder.requests().len(), 40);
}

#[tokio::test]
async fn with_api_keys_the_default_rate_limit_applies() {
    let app = spawn_app_with(Emulator::scripted(), &[("API_KEYS", KEY)]).await;

    assert_default_rate_applied(&forty_chats_at_once(&app, Some(KEY)).await);
}

#[tokio::test]
async fn an_explicit_rate_limit_applies_without_authentication() {
    let app = spawn_app_with(Emulator::scripted(), &[("RATE_LIMIT_PER_MINUTE", "60")]).await;

    assert_default_rate_applied(&forty_chats_at_once(&app, None).await);
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_then_recovers() {
    let app =
        spawn_app_with(Emulator::scripted(), &[("RATE_LIMIT_PER_MINUTE", "120"), ("RATE_LIMIT_BURST", "2")])
            .await;

    for _ in 0..2 {
        assert_eq!(app.chat("hi").await.last().0, "done");
    }
    let limited = app.post_chat(json!({ "prompt": "hi" })).await;

    assert_eq!(limited.status(), 429);
    let wait = retry_after(&limited);
    assert!((1..=2).contains(&wait.as_secs()), "{wait:?}");
    assert_eq!(limited.json::<Value>().await.unwrap()["error"]["code"], "rate_limited");
    assert_eq!(app.emulator.recorder.requests().len(), 2, "the limited request never reached Bedrock");
    assert_eq!(
        app.http.get(app.url("/api/health")).send().await.unwrap().status(),
        200,
        "other routes are not limited"
    );

    tokio::time::sleep(wait).await;
    assert_eq!(app.chat("hi again").await.last().0, "done");
}

#[tokio::test]
async fn the_stream_cap_answers_503_and_frees_its_place_when_a_stream_ends() {
    let app = spawn_app_with(Emulator::scripted(), &[("MAX_CONCURRENT_STREAMS", "1")]).await;
    let first = app.post_chat(json!({ "prompt": "[[scenario:slow delay_ms=20 n=10]]" })).await;
    assert_eq!(first.status(), 200);

    let refused = app.post_chat(json!({ "prompt": "me too" })).await;

    assert_eq!(refused.status(), 503);
    assert!(retry_after(&refused) >= Duration::from_secs(1));
    assert_eq!(refused.json::<Value>().await.unwrap()["error"]["code"], "overloaded");
    assert_eq!(app.http.get(app.url("/api/health")).send().await.unwrap().status(), 200);
    assert_eq!(read_frames(first).await.tokens().len(), 10);
    assert_eq!(app.chat("my turn").await.last().0, "done", "the finished stream gave its place back");
}

#[tokio::test]
async fn a_client_that_leaves_gives_its_place_back() {
    let vars = [("MAX_CONCURRENT_STREAMS", "1"), ("RATE_LIMIT_PER_MINUTE", "0")];
    let app = spawn_app_with(Emulator::scripted(), &vars).await;
    let response = app.post_chat(json!({ "prompt": "[[scenario:slow delay_ms=50 n=100]]" })).await;
    let mut events = response.bytes_stream().eventsource();
    while events.next().await.unwrap().unwrap().event != "message" {}

    drop(events);

    // The server notices the hang-up on its next write (within one token).
    let mut status = 0;
    for _ in 0..50 {
        status = app.post_chat(json!({ "prompt": "next" })).await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_answer_past_the_deadline_ends_with_an_error_event() {
    let app = spawn_app_with(Emulator::scripted(), &[("REQUEST_TIMEOUT_SECONDS", "0.3")]).await;

    let frames = app.chat("[[scenario:slow delay_ms=50 n=100]]").await;

    let (event, data) = frames.last();
    assert_eq!(event, "error");
    assert_eq!(data["error"]["code"], "model_timeout");
    assert!(data["error"]["message"].as_str().unwrap().contains("REQUEST_TIMEOUT_SECONDS"));
    assert!(frames.tokens().len() < 100);
    // Whole, not streamed: the deadline is a 504 before any byte, and still the server's.
    let messages = json!([{ "role": "user", "content": "[[scenario:slow delay_ms=50 n=100]]" }]);
    let whole =
        app.http.post(app.url("/v1/chat/completions")).json(&json!({ "model": MODEL, "messages": messages }));
    assert_eq!(whole.send().await.unwrap().status(), 504);
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        !metrics.contains("streambed_upstream_errors_total"),
        "the server's limit, not Bedrock's: {metrics}"
    );
}

#[tokio::test]
async fn prompt_size_turns_and_max_tokens_are_capped() {
    let vars = [("MAX_PROMPT_CHARS", "50"), ("MAX_TURNS", "3"), ("MAX_TOKENS_LIMIT", "500")];
    let app = spawn_app_with(Emulator::scripted(), &vars).await;
    let turn = |role: &str| json!({ "role": role, "content": "hi" });

    for (body, variable) in [
        (json!({ "prompt": "x".repeat(51) }), "MAX_PROMPT_CHARS"),
        (
            json!({ "messages": [turn("user"), turn("assistant"), turn("user"), turn("assistant"), turn("user")] }),
            "MAX_TURNS",
        ),
    ] {
        let response = app.post_chat(body).await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains(variable), "{body}");
    }
    assert!(app.emulator.recorder.requests().is_empty());

    for (asked, sent) in [(400, 400), (501, 500)] {
        let frames = read_frames(app.post_chat(json!({ "prompt": "hi", "maxTokens": asked })).await).await;
        assert_eq!(frames.last().0, "done");
        let request = app.emulator.recorder.requests().last().unwrap().body.clone();
        assert_eq!(request["inferenceConfig"]["maxTokens"], sent, "forwarded within the limit: {request}");
    }
}
