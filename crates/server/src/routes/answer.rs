//! Starting an answer, for every chat route: the operator's settings applied, refused while the
//! server drains, held to `MAX_CONCURRENT_STREAMS`, and opened within the request deadline.
//! Errors so far are still plain HTTP; what follows is the relay's ([`crate::relay`]).

use std::time::Instant;

use streambed_core::{ChatModel, ChatRequest, ChatStream, InferenceParams, ProviderError};

use crate::{
    AppState,
    error::AppError,
    relay::{self, Answer, ChatReport},
};

/// An answer whose response owns it. `started` is when the request arrived.
pub(super) async fn open(
    state: &AppState,
    model: &dyn ChatModel,
    request: ChatRequest,
    request_id: &str,
    started: Instant,
) -> Result<Answer, AppError> {
    if state.shutdown.draining.is_cancelled() {
        return Err(relay::shutting_down().into());
    }
    let slot = state.streams.take()?;
    let deadline = tokio::time::Instant::from_std(started + state.limits.request_timeout);
    let upstream = start(state, model, request, deadline).await?;
    let report =
        ChatReport::new(request_id.to_owned(), model.info().id.clone(), started, state.metrics.clone());
    Ok(Answer::new(upstream, report, state.shutdown.answer_token(), deadline, slot))
}

/// Asks the model for the answer, within the request's deadline; a failure is counted in the
/// metrics.
pub(super) async fn start(
    state: &AppState,
    model: &dyn ChatModel,
    request: ChatRequest,
    deadline: tokio::time::Instant,
) -> Result<ChatStream, ProviderError> {
    tokio::time::timeout_at(deadline, model.stream(request))
        .await
        .unwrap_or_else(|_| Err(relay::deadline_exceeded()))
        .inspect_err(|e| state.metrics.upstream_error(e.kind.code()))
}

/// A compatible API's request with the operator's settings: the system prompt
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
