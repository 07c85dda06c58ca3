use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::json;
use streambed_emulator::Outcome;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_client_that_disconnects_stops_the_upstream_within_a_second() {
    let app = spawn_app().await;
    let response = app.post_chat(json!({ "prompt": "[[scenario:slow delay_ms=100 n=200]]" })).await;
    let mut events = response.bytes_stream().eventsource();
    let mut tokens = 0;
    while tokens < 3 {
        let event = events.next().await.unwrap().unwrap();
        tokens += usize::from(event.event == "message");
    }

    drop(events);

    let records = app
        .emulator
        .recorder
        .wait_for(Duration::from_secs(1), |r| r[0].outcome == Outcome::ClientHungUp)
        .await;
    let records = records.expect("the emulator saw the upstream hang up within 1 s");
    assert!(records[0].deltas_sent < 20, "generation stopped early: {} deltas", records[0].deltas_sent);
}
