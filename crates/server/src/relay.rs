//! Relays one provider stream to one client: events to SSE frames, the shutdown cut-off, and
//! the per-chat log line. The provider stream is owned here, so when the client goes away and
//! axum drops the response body, the upstream request is dropped with it.

use std::{
    convert::Infallible,
    time::{Duration, Instant},
};

use axum::response::sse::Event;
use futures_util::{Stream, StreamExt};
use streambed_core::{ChatEvent, ChatStream, ErrorKind, ProviderError};
use tokio_util::sync::CancellationToken;

use crate::sse;

/// What the per-chat log line reports.
#[derive(Debug)]
pub struct ChatLog {
    pub request_id: String,
    pub model: String,
    started: Instant,
    first_token: Option<Duration>,
    tokens: u64,
    outcome: Option<&'static str>,
}

impl ChatLog {
    pub fn new(request_id: String, model: String, started: Instant) -> Self {
        Self { request_id, model, started, first_token: None, tokens: 0, outcome: None }
    }
}

impl ChatLog {
    fn end(&mut self, outcome: &'static str) {
        self.outcome = Some(outcome);
    }
}

impl Drop for ChatLog {
    /// Logs once per chat, however it ended; an unset outcome means the client left first.
    fn drop(&mut self) {
        let ttft_ms = self.first_token.map(|d| d.as_millis());
        let duration_ms = self.started.elapsed().as_millis();
        let (request_id, model, tokens) = (&self.request_id, &self.model, self.tokens);
        match self.outcome {
            Some(outcome) => {
                tracing::info!(request_id, model, ttft_ms, tokens, duration_ms, outcome, "chat finished");
            }
            None => tracing::info!(
                request_id,
                model,
                ttft_ms,
                tokens,
                duration_ms,
                outcome = "client_disconnected",
                "client went away; upstream request dropped"
            ),
        }
    }
}

/// The SSE events for one answer. `cutoff` fires when the shutdown grace period is over.
pub fn events(
    mut upstream: ChatStream,
    mut log: ChatLog,
    cutoff: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        yield Ok(sse::keep_alive());
        loop {
            let next = tokio::select! {
                biased;
                () = cutoff.cancelled() => Some(Err(ProviderError::new(
                    ErrorKind::ShuttingDown,
                    "The server is restarting and could not finish this answer. Send it again.",
                ))),
                next = upstream.next() => next,
            };
            // Each event, and for the last one how the chat ended.
            let (event, outcome) = match next {
                Some(Ok(ChatEvent::Text(text))) => {
                    log.first_token.get_or_insert_with(|| log.started.elapsed());
                    log.tokens += 1;
                    (sse::token(&text), None)
                }
                Some(Ok(ChatEvent::Reasoning(text))) => (sse::reasoning(&text), None),
                Some(Ok(ChatEvent::Done(completion))) => {
                    (sse::done(&completion, log.started.elapsed(), &log.model), Some("complete"))
                }
                Some(Err(error)) => (sse::error(&error), Some(error.kind.code())),
                None => {
                    let error = ProviderError::new(ErrorKind::StreamInterrupted, "The answer ended unexpectedly. Try again.");
                    (sse::error(&error), Some(error.kind.code()))
                }
            };
            if let Some(outcome) = outcome {
                log.end(outcome);
            }
            yield Ok(event);
            if outcome.is_some() {
                break;
            }
        }
    }
}
