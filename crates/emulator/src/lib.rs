//! A Bedrock Runtime emulator: `Converse`, `ConverseStream` and `CountTokens` over the real wire
//! protocol (JSON, and `application/vnd.amazon.eventstream` frames with CRCs), on HTTP/1.1 and h2c,
//! or over TLS with ALPN `h2` and `http/1.1` as Bedrock serves it (see [`TlsIdentity`]).
//!
//! It stands where Bedrock would in the data flow, so the real AWS SDKs can be tested end to end
//! on loopback with `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`. Answers come from any [`ChatModel`]
//! (the [`Scripted`] responder, or the embedded local model). For the Claude models it knows
//! (see [`Family`]) it refuses what the real model refuses, with Bedrock's ValidationException
//! texts; it streams signed reasoning when thinking is asked for, calls a tool when given tools
//! and answers with the tool's result, reports prompt-cache reads and writes for `cachePoint`
//! prefixes, and echoes the service tier. Fault scenarios are picked per request by a marker such
//! as `[[scenario:cut at=frame after=3]]` (see [`Scenario`]), and every request is recorded (see
//! [`Recorder`]) for tests to assert on, as is every connection.

mod accept;
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
mod structured;
mod thinking;
mod tls;
mod tokens;
mod tools;
mod turn;
mod wire;

use std::{
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use axum::Router;
use cache::PromptCache;
use streambed_core::ChatModel;
use tokio::{
    net::{TcpListener, TcpSocket},
    task::JoinHandle,
};

pub use answer::{Scripted, UNICODE_DELTAS, long_text, synthetic_delta};
pub use family::{Family, Model, ThinkingStyle};
pub use record::{AuthStyle, Connections, Operation, Outcome, Recorder, RequestRecord};
pub use scenario::{CutAt, Scenario, ScenarioError, StreamException};
pub use tls::{TlsError, TlsIdentity};

/// hyper's default SETTINGS_MAX_CONCURRENT_STREAMS, kept unless [`Emulator::with_h2_max_streams`]
/// says otherwise.
pub const DEFAULT_H2_MAX_STREAMS: u32 = 200;

/// An emulator configuration; [`Emulator::spawn`] or [`Emulator::serve`] runs it.
#[derive(Clone)]
pub struct Emulator {
    source: Arc<dyn ChatModel>,
    delay: Duration,
    scenario: Scenario,
    recorder: Recorder,
    h2_max_streams: u32,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("source", self.source.info())
            .field("delay", &self.delay)
            .field("scenario", &self.scenario)
            .field("h2_max_streams", &self.h2_max_streams)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// An emulator answering from `source`, with no pacing and the `ok` scenario.
    pub fn new(source: Arc<dyn ChatModel>) -> Self {
        Self {
            source,
            delay: Duration::ZERO,
            scenario: Scenario::Ok,
            recorder: Recorder::default(),
            h2_max_streams: DEFAULT_H2_MAX_STREAMS,
        }
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

    /// The HTTP/2 streams one connection may carry at once (SETTINGS_MAX_CONCURRENT_STREAMS).
    /// A client past it waits for a stream to end: hyper's client opens no second connection.
    pub fn with_h2_max_streams(mut self, max: u32) -> Self {
        self.h2_max_streams = max;
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
        self.serve_with(listener, None).await
    }

    /// Serves HTTPS on `listener` with `tls`'s certificate until the task is dropped: ALPN `h2`
    /// then `http/1.1`, as Bedrock.
    pub async fn serve_tls(self, listener: TcpListener, tls: TlsIdentity) -> io::Result<()> {
        self.serve_with(listener, Some(tls)).await
    }

    async fn serve_with(self, listener: TcpListener, tls: Option<TlsIdentity>) -> io::Result<()> {
        let recorder = self.recorder();
        let http2 = accept::Http2 { max_streams: self.h2_max_streams };
        accept::serve(listener, self.router(), recorder, tls, http2).await
    }

    /// Binds an ephemeral loopback port and serves in the background.
    pub async fn spawn(self) -> io::Result<RunningEmulator> {
        self.spawn_with(None).await
    }

    /// Like [`Self::spawn`], over HTTPS with a new throwaway CA, whose PEM is written to
    /// [`RunningEmulator::ca_bundle`] (removed when the emulator is dropped).
    pub async fn spawn_tls(self) -> io::Result<RunningEmulator> {
        let tls = TlsIdentity::generate().map_err(io::Error::other)?;
        self.spawn_with(Some(tls)).await
    }

    async fn spawn_with(self, tls: Option<TlsIdentity>) -> io::Result<RunningEmulator> {
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
        let ca_bundle = match &tls {
            Some(tls) => {
                let path = ca_pem_path(addr);
                tls.write_ca_pem(&path)?;
                Some(path)
            }
            None => None,
        };
        let recorder = self.recorder();
        let task = tokio::spawn(self.serve_with(listener, tls));
        Ok(RunningEmulator { addr, recorder, ca_bundle, task })
    }
}

/// An emulator serving in the background; it stops when this is dropped.
#[derive(Debug)]
pub struct RunningEmulator {
    pub addr: SocketAddr,
    pub recorder: Recorder,
    ca_bundle: Option<PathBuf>,
    task: JoinHandle<io::Result<()>>,
}

impl RunningEmulator {
    /// The value for `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` or an SDK's `endpoint_url`.
    pub fn endpoint_url(&self) -> String {
        let scheme = if self.ca_bundle.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Over TLS, the PEM file of the CA to trust (the value for `AWS_CA_BUNDLE`).
    pub fn ca_bundle(&self) -> Option<&Path> {
        self.ca_bundle.as_deref()
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(path) = &self.ca_bundle {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Where an emulator on `addr` writes its CA's PEM unless told otherwise: the OS temp dir, one
/// file per port.
pub fn ca_pem_path(addr: SocketAddr) -> PathBuf {
    std::env::temp_dir().join(format!("streambed-emulator-{}-ca.pem", addr.port()))
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
