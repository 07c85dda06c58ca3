//! `/api/conversations`: an owner's stored conversations: create, list (newest first, by
//! cursor), read with messages, rename, delete, export. The answers themselves are written by
//! `POST /api/chat` with a `conversationId`.

mod export;
mod running;
mod wire;

pub(super) use running::{stop, stream};

use std::sync::Arc;

use axum::{
    Json,
    extract::{FromRequestParts, Path, State},
    http::{StatusCode, request::Parts},
    response::Response,
};
use serde::Deserialize;
use streambed_store::{Owner, Title};
use uuid::Uuid;

use crate::{
    AppState,
    auth::Principal,
    error::AppError,
    extract::{ApiJson, ApiQuery, OptionalApiJson},
};
use wire::{Conversation, ConversationWithMessages, Page};

const DEFAULT_PAGE: u32 = 20;
const MAX_PAGE: u32 = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewConversation {
    title: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Rename {
    title: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    limit: Option<u32>,
    before: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ExportQuery {
    format: Option<export::Format>,
}

/// A conversation id from the path; anything that is not a UUID names no conversation.
#[derive(Debug)]
pub(super) struct ConversationId(Uuid);

impl<S: Send + Sync> FromRequestParts<S> for ConversationId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::Store(streambed_store::StoreError::NotFound))?;
        raw.parse().map(Self).map_err(|_| AppError::Store(streambed_store::StoreError::NotFound))
    }
}

/// The owner of the conversations this request may touch (see [`crate::owner`]).
#[derive(Debug)]
pub(super) struct RequestOwner(Owner);

impl FromRequestParts<Arc<AppState>> for RequestOwner {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, AppError> {
        let principal = parts.extensions.get::<Principal>();
        state.conversations.owners.owner(principal, &parts.headers, &parts.uri).map(Self)
    }
}

/// The body is optional: `POST` with none starts an untitled conversation.
pub(super) async fn create(
    State(state): State<Arc<AppState>>,
    RequestOwner(owner): RequestOwner,
    OptionalApiJson(body): OptionalApiJson<NewConversation>,
) -> Result<(StatusCode, Json<Conversation>), AppError> {
    let title = body.and_then(|body| body.title).as_deref().map(Title::optional).transpose()?.flatten();
    let conversation = state.conversations.store.create(&owner, title.as_ref()).await?;
    Ok((StatusCode::CREATED, Json(conversation.into())))
}

pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    RequestOwner(owner): RequestOwner,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page>, AppError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::BadRequest(format!("`limit` must be from 1 to {MAX_PAGE}.")));
    }
    Ok(Json(state.conversations.store.list(&owner, limit, query.before.as_deref()).await?.into()))
}

pub(super) async fn get(
    State(state): State<Arc<AppState>>,
    RequestOwner(owner): RequestOwner,
    ConversationId(id): ConversationId,
) -> Result<Json<ConversationWithMessages>, AppError> {
    Ok(Json(state.conversations.store.get(&owner, id).await?.into()))
}

pub(super) async fn rename(
    State(state): State<Arc<AppState>>,
    RequestOwner(owner): RequestOwner,
    ConversationId(id): ConversationId,
    ApiJson(body): ApiJson<Rename>,
) -> Result<Json<Conversation>, AppError> {
    let title = Title::new(&body.title)?;
    Ok(Json(state.conversations.store.rename(&owner, id, &title).await?.into()))
}

pub(super) async fn delete(
    State(state): State<Arc<AppState>>,
    RequestOwner(owner): RequestOwner,
    ConversationId(id): ConversationId,
) -> Result<StatusCode, AppError> {
    state.conversations.store.delete(&owner, id).await?;
    // Nobody can read an answer to a deleted conversation: stop paying for it.
    if let Some(live) = state.conversations.live.get(id).filter(|live| live.owned_by(&owner)) {
        live.stop();
    }
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn export(
    State(state): State<Arc<AppState>>,
    RequestOwner(owner): RequestOwner,
    ConversationId(id): ConversationId,
    ApiQuery(ExportQuery { format }): ApiQuery<ExportQuery>,
) -> Result<Response, AppError> {
    let conversation = state.conversations.store.get(&owner, id).await?;
    Ok(export::response(conversation, format.unwrap_or_default()))
}
