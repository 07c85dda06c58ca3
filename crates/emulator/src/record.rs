//! What the emulator saw and did for each request and connection, so tests can assert on
//! forwarding, retries, cancellation and multiplexing. Waiting is event-driven (a watch
//! channel), never a polling sleep.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

/// Which Bedrock operation was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    Converse,
    ConverseStream,
    CountTokens,
}

/// How the caller authenticated (the emulator accepts any credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthStyle {
    Sigv4,
    Bearer,
    None,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Outcome {
    InProgress,
    Complete,
    /// The client closed the connection before the answer was complete.
    ClientHungUp,
    /// A `cut` scenario broke the stream.
    Cut,
    /// An in-stream exception was sent.
    Exception,
    /// An error status was sent before any stream.
    ErrorStatus {
        status: u16,
    },
}

/// One request as the emulator received and answered it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    pub request_id: String,
    pub operation: Operation,
    /// The model id, percent-decoded.
    pub model_id: String,
    /// The request body as received (a JSON string if it was not JSON).
    pub body: Value,
    /// The SDK's attempt number from `amz-sdk-request` (1 when absent).
    pub attempt: u32,
    pub auth: AuthStyle,
    /// `HTTP/1.1` or `HTTP/2.0` (the JS SDK uses h2 with prior knowledge).
    pub http_version: String,
    pub deltas_sent: usize,
    pub outcome: Outcome,
    /// Milliseconds since the emulator started.
    pub received_ms: u64,
    pub ended_ms: Option<u64>,
}

/// Connections the emulator accepted (TCP, before any TLS handshake). With HTTP/2 many
/// requests share one; with HTTP/1.1 each request in flight has its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Connections {
    /// Accepted since the emulator started.
    pub accepted: u64,
    /// Open now.
    pub open: u64,
    /// The most open at once since start or the last [`Recorder::reset_peak_connections`].
    pub peak_open: u64,
}

#[derive(Debug, Default)]
struct ConnectionCounts {
    accepted: AtomicU64,
    open: AtomicU64,
    peak_open: AtomicU64,
}

/// Shared log of requests and connection counts; cloning shares it.
#[derive(Debug, Clone)]
pub struct Recorder {
    started: Instant,
    records: Arc<watch::Sender<Vec<RequestRecord>>>,
    connections: Arc<ConnectionCounts>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            records: Arc::new(watch::Sender::new(Vec::new())),
            connections: Arc::default(),
        }
    }
}

/// Old records are dropped past this many, so a long benchmark run keeps bounded memory.
const MAX_RECORDS: usize = 10_000;

impl Recorder {
    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn open(&self, record: RequestRecord) {
        self.records.send_modify(|records| {
            if records.len() >= MAX_RECORDS {
                records.drain(..MAX_RECORDS / 10);
            }
            records.push(record);
        });
    }

    pub(crate) fn finish(&self, request_id: &str, outcome: Outcome, deltas_sent: usize) {
        let ended = self.now_ms();
        self.records.send_modify(|records| {
            if let Some(r) = records.iter_mut().rev().find(|r| r.request_id == request_id) {
                r.outcome = outcome;
                r.deltas_sent = deltas_sent;
                r.ended_ms = Some(ended);
            }
        });
    }

    /// Every request seen so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.records.borrow().clone()
    }

    /// Forgets all records.
    pub fn clear(&self) {
        self.records.send_modify(Vec::clear);
    }

    /// Counts a new connection as accepted and open; it is closed when the guard drops.
    pub(crate) fn connection_opened(&self) -> OpenConnection {
        let counts = Arc::clone(&self.connections);
        counts.accepted.fetch_add(1, Ordering::Relaxed);
        let open = counts.open.fetch_add(1, Ordering::Relaxed) + 1;
        counts.peak_open.fetch_max(open, Ordering::Relaxed);
        OpenConnection(counts)
    }

    /// The connections accepted so far, open now, and most open at once.
    pub fn connections(&self) -> Connections {
        let counts = &self.connections;
        Connections {
            accepted: counts.accepted.load(Ordering::Relaxed),
            open: counts.open.load(Ordering::Relaxed),
            peak_open: counts.peak_open.load(Ordering::Relaxed),
        }
    }

    /// Starts a new peak from the connections open now (a benchmark does this per level).
    pub fn reset_peak_connections(&self) {
        let counts = &self.connections;
        counts.peak_open.store(counts.open.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// Waits until `done` holds for the records, or `timeout` passes; returns the records either way
    /// so a failing assertion can show them.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&[RequestRecord]) -> bool,
    ) -> Result<Vec<RequestRecord>, Vec<RequestRecord>> {
        let mut rx = self.records.subscribe();
        match tokio::time::timeout(timeout, rx.wait_for(|r| done(r))).await {
            Ok(Ok(records)) => Ok(records.clone()),
            _ => Err(self.requests()),
        }
    }
}

/// One open connection, counted until dropped.
#[derive(Debug)]
pub(crate) struct OpenConnection(Arc<ConnectionCounts>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Tracks one streamed answer; if it is dropped before being finished, the client hung up.
#[derive(Debug)]
pub(crate) struct StreamTracker {
    recorder: Recorder,
    request_id: String,
    pub deltas: usize,
    finished: bool,
}

impl StreamTracker {
    pub(crate) fn new(recorder: Recorder, request_id: String) -> Self {
        Self { recorder, request_id, deltas: 0, finished: false }
    }

    pub(crate) fn finish(&mut self, outcome: Outcome) {
        self.finished = true;
        self.recorder.finish(&self.request_id, outcome, self.deltas);
    }

    /// The request was refused before any stream, and recorded so.
    pub(crate) fn refused(mut self) {
        self.finished = true;
    }
}

impl Drop for StreamTracker {
    fn drop(&mut self) {
        if !self.finished {
            self.recorder.finish(&self.request_id, Outcome::ClientHungUp, self.deltas);
        }
    }
}
