//! OpenAI's Chat Completions API over every model of the server: `POST /v1/chat/completions`
//! (streamed or not, with tools) and `GET /v1/models`, for the clients people already run
//! (the `openai` SDKs, Open WebUI, LibreChat). A request is translated into a provider-neutral
//! [`ChatRequest`] (`translate`), answered through the same relay as `/api/chat` (limits,
//! metrics, log line, cancellation when the client leaves), and written back as OpenAI's
//! objects (`stream`, `wire`). Errors are in OpenAI's shape (`error`). The route table puts
//! authentication, the rate limit and, outside both, [`in_openai_shape`] around the handlers.

mod error;
mod stream;
mod translate;
mod wire;

use std::{
    sync::Arc,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    Json,
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use streambed_core::{ChatEvent, ChatModel, ChatRequest};
use uuid::Uuid;

pub(super) use error::in_openai_shape;
use error::{ApiError, Invalid};
use wire::{Meta, ModelEntry, ModelList};

use super::answer::{self, Delivery};
use crate::{error::AppError, extract::ApiJson, request_id, sse, state::AppState};

/// `POST /v1/chat/completions`.
pub(super) async fn completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<wire::CompletionRequest>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let asked = translate::asked(body, &state.limits)?;
    let model =
        state.models.pick(Some(&asked.model)).map_err(|e| Invalid::unknown_model(&e.id, &e.allowed))?;
    let reasoning = state
        .models
        .reasoning(model.as_ref(), asked.reasoning, state.reasoning)
        .map_err(|e| Invalid::param("reasoning_effort", e.message("leave `reasoning_effort` out")))?;
    let reasoning = translate::reasoning_for(&asked.request, reasoning);
    let request = ChatRequest { reasoning, ..answer::with_server_settings(&state, asked.request) };
    let delivery = if asked.stream { Delivery::Streamed } else { Delivery::Whole };
    let answer = answer::open(&state, model, request, delivery, request_id::of(&headers), started).await?;
    let meta = Meta {
        id: format!("chatcmpl-{}", Uuid::new_v4().simple()),
        created: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        model: model.info().id.clone(),
    };
    if asked.stream {
        let chunker = stream::Chunker::new(meta, asked.include_usage);
        return Ok(sse::response(stream::events(answer, chunker), state.keep_alive));
    }
    // Dropped with this future when the client leaves, and the upstream request with it.
    let mut answer = answer;
    let mut reply = translate::Reply::default();
    loop {
        match answer.next().await {
            Ok(ChatEvent::Done(completion)) => {
                return Ok(Json(reply.finish(&completion, meta)).into_response());
            }
            Ok(event) => reply.push(event),
            // Nothing was sent yet: the failure is still an HTTP status.
            Err(e) => return Err(AppError::Provider(e).into()),
        }
    }
}

/// `GET /v1/models`: every model a client may name, the default first.
pub(super) async fn models(State(state): State<Arc<AppState>>) -> Json<ModelList> {
    let data = state.models.iter().map(|model| entry(model.as_ref())).collect();
    Json(ModelList { object: "list", data })
}

/// `GET /v1/models/{id}` (`client.models.retrieve`): one of them, or 404 `model_not_found`.
pub(super) fn model(state: &AppState, id: &str) -> Result<Json<ModelEntry>, ApiError> {
    let model = state.models.pick(Some(id)).map_err(|e| Invalid::unknown_model(&e.id, &e.allowed))?;
    Ok(Json(entry(model.as_ref())))
}

fn entry(model: &dyn ChatModel) -> ModelEntry {
    let info = model.info();
    ModelEntry { id: info.id.clone(), object: "model", created: 0, owned_by: info.provider.to_owned() }
}
