use std::time::{Duration, Instant};

use serde_json::{Value, json};
use streambed_emulator::{Emulator, StreamException};

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn refusals_before_the_stream_are_http_statuses_with_json() {
    let app = spawn_app().await;
    for (scenario, status, code) in [
        ("not-found", 502, "model_not_found"),
        ("validation", 400, "invalid_request"),
        ("model-timeout", 504, "model_timeout"),
        ("throttle", 429, "throttled"),
    ] {
        let response = app.post_chat(json!({ "prompt": format!("[[scenario:{scenario}]]") })).await;

        assert_eq!(response.status(), status, "{scenario}");
        if scenario == "throttle" {
            assert!(response.headers()["retry-after"].to_str().unwrap().parse::<u32>().unwrap() >= 1);
        }
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{scenario}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.len() > 20), "{scenario}: {body}");
    }
    let throttled =
        app.emulator.recorder.requests().iter().filter(|r| r.body.to_string().contains("throttle")).count();
    assert_eq!(throttled, 3, "the SDK retried throttling before we gave up");
}

#[tokio::test]
async fn each_mid_stream_exception_ends_with_an_error_event_and_no_done() {
    let app = spawn_app().await;
    for kind in StreamException::ALL {
        let frames = app.chat(&format!("[[scenario:exception type={} after=3]]", kind.event_type())).await;

        assert_eq!(frames.tokens().len(), 3, "{kind:?}");
        assert_eq!(frames.count("done"), 0, "{kind:?}");
        let (event, error) = frames.last();
        assert_eq!(event, "error", "{kind:?}");
        assert!(error["error"]["code"].is_string() && error["error"]["retryable"].is_boolean(), "{error}");
        assert!(error["error"]["requestId"].is_string(), "our request id: {error}");
        assert!(
            error["error"]["upstreamRequestId"].is_string(),
            "the Bedrock request id is passed on: {error}"
        );
    }
}

#[tokio::test]
async fn cuts_end_with_an_error_event_within_a_second() {
    let app = spawn_app().await;
    for at in ["boundary", "frame", "reset"] {
        let started = Instant::now();

        let frames = app.chat(&format!("[[scenario:cut at={at} after=2]]")).await;

        assert!(started.elapsed() < Duration::from_secs(1), "{at}: {:?}", started.elapsed());
        assert_eq!(frames.tokens().len(), 2, "{at}");
        let (event, error) = frames.last();
        assert_eq!((event, error["error"]["code"].as_str()), ("error", Some("stream_interrupted")), "{at}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            !message.contains("DispatchFailure") && !message.contains(" { "),
            "words, not Debug: {message}"
        );
        assert_eq!(frames.count("done"), 0);
    }
}

#[tokio::test]
async fn a_slow_but_steady_upstream_outlasts_the_idle_timeout() {
    // Each token comes well within the idle timeout, the whole answer well after it: only
    // silence counts, not the answer's length.
    let app = spawn_app_with(Emulator::scripted(), &[("BEDROCK_STREAM_IDLE_TIMEOUT", "1")]).await;

    let frames = app.chat("[[scenario:slow delay_ms=100 n=25]]").await;

    assert_eq!(frames.tokens().len(), 25);
    assert_eq!(frames.last().0, "done");
}

#[tokio::test]
async fn a_stalled_upstream_ends_with_an_error_after_the_idle_timeout() {
    let app = spawn_app_with(Emulator::scripted(), &[("BEDROCK_STREAM_IDLE_TIMEOUT", "0.3")]).await;
    let started = Instant::now();

    let frames = app.chat("[[scenario:stall after=2]]").await;

    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(1300), "{elapsed:?}");
    assert_eq!(frames.tokens().len(), 2);
    assert_eq!(frames.last().0, "error");
    let hung_up = app
        .emulator
        .recorder
        .wait_for(Duration::from_secs(1), |r| r[0].outcome == streambed_emulator::Outcome::ClientHungUp)
        .await;
    assert!(hung_up.is_ok(), "the stalled upstream connection was closed: {hung_up:?}");
}
