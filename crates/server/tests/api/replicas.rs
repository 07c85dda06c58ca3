//! Two `streambed` processes behind one imaginary load balancer, sharing a real PostgreSQL
//! database and a real Redis server that the tests start themselves: an answer started on one
//! is resumed and stopped on the other, limits count once for both, and losing Redis costs
//! speed, never an answer.

use std::{
    process::Child,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use streambed_emulator::{Emulator, Outcome, RunningEmulator};
use streambed_testkit::{Postgres, Redis, process::free_port};

use crate::{
    binary::{command, start, terminate},
    helpers::{Client, Events, events},
};

/// One replica: the process, its URL and its log.
struct Replica {
    child: Child,
    url: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Replica {
    fn start(emulator: &RunningEmulator, vars: &[(&str, &str)]) -> Self {
        let (child, url, log) = start(emulator, vars);
        Self { child, url, log }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    async fn stop(mut self) {
        terminate(&self.child);
        tokio::task::spawn_blocking(move || self.child.wait()).await.unwrap().unwrap();
    }
}

async fn new_conversation(http: &reqwest::Client, replica: &Replica) -> String {
    let response = http.post(replica.url("/api/conversations")).json(&json!({})).send().await.unwrap();
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

/// A turn of conversation `id` sent to `replica`, as it answers.
async fn ask(http: &reqwest::Client, replica: &Replica, id: &str, prompt: &str) -> reqwest::Response {
    let turn = json!({ "conversationId": id, "prompt": prompt });
    http.post(replica.url("/api/chat")).json(&turn).send().await.unwrap()
}

/// A stateless chat sent to `replica`.
async fn chat(http: &reqwest::Client, replica: &Replica) -> reqwest::Response {
    http.post(replica.url("/api/chat")).json(&json!({ "prompt": "hi" })).send().await.unwrap()
}

async fn start_answer(http: &reqwest::Client, replica: &Replica, id: &str, prompt: &str) -> Events {
    let response = ask(http, replica, id, prompt).await;
    assert_eq!(response.status(), 200);
    events(response)
}

async fn resume(http: &reqwest::Client, replica: &Replica, id: &str, last_id: &str) -> Events {
    let url = replica.url(&format!("/api/conversations/{id}/stream"));
    let response = http.get(url).header("last-event-id", last_id).send().await.unwrap();
    assert_eq!(response.status(), 200);
    events(response)
}

/// The answer once it is no longer `streaming`, waiting up to 20 s.
async fn settled_answer(http: &reqwest::Client, replica: &Replica, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = http.get(replica.url(&format!("/api/conversations/{id}"))).send().await.unwrap();
        let conversation: Value = response.json().await.unwrap();
        let last = conversation["messages"].as_array().unwrap().last().unwrap().clone();
        if last["status"] != "streaming" || Instant::now() > deadline {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The sum of a counter's series whose labels contain `labels`, from `GET /metrics`.
async fn counter(http: &reqwest::Client, replica: &Replica, name: &str, labels: &str) -> f64 {
    let text = http.get(replica.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|line| line.starts_with(name) && line.contains(labels))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn an_answer_started_on_one_replica_is_resumed_on_another_with_nothing_lost_or_twice() {
    let (postgres, redis) = (Postgres::shared(), Redis::start());
    let database_url = postgres.database("replicas_resume");
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let redis_url = redis.url();
    let vars = [("DATABASE_URL", database_url.as_str()), ("REDIS_URL", redis_url.as_str())];
    let (a, b) = (Replica::start(&emulator, &vars), Replica::start(&emulator, &vars));
    let http = reqwest::Client::new();

    for (round, cut_after) in [1, 9, 40].into_iter().enumerate() {
        let id = new_conversation(&http, &a).await;
        let mut on_a = start_answer(&http, &a, &id, "[[scenario:slow delay_ms=20 n=200]]").await;
        let mut client = Client::default();
        client.read(&mut on_a, 1 + cut_after).await;
        drop(on_a);

        // The load balancer sends the reconnection to the other replica.
        let mut on_b = resume(&http, &b, &id, &client.last_id).await;
        let before = client.tokens;
        client.read(&mut on_b, usize::MAX).await;

        let answer = settled_answer(&http, &b, &id).await;
        assert_eq!(client.terminal.as_ref().map(|(event, _)| event.as_str()), Some("done"), "round {round}");
        assert_eq!(
            client.text,
            answer["content"].as_str().unwrap(),
            "round {round}: nothing lost, nothing twice"
        );
        assert_eq!(answer["usage"]["outputTokens"], 200);
        // The store would have sent what A wrote in a few large pieces, one per half-second
        // flush (about eight here); Redis sends what A said in each of its writes (every 25 ms),
        // a token or two each, live.
        assert_eq!(before, cut_after, "round {round}");
        let from_b = client.tokens - before;
        assert!(
            from_b > (200 - cut_after) / 4,
            "round {round}: {from_b} frames from B, live rather than flushed"
        );
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn stop_sent_to_another_replica_stops_the_answer_where_it_runs() {
    let (postgres, redis) = (Postgres::shared(), Redis::start());
    let database_url = postgres.database("replicas_stop");
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let redis_url = redis.url();
    let vars = [("DATABASE_URL", database_url.as_str()), ("REDIS_URL", redis_url.as_str())];
    let (a, b) = (Replica::start(&emulator, &vars), Replica::start(&emulator, &vars));
    let http = reqwest::Client::new();
    let id = new_conversation(&http, &a).await;
    let mut on_a = start_answer(&http, &a, &id, "[[scenario:slow delay_ms=20 n=500]]").await;
    let mut client = Client::default();
    client.read(&mut on_a, 6).await;

    let asked = Instant::now();
    let stop = async {
        let response = http.post(b.url(&format!("/api/conversations/{id}/stop"))).send().await.unwrap();
        (asked.elapsed(), response.json::<Value>().await.unwrap())
    };
    let hang_up =
        emulator.recorder.wait_for(Duration::from_secs(5), |r| r[0].outcome == Outcome::ClientHungUp);
    let ((answered, stopped), hung_up) = tokio::join!(stop, async { hang_up.await.map(|_| asked.elapsed()) });
    client.read(&mut on_a, usize::MAX).await;
    let again: Value = http
        .post(b.url(&format!("/api/conversations/{id}/stop")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(stopped["stopped"], true, "{stopped}");
    let hung_up = hung_up.expect("A dropped the upstream request");
    // Through Redis to A's task takes milliseconds (5 to 9 ms here); the margin is for a busy
    // machine. B answers once the store shows the answer stopped.
    assert!(hung_up < Duration::from_secs(2), "the upstream was dropped {hung_up:?} after Stop");
    assert!(answered < Duration::from_secs(5), "Stop answered after {answered:?}");
    let (event, _) = client.terminal.expect("A's client got the terminal event");
    assert_eq!(event, "stopped");
    let answer = settled_answer(&http, &b, &id).await;
    assert_eq!(
        (answer["status"].as_str(), answer["content"].as_str()),
        (Some("stopped"), Some(client.text.as_str()))
    );
    assert_eq!(stopped["messageId"], answer["id"]);
    assert_eq!(again["stopped"], false, "nothing left to stop");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_second_answer_in_a_conversation_is_refused_on_another_replica_too() {
    let postgres = Postgres::shared();
    let database_url = postgres.database("replicas_one_answer");
    let emulator = Emulator::scripted().spawn().await.unwrap();
    // No Redis: the store alone keeps one answer per conversation.
    let vars = [("DATABASE_URL", database_url.as_str())];
    let (a, b) = (Replica::start(&emulator, &vars), Replica::start(&emulator, &vars));
    let http = reqwest::Client::new();
    let id = new_conversation(&http, &a).await;
    let mut on_a = start_answer(&http, &a, &id, "[[scenario:slow delay_ms=20 n=100]]").await;
    let mut client = Client::default();
    client.read(&mut on_a, 3).await;

    let refused = ask(&http, &b, &id, "and another thing").await;

    assert_eq!(refused.status(), 409);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "answer_in_progress", "{body}");
    client.read(&mut on_a, usize::MAX).await;
    assert_eq!(settled_answer(&http, &b, &id).await["status"], "complete");
    let conversation: Value =
        http.get(b.url(&format!("/api/conversations/{id}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(conversation["messages"].as_array().unwrap().len(), 2, "{conversation}");
    // Once it ended, B takes the next turn.
    let mut on_b = start_answer(&http, &b, &id, "and another thing").await;
    let mut next = Client::default();
    next.read(&mut on_b, usize::MAX).await;
    assert_eq!(next.terminal.map(|(event, _)| event), Some("done".into()));
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn an_owners_running_answers_are_counted_on_all_replicas_together() {
    let (postgres, redis) = (Postgres::shared(), Redis::start());
    let database_url = postgres.database("replicas_running_cap");
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let redis_url = redis.url();
    let vars = [
        ("DATABASE_URL", database_url.as_str()),
        ("REDIS_URL", redis_url.as_str()),
        ("MAX_RUNNING_ANSWERS_PER_OWNER", "1"),
    ];
    let (a, b) = (Replica::start(&emulator, &vars), Replica::start(&emulator, &vars));
    let http = reqwest::Client::new();
    let (first, second) = (new_conversation(&http, &a).await, new_conversation(&http, &a).await);
    let mut on_a = start_answer(&http, &a, &first, "[[scenario:slow delay_ms=20 n=1000]]").await;
    let mut client = Client::default();
    client.read(&mut on_a, 3).await;

    let refused = ask(&http, &b, &second, "Meanwhile").await;
    let status = refused.status();
    let body: Value = refused.json().await.unwrap();
    // The owner is at the cap, but what stops a turn in the conversation answering is that.
    let busy = ask(&http, &b, &first, "And?").await;
    let busy = (busy.status(), busy.json::<Value>().await.unwrap());
    let stopped = http.post(a.url(&format!("/api/conversations/{first}/stop"))).send().await.unwrap();
    // Given back as it ended (a moment after, in Redis): B takes the next answer.
    let deadline = Instant::now() + Duration::from_secs(5);
    let response = loop {
        let response = ask(&http, &b, &second, "Meanwhile").await;
        if response.status() != 429 || Instant::now() > deadline {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(response.status(), 200);
    let mut on_b = events(response);
    let mut next = Client::default();
    next.read(&mut on_b, usize::MAX).await;
    a.stop().await;
    b.stop().await;

    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "too_many_answers", "{body}");
    assert_eq!(
        (busy.0.as_u16(), &busy.1["error"]["code"]),
        (409, &json!("answer_in_progress")),
        "{}",
        busy.1
    );
    assert_eq!(stopped.status(), 200);
    assert_eq!(next.terminal.map(|(event, _)| event), Some("done".into()));
}

/// A replica that dies holding answers gives their places in its owners' counts up with its
/// lease: they are not held for the longest an answer may run (`REQUEST_TIMEOUT_SECONDS`).
#[tokio::test]
async fn the_places_of_a_dead_replicas_answers_lapse_with_its_lease() {
    let (postgres, redis) = (Postgres::shared(), Redis::start());
    let database_url = postgres.database("replicas_dead_claims");
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let redis_url = redis.url();
    let vars = [
        ("DATABASE_URL", database_url.as_str()),
        ("REDIS_URL", redis_url.as_str()),
        ("MAX_RUNNING_ANSWERS_PER_OWNER", "1"),
        ("ANSWER_LEASE_SECONDS", "1"),
    ];
    let (mut a, b) = (Replica::start(&emulator, &vars), Replica::start(&emulator, &vars));
    let http = reqwest::Client::new();
    let (first, second) = (new_conversation(&http, &a).await, new_conversation(&http, &a).await);
    let mut on_a = start_answer(&http, &a, &first, "[[scenario:slow delay_ms=20 n=1000]]").await;
    Client::default().read(&mut on_a, 3).await;
    // Held while A lives and renews it, past several of its lifetimes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held = ask(&http, &b, &second, "Meanwhile").await.status();

    a.child.kill().unwrap();
    tokio::task::spawn_blocking(move || a.child.wait()).await.unwrap().unwrap();
    let died = Instant::now();
    let response = loop {
        let response = ask(&http, &b, &second, "Meanwhile").await;
        if response.status() != 429 || died.elapsed() > Duration::from_secs(20) {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let freed_after = died.elapsed();
    let status = response.status();
    let mut next = Client::default();
    next.read(&mut events(response), usize::MAX).await;
    b.stop().await;

    assert_eq!(held, 429, "A's answer holds the owner's one place while A runs");
    assert_eq!(status, 200, "after {freed_after:?}");
    assert_eq!(next.terminal.map(|(event, _)| event), Some("done".into()));
}

/// A replica paused past its lease (or cut off from the database that long) has its answer
/// taken for a crashed replica's and marked `interrupted` by the other. Once it runs again,
/// its next flush finds the record gone: it stops the answer and its upstream generation, and
/// tells its client the answer was interrupted, as the store says, rather than run on beside
/// the next turn the other replica now takes.
#[tokio::test]
async fn a_replica_paused_past_its_lease_stops_the_answer_another_replica_marked_interrupted() {
    let postgres = Postgres::shared();
    let database_url = postgres.database("replicas_paused");
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let vars = [("DATABASE_URL", database_url.as_str()), ("ANSWER_LEASE_SECONDS", "1")];
    let (a, b) = (Replica::start(&emulator, &vars), Replica::start(&emulator, &vars));
    let http = reqwest::Client::new();
    let id = new_conversation(&http, &a).await;
    let mut on_a = start_answer(&http, &a, &id, "[[scenario:slow delay_ms=20 n=1000]]").await;
    let mut client = Client::default();
    client.read(&mut on_a, 5).await;

    let signal = |name: &str| {
        let pid = a.child.id().to_string();
        assert!(std::process::Command::new("kill").args([name, &pid]).status().unwrap().success());
    };
    signal("-STOP");
    let swept = settled_answer(&http, &b, &id).await;
    signal("-CONT");
    client.read(&mut on_a, usize::MAX).await;
    let hung_up =
        emulator.recorder.wait_for(Duration::from_secs(5), |r| r[0].outcome == Outcome::ClientHungUp).await;
    let after = settled_answer(&http, &b, &id).await;
    let log = a.log.lock().unwrap().clone();
    a.stop().await;
    b.stop().await;

    assert_eq!(swept["status"], "interrupted", "{swept}");
    let (event, data) = client.terminal.expect("a terminal frame");
    assert_eq!(
        (event.as_str(), data["error"]["code"].as_str()),
        ("error", Some("stream_interrupted")),
        "{data}"
    );
    assert!(client.tokens < 1000, "stopped early: {} tokens", client.tokens);
    assert!(hung_up.is_ok(), "the upstream generation was stopped: {hung_up:?}");
    assert_eq!(after, swept, "the record stays as the other replica left it");
    assert!(log.contains("stopping an answer whose record is no longer this server's"), "{log}");
}

#[tokio::test]
async fn a_follower_on_another_replica_ends_when_the_conversation_is_deleted_after_its_replica_died() {
    let (postgres, redis) = (Postgres::shared(), Redis::start());
    let database_url = postgres.database("replicas_follow_deleted");
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let redis_url = redis.url();
    let vars = [("DATABASE_URL", database_url.as_str()), ("REDIS_URL", redis_url.as_str())];
    let (mut a, b) = (Replica::start(&emulator, &vars), Replica::start(&emulator, &vars));
    let http = reqwest::Client::new();
    let id = new_conversation(&http, &a).await;
    let mut on_a = start_answer(&http, &a, &id, "[[scenario:slow delay_ms=20 n=1000]]").await;
    let mut client = Client::default();
    client.read(&mut on_a, 5).await;
    let mut on_b = resume(&http, &b, &id, &client.last_id).await;
    client.read(&mut on_b, 2).await;

    // A dies without a word: B's follower hears nothing more through Redis, and the store still
    // has the answer as streaming (A's lease has time left), until the conversation goes.
    a.child.kill().unwrap();
    let deleted = http.delete(b.url(&format!("/api/conversations/{id}"))).send().await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), client.read(&mut on_b, usize::MAX)).await;
    tokio::task::spawn_blocking(move || a.child.wait()).await.unwrap().unwrap();
    b.stop().await;

    assert_eq!(deleted.status(), 204);
    assert!(ended.is_ok(), "the follow ended");
    let (event, _) = client.terminal.expect("a terminal frame");
    assert_eq!(event, "error");
}

#[tokio::test]
async fn a_server_that_cannot_reach_redis_at_start_up_exits_naming_redis_url() {
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let nothing_there = format!("redis://127.0.0.1:{}", free_port());
    let mut server = command(&emulator, &[("REDIS_URL", nothing_there.as_str())]);

    let output = tokio::task::spawn_blocking(move || server.output()).await.unwrap().unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it must not serve without the Redis it was given");
    assert!(stderr.contains("REDIS_URL") && stderr.contains("cannot reach Redis"), "{stderr}");
}

#[tokio::test]
async fn when_redis_goes_away_answers_complete_resume_through_the_store_and_failures_are_counted() {
    let (postgres, mut redis) = (Postgres::shared(), Redis::start());
    let database_url = postgres.database("replicas_without_redis");
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let redis_url = redis.url();
    let vars = [("DATABASE_URL", database_url.as_str()), ("REDIS_URL", redis_url.as_str())];
    let (a, b) = (Replica::start(&emulator, &vars), Replica::start(&emulator, &vars));
    let http = reqwest::Client::new();

    redis.stop();
    let id = new_conversation(&http, &a).await;
    let mut on_a = start_answer(&http, &a, &id, "[[scenario:slow delay_ms=20 n=100]]").await;
    let mut client = Client::default();
    client.read(&mut on_a, 10).await;
    drop(on_a);
    let mut on_b = resume(&http, &b, &id, &client.last_id).await;
    client.read(&mut on_b, usize::MAX).await;
    let answer = settled_answer(&http, &b, &id).await;
    let (failed_on_a, failed_on_b) = (
        counter(&http, &a, "streambed_redis_errors_total", "").await,
        counter(&http, &b, "streambed_redis_errors_total", "").await,
    );
    let (log_a, log_b) = (a.log.lock().unwrap().clone(), b.log.lock().unwrap().clone());
    a.stop().await;
    b.stop().await;

    assert_eq!(client.terminal.as_ref().map(|(event, _)| event.as_str()), Some("done"));
    assert_eq!(
        (answer["status"].as_str(), answer["content"].as_str()),
        (Some("complete"), Some(client.text.as_str()))
    );
    assert!(failed_on_a > 0.0 && failed_on_b > 0.0, "errors counted: A {failed_on_a}, B {failed_on_b}");
    for log in [log_a, log_b] {
        assert!(log.contains("WARN") && log.contains("Redis failed; carrying on without it"), "{log}");
    }
}

/// The replicas' connections to Redis: every client but the one asking `CLIENT LIST`.
fn replica_connections(redis: &Redis) -> Vec<String> {
    let clients = redis.clients();
    clients.lines().filter(|line| !line.contains(" cmd=client|list ")).map(str::to_owned).collect()
}

/// How many of the replicas' connections are subscriptions (`sub=1`) and how many are not.
fn connections(redis: &Redis) -> (usize, usize) {
    let ours = replica_connections(redis);
    let subscribed = ours.iter().filter(|line| line.contains(" sub=1 ")).count();
    (subscribed, ours.len() - subscribed)
}

#[tokio::test]
async fn after_redis_restarts_the_replicas_reconnect_before_their_next_call() {
    let mut redis = Redis::start();
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let redis_url = redis.url();
    let vars = [("REDIS_URL", redis_url.as_str()), ("RATE_LIMIT_PER_MINUTE", "1"), ("RATE_LIMIT_BURST", "1")];
    let (a, b) = (Replica::start(&emulator, &vars), Replica::start(&emulator, &vars));
    let http = reqwest::Client::new();
    let before = replica_connections(&redis);

    redis.restart();
    // Each replica's Stop subscription and shared connection, back without being asked to be.
    let wait = Duration::from_secs(30);
    streambed_testkit::process::wait_until("both replicas to reconnect", wait, || {
        (connections(&redis) == (2, 2)).then_some(())
    });
    let on_a = chat(&http, &a).await.status();
    let on_b = chat(&http, &b).await.status();
    // Each Stop subscription saw its connection close; no call on the shared one failed.
    let failed = r#"use="rate_limit""#;
    let failures = [
        counter(&http, &a, "streambed_redis_errors_total", failed).await,
        counter(&http, &b, "streambed_redis_errors_total", failed).await,
    ];
    a.stop().await;
    b.stop().await;

    assert!(!before.is_empty() && before.iter().all(|c| c.contains(" resp=3")), "{before:#?}");
    assert_eq!(
        (on_a.as_u16(), on_b.as_u16()),
        (200, 429),
        "one allowance for both, counted in the new Redis"
    );
    assert_eq!(failures, [0.0, 0.0], "no call failed");
}

#[tokio::test]
async fn a_redis_without_resp3_is_spoken_to_over_resp2_with_a_warning() {
    let redis = Redis::start_resp2_only();
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let redis_url = redis.url();
    let vars = [("REDIS_URL", redis_url.as_str()), ("RATE_LIMIT_PER_MINUTE", "1"), ("RATE_LIMIT_BURST", "1")];
    let (a, b) = (Replica::start(&emulator, &vars), Replica::start(&emulator, &vars));
    let http = reqwest::Client::new();

    let statuses = [chat(&http, &a).await.status().as_u16(), chat(&http, &b).await.status().as_u16()];
    let connections = replica_connections(&redis);
    let failures = counter(&http, &a, "streambed_redis_errors_total", "").await
        + counter(&http, &b, "streambed_redis_errors_total", "").await;
    let log = a.log.lock().unwrap().clone();
    a.stop().await;
    b.stop().await;

    assert_eq!(statuses, [200, 429], "one allowance for both, counted in Redis");
    assert_eq!(failures, 0.0);
    assert!(!connections.is_empty());
    assert!(connections.iter().all(|connection| connection.contains(" resp=2")), "{connections:#?}");
    assert!(log.contains("Redis does not speak RESP3"), "{log}");
}

#[tokio::test]
async fn a_client_limited_on_one_replica_is_limited_on_the_other() {
    let redis = Redis::start();
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let redis_url = redis.url();
    let vars = [("REDIS_URL", redis_url.as_str()), ("RATE_LIMIT_PER_MINUTE", "1"), ("RATE_LIMIT_BURST", "2")];
    let (a, b) = (Replica::start(&emulator, &vars), Replica::start(&emulator, &vars));
    let http = reqwest::Client::new();

    let burst = [chat(&http, &a).await.status(), chat(&http, &a).await.status()];
    let on_b = chat(&http, &b).await;
    let again_on_a = chat(&http, &a).await.status();
    let (status, retry_after) = (on_b.status(), on_b.headers().get("retry-after").cloned());
    let body: Value = on_b.json().await.unwrap();
    a.stop().await;
    b.stop().await;

    assert_eq!(burst, [200, 200], "a burst of 2 on A");
    assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (429, Some("rate_limited")), "{body}");
    let retry_after: u64 = retry_after.expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "one chat a minute: {retry_after}");
    assert_eq!(again_on_a, 429, "B's refusal spent nothing, and A still counts its own");
}

#[tokio::test]
async fn an_address_locked_out_on_one_replica_is_locked_out_on_the_other() {
    let redis = Redis::start();
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let redis_url = redis.url();
    let key = "sk-0123456789-replica-key";
    let vars = [("REDIS_URL", redis_url.as_str()), ("API_KEYS", key), ("AUTH_MAX_FAILURES_PER_MINUTE", "2")];
    let (a, b) = (Replica::start(&emulator, &vars), Replica::start(&emulator, &vars));
    let http = reqwest::Client::new();
    let models = |replica: &Replica, credential: &str| {
        http.get(replica.url("/api/models")).bearer_auth(credential).send()
    };

    let wrong = [
        models(&a, "sk-wrong-wrong-wrong-1").await.unwrap().status(),
        models(&a, "sk-wrong-wrong-wrong-2").await.unwrap().status(),
    ];
    let right_on_b = models(&b, key).await.unwrap();
    let (status, body) = (right_on_b.status(), right_on_b.json::<Value>().await.unwrap());
    a.stop().await;
    b.stop().await;

    assert_eq!(wrong, [401, 401]);
    assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (429, Some("auth_locked_out")), "{body}");
}

#[tokio::test]
async fn redis_is_reached_over_tls_and_its_certificate_is_checked() {
    let redis = Redis::start_tls();
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let (redis_url, ca) = (redis.url(), redis.ca_file().unwrap().display().to_string());
    let limited = [("RATE_LIMIT_PER_MINUTE", "1"), ("RATE_LIMIT_BURST", "1")];
    let mut untrusted = command(&emulator, &[("REDIS_URL", redis_url.as_str())]);

    let a = Replica::start(
        &emulator,
        &[&[("REDIS_URL", redis_url.as_str()), ("SSL_CERT_FILE", ca.as_str())][..], &limited].concat(),
    );
    let http = reqwest::Client::new();
    let statuses = [chat(&http, &a).await.status(), chat(&http, &a).await.status()];
    let failed = counter(&http, &a, "streambed_redis_errors_total", "").await;
    a.stop().await;
    let refused = tokio::task::spawn_blocking(move || untrusted.output()).await.unwrap().unwrap();

    assert_eq!(statuses, [200, 429], "the rate was counted in Redis, over TLS");
    assert_eq!(failed, 0.0);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("REDIS_URL"),
        "a certificate from an unknown CA: {stderr}"
    );
}

/// `/api/ready` says whether this replica can serve conversations, and names Redis gone without
/// making that a reason (each replica carries on alone); `/api/health` stays 200.
#[tokio::test]
async fn readiness_names_what_is_out_of_reach_while_health_stays_ok() {
    let (postgres, mut redis) = (Postgres::shared(), Redis::start());
    let database_url = postgres.database("replicas_ready");
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let redis_url = redis.url();
    let a = Replica::start(
        &emulator,
        &[("DATABASE_URL", database_url.as_str()), ("REDIS_URL", redis_url.as_str())],
    );
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(a.url(path)).send();

    let ready = get("/api/ready").await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({ "status": "ready", "database": "ok", "redis": "ok" })
    );

    redis.stop();
    let unready = get("/api/ready").await.unwrap();
    let health = get("/api/health").await.unwrap().status();
    a.stop().await;

    assert_eq!(unready.status(), 200);
    let unready: Value = unready.json().await.unwrap();
    assert_eq!(unready, json!({ "status": "ready", "database": "ok", "redis": "unreachable" }));
    assert_eq!(health, 200);
}
