//! Relays one provider stream to one client: events to SSE frames, the shutdown cut-off, the
//! request deadline, and what each chat reports (one log line and its metrics). The provider
//! stream is owned here, so when the client goes away and axum drops the response body, the
//! upstream request is dropped with it.

use std::{
    convert::Infallible,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::response::sse::Event;
use futures_util::{Stream, StreamExt};
use streambed_core::{ChatEvent, ChatStream, ErrorKind, ProviderError};
use tokio_util::sync::CancellationToken;

use crate::{limits::StreamSlot, metrics::Metrics, sse};

/// Everything one answer's relay needs besides the provider stream.
#[derive(Debug)]
pub struct Relay {
    pub report: ChatReport,
    /// Fires when the shutdown grace period is over.
    pub cutoff: CancellationToken,
    /// `REQUEST_TIMEOUT_SECONDS` after the request arrived.
    pub deadline: tokio::time::Instant,
    /// This answer's place under `MAX_CONCURRENT_STREAMS`, freed when the relay ends.
    pub slot: StreamSlot,
}

pub fn deadline_exceeded() -> ProviderError {
    ProviderError::new(
        ErrorKind::Timeout,
        "The answer took longer than this server allows (REQUEST_TIMEOUT_SECONDS). Ask for a shorter answer.",
    )
}

/// What one chat reports: timings and counts as metrics while it runs, one log line at the end.
#[derive(Debug)]
pub struct ChatReport {
    pub request_id: String,
    pub model: String,
    metrics: Arc<Metrics>,
    started: Instant,
    first_token: Option<Duration>,
    last_token: Option<Instant>,
    tokens: u64,
    outcome: Option<&'static str>,
}

impl ChatReport {
    pub fn new(request_id: String, model: String, started: Instant, metrics: Arc<Metrics>) -> Self {
        Self {
            request_id,
            model,
            metrics,
            started,
            first_token: None,
            last_token: None,
            tokens: 0,
            outcome: None,
        }
    }

    fn token(&mut self) {
        let now = Instant::now();
        match self.last_token {
            None => {
                let ttft = now - self.started;
                self.first_token = Some(ttft);
                self.metrics.time_to_first_token.record(ttft);
            }
            Some(last) => self.metrics.inter_token.record(now - last),
        }
        self.last_token = Some(now);
        self.tokens += 1;
        self.metrics.tokens.increment(1);
    }

    fn end(&mut self, outcome: &'static str) {
        self.outcome = Some(outcome);
    }
}

impl Drop for ChatReport {
    /// Logs once per chat, however it ended; an unset outcome means the client left first.
    fn drop(&mut self) {
        let ttft_ms = self.first_token.map(|d| d.as_millis());
        let duration_ms = self.started.elapsed().as_millis();
        let (request_id, model, tokens) = (&self.request_id, &self.model, self.tokens);
        match self.outcome {
            Some(outcome) => {
                tracing::info!(request_id, model, ttft_ms, tokens, duration_ms, outcome, "chat finished");
            }
            None => {
                self.metrics.cancellations.increment(1);
                tracing::info!(
                    request_id,
                    model,
                    ttft_ms,
                    tokens,
                    duration_ms,
                    outcome = "client_disconnected",
                    "client went away; upstream request dropped"
                );
            }
        }
    }
}

/// The SSE events for one answer.
pub fn events(mut upstream: ChatStream, relay: Relay) -> impl Stream<Item = Result<Event, Infallible>> {
    let Relay { mut report, cutoff, deadline, slot } = relay;
    async_stream::stream! {
        let _slot = slot;
        let deadline = tokio::time::sleep_until(deadline);
        tokio::pin!(deadline);
        yield Ok(sse::keep_alive());
        loop {
            let next = tokio::select! {
                biased;
                () = cutoff.cancelled() => Some(Err(ProviderError::new(
                    ErrorKind::ShuttingDown,
                    "The server is restarting and could not finish this answer. Send it again.",
                ))),
                () = &mut deadline => Some(Err(deadline_exceeded())),
                next = upstream.next() => next,
            }
            .unwrap_or_else(|| {
                Err(ProviderError::new(ErrorKind::StreamInterrupted, "The answer ended unexpectedly. Try again."))
            });
            // Each event, and for the last one how the chat ended.
            let (event, outcome) = match next {
                Ok(ChatEvent::Text(text)) => {
                    report.token();
                    (sse::token(&text), None)
                }
                Ok(ChatEvent::Reasoning(text)) => (sse::reasoning(&text), None),
                Ok(ChatEvent::Done(completion)) => {
                    if !completion.streamed {
                        report.metrics.fallbacks.increment(1);
                    }
                    (sse::done(&completion, report.started.elapsed(), &report.model), Some("complete"))
                }
                Err(error) => {
                    report.metrics.upstream_error(error.kind.code());
                    (sse::error(&error, &report.request_id), Some(error.kind.code()))
                }
            };
            if let Some(outcome) = outcome {
                report.end(outcome);
            }
            yield Ok(event);
            if outcome.is_some() {
                break;
            }
        }
    }
}
