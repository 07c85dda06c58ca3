//! `spawn_app`: the real server on an ephemeral port, with the real AWS SDK talking to a
//! Bedrock emulator on another one. Nothing inside the server is replaced.

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use aws_config::{BehaviorVersion, Region, retry::RetryConfig};
use aws_sdk_bedrockruntime::config::Credentials;
use eventsource_stream::{Event, Eventsource};
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use streambed_core::ChatModel;
use streambed_emulator::{Emulator, RunningEmulator};
use streambed_server::{Config, Conversations, Models, Shutdown};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub(crate) const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";

pub(crate) struct TestApp {
    pub addr: SocketAddr,
    pub emulator: RunningEmulator,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    pub server: JoinHandle<std::io::Result<()>>,
}

pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(Emulator::scripted(), &[]).await
}

/// `vars` are environment variables as the server would read them.
pub(crate) async fn spawn_app_with(emulator: Emulator, vars: &[(&str, &str)]) -> TestApp {
    init_logs();
    let emulator = emulator.spawn().await.expect("emulator starts");
    let mut env: HashMap<String, String> = HashMap::from([
        ("BEDROCK_MODEL_ID".into(), MODEL.into()),
        ("DATABASE_URL".into(), "sqlite::memory:".into()),
    ]);
    env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let config = Config::from_lookup(|k| env.get(k).cloned()).expect("valid test configuration");

    let sdk_config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(emulator.endpoint_url())
        .retry_config(RetryConfig::standard().with_initial_backoff(Duration::from_millis(1)))
        .load()
        .await;
    // The server's own model set-up, on an SDK configuration pointed at this test's emulator.
    let bedrock = config.models.bedrock.as_ref().expect("the tests configure Bedrock");
    let mut bedrock = streambed_bedrock::models(&sdk_config, bedrock).expect("a region is set").into_iter();
    let default = bedrock.next().expect("BEDROCK_MODEL_ID is set");
    let models = Models::new(Arc::new(default), bedrock.map(|m| Arc::new(m) as Arc<dyn ChatModel>));

    let conversations = Conversations::open(&config).await.expect("the test database opens");
    conversations.spawn_upkeep();
    let shutdown = Shutdown::default();
    let (app, upkeep) = streambed_server::app(&config, models, conversations, shutdown.clone());
    upkeep.spawn();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("bound");
    let (stop, stopped) = oneshot::channel();
    let signal = async move {
        let _ = stopped.await;
    };
    let serve =
        streambed_server::serve(listener, app, config.connections.clone(), shutdown, config.shutdown, signal);
    let server = tokio::spawn(serve);
    TestApp { addr, emulator, http: reqwest::Client::new(), stop: Some(stop), server }
}

fn init_logs() {
    // Silent unless TEST_LOG is set, as zero2prod does.
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt().with_env_filter("info").with_test_writer().try_init();
    }
}

/// The frames of one SSE response, parsed by a spec-compliant parser.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    /// `(event, data)` in arrival order; the default event type is `message`.
    pub all: Vec<(String, String)>,
}

impl Frames {
    pub(crate) fn tokens(&self) -> Vec<String> {
        self.all
            .iter()
            .filter(|(event, _)| event == "message")
            .map(|(_, data)| {
                serde_json::from_str::<Value>(data).unwrap()["token"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    pub(crate) fn text(&self) -> String {
        self.tokens().concat()
    }

    pub(crate) fn last(&self) -> (&str, Value) {
        let (event, data) = self.all.last().expect("at least one frame");
        (event, serde_json::from_str(data).unwrap())
    }

    pub(crate) fn count(&self, event: &str) -> usize {
        self.all.iter().filter(|(e, _)| e == event).count()
    }
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) async fn post_chat(&self, body: Value) -> reqwest::Response {
        self.http.post(self.url("/api/chat")).json(&body).send().await.expect("request sent")
    }

    pub(crate) async fn chat(&self, prompt: &str) -> Frames {
        let response = self.post_chat(serde_json::json!({ "prompt": prompt })).await;
        assert_eq!(response.status(), 200, "chat failed: {}", response.text().await.unwrap_or_default());
        read_frames(response).await
    }

    /// A browser's CORS preflight for `POST /api/chat` from another origin.
    pub(crate) async fn preflight(&self, request_headers: &str) -> reqwest::Response {
        self.http
            .request(reqwest::Method::OPTIONS, self.url("/api/chat"))
            .header("origin", "https://chat.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", request_headers)
            .send()
            .await
            .expect("request sent")
    }

    /// Sends the shutdown signal, as SIGTERM would.
    /// The emulator saw its one request's client hang up within a second, after fewer than 20
    /// of the answer's deltas: the upstream generation stopped at once.
    pub(crate) async fn assert_upstream_hung_up_within_a_second(&self) {
        let hung_up = |r: &[streambed_emulator::RequestRecord]| {
            r[0].outcome == streambed_emulator::Outcome::ClientHungUp
        };
        let records = self.emulator.recorder.wait_for(Duration::from_secs(1), hung_up).await;
        let records = records.expect("the emulator saw the upstream hang up within 1 s");
        assert!(records[0].deltas_sent < 20, "generation stopped early: {} deltas", records[0].deltas_sent);
    }

    pub(crate) fn signal_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub(crate) async fn read_frames(response: reqwest::Response) -> Frames {
    let mut events = response.bytes_stream().eventsource();
    let mut frames = Frames::default();
    while let Some(event) = events.next().await {
        let event = event.expect("well-formed SSE");
        frames.all.push((event.event, event.data));
    }
    frames
}

pub(crate) type Events = std::pin::Pin<
    Box<dyn Stream<Item = Result<Event, eventsource_stream::EventStreamError<reqwest::Error>>> + Send>,
>;

/// What a client holds: the text so far, the last id, the message frames it got, and the
/// terminal event once there.
#[derive(Debug, Default)]
pub(crate) struct Client {
    pub text: String,
    pub last_id: String,
    pub tokens: usize,
    pub terminal: Option<(String, Value)>,
}

impl Client {
    /// Reads up to `frames` frames (all, with `usize::MAX`).
    pub(crate) async fn read(&mut self, events: &mut Events, frames: usize) {
        for _ in 0..frames {
            let Some(Ok(event)) = events.next().await else { return };
            if !event.id.is_empty() {
                self.last_id = event.id.clone();
            }
            let data: Value = serde_json::from_str(&event.data).unwrap();
            match event.event.as_str() {
                "message" => {
                    self.text.push_str(data["token"].as_str().unwrap());
                    self.tokens += 1;
                }
                "start" | "reasoning" => {}
                _ => {
                    self.terminal = Some((event.event, data));
                    return;
                }
            }
        }
    }
}

pub(crate) fn events(response: reqwest::Response) -> Events {
    Box::pin(response.bytes_stream().eventsource())
}
