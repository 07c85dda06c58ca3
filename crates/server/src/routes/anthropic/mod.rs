//! The Anthropic Messages API over every model of the server: `POST /v1/messages` (streamed or
//! not) and `POST /v1/messages/count_tokens`. The body is translated into the neutral request
//! ([`translate`]), held to the same limits as `/api/chat`, and answered through the same relay;
//! the neutral events come back as Anthropic's ([`stream`]), and errors in Anthropic's shape
//! ([`errors`]). Nothing here knows which provider answers.

mod errors;
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
use streambed_core::{ChatModel, ChatRequest, Reasoning};
use uuid::Uuid;

use errors::MessagesError;
pub(super) use errors::reshape;
use stream::{Blocks, Collected};

use super::answer;
use crate::{
    error::{ApiJson, AppError},
    relay, request_id,
    state::AppState,
};

/// `GET /v1/models` as Anthropic's SDK reads it (`client.models.list()`): one page with every
/// model. The route is shared with OpenAI's list; [`crate::routes`] picks by the
/// `anthropic-version` header every Anthropic client sends.
pub(super) fn models(state: &AppState) -> Json<serde_json::Value> {
    let data: Vec<serde_json::Value> = state
        .models
        .iter()
        .map(|model| {
            let info = model.info();
            // Neither Bedrock nor the embedded model says when a model was released.
            serde_json::json!({
                "type": "model",
                "id": info.id,
                "display_name": info.name,
                "created_at": "1970-01-01T00:00:00Z",
            })
        })
        .collect();
    let first_id = data.first().map(|m| m["id"].clone());
    let last_id = data.last().map(|m| m["id"].clone());
    Json(serde_json::json!({ "data": data, "has_more": false, "first_id": first_id, "last_id": last_id }))
}

pub(super) async fn messages(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<wire::MessagesRequest>,
) -> Result<Response, MessagesError> {
    let started = Instant::now();
    let streamed = body.stream;
    let (model, request) = prepare(&state, body)?;
    let Some(max_tokens) = request.params.max_tokens else {
        return Err(AppError::BadRequest("`max_tokens` is required.".into()).into());
    };
    if !(1..=state.limits.max_tokens).contains(&max_tokens) {
        return Err(AppError::BadRequest(format!(
            "`max_tokens` must be from 1 to {} (MAX_TOKENS_LIMIT).",
            state.limits.max_tokens
        ))
        .into());
    }
    let id = format!("msg_{}", Uuid::new_v4().simple());
    let start = wire::Message::empty(id, model.info().id.clone());
    let blocks = Blocks::new(request.stop_sequences.clone());
    let mut answer = answer::open(&state, model.as_ref(), request, request_id(&headers), started).await?;
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

pub(super) async fn count_tokens(
    State(state): State<Arc<AppState>>,
    ApiJson(body): ApiJson<wire::MessagesRequest>,
) -> Result<Json<wire::TokenCount>, MessagesError> {
    let (model, request) = prepare(&state, body)?;
    let input_tokens = tokio::time::timeout(state.limits.request_timeout, model.count_tokens(request))
        .await
        .unwrap_or_else(|_| Err(relay::deadline_exceeded()))
        .inspect_err(|e| state.metrics.upstream_error(e.kind.code()))?;
    Ok(Json(wire::TokenCount { input_tokens }))
}

/// The model a body names and the neutral request for it, within the server's limits (which
/// count the client's system prompt, not the operator's), with the server's sampling defaults
/// where the body sets none.
fn prepare(
    state: &AppState,
    body: wire::MessagesRequest,
) -> Result<(Arc<dyn ChatModel>, ChatRequest), MessagesError> {
    let model = state.models.pick(Some(&body.model)).map_err(MessagesError::UnknownModel)?.clone();
    let mut request = translate::request(body).map_err(AppError::BadRequest)?;
    state.limits.check_size(request.system.as_deref(), &request.messages).map_err(AppError::BadRequest)?;
    state
        .models
        .reasoning(model.as_ref(), Some(request.reasoning), Reasoning::Off)
        .map_err(|e| AppError::BadRequest(e.message("leave out `thinking`")))?;
    let defaults = state.params;
    let params = &mut request.params;
    params.temperature = params.temperature.or(defaults.temperature);
    params.top_p = params.top_p.or(defaults.top_p);
    params.top_k = params.top_k.or(defaults.top_k);
    // The operator's prompt (`BEDROCK_SYSTEM_PROMPT`) first, as `/v1/chat/completions` does.
    request.system = match (&state.system_prompt, request.system) {
        (Some(ours), Some(theirs)) => Some(format!("{ours}\n\n{theirs}")),
        (ours, theirs) => theirs.or_else(|| ours.clone()),
    };
    Ok((model, request))
}
