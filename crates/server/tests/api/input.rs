use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with};

async fn assert_json_error(response: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(response.status(), status);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn bad_bodies_get_400_and_never_reach_bedrock() {
    let app = spawn_app().await;
    let bodies = [
        "{not json",
        "[]",
        "{}",
        r#"{"prompt":""}"#,
        r#"{"prompt":"   "}"#,
        r#"{"prompt":42}"#,
        r#"{"prompt":null}"#,
        r#"{"messages":[]}"#,
        r#"{"messages":"hi"}"#,
        r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}"#,
        r#"{"messages":[{"role":"system","content":"a"}]}"#,
        r#"{"messages":[{"role":"user"}]}"#,
        r#"{"prompt":"a","messages":[{"role":"user","content":"b"}]}"#,
    ];
    for body in bodies {
        let response = app
            .http
            .post(app.url("/api/chat"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let message = assert_json_error(response, 400, "invalid_request").await;
        assert!(!message.is_empty(), "{body}");
    }
    assert!(app.emulator.recorder.requests().is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_json_gets_415() {
    let app = spawn_app().await;

    let response = app.http.post(app.url("/api/chat")).body(r#"{"prompt":"hi"}"#).send().await.unwrap();

    let message = assert_json_error(response, 415, "unsupported_media_type").await;
    assert!(message.contains("Content-Type: application/json"));
}

#[tokio::test]
async fn a_compressed_body_gets_415_on_every_api() {
    let app = spawn_app().await;

    for path in ["/api/chat", "/v1/chat/completions", "/v1/messages"] {
        let response = app
            .http
            .post(app.url(path))
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(r#"{"prompt":"hi"}"#)
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), 415, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body.to_string().contains("uncompressed"), "{path}: {body}");
    }
    assert!(app.emulator.recorder.requests().is_empty());
}

#[tokio::test]
async fn an_oversized_body_gets_413_and_the_server_keeps_serving() {
    let app = spawn_app_with(streambed_emulator::Emulator::scripted(), &[("MAX_BODY_BYTES", "1000")]).await;
    let big = serde_json::json!({ "prompt": "x".repeat(2000) });

    let response = app.post_chat(big).await;

    assert_json_error(response, 413, "payload_too_large").await;
    assert_eq!(app.chat("still here?").await.last().0, "done");
    assert_eq!(app.emulator.recorder.requests().len(), 1);
}
