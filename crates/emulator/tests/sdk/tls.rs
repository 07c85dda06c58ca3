//! The SDK against the emulator over HTTPS, as against Bedrock: ALPN picks HTTP/2, and
//! concurrent streams share a connection.

use aws_sdk_bedrockruntime::{Client, error::SdkError};
use futures_util::future::join_all;
use streambed_emulator::{Emulator, RequestRecord};

use crate::helpers::{MODEL, config_builder, spawn_tls_with, user};

const SLOW: &str = "[[scenario:slow delay_ms=50 n=20]]";

/// Whether every request started before any ended: they were all open at once.
fn overlapped(records: &[RequestRecord]) -> bool {
    let last_start = records.iter().map(|r| r.received_ms).max();
    let first_end = records.iter().filter_map(|r| r.ended_ms).min();
    matches!((last_start, first_end), (Some(start), Some(end)) if start < end)
}

#[tokio::test]
async fn a_client_trusting_the_ca_streams_over_http2() {
    let t = spawn_tls_with(Emulator::scripted()).await;

    let streamed = t.stream("hi there").await;

    assert_eq!(streamed.text(), "Hello from the Streambed emulator. You said: hi there");
    assert!(t.emulator.endpoint_url().starts_with("https://"));
    assert_eq!(t.emulator.recorder.requests()[0].http_version, "HTTP/2.0");
    assert_eq!(t.emulator.recorder.connections().accepted, 1);
}

#[tokio::test]
async fn concurrent_streams_share_the_warm_connection() {
    let t = spawn_tls_with(Emulator::scripted()).await;
    // Until one connection has negotiated h2, hyper's pool cannot know it may share it: a cold
    // burst opens a connection per request (the extras close once they are idle).
    t.stream("warm up").await;
    t.emulator.recorder.clear();

    let streams = join_all((0..20).map(|_| t.stream(SLOW))).await;

    assert!(streams.iter().all(|s| s.deltas.len() == 20 && s.error.is_none()));
    let records = t.emulator.recorder.requests();
    assert!(overlapped(&records), "the 20 streams were open at once");
    assert!(records.iter().all(|r| r.http_version == "HTTP/2.0"));
    let connections = t.emulator.recorder.connections();
    assert!(connections.accepted <= 3, "20 streams over {connections:?}");
}

#[tokio::test]
async fn streams_past_the_servers_http2_limit_wait_instead_of_opening_connections() {
    // hyper's client (under the SDK) keeps to one connection per host, as RFC 9113 asks: what
    // Bedrock advertises as SETTINGS_MAX_CONCURRENT_STREAMS caps one server's open streams.
    let t = spawn_tls_with(Emulator::scripted().with_h2_max_streams(5)).await;
    // One call first, so the connection is known to be HTTP/2 before the burst.
    t.stream("warm up").await;
    t.emulator.recorder.clear();

    let streams = join_all((0..10).map(|_| t.stream(SLOW))).await;

    assert!(streams.iter().all(|s| s.deltas.len() == 20 && s.error.is_none()));
    assert_eq!(t.emulator.recorder.connections().accepted, 1);
    assert!(!overlapped(&t.emulator.recorder.requests()), "five waited for the first five to end");
}

#[tokio::test]
async fn a_client_without_the_ca_is_refused_before_any_request() {
    let emulator = Emulator::scripted().spawn_tls().await.unwrap();
    // The SDK's default HTTP client: the platform's roots only.
    let client = Client::from_conf(config_builder(&emulator).build());

    let error = client.converse_stream().model_id(MODEL).messages(user("hi")).send().await.unwrap_err();

    assert!(matches!(error, SdkError::DispatchFailure(_)), "{error:?}");
    assert!(emulator.recorder.requests().is_empty());
}
