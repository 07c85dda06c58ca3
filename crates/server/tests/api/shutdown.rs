use std::time::Duration;

use serde_json::json;
use streambed_emulator::Emulator;

use crate::helpers::{read_frames, spawn_app_with};

#[tokio::test]
async fn streams_in_flight_at_shutdown_finish_within_the_grace_period() {
    let mut app = spawn_app_with(Emulator::scripted(), &[("SHUTDOWN_GRACE_SECONDS", "5")]).await;
    let response = app.post_chat(json!({ "prompt": "[[scenario:slow delay_ms=50 n=10]]" })).await;

    app.signal_shutdown();
    let frames = read_frames(response).await;

    assert_eq!(frames.tokens().len(), 10);
    assert_eq!(frames.last().0, "done");
    let stopped = tokio::time::timeout(Duration::from_secs(5), &mut app.server).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "the server exits once streams are done: {stopped:?}");
}

#[tokio::test]
async fn streams_still_running_after_the_grace_period_end_with_shutting_down() {
    let mut app = spawn_app_with(Emulator::scripted(), &[("SHUTDOWN_GRACE_SECONDS", "0.3")]).await;
    let response = app.post_chat(json!({ "prompt": "[[scenario:slow delay_ms=100 n=100]]" })).await;

    app.signal_shutdown();
    let frames = read_frames(response).await;

    let (event, error) = frames.last();
    assert_eq!((event, error["error"]["code"].as_str()), ("error", Some("shutting_down")));
    assert!(frames.tokens().len() < 20);
    let stopped = tokio::time::timeout(Duration::from_secs(5), &mut app.server).await;
    assert!(stopped.is_ok(), "the server exits after the cut-off");
}

/// Behind a load balancer, which goes on sending for a few seconds after it began to deregister
/// the task: readiness turns off at once, requests are still served for the delay, and only
/// then does the server stop accepting.
#[tokio::test]
async fn for_the_delay_after_the_signal_requests_are_served_while_readiness_says_stopping() {
    let vars = [("SHUTDOWN_DELAY_SECONDS", "1"), ("SHUTDOWN_GRACE_SECONDS", "5")];
    let mut app = spawn_app_with(Emulator::scripted(), &vars).await;
    assert_eq!(app.http.get(app.url("/api/ready")).send().await.unwrap().status(), 200);

    app.signal_shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ready = app.http.get(app.url("/api/ready")).send().await.unwrap();
    // A new connection, as a load balancer's next request may come on.
    let fresh = reqwest::Client::new();
    let response = fresh.post(app.url("/api/chat")).json(&json!({ "prompt": "hi" })).send().await.unwrap();
    // Not to be reused: the server is about to close its connections.
    assert_eq!(response.headers()["connection"], "close");
    let during = read_frames(response).await;

    assert_eq!(ready.status(), 503);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["status"], "stopping");
    assert_eq!(during.last().0, "done", "served during the delay");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let after = reqwest::Client::new().get(app.url("/api/health")).send().await;
    assert!(after.is_err(), "no new connections after the delay: {after:?}");
    let stopped = tokio::time::timeout(Duration::from_secs(5), &mut app.server).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
}

#[test]
fn the_delay_is_shorter_than_the_grace_it_is_part_of() {
    let config = |pairs: &[(&str, &str)]| {
        streambed_server::Config::from_lookup(|name| {
            pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        })
    };
    assert_eq!(config(&[]).unwrap().shutdown.delay, Duration::ZERO);
    assert_eq!(config(&[("TRUSTED_PROXY_HOPS", "1")]).unwrap().shutdown.delay, Duration::from_secs(5));
    let short = config(&[("TRUSTED_PROXY_HOPS", "1"), ("SHUTDOWN_GRACE_SECONDS", "4")]).unwrap();
    assert_eq!(short.shutdown.delay, Duration::from_secs(2), "a default never longer than half the grace");
    let refused = config(&[("SHUTDOWN_DELAY_SECONDS", "30"), ("SHUTDOWN_GRACE_SECONDS", "25")]).unwrap_err();
    assert_eq!(refused.var, "SHUTDOWN_DELAY_SECONDS");
}
