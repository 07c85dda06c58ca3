//! Connection hygiene: clients that never finish a request, trickle a body or pile up
//! connections are let go, and answers already streaming never notice. Margins are wide (a
//! 1 s timeout, 15 s to see its effect) so a busy machine does not make these flaky.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};
use streambed_emulator::Emulator;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::timeout,
};

use crate::helpers::{TestApp, read_frames, spawn_app_with};

/// Far longer than any timeout under test, far shorter than the 40 s the issue saw sockets live.
const MARGIN: Duration = Duration::from_secs(15);

/// An answer of 30 tokens, 100 ms apart: it streams for 3 s, three times the timeouts under test.
const SLOW: &str = "[[scenario:slow delay_ms=100 n=30]]";

/// Reads until the server closes the connection (an end of file or a reset); what it sent, or
/// `None` if it was still open after `MARGIN`.
async fn until_closed(socket: &mut TcpStream) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    timeout(MARGIN, async {
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| received)
}

async fn connect(app: &TestApp, first_bytes: &[u8]) -> TcpStream {
    let mut socket = TcpStream::connect(app.addr).await.expect("connects");
    socket.write_all(first_bytes).await.expect("writes");
    socket
}

async fn assert_streams_whole(answer: reqwest::Response) {
    let frames = read_frames(answer).await;
    assert_eq!(frames.tokens().len(), 30, "every token arrived");
    assert_eq!(frames.last().0, "done");
}

#[tokio::test]
async fn half_sent_requests_are_closed_after_the_header_timeout_while_an_answer_streams_on() {
    let app = spawn_app_with(Emulator::scripted(), &[("HEADER_READ_TIMEOUT_SECONDS", "1")]).await;
    let answer = app.post_chat(json!({ "prompt": SLOW })).await;
    assert_eq!(answer.status(), 200);

    // Half a request line; nothing at all; the start of the HTTP/2 preface.
    let openings: [&[u8]; 3] = [b"GET /api/health HT", b"", b"PRI * HTTP/2.0\r\n"];
    let mut sockets = join_all((0..200).map(|i| connect(&app, openings[i % 3]))).await;
    let closed = join_all(sockets.iter_mut().map(until_closed)).await;

    let still_open = closed.iter().filter(|c| c.is_none()).count();
    assert_eq!(still_open, 0, "{still_open} of 200 half-open connections outlived the header timeout");
    assert_streams_whole(answer).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let app = spawn_app_with(Emulator::scripted(), &[("HEADER_READ_TIMEOUT_SECONDS", "1")]).await;

    let mut socket = connect(&app, b"GET /api/health HTTP/1.1\r\nhost: localhost\r\n\r\n").await;
    let received = until_closed(&mut socket).await.expect("closed once idle");

    let received = String::from_utf8_lossy(&received);
    assert!(received.starts_with("HTTP/1.1 200"), "the request itself was answered: {received}");
}

#[tokio::test]
async fn a_body_that_trickles_in_is_cut_off_after_the_body_timeout_while_an_answer_streams_on() {
    let app = spawn_app_with(Emulator::scripted(), &[("REQUEST_BODY_TIMEOUT_SECONDS", "1")]).await;
    let answer = app.post_chat(json!({ "prompt": SLOW })).await;
    assert_eq!(answer.status(), 200);
    let head = "POST /api/chat HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n";

    // One byte every 100 ms of a 10,000-byte body: each piece is prompt, the whole is not.
    let trickler = connect(&app, format!("{head}content-length: 10000\r\n\r\n{{").as_bytes()).await;
    let (mut reading, mut writing) = trickler.into_split();
    let trickle = tokio::spawn(async move {
        while writing.write_all(b" ").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // A body that stops: nothing arrives after the deadline, so the answer is read whole.
    let mut staller = connect(&app, format!("{head}content-length: 100\r\n\r\n{{").as_bytes()).await;

    let mut buf = [0u8; 4096];
    let trickled = timeout(MARGIN, async { while matches!(reading.read(&mut buf).await, Ok(1..)) {} }).await;
    let stalled = until_closed(&mut staller).await.expect("the stalled body's connection is closed");

    assert!(trickled.is_ok(), "the trickling connection was still open after {MARGIN:?}");
    trickle.abort();
    let stalled = String::from_utf8_lossy(&stalled);
    assert!(stalled.starts_with("HTTP/1.1 408"), "{stalled}");
    let body: Value = serde_json::from_str(&stalled[stalled.find('{').unwrap()..]).unwrap();
    assert_eq!(body["error"]["code"], "request_timeout");
    assert!(body["error"]["message"].as_str().unwrap().contains("REQUEST_BODY_TIMEOUT_SECONDS"));
    assert_eq!(app.emulator.recorder.requests().len(), 1, "neither body reached the model");
    assert_streams_whole(answer).await;
}

#[tokio::test]
async fn at_the_connection_cap_a_new_connection_is_closed_at_once_and_streams_finish() {
    // The header timeout is long, so only the cap can close the extra connection quickly.
    let app = spawn_app_with(
        Emulator::scripted(),
        &[("MAX_CONNECTIONS", "2"), ("HEADER_READ_TIMEOUT_SECONDS", "60")],
    )
    .await;
    let (first, second) = (reqwest::Client::new(), reqwest::Client::new());
    let chat =
        |client: &reqwest::Client| client.post(app.url("/api/chat")).json(&json!({ "prompt": SLOW })).send();
    let answers = [chat(&first).await.unwrap(), chat(&second).await.unwrap()];

    let mut extra = connect(&app, b"GET /api/health HTTP/1.1\r\nhost: localhost\r\n\r\n").await;
    let refused = timeout(Duration::from_secs(10), until_closed(&mut extra)).await;
    let refused_request = reqwest::Client::new().get(app.url("/api/health")).send().await;

    assert!(matches!(refused, Ok(Some(ref answer)) if answer.is_empty()), "closed unanswered: {refused:?}");
    assert!(refused_request.is_err(), "{refused_request:?}");
    for answer in answers {
        assert_streams_whole(answer).await;
    }

    // Once the streaming clients hang up, their places are free again.
    drop((first, second));
    let mut status = None;
    for _ in 0..100 {
        if let Ok(response) = reqwest::Client::new().get(app.url("/api/health")).send().await {
            status = Some(response.status());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, Some(reqwest::StatusCode::OK));
}

/// A client that stops reading (here: twenty files asked for at once, none read) is let go once
/// the server's writes have been blocked for SEND_TIMEOUT_SECONDS; before, it held its
/// connection, and an answer its upstream call, for as long as it liked.
#[tokio::test]
async fn a_client_that_stops_reading_is_let_go_after_the_send_timeout() {
    const FILE: usize = 4 * 1024 * 1024;
    let dir = streambed_testkit::scratch_dir("unread");
    std::fs::write(dir.path().join("index.html"), "<!doctype html>").unwrap();
    std::fs::write(dir.path().join("big.bin"), vec![b'x'; FILE]).unwrap();
    let vars = [("STATIC_DIR", dir.path().to_str().unwrap()), ("SEND_TIMEOUT_SECONDS", "1")];
    let app = spawn_app_with(Emulator::scripted(), &vars).await;

    let mut socket =
        connect(&app, "GET /big.bin HTTP/1.1\r\nhost: localhost\r\n\r\n".repeat(20).as_bytes()).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let received = until_closed(&mut socket).await.expect("the connection was closed");

    assert!(received.len() < 20 * FILE, "all {} bytes were sent: the client was waited for", received.len());
    assert_eq!(app.http.get(app.url("/api/health")).send().await.unwrap().status(), 200);
}

/// An HTTP/2 connection left unused for the header timeout is closed (a GOAWAY), as hyper closes
/// an idle HTTP/1 one; a client answering pings could otherwise hold it for ever.
#[tokio::test]
async fn an_unused_http2_connection_is_closed_after_the_header_timeout() {
    let app = spawn_app_with(Emulator::scripted(), &[("HEADER_READ_TIMEOUT_SECONDS", "1")]).await;
    let tcp = TcpStream::connect(app.addr).await.unwrap();
    let io = hyper_util::rt::TokioIo::new(tcp);
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await.unwrap();
    let connection = tokio::spawn(connection);

    let request = axum::http::Request::get(app.url("/api/health")).body(String::new()).unwrap();
    let health = sender.send_request(request).await.unwrap();
    assert_eq!(health.status(), 200);
    drop(health);
    let closed = timeout(MARGIN, connection).await;

    assert!(matches!(closed, Ok(Ok(Ok(())))), "the server closed the connection: {closed:?}");
}

#[tokio::test]
async fn an_http2_client_streams_an_answer() {
    let app = spawn_app_with(Emulator::scripted(), &[]).await;
    let http2 = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();

    let answer = http2.post(app.url("/api/chat")).json(&json!({ "prompt": "hi" })).send().await.unwrap();

    assert_eq!(answer.version(), reqwest::Version::HTTP_2);
    assert_eq!(read_frames(answer).await.last().0, "done");
}

#[tokio::test]
async fn a_request_whose_first_byte_comes_alone_is_served() {
    // "P" may still be HTTP/2's preface ("PRI * …"): whichever way the server tells this one
    // apart (here hyper-util reads on until it knows), the request is served.
    let app = spawn_app_with(Emulator::scripted(), &[]).await;
    let body = json!({ "prompt": "hi" }).to_string();
    let rest = format!(
        "OST /api/chat HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );

    let mut socket = connect(&app, b"P").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    socket.write_all(rest.as_bytes()).await.unwrap();
    let received = until_closed(&mut socket).await.expect("answered and closed");

    let received = String::from_utf8_lossy(&received);
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
    assert!(received.contains("event: done"), "{received}");
}

#[tokio::test]
async fn a_silent_connection_does_not_hold_up_shutdown() {
    let mut app = spawn_app_with(Emulator::scripted(), &[("HEADER_READ_TIMEOUT_SECONDS", "60")]).await;
    let mut silent = connect(&app, b"").await;

    app.signal_shutdown();

    let stopped = timeout(Duration::from_secs(10), &mut app.server).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "the server exits without waiting 60 s: {stopped:?}");
    assert_eq!(until_closed(&mut silent).await, Some(Vec::new()), "closed unanswered");
}

#[tokio::test]
async fn a_conversation_whose_optional_body_stalls_is_a_408_too() {
    let app = spawn_app_with(Emulator::scripted(), &[("REQUEST_BODY_TIMEOUT_SECONDS", "1")]).await;
    let head = "POST /api/conversations HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n";
    let mut staller = connect(&app, format!("{head}content-length: 100\r\n\r\n{{").as_bytes()).await;

    let stalled = until_closed(&mut staller).await.expect("the stalled body's connection is closed");

    let stalled = String::from_utf8_lossy(&stalled);
    assert!(stalled.starts_with("HTTP/1.1 408"), "{stalled}");
    let body: Value = serde_json::from_str(&stalled[stalled.find('{').unwrap()..]).unwrap();
    assert_eq!(body["error"]["code"], "request_timeout");
}

#[tokio::test]
async fn a_body_declared_over_max_body_bytes_is_a_413_at_once_in_each_apis_shape() {
    // A deadline far beyond the test's: only the declared length can end these requests.
    let app = spawn_app_with(Emulator::scripted(), &[("REQUEST_BODY_TIMEOUT_SECONDS", "600")]).await;
    for (path, code) in [
        ("/api/chat", "payload_too_large"),
        ("/api/conversations", "payload_too_large"),
        ("/v1/messages", "request_too_large"),
        ("/v1/chat/completions", "payload_too_large"),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
             content-length: 1000000000\r\n\r\n{{"
        );
        let mut client = connect(&app, head.as_bytes()).await;

        let refused = until_closed(&mut client).await.expect("answered and closed, not left waiting");

        let refused = String::from_utf8_lossy(&refused);
        assert!(refused.starts_with("HTTP/1.1 413"), "{path}: {refused}");
        let body: Value = serde_json::from_str(&refused[refused.find('{').unwrap()..]).unwrap();
        let found = body["error"]["code"].as_str().or(body["error"]["type"].as_str());
        assert_eq!(found, Some(code), "{path}: {body}");
    }
    assert!(app.emulator.recorder.requests().is_empty());
}
