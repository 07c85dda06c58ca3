use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::json;

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

    app.assert_upstream_hung_up_within_a_second().await;
}
