//! The `streambed` binary as an operator runs it: configured only by environment variables
//! (the AWS SDK finds the emulator through AWS_ENDPOINT_URL_BEDROCK_RUNTIME), stopped by SIGTERM.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use serde_json::json;
use streambed_emulator::Emulator;

use crate::helpers::{MODEL, read_frames};

#[tokio::test]
async fn sigterm_lets_the_stream_in_flight_finish_then_exits() {
    let emulator = Emulator::scripted().spawn().await.unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_streambed"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs([
            ("PORT", "0"),
            ("BEDROCK_MODEL_ID", MODEL),
            ("BEDROCK_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("SHUTDOWN_GRACE_SECONDS", "10"),
            ("NO_COLOR", "1"),
        ])
        .env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", emulator.endpoint_url())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // The server logs its address once it is listening; no sleeping and polling.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.split("listening on ").nth(1).map(str::to_owned))
        .expect("a listening line");
    std::thread::spawn(move || lines.for_each(drop)); // keep the log pipe from filling up
    let response = reqwest::Client::new()
        .post(format!("{url}/api/chat"))
        .json(&json!({ "prompt": "[[scenario:slow delay_ms=50 n=20]]" }))
        .send()
        .await
        .unwrap();

    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let frames = read_frames(response).await;

    assert!(kill.success());
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
