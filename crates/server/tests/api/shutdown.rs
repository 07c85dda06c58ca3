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
