//! `/api/conversations`: an owner's stored conversations: create, list (newest first, by
//! cursor), read with messages, rename, delete, export. The answers themselves are written by
//! `POST /api/chat` with a `conversationId`.

mod export;
mod live;

pub use live::{stop, stream};

use std::sync::Arc;

use axum::{
    Json,
    extract::{FromRequest, Path, Query, Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use streambed_store::{Conversation, ConversationWithMessages, Page};
use uuid::Uuid;

use crate::{
    AppState,
    error::{ApiJson, AppError},
    owner::RequestOwner,
};

/// Longest title a person may set.
const MAX_TITLE_CHARS: usize = 200;
const DEFAULT_PAGE: u32 = 20;
const MAX_PAGE: u32 = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConversation {
    title: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    title: String,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<u32>,
    before: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    format: Option<String>,
}

/// A conversation id from the path; anything that is not a UUID names no conversation.
#[derive(Debug)]
pub struct ConversationId(Uuid);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ConversationId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, AppError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::Store(streambed_store::StoreError::NotFound))?;
        raw.parse().map(Self).map_err(|_| AppError::Store(streambed_store::StoreError::NotFound))
    }
}

fn title(raw: &str) -> Result<&str, AppError> {
    let title = raw.trim();
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(AppError::BadRequest(format!("`title` may have at most {MAX_TITLE_CHARS} characters.")));
    }
    if title.chars().any(char::is_control) {
        return Err(AppError::BadRequest("`title` must be one line of text.".into()));
    }
    Ok(title)
}

/// The body is optional: `POST` with none starts an untitled conversation.
pub async fn create(
    State(state): State<Arc<AppState>>,
    RequestOwner(owner): RequestOwner,
    request: Request,
) -> Result<(StatusCode, Json<Conversation>), AppError> {
    let empty = request.headers().get(header::CONTENT_LENGTH).is_some_and(|length| length == "0")
        || (request.headers().get(header::CONTENT_TYPE).is_none()
            && request.headers().get(header::TRANSFER_ENCODING).is_none());
    let requested =
        if empty { None } else { ApiJson::<NewConversation>::from_request(request, &state).await?.0.title };
    let title = requested.as_deref().map(title).transpose()?;
    let conversation = state.conversations.store.create(&owner, title).await?;
    Ok((StatusCode::CREATED, Json(conversation)))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    RequestOwner(owner): RequestOwner,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page>, AppError> {
    let Query(query) =
        query.map_err(|e| AppError::BadRequest(format!("The query is not valid: {}", e.body_text())))?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::BadRequest(format!("`limit` must be from 1 to {MAX_PAGE}.")));
    }
    Ok(Json(state.conversations.store.list(&owner, limit, query.before.as_deref()).await?))
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    RequestOwner(owner): RequestOwner,
    ConversationId(id): ConversationId,
) -> Result<Json<ConversationWithMessages>, AppError> {
    Ok(Json(state.conversations.store.get(&owner, id).await?))
}

pub async fn rename(
    State(state): State<Arc<AppState>>,
    RequestOwner(owner): RequestOwner,
    ConversationId(id): ConversationId,
    ApiJson(body): ApiJson<Rename>,
) -> Result<Json<Conversation>, AppError> {
    let title = title(&body.title)?;
    if title.is_empty() {
        return Err(AppError::BadRequest("`title` must not be empty.".into()));
    }
    Ok(Json(state.conversations.store.rename(&owner, id, title).await?))
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    RequestOwner(owner): RequestOwner,
    ConversationId(id): ConversationId,
) -> Result<StatusCode, AppError> {
    state.conversations.store.delete(&owner, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn export(
    State(state): State<Arc<AppState>>,
    RequestOwner(owner): RequestOwner,
    ConversationId(id): ConversationId,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let format = query.ok().and_then(|Query(q)| q.format);
    let format = match format.as_deref() {
        None | Some("markdown") => export::Format::Markdown,
        Some("json") => export::Format::Json,
        Some(_) => return Err(AppError::BadRequest("`format` must be `markdown` or `json`.".into())),
    };
    let conversation = state.conversations.store.get(&owner, id).await?;
    Ok(export::response(&conversation, format).into_response())
}
