use aws_sdk_bedrockruntime::operation::{converse::ConverseError, converse_stream::ConverseStreamError};
use serde_json::{Value, json};
use streambed_emulator::{AuthStyle, Outcome};

use crate::helpers::{MODEL, spawn, user};

async fn stream_error(t: &crate::helpers::TestEmulator, prompt: &str) -> (ConverseStreamError, u16) {
    let err = t.client.converse_stream().model_id(MODEL).messages(user(prompt)).send().await.unwrap_err();
    let status = err.raw_response().unwrap().status().as_u16();
    (err.into_service_error(), status)
}

#[tokio::test]
async fn each_refusal_is_the_exact_sdk_error_variant_and_status() {
    let t = spawn().await;
    type IsVariant = fn(&ConverseStreamError) -> bool;
    let cases: [(&str, IsVariant, u16); 6] = [
        ("deny-all", ConverseStreamError::is_access_denied_exception, 403),
        ("deny-stream", ConverseStreamError::is_access_denied_exception, 403),
        ("validation", ConverseStreamError::is_validation_exception, 400),
        ("not-found", ConverseStreamError::is_resource_not_found_exception, 404),
        ("model-timeout", ConverseStreamError::is_model_timeout_exception, 408),
        ("unavailable", ConverseStreamError::is_service_unavailable_exception, 503),
    ];
    for (scenario, is_variant, status) in cases {
        let (err, got) = stream_error(&t, &format!("[[scenario:{scenario}]]")).await;
        assert!(is_variant(&err), "{scenario}: got {err:?}");
        assert_eq!(got, status, "{scenario}");
        assert!(aws_sdk_bedrockruntime::error::ProvideErrorMetadata::message(&err).is_some());
    }
    assert!(t.emulator.recorder.requests().iter().all(|r| matches!(r.outcome, Outcome::ErrorStatus { .. })));
}

#[tokio::test]
async fn deny_stream_and_no_stream_still_answer_converse() {
    let t = spawn().await;
    let (err, _) = stream_error(&t, "[[scenario:no-stream]]").await;
    assert!(err.is_validation_exception());

    for scenario in ["deny-stream", "no-stream"] {
        let prompt = format!("[[scenario:{scenario}]] hi");
        let out = t.client.converse().model_id(MODEL).messages(user(&prompt)).send().await;
        assert!(out.is_ok(), "{scenario}: {out:?}");
    }
    let err =
        t.client.converse().model_id(MODEL).messages(user("[[scenario:deny-all]]")).send().await.unwrap_err();
    assert!(matches!(err.into_service_error(), ConverseError::AccessDeniedException(_)));
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_three_times() {
    let t = spawn().await;

    let (err, status) = stream_error(&t, "[[scenario:throttle]]").await;

    assert!(err.is_throttling_exception());
    assert_eq!(status, 429);
    let attempts: Vec<_> = t.emulator.recorder.requests().iter().map(|r| r.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
}

#[tokio::test]
async fn throttling_only_the_first_attempts_lets_a_retry_succeed() {
    let t = spawn().await;

    let streamed = t.stream("[[scenario:throttle first=2]] hi").await;

    assert!(streamed.text().ends_with("hi"));
    let outcomes: Vec<_> = t.emulator.recorder.requests().iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [Outcome::ErrorStatus { status: 429 }, Outcome::ErrorStatus { status: 429 }, Outcome::Complete]
    );
}

#[tokio::test]
async fn an_unknown_scenario_is_a_validation_exception() {
    let t = spawn().await;
    let (err, status) = stream_error(&t, "[[scenario:dance]]").await;
    assert!(err.is_validation_exception());
    assert_eq!(status, 400);
}

/// Raw HTTP, for what an SDK would never send.
#[tokio::test]
async fn malformed_bodies_get_bedrock_style_validation_errors() {
    let t = spawn().await;
    let http = reqwest::Client::new();
    let url = format!("{}/model/{MODEL}/converse-stream", t.emulator.endpoint_url());
    for body in ["{not json", "{}", r#"{"messages":[{"role":"robot","content":[{"text":"x"}]}]}"#] {
        let response = http.post(&url).header("authorization", "Bearer tok").body(body).send().await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error_type = response.headers()["x-amzn-errortype"].to_str().unwrap().to_owned();
        assert!(error_type.starts_with("ValidationException:"), "{error_type}");
        let json: Value = response.json().await.unwrap();
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert!(t.emulator.recorder.requests().iter().all(|r| r.auth == AuthStyle::Bearer));
    // …and it is still serving.
    assert!(t.stream("still there?").await.text().ends_with("still there?"));
}

#[tokio::test]
async fn serves_http2_with_prior_knowledge_on_the_same_port() {
    let t = spawn().await;
    let h2 = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let url = format!("{}/model/{MODEL}/converse", t.emulator.endpoint_url());

    let response = h2
        .post(&url)
        .json(&json!({"messages":[{"role":"user","content":[{"text":"h2"}]}]}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["usage"]["totalTokens"], 9);
    let log: Value = h2
        .get(format!("{}/_emulator/requests", t.emulator.endpoint_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log[0]["outcome"]["kind"], "complete");
}
