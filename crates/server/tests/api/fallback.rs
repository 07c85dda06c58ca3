use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn refused_streaming_falls_back_to_converse_in_one_chunk() {
    let app = spawn_app().await;
    for scenario in ["deny-stream", "no-stream"] {
        let frames = app.chat(&format!("[[scenario:{scenario}]] hi")).await;

        assert_eq!(frames.tokens(), ["Hello from the Streambed emulator. You said: hi"], "{scenario}");
        let (event, done) = frames.last();
        assert_eq!((event, done["streamed"].clone()), ("done", json!(false)), "{scenario}");
        assert_eq!(done["usage"]["outputTokens"], 8);
    }
    let operations: Vec<_> = app.emulator.recorder.requests().iter().map(|r| r.operation).collect();
    use streambed_emulator::Operation::*;
    assert_eq!(operations, [ConverseStream, Converse, ConverseStream, Converse]);
}

#[tokio::test]
async fn access_denied_on_both_calls_is_a_502_that_says_what_to_check() {
    let app = spawn_app().await;

    let response = app.post_chat(json!({ "prompt": "[[scenario:deny-all]]" })).await;

    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "access_denied");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("bedrock:InvokeModelWithResponseStream") && message.contains("model access"),
        "{message}"
    );
    assert!(
        body["error"]["requestId"].is_string() && body["error"]["upstreamRequestId"].is_string(),
        "{body}"
    );
}

#[tokio::test]
async fn no_fallback_once_a_token_was_sent() {
    let app = spawn_app().await;

    let frames = app.chat("[[scenario:exception type=validationException after=2]]").await;

    assert_eq!(frames.tokens().len(), 2);
    assert_eq!(frames.last().0, "error");
    assert_eq!(app.emulator.recorder.requests().len(), 1, "no Converse call after tokens went out");
}
