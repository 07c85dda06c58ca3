//! Stored conversations through the real binary, as an operator runs it: on a SQLite file and
//! on a real PostgreSQL server, across restarts, a `kill -9`, and two replicas on one database.

use std::{process::Child, time::Duration};

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{Value, json};
use streambed_emulator::Emulator;
use streambed_testkit::{Postgres, process::free_port, scratch_dir};

use crate::{
    binary::{command, start, terminate},
    helpers::read_frames,
};

async fn new_conversation(http: &reqwest::Client, url: &str) -> String {
    let response = http.post(format!("{url}/api/conversations")).json(&json!({})).send().await.unwrap();
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

async fn messages(http: &reqwest::Client, url: &str, id: &str) -> Vec<Value> {
    let response = http.get(format!("{url}/api/conversations/{id}")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["messages"].as_array().unwrap().clone()
}

/// Polls until the last message's status is `status`, for up to `within`.
async fn wait_for_status(
    http: &reqwest::Client,
    url: &str,
    id: &str,
    status: &str,
    within: Duration,
) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let last = messages(http, url, id).await.pop().expect("an answer");
        if last["status"] == status || tokio::time::Instant::now() > deadline {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn stop(mut child: Child) {
    terminate(&child);
    tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
}

async fn kill_9(mut child: Child) {
    child.kill().expect("SIGKILL");
    tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
}

/// Stops the server, then starts one on the database `after_stop` gives.
async fn a_conversation_survives_a_restart(database_url: &str, after_stop: impl FnOnce() -> String) {
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let http = reqwest::Client::new();
    let (child, url, _) = start(&emulator, &[("DATABASE_URL", database_url)]);
    let id = new_conversation(&http, &url).await;
    let frames = read_frames(
        http.post(format!("{url}/api/chat"))
            .json(&json!({ "conversationId": id, "prompt": "Remember me" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    // SIGTERM waits for the answer's last write before the process exits.
    stop(child).await;

    let (child, url, _) = start(&emulator, &[("DATABASE_URL", &after_stop())]);
    let stored = messages(&http, &url, &id).await;
    stop(child).await;

    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0]["content"], "Remember me");
    assert_eq!(
        (stored[1]["status"].as_str(), stored[1]["content"].as_str()),
        (Some("complete"), Some(frames.text().as_str()))
    );
}

#[tokio::test]
async fn a_conversation_survives_a_restart_on_a_sqlite_file() {
    let dir = scratch_dir("stored");
    let file = dir.path().join("data/streambed.db");
    // The file alone, as an operator moving hosts copies it: a clean exit left nothing in the
    // write-ahead log beside it.
    let moved = dir.path().join("moved/streambed.db");
    a_conversation_survives_a_restart(&format!("sqlite:{}", file.display()), || {
        std::fs::create_dir(moved.parent().unwrap()).unwrap();
        std::fs::copy(&file, &moved).unwrap();
        format!("sqlite:{}", moved.display())
    })
    .await;
}

/// A `sqlite3` shell (or a backup) that has the file open keeps SQLite from folding the log in
/// as the server's last connection closes: the server folds it itself as it stops.
#[tokio::test]
async fn after_a_clean_stop_the_sqlite_file_alone_holds_the_data_even_with_another_process_on_it() {
    let dir = scratch_dir("stored");
    let file = dir.path().join("streambed.db");
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let (child, url, _) = start(&emulator, &[("DATABASE_URL", &format!("sqlite:{}", file.display()))]);
    let id = new_conversation(&reqwest::Client::new(), &url).await;
    let other = sqlx::SqlitePool::connect(&format!("sqlite:{}", file.display())).await.unwrap();
    sqlx::query("SELECT count(*) FROM conversations").execute(&other).await.unwrap();

    stop(child).await;

    let copy = dir.path().join("copy.db");
    std::fs::copy(&file, &copy).unwrap();
    let copied = sqlx::SqlitePool::connect(&format!("sqlite:{}", copy.display())).await.unwrap();
    let ids: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT id FROM conversations").fetch_all(&copied).await.unwrap();
    assert_eq!(ids, [uuid::Uuid::parse_str(&id).unwrap().as_bytes().to_vec()]);
    other.close().await;
}

#[tokio::test]
async fn sigterm_lets_an_answer_whose_client_left_finish_within_the_grace_period() {
    let dir = scratch_dir("stored");
    let database_url = format!("sqlite:{}", dir.path().join("streambed.db").display());
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let http = reqwest::Client::new();
    let vars = [("DATABASE_URL", database_url.as_str()), ("SHUTDOWN_GRACE_SECONDS", "60")];
    let (child, url, _) = start(&emulator, &vars);
    let id = new_conversation(&http, &url).await;
    // Eight seconds of answer, past the few seconds given to the last writes after the
    // connections closed; its client reads the first frame and leaves.
    let prompt = "[[scenario:slow delay_ms=100 n=80]]";
    let answer =
        http.post(format!("{url}/api/chat")).json(&json!({ "conversationId": id, "prompt": prompt }));
    let mut answer = answer.send().await.unwrap();
    answer.chunk().await.unwrap();
    drop(answer);

    let asked = tokio::time::Instant::now();
    stop(child).await;
    let exited = asked.elapsed();

    let (child, url, _) = start(&emulator, &vars);
    let stored = messages(&http, &url, &id).await;
    stop(child).await;
    assert_eq!(stored[1]["status"], "complete", "after {exited:?}: {stored:?}");
    assert_eq!(stored[1]["usage"]["outputTokens"], 80);
}

/// A PostgreSQL server that refuses connections is waited for a while (it may be starting), then
/// named with why it failed: not "pool timed out", which says nothing of what to check.
#[tokio::test]
async fn a_postgres_server_that_refuses_connections_stops_the_server_saying_so() {
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let closed = format!("postgres://streambed:secret-password-42@127.0.0.1:{}/streambed", free_port());

    let server = command(&emulator, &[("DATABASE_URL", closed.as_str()), ("RUST_BACKTRACE", "0")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let output = tokio::task::spawn_blocking(move || server.wait_with_output()).await.unwrap().unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("DATABASE_URL") && stderr.contains("Connection refused"), "{stderr}");
    assert_eq!(stderr.matches("Connection refused").count(), 1, "each cause once: {stderr}");
    assert!(!stderr.contains("secret-password-42"), "{stderr}");
}

/// A database that opens and migrates but takes no writes (here a SQLite file opened read-only;
/// a file the server's user may not write is the same, but the tests run as root) must stop the
/// server at start-up, not leave it answering every conversation with 503 while it looks healthy.
#[tokio::test]
async fn a_database_that_takes_no_writes_stops_the_server_at_start_up_naming_database_url() {
    let dir = scratch_dir("stored");
    let file = dir.path().join("streambed.db");
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let (first, _, _) = start(&emulator, &[("DATABASE_URL", &format!("sqlite:{}", file.display()))]);
    terminate(&first);
    tokio::task::spawn_blocking(move || {
        let mut first = first;
        first.wait()
    })
    .await
    .unwrap()
    .unwrap();
    let read_only = format!("sqlite:{}?mode=ro", file.display());

    let mut server = command(&emulator, &[("DATABASE_URL", read_only.as_str())])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while server.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            server.kill().unwrap();
            panic!("the server kept running on a database that takes no writes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let output = server.wait_with_output().unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it must not serve without a database it can write");
    assert!(stderr.contains("DATABASE_URL") && stderr.contains("takes no writes"), "{stderr}");
}

#[tokio::test]
async fn a_conversation_survives_a_restart_on_postgres() {
    let postgres = Postgres::shared();
    let database = postgres.database("restart");
    a_conversation_survives_a_restart(&database, || database.clone()).await;
}

#[tokio::test]
async fn an_answer_cut_by_kill_9_is_interrupted_after_a_restart_with_the_text_flushed_before() {
    let dir = scratch_dir("stored");
    let database_url = format!("sqlite:{}", dir.path().join("streambed.db").display());
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let http = reqwest::Client::new();
    let vars = [("DATABASE_URL", database_url.as_str()), ("ANSWER_LEASE_SECONDS", "1")];
    let (child, url, _) = start(&emulator, &vars);
    let id = new_conversation(&http, &url).await;
    let response = http
        .post(format!("{url}/api/chat"))
        .json(&json!({ "conversationId": id, "prompt": "[[scenario:slow delay_ms=20 n=1000]]" }))
        .send()
        .await
        .unwrap();
    let mut events = response.bytes_stream().eventsource();
    let (mut received, mut last_id) = (String::new(), String::new());
    let mut take = |event: eventsource_stream::Event| {
        if event.event == "message" {
            received.push_str(serde_json::from_str::<Value>(&event.data).unwrap()["token"].as_str().unwrap());
            last_id = event.id;
        }
    };
    let flushed = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < flushed {
        take(events.next().await.unwrap().unwrap());
    }

    kill_9(child).await;
    // What the server had sent before it died may still be in this socket.
    while let Some(Ok(event)) = events.next().await {
        take(event);
    }
    let (child, url, _) = start(&emulator, &vars);
    let answer = wait_for_status(&http, &url, &id, "interrupted", Duration::from_secs(15)).await;
    // The client had what the server sent after its last flush: resuming from there is told how
    // the answer ended, not that its cursor is unknown.
    let resumed = http
        .get(format!("{url}/api/conversations/{id}/stream"))
        .header("last-event-id", &last_id)
        .send()
        .await
        .unwrap();
    let resumed_status = resumed.status();
    let resumed = read_frames(resumed).await;
    stop(child).await;

    assert_eq!(answer["status"], "interrupted", "{answer}");
    let stored = answer["content"].as_str().unwrap();
    assert!(!stored.is_empty(), "text flushed before the kill is kept");
    assert!(received.starts_with(stored), "the stored text is a prefix of what was streamed");
    assert_eq!(resumed_status, 200);
    let (event, data) = resumed.last();
    assert_eq!((event, data["error"]["code"].as_str()), ("error", Some("stream_interrupted")), "{data}");
}

#[tokio::test]
async fn two_servers_on_one_postgres_never_interrupt_each_others_live_answers() {
    let postgres = Postgres::shared();
    let database_url = postgres.database("replicas");
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let http = reqwest::Client::new();
    let vars = [("DATABASE_URL", database_url.as_str()), ("ANSWER_LEASE_SECONDS", "1")];
    let (a, url_a, _) = start(&emulator, &vars);
    let (b, url_b, _) = start(&emulator, &vars);
    let id = new_conversation(&http, &url_a).await;

    // A answers for several of its lease periods while B sweeps for interrupted answers.
    let response = http
        .post(format!("{url_a}/api/chat"))
        .json(&json!({ "conversationId": id, "prompt": "[[scenario:slow delay_ms=20 n=200]]" }))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen_by_b = messages(&http, &url_b, &id).await.pop().unwrap();
    let frames = read_frames(response).await;
    let finished = wait_for_status(&http, &url_b, &id, "complete", Duration::from_secs(10)).await;
    stop(a).await;
    stop(b).await;

    assert_eq!(seen_by_b["status"], "streaming", "B sees A's answer live, not interrupted");
    assert_eq!(frames.last().0, "done");
    assert_eq!(
        (finished["status"].as_str(), finished["content"].as_str()),
        (Some("complete"), Some(frames.text().as_str()))
    );
}
