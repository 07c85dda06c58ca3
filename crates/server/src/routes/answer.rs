//! Starting an answer, for every chat route: the operator's settings applied, refused while the
//! server drains, held to `MAX_CONCURRENT_STREAMS`, and opened within the request deadline.
//! Errors so far are still plain HTTP; what follows is the relay's ([`crate::relay`]).

use std::{sync::Arc, time::Instant};

use futures_util::{StreamExt, stream};
use streambed_core::{ChatModel, ChatRequest, ChatStream, InferenceParams, ProviderError};

use crate::{
    AppState,
    admission::StreamSlot,
    answer_token::AnswerToken,
    error::AppError,
    relay::{self, Answer, ChatReport},
};

/// A chat let in: its place under `MAX_CONCURRENT_STREAMS` and its deadline, held while the
/// upstream request opens (and, for a stored turn, while the turn is written).
#[derive(Debug)]
pub(super) struct Admitted {
    slot: StreamSlot,
    pub(super) deadline: tokio::time::Instant,
    request_id: String,
    model: String,
    pub(super) started: Instant,
}

/// Lets a chat in, unless the server drains or is at `MAX_CONCURRENT_STREAMS`. `started` is when
/// the request arrived.
pub(super) fn admit(
    state: &AppState,
    model: &dyn ChatModel,
    request_id: &str,
    started: Instant,
) -> Result<Admitted, AppError> {
    if state.shutdown.draining.is_cancelled() {
        return Err(relay::shutting_down().into());
    }
    Ok(Admitted {
        slot: state.streams.take()?,
        deadline: tokio::time::Instant::from_std(started + state.limits.request_timeout),
        request_id: request_id.to_owned(),
        model: model.info().id.clone(),
        started,
    })
}

impl Admitted {
    /// The answer on `upstream`, reported as a chat from its first event on (a refusal before
    /// it is an HTTP error, not a chat).
    pub(super) fn answer(self, state: &AppState, upstream: ChatStream, token: AnswerToken) -> Answer {
        let report = ChatReport::new(self.request_id, self.model, self.started, state.metrics.clone());
        Answer::new(upstream, report, token, self.deadline, self.slot)
    }
}

/// How an answer reaches its client, which decides how long its start is waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Delivery {
    /// Event by event: past `FIRST_BYTE_SECONDS` without the model's start (for Bedrock, the
    /// response head of ConverseStream, which a long prompt holds back), the response starts
    /// anyway, its headers and keep-alives going out where a proxy waiting for a first byte
    /// would give up, and the model is waited for as the answer's first event. A refusal
    /// (throttling, a bad request, no access), which comes sooner, stays an HTTP status.
    Streamed,
    /// In one piece at its end: nothing goes out before it, so the model is waited for.
    Whole,
}

/// An answer whose response owns it. `started` is when the request arrived.
pub(super) async fn open(
    state: &AppState,
    model: &Arc<dyn ChatModel>,
    request: ChatRequest,
    delivery: Delivery,
    request_id: &str,
    started: Instant,
) -> Result<Answer, AppError> {
    let admitted = admit(state, model.as_ref(), request_id, started)?;
    let upstream = start(state, model, request, delivery, admitted.deadline).await?;
    Ok(admitted.answer(state, upstream, state.shutdown.answer_token()))
}

/// Asks the model for the answer, within the request's deadline: the answer's events, or why it
/// was refused. A streamed answer waits `FIRST_BYTE_SECONDS` at most: then the model is waited
/// for as the answer's first event instead (see [`Delivery::Streamed`]).
pub(super) async fn start(
    state: &AppState,
    model: &Arc<dyn ChatModel>,
    request: ChatRequest,
    delivery: Delivery,
    deadline: tokio::time::Instant,
) -> Result<ChatStream, ProviderError> {
    let model = Arc::clone(model);
    let mut opening = Box::pin(async move {
        let opened = tokio::time::timeout_at(deadline, model.stream(request)).await;
        opened.unwrap_or_else(|_| Err(relay::deadline_exceeded()))
    });
    let opened = match delivery {
        Delivery::Whole => opening.await,
        Delivery::Streamed => match tokio::time::timeout(state.limits.first_byte, &mut opening).await {
            Ok(opened) => opened,
            Err(_) => {
                tracing::info!(
                    waited_s = state.limits.first_byte.as_secs_f64(),
                    "the model has not started answering: streaming while it does"
                );
                // A refusal from here on is the answer's error event, counted as such by the relay.
                return Ok(Box::pin(stream::once(opening).flat_map(|opened| opened.unwrap_or_else(refusal))));
            }
        },
    };
    opened.inspect_err(|e| relay::model_refused(&state.metrics, e))
}

/// An answer that is only its refusal.
fn refusal(error: ProviderError) -> ChatStream {
    Box::pin(stream::once(async { Err(error) }))
}

/// A call to the model that must end by `deadline`; a failure is counted in the metrics.
pub(super) async fn within<T>(
    state: &AppState,
    deadline: tokio::time::Instant,
    call: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    tokio::time::timeout_at(deadline, call)
        .await
        .unwrap_or_else(|_| Err(relay::deadline_exceeded()))
        .inspect_err(|e| relay::model_refused(&state.metrics, e))
}

/// A request with the operator's settings: the system prompt
/// (`BEDROCK_SYSTEM_PROMPT`) before the client's, and the server's sampling settings where the
/// client sent none.
pub(super) fn with_server_settings(state: &AppState, request: ChatRequest) -> ChatRequest {
    let system = match (&state.system_prompt, request.system) {
        (Some(ours), Some(theirs)) => Some(format!("{ours}\n\n{theirs}")),
        (ours, theirs) => theirs.or_else(|| ours.clone()),
    };
    let (asked, server) = (request.params, state.params);
    let params = InferenceParams {
        max_tokens: asked.max_tokens.or(server.max_tokens),
        temperature: asked.temperature.or(server.temperature),
        top_p: asked.top_p.or(server.top_p),
        top_k: asked.top_k.or(server.top_k),
    };
    ChatRequest { system, params, ..request }
}
