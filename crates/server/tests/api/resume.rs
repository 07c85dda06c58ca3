//! Answers that belong to the server: a client that leaves does not end them, Stop does, and a
//! client that comes back with `Last-Event-ID` gets exactly the rest, live or from the store.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use streambed_emulator::Outcome;

use crate::helpers::{Client, Events, TestApp, events, read_frames, spawn_app, spawn_app_with};

impl TestApp {
    async fn start_answer(&self, id: &str, prompt: &str) -> Events {
        let response = self.post_chat(json!({ "conversationId": id, "prompt": prompt })).await;
        assert_eq!(response.status(), 200);
        events(response)
    }

    async fn resume(&self, id: &str, last_id: &str) -> reqwest::Response {
        self.http
            .get(self.url(&format!("/api/conversations/{id}/stream")))
            .header("last-event-id", last_id)
            .send()
            .await
            .unwrap()
    }

    async fn stop(&self, id: &str) -> Value {
        let response =
            self.http.post(self.url(&format!("/api/conversations/{id}/stop"))).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

#[tokio::test]
async fn a_client_that_leaves_does_not_end_the_answer_which_is_stored_whole() {
    let app = spawn_app().await;
    let id = app.new_conversation(None).await;
    let mut events = app.start_answer(&id, "[[scenario:slow delay_ms=10 n=60]]").await;
    let mut client = Client::default();
    client.read(&mut events, 5).await;

    drop(events);

    let answer = app.settled_answer(&id).await;
    assert_eq!(answer["status"], "complete");
    assert!(answer["content"].as_str().unwrap().starts_with(&client.text));
    assert_eq!(answer["usage"]["outputTokens"], 60);
    assert_eq!(app.emulator.recorder.requests()[0].outcome, Outcome::Complete);
}

#[tokio::test]
async fn a_client_that_leaves_before_the_answer_opens_does_not_end_it_either() {
    let app = spawn_app().await;
    let id = app.new_conversation(None).await;
    // The upstream's response head comes late (a cold model), so the chat's does too.
    let body = json!({ "conversationId": id, "prompt": "[[scenario:slow head_ms=2000 delay_ms=5 n=20]]" });
    let request = app.http.post(app.url("/api/chat")).json(&body).send();
    let pending = tokio::spawn(request);
    let asked = app.emulator.recorder.wait_for(Duration::from_secs(10), |r| !r.is_empty()).await;
    assert!(asked.is_ok(), "the model was asked");

    // The client gives up while the upstream request is still opening.
    pending.abort();

    let answer = app.settled_answer(&id).await;
    assert_eq!(answer["status"], "complete");
    assert_eq!(answer["usage"]["outputTokens"], 20);
    assert_eq!(app.emulator.recorder.requests()[0].outcome, Outcome::Complete);
}

#[tokio::test]
async fn stop_while_the_answer_opens_ends_it_there_and_drops_the_upstream_request() {
    let app = spawn_app().await;
    let id = app.new_conversation(None).await;
    let body = json!({ "conversationId": id, "prompt": "[[scenario:slow head_ms=3000 delay_ms=5 n=20]]" });
    let pending = tokio::spawn(app.http.post(app.url("/api/chat")).json(&body).send());
    let asked = app.emulator.recorder.wait_for(Duration::from_secs(10), |r| !r.is_empty()).await;
    assert!(asked.is_ok(), "the model was asked");

    // What the UI's Stop does: the request goes, and the server is told.
    pending.abort();
    let stopped = app.stop(&id).await;

    assert_eq!(stopped["stopped"], true, "{stopped}");
    let answer = app.settled_answer(&id).await;
    assert_eq!((answer["status"].as_str(), answer["content"].as_str()), (Some("stopped"), Some("")));
    let hung_up = app
        .emulator
        .recorder
        .wait_for(Duration::from_secs(5), |r| r[0].outcome == Outcome::ClientHungUp)
        .await;
    assert!(hung_up.is_ok(), "the upstream request was dropped: {hung_up:?}");
}

#[tokio::test]
async fn a_client_cut_anywhere_and_resuming_with_last_event_id_gets_exactly_the_text() {
    let app = spawn_app().await;
    let mut seed = 0x2545_f491_u32;
    for round in 0..6 {
        let id = app.new_conversation(None).await;
        let mut events = app.start_answer(&id, "[[scenario:slow delay_ms=5 n=80]]").await;
        let mut client = Client::default();
        // Cut after a pseudo-random number of frames each time, and come back.
        while client.terminal.is_none() {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            client.read(&mut events, 1 + seed as usize % 25).await;
            if client.terminal.is_none() {
                drop(events);
                let response = app.resume(&id, &client.last_id).await;
                assert_eq!(response.status(), 200, "round {round}");
                events = crate::helpers::events(response);
            }
        }

        let (event, _) = client.terminal.as_ref().unwrap();
        assert_eq!(event, "done", "round {round}");
        let answer = app.settled_answer(&id).await;
        assert_eq!(
            client.text,
            answer["content"].as_str().unwrap(),
            "round {round}: nothing lost, nothing twice"
        );
        assert_eq!(answer["usage"]["outputTokens"], 80);
        let after_the_end = app.resume(&id, &client.last_id).await;
        assert_eq!(after_the_end.status(), 204, "round {round}: {} has it all", client.last_id);
    }
}

#[tokio::test]
async fn a_client_that_comes_back_after_the_end_gets_the_rest_from_the_store() {
    let app = spawn_app().await;
    let id = app.new_conversation(None).await;
    let mut events = app.start_answer(&id, "[[scenario:slow delay_ms=5 n=40]]").await;
    let mut client = Client::default();
    client.read(&mut events, 4).await;
    drop(events);
    let answer = app.settled_answer(&id).await;

    let response = app.resume(&id, &client.last_id).await;
    let mut events = crate::helpers::events(response);
    client.read(&mut events, usize::MAX).await;

    assert_eq!(client.text, answer["content"].as_str().unwrap());
    let (event, done) = client.terminal.unwrap();
    assert_eq!((event.as_str(), done["stopReason"].as_str()), ("done", Some("end_turn")));
    // Its id says the answer ended: a client that comes back with it has nothing to get (a
    // browser's EventSource stops there), and one whose cursor is the last text's gets the end.
    let (cursor, end) = client.last_id.split_at(client.last_id.len() - ".end".len());
    assert_eq!(end, ".end");
    assert_eq!(app.resume(&id, &client.last_id).await.status(), 204);
    let mut events = crate::helpers::events(app.resume(&id, cursor).await);
    let mut again = Client::default();
    again.read(&mut events, usize::MAX).await;
    assert_eq!((again.text.as_str(), again.terminal.unwrap().0.as_str()), ("", "done"));
    let stranger =
        reqwest::Client::new().get(app.url(&format!("/api/conversations/{}/stream", uuid::Uuid::nil())));
    let stranger = stranger.header("last-event-id", &client.last_id).send().await.unwrap();
    assert_eq!(stranger.status(), 404, "a conversation not there is not said to be over");
}

#[tokio::test]
async fn a_cursor_past_what_the_running_answer_said_is_refused_not_followed_from_nowhere() {
    let app = spawn_app().await;
    let id = app.new_conversation(None).await;
    let mut events = app.start_answer(&id, "[[scenario:slow delay_ms=20 n=200]]").await;
    let mut client = Client::default();
    client.read(&mut events, 3).await;

    let beyond = app.resume(&id, "100000.0").await;
    let beyond_reasoning = app.resume(&id, "0.100000").await;
    let within = app.resume(&id, &client.last_id).await;

    assert_eq!((beyond.status().as_u16(), beyond_reasoning.status().as_u16()), (400, 400));
    let error: Value = beyond.json().await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("not a point"), "{error}");
    assert_eq!(within.status(), 200, "a cursor the answer gave is still followed");
    app.stop(&id).await;
}

#[tokio::test]
async fn a_client_that_names_its_answer_gets_that_answers_rest_though_another_runs_now() {
    let app = spawn_app().await;
    let id = app.new_conversation(None).await;
    let mut events = app.start_answer(&id, "[[scenario:slow delay_ms=5 n=40]]").await;
    let mut client = Client::default();
    client.read(&mut events, 4).await;
    drop(events);
    let first = app.settled_answer(&id).await;
    // Another tab asks again meanwhile: a longer answer runs now.
    let _second = app.start_answer(&id, "[[scenario:slow delay_ms=50 n=400]]").await;
    let follow = |message: &str| {
        app.http
            .get(app.url(&format!("/api/conversations/{id}/stream?message={message}")))
            .header("last-event-id", &client.last_id)
            .send()
    };

    let response = follow(first["id"].as_str().unwrap()).await.unwrap();
    let unknown = follow("0190a9f4-0000-7000-8000-000000000000").await.unwrap();

    assert_eq!(response.status(), 200);
    let mut events = crate::helpers::events(response);
    let mut rest = Client { last_id: client.last_id.clone(), ..Client::default() };
    rest.read(&mut events, usize::MAX).await;
    assert_eq!(
        client.text.clone() + &rest.text,
        first["content"].as_str().unwrap(),
        "its own text, no other's"
    );
    assert_eq!(rest.terminal.unwrap().0, "done");
    assert_eq!(unknown.status(), 400);
    app.stop(&id).await;
}

#[tokio::test]
async fn with_nothing_running_and_no_cursor_the_stream_is_204() {
    let app = spawn_app().await;
    let id = app.new_conversation(None).await;
    let response = app.http.get(app.url(&format!("/api/conversations/{id}/stream"))).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let bad = app.resume(&id, "not-a-cursor").await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn stop_drops_the_upstream_at_once_and_stores_the_partial_text_as_stopped() {
    let app = spawn_app().await;
    let id = app.new_conversation(None).await;
    let mut events = app.start_answer(&id, "[[scenario:slow delay_ms=20 n=500]]").await;
    let mut client = Client::default();
    client.read(&mut events, 6).await;

    let asked = Instant::now();
    let stopped = app.stop(&id).await;
    let hung_up = app
        .emulator
        .recorder
        .wait_for(Duration::from_secs(2), |r| r[0].outcome == Outcome::ClientHungUp)
        .await
        .map(|_| asked.elapsed());
    client.read(&mut events, usize::MAX).await;

    assert_eq!(stopped["stopped"], true);
    let hung_up = hung_up.expect("the emulator saw the upstream request dropped");
    // The drop itself is immediate; this margin is for a busy 2-core machine, where the
    // emulator notices at its next write (every 20 ms here).
    assert!(hung_up < Duration::from_secs(1), "the upstream was dropped {hung_up:?} after Stop");
    let (event, data) = client.terminal.expect("the follower got the terminal event");
    assert_eq!((event.as_str(), data["messageId"].as_str().is_some()), ("stopped", true));
    let answer = app.settled_answer(&id).await;
    assert_eq!(answer["status"], "stopped");
    assert_eq!(answer["content"].as_str().unwrap(), client.text);
    assert_eq!(app.stop(&id).await["stopped"], false, "nothing left to stop");
}

#[tokio::test]
async fn a_question_stopped_before_a_word_of_its_answer_is_not_asked_again_with_the_next() {
    let app = spawn_app().await;
    let id = app.new_conversation(None).await;
    // Stopped while Bedrock has not answered yet (its response head waits).
    let asked = app
        .post_chat(json!({ "conversationId": id, "prompt": "Never mind [[scenario:slow head_ms=10000]]" }));
    let stop = async {
        let upstream = app.emulator.recorder.wait_for(Duration::from_secs(10), |r| !r.is_empty()).await;
        upstream.expect("the model was asked");
        app.stop(&id).await
    };
    let (asked, stopped) = tokio::join!(asked, stop);
    assert_eq!(stopped["stopped"], true);
    read_frames(asked).await;
    let withdrawn = app.settled_answer(&id).await;
    assert_eq!((withdrawn["status"].as_str(), withdrawn["content"].as_str()), (Some("stopped"), Some("")));

    let next = app.post_chat(json!({ "conversationId": id, "prompt": "Something else" })).await;
    assert_eq!(next.status(), 200);
    read_frames(next).await;
    app.settled_answer(&id).await;

    let sent = app.emulator.recorder.requests().last().expect("the second request").body.clone();
    assert_eq!(sent["messages"], json!([{ "role": "user", "content": [{ "text": "Something else" }] }]));
    let stored: Vec<Value> = app.conversation(&id, None).await["messages"].as_array().unwrap().clone();
    let statuses: Vec<&str> = stored.iter().map(|m| m["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        ["complete", "stopped", "complete", "complete"],
        "the withdrawn turn stays in the record"
    );
}

#[tokio::test]
async fn stop_after_the_response_started_without_the_model_ends_the_answer_and_its_upstream_request() {
    let app =
        spawn_app_with(streambed_emulator::Emulator::scripted(), &[("FIRST_BYTE_SECONDS", "0.5")]).await;
    let id = app.new_conversation(None).await;
    // The response starts before Bedrock's head comes (see `FIRST_BYTE_SECONDS`).
    let mut events = app.start_answer(&id, "[[scenario:slow head_ms=20000 n=5]]").await;

    let stopped = app.stop(&id).await;
    let hung_up = app
        .emulator
        .recorder
        .wait_for(Duration::from_secs(5), |r| r.first().is_some_and(|r| r.outcome == Outcome::ClientHungUp))
        .await;
    let mut client = Client::default();
    client.read(&mut events, usize::MAX).await;

    assert_eq!(stopped["stopped"], true);
    assert!(hung_up.is_ok(), "the upstream request was dropped: {hung_up:?}");
    assert_eq!(client.terminal.map(|(event, _)| event).as_deref(), Some("stopped"));
    let answer = app.settled_answer(&id).await;
    assert_eq!((answer["status"].as_str(), answer["content"].as_str()), (Some("stopped"), Some("")));
}

#[tokio::test]
async fn a_conversation_runs_one_answer_at_a_time() {
    let app = spawn_app().await;
    let id = app.new_conversation(None).await;
    let mut events = app.start_answer(&id, "[[scenario:slow delay_ms=20 n=200]]").await;
    Client::default().read(&mut events, 2).await;

    let second = app.post_chat(json!({ "conversationId": id, "prompt": "me too" })).await;

    assert_eq!(second.status(), 409);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], "answer_in_progress");
    app.stop(&id).await;
}
