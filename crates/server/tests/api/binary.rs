//! The `streambed` binary as an operator runs it: configured only by environment variables
//! (the AWS SDK finds the emulator through AWS_ENDPOINT_URL_BEDROCK_RUNTIME), stopped by SIGTERM.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
};

use base64::Engine;
use serde_json::json;
use streambed_emulator::{Emulator, RunningEmulator};

use crate::helpers::{MODEL, read_frames};

/// The binary, pointed at `emulator`, with `vars` on top; returns it, its URL and its log so far
/// (the log keeps filling in the background).
pub(crate) fn start(
    emulator: &RunningEmulator,
    vars: &[(&str, &str)],
) -> (Child, String, Arc<Mutex<String>>) {
    // Its log is on stdout. Not stderr: a server a failed test leaves behind would hold the
    // test runner's stderr open, and whoever reads it would wait for that server forever.
    let mut child = command(emulator, vars)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let log = Arc::new(Mutex::new(String::new()));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    // The server logs its address once it is listening; no sleeping and polling.
    for line in lines.by_ref().map_while(Result::ok) {
        // The URL ends the text line, or the message of a JSON one (`LOG_FORMAT=json`).
        url =
            line.split("listening on ").nth(1).map(|rest| rest.split('"').next().unwrap_or(rest).to_owned());
        log.lock().unwrap().push_str(&format!("{line}\n"));
        if url.is_some() {
            break;
        }
    }
    let sink = Arc::clone(&log);
    // Drains the pipe so the server never blocks on logging.
    std::thread::spawn(move || {
        lines.map_while(Result::ok).for_each(|l| sink.lock().unwrap().push_str(&format!("{l}\n")))
    });
    (child, url.expect("a listening line"), log)
}

/// The command [`start`] runs: the binary configured by its environment alone.
pub(crate) fn command(emulator: &RunningEmulator, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_streambed"));
    command
        // Away from a `.env` in the checkout, which the server would read.
        .current_dir(std::env::temp_dir())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs([
            ("PORT", "0"),
            ("BEDROCK_MODEL_ID", MODEL),
            ("BEDROCK_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("NO_COLOR", "1"),
            ("DATABASE_URL", "sqlite::memory:"),
        ])
        .env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", emulator.endpoint_url())
        .envs(vars.iter().copied());
    command
}

pub(crate) fn terminate(child: &Child) {
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
}

#[tokio::test]
async fn sigterm_lets_the_stream_in_flight_finish_then_exits() {
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let (mut child, url, _) = start(&emulator, &[("SHUTDOWN_GRACE_SECONDS", "10")]);
    let response = reqwest::Client::new()
        .post(format!("{url}/api/chat"))
        .json(&json!({ "prompt": "[[scenario:slow delay_ms=50 n=20]]" }))
        .send()
        .await
        .unwrap();

    terminate(&child);
    let frames = read_frames(response).await;

    assert_eq!(frames.tokens().len(), 20, "the answer in flight was finished");
    assert_eq!(frames.last().0, "done");
    let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "clean exit after draining: {status}");
    assert_eq!(
        emulator.recorder.requests()[0].model_id,
        MODEL,
        "the SDK found the emulator through the environment"
    );
}

#[tokio::test]
async fn with_log_format_json_every_line_is_one_json_object_fatal_errors_included() {
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let (mut child, url, log) = start(&emulator, &[("LOG_FORMAT", "json")]);
    let frames = read_frames(
        reqwest::Client::new()
            .post(format!("{url}/api/chat"))
            .json(&json!({ "prompt": "hi" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(frames.last().0, "done");
    terminate(&child);
    tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();

    let lines: Vec<serde_json::Value> = log
        .lock()
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let finished =
        lines.iter().find(|line| line["fields"]["message"] == "chat finished").expect("a chat line");
    assert_eq!(finished["level"], "INFO");
    assert!(finished["fields"]["request_id"].is_string() && finished["timestamp"].is_string(), "{finished}");

    // A start-up that fails says why in one JSON line on standard output, not several of text.
    let failed =
        command(&emulator, &[("LOG_FORMAT", "json"), ("DATABASE_URL", "mysql://nope")]).output().unwrap();
    assert!(!failed.status.success());
    let stdout = String::from_utf8(failed.stdout).unwrap();
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last["level"].as_str(), last["fields"]["message"].as_str()),
        (Some("ERROR"), Some("the server stopped"))
    );
    assert!(last["fields"]["error"].as_str().unwrap().contains("DATABASE_URL"), "{last}");
    assert!(failed.stderr.is_empty(), "{}", String::from_utf8_lossy(&failed.stderr));
}

#[tokio::test]
async fn keys_and_tokens_never_reach_the_log_or_an_answer_even_at_trace_level() {
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let key = "sk-0123456789-very-secret";
    let wrong = "sk-9876543210-also-secret";
    // Not a JWT at all, and a well-formed one whose signing keys cannot be fetched.
    let garbled = "secret5551234567.secret5551234567.secret5551234567";
    let b64 = |json: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    let unverifiable = format!(
        "{}.{}.c2lnbmF0dXJl5551234567",
        b64(r#"{"alg":"ES256","kid":"kid-5551234567"}"#),
        b64(r#"{"sub":"secret-5551234567"}"#)
    );
    let (mut child, url, log) = start(
        &emulator,
        &[
            ("API_KEYS", key),
            ("AUTH_JWT_ISSUER", "http://127.0.0.1:9"),
            ("AUTH_JWT_AUDIENCE", "streambed"),
            ("AUTH_JWKS_URL", "http://127.0.0.1:9/jwks.json"),
            ("RUST_LOG", "trace"),
        ],
    );
    let http = reqwest::Client::new();
    let chat = |credential: &str| {
        http.post(format!("{url}/api/chat")).bearer_auth(credential).json(&json!({ "prompt": "hi" })).send()
    };

    assert_eq!(read_frames(chat(key).await.unwrap()).await.last().0, "done");
    let mut answers = Vec::new();
    for (credential, status) in [(wrong, 401), (garbled, 401), (unverifiable.as_str(), 503)] {
        let response = chat(credential).await.unwrap();
        assert_eq!(response.status(), status, "{credential}");
        let headers = format!("{:?}", response.headers());
        answers.push(format!("{headers} {}", response.text().await.unwrap()));
    }
    terminate(&child);
    tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();

    let log = log.lock().unwrap();
    assert!(log.contains("chat finished") && log.contains("TRACE"), "the log was captured:\n{log}");
    for secret in ["0123456789", "9876543210", "5551234567"] {
        assert!(!log.contains(secret), "a credential ({secret}) leaked into the log:\n{log}");
        assert!(answers.iter().all(|a| !a.contains(secret)), "a credential was echoed: {answers:?}");
    }
}

#[tokio::test]
async fn the_start_up_log_says_which_client_limits_apply_and_why() {
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let limits_line = |vars: &[(&str, &str)]| {
        let (mut child, _, log) = start(&emulator, vars);
        terminate(&child);
        child.wait().unwrap();
        let log = log.lock().unwrap();
        log.lines()
            .find(|l| l.contains("client limits selected"))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{log}"))
    };

    let open = limits_line(&[]);
    let keyed = limits_line(&[("API_KEYS", "sk-0123456789-very-secret")]);

    assert!(open.contains("rate_limit=off") && open.contains("auth_lockout=off"), "{open}");
    assert!(open.contains("authentication is off and RATE_LIMIT_PER_MINUTE is not set"), "{open}");
    assert!(keyed.contains("rate_limit=60 chats per minute, burst 20"), "{keyed}");
    assert!(keyed.contains("auth_lockout=30 wrong keys or tokens per minute"), "{keyed}");
    assert!(
        open.contains("max_concurrent_streams=10000") && open.contains("max_connections=20000"),
        "{open}"
    );
}

#[tokio::test]
async fn the_healthcheck_subcommand_reports_whether_the_server_answers() {
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let (mut child, url, _) = start(&emulator, &[]);
    let port = url.rsplit(':').next().unwrap().to_owned();
    let check = |port: String| {
        Command::new(env!("CARGO_BIN_EXE_streambed")).arg("healthcheck").env("PORT", port).output().unwrap()
    };

    let healthy = tokio::task::spawn_blocking(move || check(port)).await.unwrap();
    terminate(&child);
    tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unhealthy = tokio::task::spawn_blocking(move || check(closed_port.to_string())).await.unwrap();

    assert!(healthy.status.success(), "{}", String::from_utf8_lossy(&healthy.stderr));
    assert!(!unhealthy.status.success());
    assert!(String::from_utf8_lossy(&unhealthy.stderr).contains("/api/health"));
}

#[tokio::test]
async fn the_healthcheck_asks_the_address_the_server_listens_on() {
    let emulator = Emulator::scripted().spawn().await.unwrap();
    // IPv6 loopback only: 127.0.0.1 would find nothing there.
    let (mut child, url, _) = start(&emulator, &[("HOST", "::1")]);
    let port = url.rsplit(':').next().unwrap().to_owned();

    let check = Command::new(env!("CARGO_BIN_EXE_streambed"))
        .arg("healthcheck")
        .current_dir(std::env::temp_dir())
        .env_clear()
        .envs([("HOST", "::1"), ("PORT", port.as_str())])
        .output()
        .unwrap();
    terminate(&child);
    tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();

    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
}

#[test]
fn help_and_version_print_and_exit_and_an_unknown_argument_starts_nothing() {
    let run = |arg: &str| {
        Command::new(env!("CARGO_BIN_EXE_streambed"))
            .arg(arg)
            .current_dir(std::env::temp_dir())
            .env_clear()
            .env("PORT", "1")
            .output()
            .unwrap()
    };

    let (help, version, unknown) = (run("--help"), run("--version"), run("--port=80"));

    assert!(help.status.success() && String::from_utf8_lossy(&help.stdout).contains("healthcheck"));
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("streambed "));
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown argument `--port=80`"));
}

#[tokio::test]
async fn listening_beyond_loopback_without_auth_warns_loudly() {
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let (mut child, _, log) = start(&emulator, &[("HOST", "0.0.0.0")]);
    terminate(&child);
    tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();

    let log = log.lock().unwrap();
    let warning = log.lines().find(|l| l.contains("WARN") && l.contains("no authentication"));
    assert!(warning.is_some(), "{log}");
}
