//! Bedrock endpoints that are not Bedrock: a stand-in without ConverseStream, a proxy's error
//! page, a server that answers in another format or not at all. The real binary, pointed at
//! each through `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`, says what answered and where to look.

use std::time::{Duration, Instant};

use axum::{
    Router,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde_json::{Value, json};
use streambed_emulator::Emulator;
use tokio::net::TcpListener;

use crate::{
    binary::{start, terminate},
    helpers::read_frames,
};

/// Serves `router` on a free port of its own; its URL.
async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// The binary pointed at `endpoint`, and its answer to one stateless chat.
async fn chat_through(endpoint: &str, vars: &[(&str, &str)]) -> (reqwest::Response, std::process::Child) {
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let mut vars = vars.to_vec();
    vars.push(("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", endpoint));
    let (child, url, _) = start(&emulator, &vars);
    let response = reqwest::Client::new()
        .post(format!("{url}/api/chat"))
        .json(&json!({ "prompt": "hello" }))
        .send()
        .await
        .unwrap();
    (response, child)
}

#[tokio::test]
async fn an_error_page_without_an_aws_error_is_reported_with_its_status_and_type() {
    let page = || async {
        (StatusCode::NOT_IMPLEMENTED, [(header::CONTENT_TYPE, "text/html")], "<h1>Not here</h1>")
    };
    let endpoint = serve(Router::new().fallback(page)).await;

    let (response, child) = chat_through(&endpoint, &[]).await;

    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    terminate(&child);
    assert_eq!(body["error"]["code"], "upstream_error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("HTTP 501 (text/html) without an AWS error"), "{message}");
    assert!(
        message.contains("AWS_ENDPOINT_URL_BEDROCK_RUNTIME") && !message.contains("Unknown"),
        "{message}"
    );
}

#[tokio::test]
async fn an_answer_that_is_no_event_stream_is_reported_as_unreadable() {
    // What a stand-in that streams Server-Sent Events under Bedrock's content type sends.
    let sse = || async {
        let body = "data: {\"contentBlockDelta\":{\"delta\":{\"text\":\"hi\"}}}\n\n".repeat(200);
        ([(header::CONTENT_TYPE, "application/vnd.amazon.eventstream")], body).into_response()
    };
    let endpoint = serve(Router::new().fallback(sse)).await;

    let (response, child) = chat_through(&endpoint, &[]).await;

    let frames = read_frames(response).await;
    terminate(&child);
    let (event, error) = frames.last();
    assert_eq!((event, error["error"]["code"].as_str()), ("error", Some("upstream_error")), "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("Bedrock's answer could not be read ("), "{message}");
    assert!(message.contains("AWS_ENDPOINT_URL_BEDROCK_RUNTIME") && message.len() < 600, "{message}");
}

#[tokio::test]
async fn an_endpoint_that_never_answers_is_given_up_after_the_idle_timeout() {
    // Takes the connection and the request, and says nothing.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            held.push(connection);
        }
    });
    let asked = Instant::now();

    let (response, child) = chat_through(&endpoint, &[("BEDROCK_STREAM_IDLE_TIMEOUT", "1")]).await;

    let (status, text) = (response.status(), response.text().await.unwrap());
    terminate(&child);
    held.abort();
    assert!(asked.elapsed() < Duration::from_secs(10), "given up after {:?}", asked.elapsed());
    // Before the response's first byte (JSON) or after it (an SSE error event): either way, said.
    assert!(status == 504 || status == 200, "{status}: {text}");
    assert!(text.contains("model_timeout") && text.contains("BEDROCK_STREAM_IDLE_TIMEOUT"), "{text}");
}
