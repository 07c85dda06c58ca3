//! The production path: the `streambed` binary reaching Bedrock (the emulator, `--tls`) over TLS,
//! trusting its CA through `AWS_CA_BUNDLE`. The SDK's ALPN picks HTTP/2, so concurrent streams
//! share a connection instead of holding one each.

use futures_util::future::join_all;
use serde_json::json;
use streambed_emulator::Emulator;

use crate::{
    binary::{command, start},
    helpers::read_frames,
};

#[tokio::test]
async fn concurrent_streams_are_multiplexed_over_one_tls_connection() {
    let emulator = Emulator::scripted().spawn_tls().await.unwrap();
    let ca_bundle = emulator.ca_bundle().unwrap().to_str().unwrap().to_owned();
    let (mut child, url, log) = start(&emulator, &[("AWS_CA_BUNDLE", &ca_bundle)]);
    let http = reqwest::Client::new();
    let chat = |prompt: &'static str| {
        let request = http.post(format!("{url}/api/chat")).json(&json!({ "prompt": prompt }));
        async move { read_frames(request.send().await.unwrap()).await }
    };
    // A cold burst would race a connection per stream before the first has negotiated h2
    // (see the emulator's TLS tests); an operator's server is warm after its first answer.
    assert_eq!(chat("warm up").await.last().0, "done", "{}", log.lock().unwrap());
    emulator.recorder.clear();
    let warm = emulator.recorder.connections().accepted;

    let answers = join_all((0..20).map(|_| chat("[[scenario:slow delay_ms=50 n=20]]"))).await;

    assert!(answers.iter().all(|a| a.tokens().len() == 20 && a.last().0 == "done"));
    let records = emulator.recorder.requests();
    assert_eq!(records.len(), 20);
    assert!(records.iter().all(|r| r.http_version == "HTTP/2.0"), "{records:?}");
    let last_start = records.iter().map(|r| r.received_ms).max().unwrap();
    let first_end = records.iter().filter_map(|r| r.ended_ms).min().unwrap();
    assert!(last_start < first_end, "the 20 streams were open upstream at once");
    let connections = emulator.recorder.connections();
    assert!(warm + 3 >= connections.accepted, "20 streams over {connections:?} ({warm} before)");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn without_the_ca_bundle_the_tls_upstream_is_not_trusted() {
    let emulator = Emulator::scripted().spawn_tls().await.unwrap();
    let (mut child, url, _) = start(&emulator, &[]);

    let response = reqwest::Client::new().post(format!("{url}/api/chat")).json(&json!({ "prompt": "hi" }));
    let response = response.send().await.unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();

    assert_eq!(status, 502, "{body}");
    assert!(body.contains("UnknownIssuer") && body.contains("set AWS_CA_BUNDLE"), "{body}");
    assert!(emulator.recorder.requests().is_empty());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn an_unusable_ca_bundle_stops_start_up_naming_the_variable() {
    let emulator = Emulator::scripted().spawn().await.unwrap();

    let output = command(&emulator, &[("AWS_CA_BUNDLE", "/nonexistent/ca.pem")]).output().unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("AWS_CA_BUNDLE: /nonexistent/ca.pem"), "{stderr}");
}

#[tokio::test]
async fn past_the_streams_per_connection_another_connection_carries_the_rest() {
    let emulator = Emulator::scripted().spawn_tls().await.unwrap();
    let ca_bundle = emulator.ca_bundle().unwrap().to_str().unwrap().to_owned();
    let vars = [("AWS_CA_BUNDLE", ca_bundle.as_str()), ("BEDROCK_STREAMS_PER_CONNECTION", "5")];
    let (mut child, url, log) = start(&emulator, &vars);
    let http = reqwest::Client::new();
    let chat = |prompt: &'static str| {
        let request = http.post(format!("{url}/api/chat")).json(&json!({ "prompt": prompt }));
        async move { read_frames(request.send().await.unwrap()).await }
    };
    assert_eq!(chat("warm up").await.last().0, "done", "{}", log.lock().unwrap());

    let answers = join_all((0..20).map(|_| chat("[[scenario:slow delay_ms=50 n=20]]"))).await;

    assert!(answers.iter().all(|a| a.tokens().len() == 20 && a.last().0 == "done"));
    let connections = emulator.recorder.connections();
    // Four clients of five streams each; a cold client may race a second connection or two.
    assert!(connections.peak_open >= 4, "20 streams at 5 per connection: {connections:?}");
    child.kill().unwrap();
    child.wait().unwrap();
}
