//! The Anthropic Messages API over every model of the server: `POST /v1/messages` (streamed or
//! not) and `POST /v1/messages/count_tokens`. The body is translated into the neutral request
//! ([`translate`]), held to the same limits as `/api/chat`, and answered through the same relay;
//! the neutral events come back as Anthropic's ([`stream`]), and errors in Anthropic's shape
//! ([`error`]); the models in Anthropic's shape ([`models`]). Nothing here knows which provider
//! answers.

mod content;
mod error;
mod models;
mod stream;
mod translate;
mod wire;

use std::{sync::Arc, time::Instant};

use axum::{
    Json,
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use serde_json::Value;
use streambed_core::{ChatModel, ChatRequest, Reasoning};
use uuid::Uuid;

use error::ApiError;
pub(super) use error::in_anthropic_shape;
pub(super) use models::{model, models};
use stream::{Blocks, Collected};

use super::answer::{self, Delivery};
use crate::{
    config::{Limits, TooLarge},
    error::AppError,
    extract::ApiJson,
    request_id,
    state::AppState,
};

/// The smallest `budget_tokens` Anthropic's Messages API takes (extended thinking).
const MIN_BUDGET_TOKENS: u32 = 1_024;

pub(super) async fn messages(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(mut body): ApiJson<wire::MessagesRequest>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let streamed = body.stream;
    cap_max_tokens(&state.limits, &mut body)?;
    // Named back as the client asked (an alias such as `claude-sonnet-4-5` too): Claude Code
    // keeps an answer's thinking blocks in the history only when the model it reports is the
    // one it asked for.
    let asked = body.model.clone();
    let (model, request) = prepare(&state, body)?;
    let id = format!("msg_{}", Uuid::new_v4().simple());
    let start = wire::Message::empty(id, asked);
    let blocks = Blocks::new(request.stop_sequences.clone());
    let delivery = if streamed { Delivery::Streamed } else { Delivery::Whole };
    let mut answer =
        answer::open(&state, &model, request, delivery, request_id::of(&headers), started).await?;
    if streamed {
        return Ok(stream::response(stream::events(answer, start, blocks), state.keep_alive));
    }
    let (mut blocks, mut collected, mut out) = (blocks, Collected::new(start), Vec::new());
    loop {
        let next = answer.next().await?;
        let last = matches!(next, streambed_core::ChatEvent::Done(_));
        blocks.on(next, &mut out);
        out.drain(..).for_each(|event| collected.apply(event));
        if last {
            return Ok(Json(collected.finish()?).into_response());
        }
    }
}

/// A conversation past the server's size limits, in the words Anthropic's API uses for one past
/// the model's context (`prompt is too long: N tokens > M maximum`), which agents such as Claude
/// Code read to compact their history and try again. Characters are counted, about four a token.
fn too_long(refused: TooLarge) -> String {
    match refused {
        TooLarge::Chars { count, most } => {
            format!("prompt is too long: {} tokens > {} maximum. {refused}", count.div_ceil(4), most / 4)
        }
        TooLarge::Turns { .. } => format!("prompt is too long: {refused}"),
    }
}

/// The body's `max_tokens`, capped to `MAX_TOKENS_LIMIT`, and its thinking budget within it.
/// Required here, as Anthropic's API has it: the server's `BEDROCK_MAX_TOKENS` does not stand in.
fn cap_max_tokens(limits: &Limits, body: &mut wire::MessagesRequest) -> Result<(), AppError> {
    let Some(asked) = body.max_tokens else {
        return Err(AppError::BadRequest("`max_tokens` is required.".into()));
    };
    let max_tokens = limits.cap_max_tokens("max_tokens", asked).map_err(AppError::BadRequest)?;
    body.max_tokens = Some(max_tokens);
    if let Some(wire::Thinking::Enabled { budget_tokens }) = &mut body.thinking
        && max_tokens < asked
        && *budget_tokens >= max_tokens
    {
        // The client's budget fitted under what it asked for: the cap took the room, so the
        // budget gives half of what is left to the answer (Anthropic's docs' own example, 10,000
        // of 16,000, meets the default cap of 4,096 so).
        let halved = max_tokens / 2;
        if halved < MIN_BUDGET_TOKENS {
            return Err(AppError::BadRequest(format!(
                "The thinking budget ({budget_tokens}) leaves no room for the answer under this server's \
                 MAX_TOKENS_LIMIT ({max_tokens}), to which `max_tokens` ({asked}) was capped."
            )));
        }
        *budget_tokens = halved;
    }
    Ok(())
}

pub(super) async fn count_tokens(
    State(state): State<Arc<AppState>>,
    ApiJson(body): ApiJson<wire::MessagesRequest>,
) -> Result<Json<wire::TokenCount>, ApiError> {
    let (model, request) = prepare(&state, body)?;
    let deadline = tokio::time::Instant::now() + state.limits.request_timeout;
    let input_tokens = answer::within(&state, deadline, model.count_tokens(request)).await?;
    Ok(Json(wire::TokenCount { input_tokens }))
}

/// The model a body names and the neutral request for it, within the server's limits (which
/// count the client's system prompt, not the operator's), with the server's sampling defaults
/// where the body sets none.
fn prepare(
    state: &AppState,
    body: wire::MessagesRequest,
) -> Result<(Arc<dyn ChatModel>, ChatRequest), ApiError> {
    if body.thread.as_ref().is_some_and(|thread| !thread.is_null() && *thread != Value::Bool(false)) {
        return Err(ApiError::Threaded);
    }
    let model = state.models.pick(Some(&body.model)).map_err(ApiError::UnknownModel)?.clone();
    let request = translate::request(body).map_err(AppError::BadRequest)?;
    state
        .limits
        .check_size(request.system.as_deref(), &request.messages)
        .map_err(|e| AppError::BadRequest(too_long(e)))?;
    state
        .models
        .reasoning(model.as_ref(), Some(request.reasoning), Reasoning::Off)
        .map_err(|e| AppError::BadRequest(e.message("leave out `thinking`")))?;
    Ok((model, answer::with_server_settings(state, request)))
}
