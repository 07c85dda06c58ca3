//! One answer from a provider stream: the shutdown cut-off, the request deadline, events to SSE
//! frames, and what each chat reports (one log line and its metrics). A stateless answer is
//! owned by its response ([`events`]), so when the client goes away and axum drops the body,
//! the upstream request is dropped with it; a stored conversation's answer outlives its client
//! (`live`: driven by the response while the client stays, by a task of the server's after).

use std::{
    convert::Infallible,
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::response::sse::Event;
use futures_util::{Stream, StreamExt};
use streambed_core::{ChatEvent, ChatStream, ErrorKind, ProviderError};
use tokio::time::Sleep;
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::{
    admission::StreamSlot,
    answer_token::{AnswerToken, Why},
    metrics::Metrics,
    sse,
};

/// One answer in progress: the provider stream, bounded by the request deadline, the shutdown
/// cut-off and (for a stored conversation's answer) Stop and the loss of its record, with what
/// it reports. Dropping it drops the upstream request.
pub(crate) struct Answer {
    upstream: ChatStream,
    report: ChatReport,
    /// Oldest turns of a stored conversation left out of the request, reported in `done`.
    dropped_turns: usize,
    /// Fires at the shutdown cut-off, at Stop, or at the loss of the answer's record.
    ended: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Tells them apart.
    token: AnswerToken,
    /// `REQUEST_TIMEOUT_SECONDS` after the request arrived.
    deadline: Pin<Box<Sleep>>,
    /// This answer's place under `MAX_CONCURRENT_STREAMS`, freed when it is dropped.
    _slot: StreamSlot,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer").field("report", &self.report).finish_non_exhaustive()
    }
}

impl Answer {
    pub(crate) fn new(
        upstream: ChatStream,
        report: ChatReport,
        token: AnswerToken,
        deadline: tokio::time::Instant,
        slot: StreamSlot,
    ) -> Self {
        let deadline = Box::pin(tokio::time::sleep_until(deadline));
        let ended = Box::pin(token.ended_owned());
        Self { upstream, report, dropped_turns: 0, ended, token, deadline, _slot: slot }
    }

    /// Says in `done` that the oldest `n` turns of the conversation were left out.
    pub(crate) fn with_dropped_turns(mut self, n: usize) -> Self {
        self.dropped_turns = n;
        self
    }

    /// The next event, counted in the metrics; an `Err` or a `Done` is the last. For an answer
    /// that can be stopped, see [`Answer::next_unless_stopped`].
    pub(crate) async fn next(&mut self) -> Result<ChatEvent, ProviderError> {
        // Only a stored conversation's answer is stopped; any other ends at the cut-off.
        self.next_unless_stopped().await.unwrap_or_else(|| Err(cut_off()))
    }

    /// [`Answer::next`], or `None` at Stop, which is looked at first.
    pub(crate) async fn next_unless_stopped(&mut self) -> Option<Result<ChatEvent, ProviderError>> {
        let next = tokio::select! {
            biased;
            () = &mut self.ended => {
                // Ended here, not by the provider: no upstream error to count.
                let why = self.token.why();
                let error = ended_by(why)?;
                self.report.end(if why == Why::Lost { RECORD_LOST } else { error.kind.code() });
                return Some(Err(error));
            }
            () = &mut self.deadline => {
                self.report.end(DEADLINE_EXCEEDED);
                return Some(Err(deadline_exceeded()));
            }
            next = self.upstream.next() => next,
        }
        .unwrap_or_else(|| {
            Err(ProviderError::new(ErrorKind::StreamInterrupted, "The answer ended unexpectedly. Try again."))
        });
        match &next {
            Ok(ChatEvent::Text(_)) => self.report.token(),
            Ok(ChatEvent::Done(completion)) => {
                if !completion.streamed {
                    self.report.metrics.fallbacks.increment(1);
                }
                self.report.metrics.usage(&self.report.model, &completion.usage);
                self.report.end("complete");
            }
            // The model's failure once its answer was asked for (the server's deadline aside).
            Err(error) if !past_deadline(error) => {
                self.report.metrics.upstream_error(error.kind.code());
                self.report.end(error.kind.code());
                // Warned, with what the client is told and Bedrock's id, for an alert on warnings
                // and a support case; `chat finished` follows with the timings.
                tracing::warn!(
                    request_id = self.report.request_id,
                    model = self.report.model,
                    code = error.kind.code(),
                    upstream_request_id = error.request_id,
                    error = ?error.message,
                    "the model's answer failed"
                );
            }
            Err(_) => self.report.end(DEADLINE_EXCEEDED),
            Ok(_) => {}
        }
        Some(next)
    }

    /// The SSE frame for an event `next` returned; `None` for what a chat reader never sees
    /// (reasoning signatures, tool calls).
    pub(crate) fn frame(&self, event: &Result<ChatEvent, ProviderError>) -> Option<sse::Frame> {
        Some(match event {
            Ok(ChatEvent::Text(text)) => sse::token(text),
            Ok(ChatEvent::Reasoning(text)) => sse::reasoning(text),
            Ok(ChatEvent::Done(completion)) => {
                sse::done(completion, self.report.started.elapsed(), &self.report.model, self.dropped_turns)
            }
            Err(error) => self.error_frame(error),
            Ok(_) => return None,
        })
    }

    /// The SSE frame for an error that ends the answer.
    pub(crate) fn error_frame(&self, error: &ProviderError) -> sse::Frame {
        sse::error(error, &self.report.request_id)
    }

    /// Records that the answer was ended on purpose (Stop), not by the client leaving.
    pub(crate) fn stopped(&mut self) {
        self.report.end("stopped");
    }

    /// Records that the answer's stored record was lost as it ended (see [`lost`]): the log
    /// line says what the client was told, not how the provider ended it.
    pub(crate) fn record_lost(&mut self) {
        self.report.end(RECORD_LOST);
    }

    /// Drops the upstream request now (the Bedrock connection closes, the local model stops);
    /// the answer has nothing more to read.
    pub(crate) fn drop_upstream(&mut self) {
        self.upstream = Box::pin(futures_util::stream::empty());
    }
}

/// The error an answer ended early by `why` ends with; none for Stop, which is no error.
pub(crate) fn ended_by(why: Why) -> Option<ProviderError> {
    match why {
        Why::Stopped => None,
        Why::CutOff => Some(cut_off()),
        Why::Lost => Some(lost()),
    }
}

/// The log's outcome for an answer whose record was lost.
const RECORD_LOST: &str = "record_lost";

/// The log's outcome for an answer past `REQUEST_TIMEOUT_SECONDS` (its client is told
/// `model_timeout`, but the limit is the server's).
const DEADLINE_EXCEEDED: &str = "deadline_exceeded";

/// An answer whose record was lost ([`Why::Lost`]): it ends, and so does its upstream request,
/// rather than run on with nothing to record it and perhaps beside a newer turn.
pub(crate) fn lost() -> ProviderError {
    ProviderError::new(
        ErrorKind::StreamInterrupted,
        "This answer was interrupted: its conversation was deleted, or the server lost touch with \
         its database for too long. Unless the conversation is gone, what was stored of it is kept, \
         and sending the question again continues it.",
    )
}

/// An answer still running at the shutdown cut-off.
fn cut_off() -> ProviderError {
    ProviderError::new(
        ErrorKind::ShuttingDown,
        "The server is restarting and could not finish this answer. Send it again.",
    )
}

pub(crate) fn shutting_down() -> ProviderError {
    ProviderError::new(ErrorKind::ShuttingDown, "The server is restarting. Try again in a moment.")
}

const PAST_DEADLINE: &str =
    "The answer took longer than this server allows (REQUEST_TIMEOUT_SECONDS). Ask for a shorter answer.";

pub(crate) fn deadline_exceeded() -> ProviderError {
    ProviderError::new(ErrorKind::Timeout, PAST_DEADLINE)
}

/// Whether `error` is the server's own deadline ([`deadline_exceeded`]), not the model's.
fn past_deadline(error: &ProviderError) -> bool {
    error.kind == ErrorKind::Timeout && error.message == PAST_DEADLINE
}

/// A call to the model that failed before its answer began: counted, and one warning with
/// Bedrock's request id (a failure once the answer runs is the relay's to report). The server's
/// own deadline ([`deadline_exceeded`]) is neither: its client is told `model_timeout`, but no
/// model failed.
pub(crate) fn model_refused(metrics: &Metrics, error: &ProviderError) {
    if past_deadline(error) {
        return;
    }
    metrics.upstream_error(error.kind.code());
    tracing::warn!(
        code = error.kind.code(),
        upstream_request_id = error.request_id,
        error = ?error.message,
        "the model refused the request"
    );
}

/// What one chat reports: timings and counts as metrics while it runs, one log line at the end.
#[derive(Debug)]
pub(crate) struct ChatReport {
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
    pub(crate) fn new(request_id: String, model: String, started: Instant, metrics: Arc<Metrics>) -> Self {
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

/// The SSE events of a stateless answer: the response owns the answer, so a client that leaves
/// drops the upstream request with it.
pub(crate) fn events(mut answer: Answer) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        yield Ok(sse::keep_alive());
        loop {
            let next = answer.next().await;
            let last = matches!(next, Ok(ChatEvent::Done(_)) | Err(_));
            if let Some(frame) = answer.frame(&next) {
                yield Ok(frame.into());
            }
            if last {
                break;
            }
        }
    }
}
