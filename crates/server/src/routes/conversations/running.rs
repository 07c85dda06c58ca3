//! `POST /api/conversations/{id}/stop` and `GET /api/conversations/{id}/stream`: Stop for the
//! answer running in a conversation, and a way back to it after a reload or a dropped network.

use std::{sync::Arc, time::Duration};

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use streambed_core::Role;
use streambed_store::{MessageStatus, Owner, StoredMessage};
use uuid::Uuid;

use super::{ConversationId, RequestOwner};
use crate::{
    error::AppError,
    extract::ApiQuery,
    frame::Resume,
    live::{self, Stopping},
    replicas::Redis,
    sse,
    state::{AppState, Conversations},
};

/// How long Stop waits for the stopped answer's record before it answers anyway (here), or
/// says it could not stop it (an answer on another replica).
const STOP_WAIT: Duration = Duration::from_secs(5);
/// How often Stop looks again, in the store, while the answer it stopped on another replica
/// ends.
const STOP_POLL: Duration = Duration::from_millis(50);

/// What Stop answers: whether an answer was stopped, and which.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Stopped {
    stopped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<Uuid>,
}

impl Stopped {
    fn answer(message: Uuid) -> Json<Self> {
        Json(Self { stopped: true, message_id: Some(message) })
    }

    /// An answer stopped before it had an id the client could know.
    fn starting() -> Json<Self> {
        Json(Self { stopped: true, message_id: None })
    }

    fn nothing() -> Json<Self> {
        Json(Self { stopped: false, message_id: None })
    }
}

/// Ends the conversation's running answer now: the upstream request is dropped, the text so far
/// is stored as `stopped`, and every client following it gets `event: stopped`. An answer that
/// another replica runs is stopped there, through Redis.
pub(crate) async fn stop(
    State(state): State<Arc<AppState>>,
    RequestOwner(owner): RequestOwner,
    ConversationId(id): ConversationId,
) -> Result<Json<Stopped>, AppError> {
    let conversations = &state.conversations;
    match conversations.live.stop(id, &owner) {
        // An answer that ended otherwise as Stop came (its `done` already sent) was not stopped;
        // one still ending after STOP_WAIT was, and its record follows.
        Stopping::Running(live) => {
            return Ok(match tokio::time::timeout(STOP_WAIT, live.ended()).await {
                Ok(Some(sse::Kind::Done | sse::Kind::Error)) => Stopped::nothing(),
                _ => Stopped::answer(live.message),
            });
        }
        // Sent right after the turn, while it is written: its answer ends before the model is
        // asked, as `stopped`; answered once it has, so the next turn finds the place free.
        Stopping::Starting => {
            let _ = tokio::time::timeout(STOP_WAIT, conversations.live.freed(id)).await;
            return Ok(Stopped::starting());
        }
        Stopping::Nothing => {}
    }
    // Nothing running here: still a 404 for a conversation that is not the caller's.
    let conversation = conversations.store.get(&owner, id).await?;
    let running = conversation.messages.into_iter().last().filter(|m| m.status == MessageStatus::Streaming);
    match (running, &conversations.redis) {
        (Some(answer), Some(redis)) => stop_elsewhere(conversations, redis, &owner, id, answer.id).await,
        // Without Redis no other replica can be reached: a `streaming` answer not running here
        // belongs to a server that stopped, and becomes `interrupted` when its lease runs out.
        _ => Ok(Stopped::nothing()),
    }
}

/// Asks every replica, through Redis, to stop `message`; the one running it does. Answers once
/// the store shows the answer ended, or 503 if it still runs after [`STOP_WAIT`].
async fn stop_elsewhere(
    conversations: &Conversations,
    redis: &Redis,
    owner: &Owner,
    id: Uuid,
    message: Uuid,
) -> Result<Json<Stopped>, AppError> {
    let heard = redis.publish_stop(id, message).await.map_err(|_| AppError::StopNotDelivered)?;
    if heard == 0 {
        return Err(AppError::StopNotDelivered);
    }
    let deadline = tokio::time::Instant::now() + STOP_WAIT;
    loop {
        tokio::time::sleep(STOP_POLL).await;
        match conversations.store.message(owner, id, message).await?.map(|m| m.status) {
            Some(MessageStatus::Streaming) if tokio::time::Instant::now() >= deadline => {
                return Err(AppError::StopNotDelivered);
            }
            Some(MessageStatus::Streaming) => {}
            Some(MessageStatus::Stopped) => return Ok(Stopped::answer(message)),
            // It ended otherwise as Stop came (or a retry replaced it).
            _ => return Ok(Stopped::nothing()),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct StreamQuery {
    after: Option<String>,
    /// The answer the client follows, when it knows it: an answer begun since in the
    /// conversation (in another tab, say) is not taken for it.
    message: Option<Uuid>,
}

/// Follows the conversation's latest answer (or the one `?message=` names) from the client's
/// cursor (`Last-Event-ID`, or `?after=`): the frames it has not seen, then the rest live,
/// ending with the terminal frame. With no cursor and no answer running, 204.
pub(crate) async fn stream(
    State(state): State<Arc<AppState>>,
    RequestOwner(owner): RequestOwner,
    ConversationId(id): ConversationId,
    headers: HeaderMap,
    ApiQuery(StreamQuery { after: query_after, message }): ApiQuery<StreamQuery>,
) -> Result<Response, AppError> {
    let conversations = &state.conversations;
    let after = match resume_from(&headers, query_after.as_deref())? {
        Some(Resume::At(cursor)) => Some(cursor),
        None => None,
        // The client had the terminal frame: nothing more (a 404 still for a conversation that
        // is not the caller's). Without `message`, even while a newer answer runs: the client
        // followed one that ended.
        Some(Resume::Ended) => {
            conversations.store.conversation(&owner, id).await?;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
    };
    let not_a_point = || {
        AppError::BadRequest(
            "The cursor (`Last-Event-ID` or `after`) is not a point in the answer followed.".into(),
        )
    };
    let asked_for = |answer: Uuid| message.is_none_or(|message| message == answer);
    if let Some(live) =
        conversations.live.get(id).filter(|live| live.owned_by(&owner) && asked_for(live.message))
    {
        let after = after.unwrap_or_default();
        if !live.has_said(after) {
            return Err(not_a_point());
        }
        return Ok(sse::response(live::follow(live, after), state.keep_alive));
    }
    let conversation = conversations.store.get(&owner, id).await?;
    let answer = answer_asked(conversation.messages, message)?;
    // An ended answer is all in the store, so a cursor must be a point in it. Not so while
    // another replica still writes it (the store may lag the cursor), nor once a replica died
    // mid-answer: its client may have had text the last flush did not store, and is told how
    // the answer ended.
    if let (Some(answer), Some(after)) = (&answer, after)
        && !matches!(answer.status, MessageStatus::Streaming | MessageStatus::Interrupted)
        && !after.is_within(&answer.content, answer.reasoning.as_deref().unwrap_or_default())
    {
        return Err(not_a_point());
    }
    let from = live::Elsewhere {
        store: Arc::clone(&conversations.store),
        owner,
        conversation: id,
        cutoff: state.shutdown.cutoff.clone(),
    };
    let keep_alive = state.keep_alive;
    match (answer, after) {
        // Running on another replica (or its replica died and the lease has not run out yet):
        // followed through Redis, where that replica copies its frames, else through the store,
        // until it ends.
        (Some(answer), after) if answer.status == MessageStatus::Streaming => {
            let after = after.unwrap_or_default();
            Ok(match &conversations.redis {
                Some(redis) => {
                    sse::response(live::follow_remote(redis.clone(), from, answer, after), keep_alive)
                }
                None => sse::response(live::replay_stored(from, answer, after), keep_alive),
            })
        }
        (Some(answer), Some(after)) => {
            Ok(sse::response(live::replay_stored(from, answer, after), keep_alive))
        }
        _ => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// Where the client resumes: `Last-Event-ID`, which a reconnecting client sets, else `?after=`
/// (both are checked).
fn resume_from(headers: &HeaderMap, query_after: Option<&str>) -> Result<Option<Resume>, AppError> {
    let header_after = match headers.get("last-event-id") {
        Some(value) => Some(value.to_str().unwrap_or_default().parse::<Resume>()?),
        None => None,
    };
    Ok(header_after.or(query_after.map(str::parse::<Resume>).transpose()?))
}

/// The answer `message` names, or without it the conversation's last turn if it is an answer.
fn answer_asked(
    messages: Vec<StoredMessage>,
    message: Option<Uuid>,
) -> Result<Option<StoredMessage>, AppError> {
    let is_answer = |m: &StoredMessage| m.role == Role::Assistant;
    match message {
        None => Ok(messages.into_iter().last().filter(is_answer)),
        Some(wanted) => messages
            .into_iter()
            .find(|m| m.id == wanted && is_answer(m))
            .map(Some)
            .ok_or_else(|| AppError::BadRequest("`message` names no answer in this conversation.".into())),
    }
}
