//! A Bedrock Runtime emulator: `Converse`, `ConverseStream` and `CountTokens` over the real wire
//! protocol (JSON, and `application/vnd.amazon.eventstream` frames with CRCs), on HTTP/1.1 and h2c.
//!
//! It stands where Bedrock would in the data flow, so the real AWS SDKs can be tested end to end
//! on loopback with `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`. Answers come from any [`ChatModel`]
//! (the [`Scripted`] responder, or the embedded local model). For the Claude models it knows
//! (see [`Family`]) it refuses what the real model refuses, with Bedrock's ValidationException
//! texts; it streams signed reasoning when thinking is asked for, calls a tool when given tools
//! and answers with the tool's result, reports prompt-cache reads and writes for `cachePoint`
//! prefixes, and echoes the service tier. Fault scenarios are picked per request by a marker such
//! as `[[scenario:cut at=frame after=3]]` (see [`Scenario`]), and every request is recorded (see
//! [`Recorder`]) for tests to assert on.

mod answer;
mod body;
mod cache;
mod call;
mod family;
mod frames;
mod record;
mod rules;
mod scenario;
mod service;
mod thinking;
mod tokens;
mod tools;
mod turn;
mod wire;

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, serve::ListenerExt};
use cache::PromptCache;
use streambed_core::ChatModel;
use tokio::{
    net::{TcpListener, TcpSocket},
    task::JoinHandle,
};

pub use answer::{Scripted, UNICODE_DELTAS, long_text, synthetic_delta};
pub use family::{Family, Model, ThinkingStyle};
pub use record::{AuthStyle, Operation, Outcome, Recorder, RequestRecord};
pub use scenario::{CutAt, Scenario, ScenarioError, StreamException};

/// An emulator configuration; [`Emulator::spawn`] or [`Emulator::serve`] runs it.
#[derive(Clone)]
pub struct Emulator {
    source: Arc<dyn ChatModel>,
    delay: Duration,
    scenario: Scenario,
    recorder: Recorder,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("source", self.source.info())
            .field("delay", &self.delay)
            .field("scenario", &self.scenario)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// An emulator answering from `source`, with no pacing and the `ok` scenario.
    pub fn new(source: Arc<dyn ChatModel>) -> Self {
        Self { source, delay: Duration::ZERO, scenario: Scenario::Ok, recorder: Recorder::default() }
    }

    /// An emulator answering with the deterministic [`Scripted`] responder.
    pub fn scripted() -> Self {
        Self::new(Arc::new(Scripted::default()))
    }

    /// Pause before each delta (the `slow` scenario sets its own).
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The scenario for requests that carry no marker.
    pub fn with_scenario(mut self, scenario: Scenario) -> Self {
        self.scenario = scenario;
        self
    }

    /// The request log, shared with the running emulator.
    pub fn recorder(&self) -> Recorder {
        self.recorder.clone()
    }

    pub fn router(self) -> Router {
        service::router(Arc::new(service::Shared {
            source: self.source,
            delay: self.delay,
            scenario: self.scenario,
            recorder: self.recorder,
            cache: PromptCache::default(),
        }))
    }

    /// Serves on `listener` until the task is dropped. HTTP/1.1 and HTTP/2 with prior knowledge
    /// share the port, as the JS SDK speaks h2c to plain `http://` endpoints.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        // Like Bedrock, send each event frame as soon as it is written.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, self.router()).await
    }

    /// Binds an ephemeral loopback port and serves in the background.
    pub async fn spawn(self) -> io::Result<RunningEmulator> {
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
        let recorder = self.recorder();
        let task = tokio::spawn(self.serve(listener));
        Ok(RunningEmulator { addr, recorder, task })
    }
}

/// An emulator serving in the background; it stops when this is dropped.
#[derive(Debug)]
pub struct RunningEmulator {
    pub addr: SocketAddr,
    pub recorder: Recorder,
    task: JoinHandle<io::Result<()>>,
}

impl RunningEmulator {
    /// The value for `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` or an SDK's `endpoint_url`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` with the deepest accept queue the kernel allows (somaxconn): a load test opens
/// thousands of connections at once, and an overflowing queue makes clients wait out a 1 s SYN
/// retry (tokio's `bind` asks for 1,024).
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(65_535)
}
