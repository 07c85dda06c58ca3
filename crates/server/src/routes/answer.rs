//! Starting an answer, for every chat route: the operator's settings applied, refused while the
//! server drains, held to `MAX_CONCURRENT_STREAMS`, and opened within the request deadline.
//! Errors so far are still plain HTTP; what follows is the relay's ([`crate::relay`]).

use std::time::Instant;

use streambed_core::{ChatModel, ChatRequest, ChatStream, InferenceParams, ProviderError};

use crate::{
    AppState,
    error::AppError,
    limits::StreamSlot,
    relay::{self, Answer, ChatReport},
    shutdown::AnswerToken,
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

/// An answer whose response owns it. `started` is when the request arrived.
pub(super) async fn open(
    state: &AppState,
    model: &dyn ChatModel,
    request: ChatRequest,
    request_id: &str,
    started: Instant,
) -> Result<Answer, AppError> {
    let admitted = admit(state, model, request_id, started)?;
    let upstream = start(state, model, request, admitted.deadline).await?;
    Ok(admitted.answer(state, upstream, state.shutdown.answer_token()))
}

/// Asks the model for the answer, within the request's deadline.
pub(super) async fn start(
    state: &AppState,
    model: &dyn ChatModel,
    request: ChatRequest,
    deadline: tokio::time::Instant,
) -> Result<ChatStream, ProviderError> {
    within(state, deadline, model.stream(request)).await
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
        .inspect_err(|e| state.metrics.upstream_error(e.kind.code()))
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
