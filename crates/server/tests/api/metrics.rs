//! `GET /metrics` after a known sequence of requests.

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::json;
use streambed_emulator::Outcome;

use crate::helpers::{MODEL, spawn_app};

/// The value of one series, e.g. `streambed_tokens_relayed_total` or
/// `streambed_http_requests_total{route="/api/chat",method="POST",status="200"}`.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_count_requests_tokens_errors_cancellations_and_timings() {
    let app = spawn_app().await;

    // Two complete answers: 5 fast tokens, and 4 tokens 50 ms apart.
    let fast = app.chat("[[scenario:slow delay_ms=1 n=5]]").await;
    let slow = app.chat("[[scenario:slow delay_ms=50 n=4]]").await;
    assert_eq!((fast.tokens().len(), slow.tokens().len()), (5, 4));
    // A 400, a Bedrock refusal before the stream, a mid-stream exception, a fallback.
    assert_eq!(app.post_chat(json!({ "prompt": "" })).await.status(), 400);
    assert_eq!(app.post_chat(json!({ "prompt": "[[scenario:deny-all]]" })).await.status(), 502);
    assert_eq!(
        app.chat("[[scenario:exception type=internalServerException after=2]]").await.last().0,
        "error"
    );
    let fallback = app.chat("[[scenario:deny-stream]]").await;
    assert_eq!(fallback.last().0, "done");
    // What the three complete answers cost, as their `done` said.
    let used = |side: &str| -> f64 {
        [&fast, &slow, &fallback].iter().map(|frames| frames.last().1["usage"][side].as_f64().unwrap()).sum()
    };
    // A client that leaves mid-answer.
    let response = app.post_chat(json!({ "prompt": "[[scenario:slow delay_ms=50 n=100]]" })).await;
    let mut events = response.bytes_stream().eventsource();
    while events.next().await.unwrap().unwrap().event != "message" {}
    drop(events);
    app.emulator
        .recorder
        .wait_for(std::time::Duration::from_secs(5), |r| r.last().unwrap().outcome == Outcome::ClientHungUp)
        .await
        .unwrap();

    // Made-up methods and paths must not create series of their own.
    let odd = reqwest::Method::from_bytes(b"FROBNICATE").unwrap();
    assert_eq!(app.http.request(odd, app.url("/x/y")).send().await.unwrap().status(), 404);

    let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();

    let chat = |status: &str| {
        value(
            &text,
            &format!(r#"streambed_http_requests_total{{route="/api/chat",method="POST",status="{status}"}}"#),
        )
    };
    assert_eq!((chat("200"), chat("400"), chat("502")), (5.0, 1.0, 1.0));
    assert_eq!(value(&text, "streambed_active_streams"), 0.0);
    let unmatched = r#"streambed_http_requests_total{route="unmatched",method="other",status="404"}"#;
    assert_eq!(value(&text, unmatched), 1.0);
    assert!(!text.contains("FROBNICATE") && !text.contains("/x/y"));
    assert_eq!(value(&text, r#"streambed_upstream_errors_total{code="access_denied"}"#), 1.0);
    assert_eq!(value(&text, r#"streambed_upstream_errors_total{code="upstream_error"}"#), 1.0);
    assert_eq!(value(&text, "streambed_fallbacks_total"), 1.0);
    let model = |name: &str| format!(r#"{name}{{model="{MODEL}"}}"#);
    assert_eq!(value(&text, &model("streambed_input_tokens_total")), used("inputTokens"));
    assert_eq!(value(&text, &model("streambed_output_tokens_total")), used("outputTokens"));
    assert_eq!(value(&text, "streambed_cancellations_total"), 1.0);
    // 5 + 4 + 2 before the exception + the fallback's one chunk + at least 1 before leaving.
    let tokens = value(&text, "streambed_tokens_relayed_total");
    assert!(tokens >= 13.0, "{tokens}");
    // Every answer that produced text has a first-token time: 5 of them.
    assert_eq!(value(&text, "streambed_time_to_first_token_seconds_count"), 5.0);
    assert_eq!(value(&text, r#"streambed_time_to_first_token_seconds_bucket{le="+Inf"}"#), 5.0);
    // Gaps: 4 within the fast answer, 3 of at least 50 ms, and whatever came before leaving.
    let gaps = value(&text, "streambed_inter_token_seconds_count");
    let under_25ms = value(&text, r#"streambed_inter_token_seconds_bucket{le="0.025"}"#);
    assert_eq!(gaps, tokens - 5.0, "one gap per token after each answer's first");
    assert!(gaps - under_25ms >= 3.0, "the three 50 ms gaps land above 25 ms: {under_25ms} of {gaps}");
}
