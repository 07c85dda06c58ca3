//! Stored conversations through the real router, store and SDK: the routes, answers written
//! back as they stream, every way an answer can end, owners, and the public-address policy.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{Value, json};
use streambed_emulator::Emulator;

use crate::helpers::{TestApp, read_frames, spawn_app, spawn_app_with};

const KEY_A: &str = "key-a-0123456789abcdef";
const KEY_B: &str = "key-b-0123456789abcdef";

impl TestApp {
    pub(crate) async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    pub(crate) async fn new_conversation(&self, key: Option<&str>) -> String {
        let response = self.api(reqwest::Method::POST, "/api/conversations", key, Some(json!({}))).await;
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn conversation(&self, id: &str, key: Option<&str>) -> Value {
        let response = self.api(reqwest::Method::GET, &format!("/api/conversations/{id}"), key, None).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Waits until the answer is no longer `streaming` (the writer's last write is async).
    pub(crate) async fn settled_answer(&self, id: &str) -> Value {
        for _ in 0..100 {
            let conversation = self.conversation(id, None).await;
            let last = conversation["messages"].as_array().unwrap().last().unwrap().clone();
            if last["status"] != "streaming" {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the answer was still streaming after 5 s");
    }
}

#[tokio::test]
async fn a_conversation_is_created_with_no_body_or_a_json_one_and_nothing_else() {
    let app = spawn_app().await;
    let post = || app.http.post(app.url("/api/conversations"));

    let bare = post().send().await.unwrap();
    assert_eq!(bare.status(), 201);
    assert_eq!(bare.json::<Value>().await.unwrap()["title"], "");
    let titled = post().json(&json!({ "title": "  Trip plans " })).send().await.unwrap();
    assert_eq!(titled.status(), 201);
    assert_eq!(titled.json::<Value>().await.unwrap()["title"], "Trip plans");

    let text = post().header("content-type", "text/plain").body("Trip plans").send().await.unwrap();
    assert_eq!(text.status(), 415);
    let broken = post().header("content-type", "application/json").body("{\"title\":").send().await.unwrap();
    assert_eq!(broken.status(), 400);
    assert_eq!(broken.json::<Value>().await.unwrap()["error"]["code"], "invalid_request");
    let unknown = post().json(&json!({ "titel": "typo" })).send().await.unwrap();
    assert_eq!(unknown.status(), 400, "unknown fields are refused");
}

#[tokio::test]
async fn a_conversation_body_over_max_body_bytes_is_a_413_whatever_its_type() {
    let app = spawn_app_with(Emulator::scripted(), &[("MAX_BODY_BYTES", "1000")]).await;
    let title = "t".repeat(1500);
    for content_type in ["application/json", "text/plain"] {
        let response = app
            .http
            .post(app.url("/api/conversations"))
            .header("content-type", content_type)
            .body(json!({ "title": title }).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{content_type}");
    }
}

#[tokio::test]
async fn an_answer_is_stored_with_its_turn_and_names_the_conversation() {
    let app = spawn_app().await;
    let id = app.new_conversation(None).await;

    let response = app
        .post_chat(json!({ "conversationId": id, "prompt": "What is Bedrock? Tell me all about it please" }))
        .await;
    assert_eq!(response.status(), 200);
    let mut events = response.bytes_stream().eventsource();
    let mut frames = Vec::new();
    while let Some(event) = events.next().await {
        frames.push(event.unwrap());
    }

    let start: Value = serde_json::from_str(&frames[0].data).unwrap();
    assert_eq!((frames[0].event.as_str(), start["conversationId"].as_str()), ("start", Some(id.as_str())));
    // Each id is a cursor, `text bytes.reasoning bytes` received so far; the terminal frame's
    // says the answer ended there too.
    let (last, cursors) = frames.split_last().unwrap();
    let ids: Vec<(usize, usize)> = cursors
        .iter()
        .map(|f| f.id.as_str())
        .chain([last.id.strip_suffix(".end").expect("the terminal frame's id ends with .end")])
        .map(|id| {
            let (text, reasoning) = id.split_once('.').expect("every frame has a cursor id");
            (text.parse().unwrap(), reasoning.parse().unwrap())
        })
        .collect();
    assert_eq!(ids[0], (0, 0));
    assert!(ids.windows(2).all(|w| w[0] <= w[1]), "{ids:?}");
    assert_eq!(frames.last().unwrap().event, "done");
    let streamed: String = frames
        .iter()
        .filter(|f| f.event == "message")
        .map(|f| serde_json::from_str::<Value>(&f.data).unwrap()["token"].as_str().unwrap().to_owned())
        .collect();

    let answer = app.settled_answer(&id).await;
    let conversation = app.conversation(&id, None).await;
    assert_eq!(conversation["title"], "What is Bedrock? Tell me all about it please");
    assert_eq!(conversation["messages"][0]["role"], "user");
    assert_eq!(answer["id"], start["messageId"]);
    assert_eq!(
        (answer["status"].as_str(), answer["content"].as_str()),
        (Some("complete"), Some(streamed.as_str()))
    );
    assert_eq!(answer["stopReason"], "end_turn");
    assert!(answer["usage"]["outputTokens"].as_u64().unwrap() > 0);
    let done: Value = serde_json::from_str(&frames.last().unwrap().data).unwrap();
    let (said, kept) = (done["latencyMs"].as_u64().unwrap(), answer["latencyMs"].as_u64().unwrap());
    assert!(kept.abs_diff(said) <= 50, "the stored latency is the done frame's: {kept} against {said}");
    assert_eq!(conversation["messages"][0].get("latencyMs"), None, "a question has none");
    assert_eq!(ids.last().unwrap().0, streamed.len());
}

#[tokio::test]
async fn the_next_turn_sends_the_stored_history_upstream() {
    let app = spawn_app().await;
    let id = app.new_conversation(None).await;
    read_frames(app.post_chat(json!({ "conversationId": id, "prompt": "Hi" })).await).await;

    let response = app.post_chat(json!({ "conversationId": id, "prompt": "[[scenario:echo]] more" })).await;
    let echoed: Value = serde_json::from_str(&read_frames(response).await.text()).unwrap();

    let roles: Vec<_> = echoed["messages"].as_array().unwrap().iter().map(|m| m["role"].clone()).collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(echoed["messages"][0]["content"][0]["text"], "Hi");
}

#[tokio::test]
async fn a_long_history_is_trimmed_from_the_oldest_turn_and_done_says_so() {
    let app = spawn_app_with(Emulator::scripted(), &[("MAX_TURNS", "3")]).await;
    let id = app.new_conversation(None).await;
    for prompt in ["one", "two"] {
        read_frames(app.post_chat(json!({ "conversationId": id, "prompt": prompt })).await).await;
    }

    let frames = read_frames(
        app.post_chat(json!({ "conversationId": id, "prompt": "[[scenario:echo]] three" })).await,
    )
    .await;

    let echoed: Value = serde_json::from_str(&frames.text()).unwrap();
    assert_eq!(echoed["messages"].as_array().unwrap().len(), 3);
    assert_eq!(echoed["messages"][0]["content"][0]["text"], "two");
    let (event, done) = frames.last();
    assert_eq!((event, done["droppedTurns"].as_u64()), ("done", Some(2)));
}

#[tokio::test]
async fn an_upstream_exception_mid_answer_is_stored_as_an_error_with_its_code() {
    let app = spawn_app().await;
    let id = app.new_conversation(None).await;

    let frames = read_frames(
        app.post_chat(json!({ "conversationId": id, "prompt": "[[scenario:exception after=3]]" })).await,
    )
    .await;

    let (event, error) = frames.last();
    assert_eq!(event, "error");
    let answer = app.settled_answer(&id).await;
    assert_eq!(answer["status"], "error");
    assert_eq!(answer["errorCode"], error["error"]["code"]);
    assert_eq!(answer["content"].as_str().unwrap(), frames.text());
}

#[tokio::test]
async fn conversations_are_listed_newest_first_by_cursor_renamed_and_deleted_with_their_messages() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.new_conversation(None).await);
    }
    read_frames(app.post_chat(json!({ "conversationId": ids[0], "prompt": "bump" })).await).await;

    let first: Value =
        app.api(reqwest::Method::GET, "/api/conversations?limit=2", None, None).await.json().await.unwrap();
    let listed: Vec<&str> =
        first["conversations"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(listed, [ids[0].as_str(), ids[2].as_str()], "the one with a new turn comes first");
    let next = first["next"].as_str().expect("a cursor for the rest");
    let second: Value = app
        .api(reqwest::Method::GET, &format!("/api/conversations?limit=2&before={next}"), None, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["conversations"][0]["id"], ids[1].as_str());
    assert!(second.get("next").is_none());

    let renamed = app
        .api(
            reqwest::Method::PATCH,
            &format!("/api/conversations/{}", ids[0]),
            None,
            Some(json!({ "title": "Renamed" })),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    assert_eq!(app.conversation(&ids[0], None).await["title"], "Renamed");

    let deleted =
        app.api(reqwest::Method::DELETE, &format!("/api/conversations/{}", ids[0]), None, None).await;
    assert_eq!(deleted.status(), 204);
    let gone = app.api(reqwest::Method::GET, &format!("/api/conversations/{}", ids[0]), None, None).await;
    assert_eq!(gone.status(), 404);
    let chat = app.post_chat(json!({ "conversationId": ids[0], "prompt": "still there?" })).await;
    assert_eq!(chat.status(), 404);
}

#[tokio::test]
async fn an_export_is_markdown_or_json() {
    let app = spawn_app().await;
    let id = app.new_conversation(None).await;
    read_frames(app.post_chat(json!({ "conversationId": id, "prompt": "Hello there" })).await).await;
    app.settled_answer(&id).await;

    let markdown = app
        .api(reqwest::Method::GET, &format!("/api/conversations/{id}/export?format=markdown"), None, None)
        .await;
    assert_eq!(markdown.headers()["content-type"], "text/markdown; charset=utf-8");
    assert_eq!(markdown.headers()["content-disposition"], "attachment; filename=\"Hello-there.md\"");
    let text = markdown.text().await.unwrap();
    assert!(text.starts_with("# Hello there\n") && text.contains("## You\n\nHello there"), "{text}");

    let json: Value = app
        .api(reqwest::Method::GET, &format!("/api/conversations/{id}/export?format=json"), None, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(json["messages"].as_array().unwrap().len(), 2);
    let bad = app
        .api(reqwest::Method::GET, &format!("/api/conversations/{id}/export?format=pdf"), None, None)
        .await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn another_principal_gets_404_on_every_route() {
    let keys = format!("{KEY_A},{KEY_B}");
    let app = spawn_app_with(Emulator::scripted(), &[("API_KEYS", &keys)]).await;
    let id = app.new_conversation(Some(KEY_A)).await;
    let path = format!("/api/conversations/{id}");

    for (method, path, body) in [
        (reqwest::Method::GET, path.clone(), None),
        (reqwest::Method::PATCH, path.clone(), Some(json!({ "title": "mine now" }))),
        (reqwest::Method::DELETE, path.clone(), None),
        (reqwest::Method::GET, format!("{path}/export"), None),
        (
            reqwest::Method::POST,
            "/api/chat".to_owned(),
            Some(json!({ "conversationId": id, "prompt": "hi" })),
        ),
    ] {
        let response = app.api(method.clone(), &path, Some(KEY_B), body).await;
        assert_eq!(response.status(), 404, "{method} {path}");
    }
    let listed: Value =
        app.api(reqwest::Method::GET, "/api/conversations", Some(KEY_B), None).await.json().await.unwrap();
    assert_eq!(listed["conversations"], json!([]));
    assert_eq!(
        app.conversation(&id, Some(KEY_A)).await["messages"],
        json!([]),
        "A's conversation is untouched"
    );
    let anonymous = app.api(reqwest::Method::GET, "/api/conversations", None, None).await;
    assert_eq!(anonymous.status(), 401);
}

/// While A's answer runs, B sending a turn to A's conversation (with a model, so nothing is read
/// from the store first) learns nothing: 404, as for a conversation that does not exist.
#[tokio::test]
async fn another_principal_cannot_tell_that_a_conversation_is_answering() {
    let keys = format!("{KEY_A},{KEY_B}");
    let app = spawn_app_with(Emulator::scripted(), &[("API_KEYS", &keys)]).await;
    let id = app.new_conversation(Some(KEY_A)).await;
    let slow = json!({ "conversationId": id, "prompt": "[[scenario:slow delay_ms=100 n=50]]" });
    let running = app.api(reqwest::Method::POST, "/api/chat", Some(KEY_A), Some(slow)).await;
    assert_eq!(running.status(), 200);

    let turn = json!({ "conversationId": id, "prompt": "hi", "model": crate::helpers::MODEL });
    let foreign = app.api(reqwest::Method::POST, "/api/chat", Some(KEY_B), Some(turn.clone())).await;
    let own = app.api(reqwest::Method::POST, "/api/chat", Some(KEY_A), Some(turn)).await;

    assert_eq!(foreign.status(), 404);
    assert_eq!(foreign.json::<Value>().await.unwrap()["error"]["code"], "not_found");
    assert_eq!(own.status(), 409, "the owner is told the answer runs");
    assert_eq!(read_frames(running).await.last().0, "done");
}

/// Without authentication on loopback, the local history is for pages of this machine: a page
/// whose own name was re-pointed at 127.0.0.1 (DNS rebinding) sends that name as `Host`.
#[tokio::test]
async fn without_auth_on_loopback_conversations_answer_only_requests_addressed_to_this_machine() {
    let app = spawn_app().await;
    let list = |host: &'static str| {
        app.http.get(app.url("/api/conversations")).header(reqwest::header::HOST, host).send()
    };

    let rebound = list("evil.example:4000").await.unwrap();
    let by_name = list("localhost:4000").await.unwrap();
    let by_address = app.http.get(app.url("/api/conversations")).send().await.unwrap();
    // A form on another site may post without a preflight; its page's origin gives it away.
    let cross_site = app.http.post(app.url("/api/conversations")).header("origin", "https://evil.example");
    let cross_site = cross_site.send().await.unwrap();
    let own_page = app.http.post(app.url("/api/conversations")).header("origin", "http://localhost:4000");
    let own_page = own_page.send().await.unwrap();

    assert_eq!(rebound.status(), 403);
    let body: Value = rebound.json().await.unwrap();
    assert_eq!(body["error"]["code"], "conversations_disabled");
    assert!(body["error"]["message"].as_str().unwrap().contains("localhost"), "{body}");
    assert_eq!(by_name.status(), 200);
    assert_eq!(by_address.status(), 200);
    assert_eq!(cross_site.status(), 403);
    assert_eq!(own_page.status(), 201);
    assert_eq!(app.chat("the stateless chat answers any host").await.last().0, "done");
}

/// Behind a reverse proxy, whoever reaches the proxy reaches the server, whatever `Host` the
/// proxy sends (nginx's plain `proxy_pass` sends `127.0.0.1`).
#[tokio::test]
async fn without_auth_conversations_are_refused_to_what_a_proxy_forwards() {
    let app = spawn_app().await;
    let forwarded = app
        .http
        .get(app.url("/api/conversations"))
        .header(reqwest::header::HOST, "127.0.0.1:4000")
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), 403);
    let body: Value = forwarded.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("not through a proxy"), "{body}");

    // Told of proxies, a loopback server without authentication keeps no conversations at all.
    let behind = spawn_app_with(Emulator::scripted(), &[("TRUSTED_PROXY_HOPS", "1")]).await;
    let refused = behind.http.get(behind.url("/api/conversations")).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "conversations_disabled");
    assert!(body["error"]["message"].as_str().unwrap().contains("API_KEYS"), "{body}");
    assert_eq!(behind.chat("stateless still works").await.last().0, "done");
}

#[tokio::test]
async fn a_named_keys_conversations_are_its_names_so_a_new_key_under_that_name_keeps_them() {
    let keys = format!("alice:{KEY_A}, alice:{KEY_B}, bob:key-c-0123456789abcdef");
    let app = spawn_app_with(Emulator::scripted(), &[("API_KEYS", &keys)]).await;
    let id = app.new_conversation(Some(KEY_A)).await;

    let app = &app;
    let list = |key| async move {
        let listed = app.api(reqwest::Method::GET, "/api/conversations", Some(key), None).await;
        let listed: Value = listed.json().await.unwrap();
        listed["conversations"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect::<Vec<_>>()
    };
    assert_eq!(list(KEY_B).await, [json!(id)], "the replacement key sees the old key's conversations");
    assert_eq!(list("key-c-0123456789abcdef").await, Vec::<Value>::new(), "another name does not");
}

#[tokio::test]
async fn a_public_address_without_auth_refuses_conversations_unless_opted_in() {
    let app = spawn_app_with(Emulator::scripted(), &[("HOST", "0.0.0.0")]).await;

    let refused = app.api(reqwest::Method::POST, "/api/conversations", None, Some(json!({}))).await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "conversations_disabled");
    assert!(body["error"]["message"].as_str().unwrap().contains("API_KEYS"));
    let chat = app
        .post_chat(json!({ "conversationId": "0190a0a0-0000-7000-8000-000000000001", "prompt": "hi" }))
        .await;
    assert_eq!(chat.status(), 403);
    assert_eq!(app.chat("stateless still works").await.last().0, "done");

    let shared =
        spawn_app_with(Emulator::scripted(), &[("HOST", "0.0.0.0"), ("CONVERSATIONS_WITHOUT_AUTH", "true")])
            .await;
    shared.new_conversation(None).await;
}

#[tokio::test]
async fn bad_ids_cursors_titles_and_limits_are_client_errors() {
    let app = spawn_app_with(Emulator::scripted(), &[("MAX_CONVERSATIONS_PER_OWNER", "1")]).await;
    let id = app.new_conversation(None).await;

    for (method, path, body, status) in [
        (reqwest::Method::GET, "/api/conversations/not-a-uuid".to_owned(), None, 404),
        (
            reqwest::Method::GET,
            "/api/conversations/0190a0a0-0000-7000-8000-000000000001".to_owned(),
            None,
            404,
        ),
        (reqwest::Method::GET, "/api/conversations?limit=0".to_owned(), None, 400),
        (reqwest::Method::GET, "/api/conversations?limit=many".to_owned(), None, 400),
        (reqwest::Method::GET, "/api/conversations?before=garbage".to_owned(), None, 400),
        (reqwest::Method::PATCH, format!("/api/conversations/{id}"), Some(json!({ "title": "  " })), 400),
        (
            reqwest::Method::PATCH,
            format!("/api/conversations/{id}"),
            Some(json!({ "title": "x".repeat(201) })),
            400,
        ),
        (reqwest::Method::PATCH, format!("/api/conversations/{id}"), Some(json!({ "name": "x" })), 400),
        (reqwest::Method::POST, "/api/conversations".to_owned(), Some(json!({})), 409),
    ] {
        let response = app.api(method.clone(), &path, None, body).await;
        assert_eq!(response.status(), status, "{method} {path}");
        let error: Value = response.json().await.unwrap();
        assert!(error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}
