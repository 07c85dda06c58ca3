//! A stored conversation's next turn: written, then answered by a task of the server's that
//! this response follows (see [`start_stored`]).

use std::sync::Arc;

use axum::response::Response;
use streambed_core::{ChatModel, ChatRequest, ErrorKind, ProviderError, Reasoning};
use streambed_store::Owner;
use tokio::sync::oneshot;
use tracing::Instrument;
use uuid::Uuid;

use super::history;
use crate::{
    error::AppError,
    frame::Cursor,
    live::{self, Handoff, Live, Reservation, Running},
    relay,
    routes::{
        answer::{self, Admitted, Delivery},
        turns::Turns,
    },
    sse,
    state::AppState,
};

/// A stored conversation's next turn, as its owner asked for it.
pub(super) struct StoredTurn {
    pub(super) owner: Owner,
    pub(super) conversation: Uuid,
    pub(super) prompt: String,
}

/// A stored conversation's next turn: the prompt and its answer are stored, the history read
/// back, the answer registered (so Stop and resume find it from now on) and the model asked.
///
/// A task of the server's does this, not the request, so a client that leaves meanwhile
/// neither strands a `streaming` answer nor stops it: the answer runs on, as it would had the
/// client left a moment later. This response then drives the answer while its client stays
/// ([`Handoff`]). A refusal before the model started is still an HTTP error (within
/// `FIRST_BYTE_SECONDS`; after it, an error event), recorded as the answer's error, as is the
/// shutdown cut-off; Stop before it ends the answer without one.
pub(super) async fn start_stored(
    state: Arc<AppState>,
    model: Arc<dyn ChatModel>,
    reasoning: Reasoning,
    turn: StoredTurn,
    request: impl FnOnce(Turns) -> ChatRequest + Send + 'static,
    admitted: Admitted,
) -> Result<Response, AppError> {
    let place =
        state.conversations.live.begin(turn.conversation, &turn.owner, state.shutdown.answer_token())?;
    let writers = state.conversations.writers.clone();
    let (opened, opening) = oneshot::channel();
    let task_state = Arc::clone(&state);
    let task = async move {
        let started = open_stored(&task_state, &model, reasoning, turn, request, admitted, place).await;
        // Should nobody take it (the client left), the answer runs on without it ([`Handoff`]).
        let _ = opened.send(started);
    };
    // Its logs keep the request's id.
    writers.spawn(task.instrument(tracing::Span::current()));
    // The task always answers, unless it panicked (a bug: the answer, if it started, ends as its
    // guards record it).
    let started = opening.await.unwrap_or_else(|_| {
        Err(ProviderError::new(
            ErrorKind::StreamInterrupted,
            "The answer could not be started. Send it again.",
        )
        .into())
    });
    Ok(match started? {
        Opened::Running(handoff) => sse::response(live::drive(*handoff), state.keep_alive),
        Opened::Stopped(live) => sse::response(live::follow(live, Cursor::default()), state.keep_alive),
    })
}

/// How a stored turn's start went, when the model was asked.
enum Opened {
    /// The answer streams (boxed: it is most of the size of either).
    Running(Box<Handoff>),
    /// Stopped while the upstream request was still opening (within `FIRST_BYTE_SECONDS`; after
    /// it, the answer is `Running` and ends as Stop ends any): it was dropped unanswered.
    Stopped(Arc<Live>),
}

/// [`start_stored`]'s work, on the server's task.
async fn open_stored(
    state: &AppState,
    model: &Arc<dyn ChatModel>,
    reasoning: Reasoning,
    StoredTurn { owner, conversation, prompt }: StoredTurn,
    request: impl FnOnce(Turns) -> ChatRequest,
    admitted: Admitted,
    place: Reservation,
) -> Result<Opened, AppError> {
    let conversations = &state.conversations;
    conversations.live.count_everywhere(conversation, &owner).await?;
    let model_id = &model.info().id;
    // One write transaction before the model is asked: the prompt, and the answer it starts.
    let (history, message) = conversations
        .store
        .begin_turn(&owner, conversation, &prompt, model_id, conversations.replica)
        .await?;
    let reasoning_of = reasoning.is_on().then_some(model_id.as_str());
    let (turns, dropped_turns) = history::window(&history, &state.limits, reasoning_of);
    // It ends with the question just stored; were the store to say otherwise, the question alone
    // is sent.
    let turns = Turns::new(turns).unwrap_or_else(|refused| {
        tracing::warn!(?refused, %conversation, "the stored history does not end with the question; sending the question alone");
        Turns::prompt(prompt.as_str())
    });
    let (live, mut ending) = place.start(message);
    let token = live.token();
    let log = conversations.answer_logs.start(
        message,
        Arc::clone(&live) as _,
        token.clone(),
        admitted.started,
        &conversations.writers,
    );
    let opened = tokio::select! {
        biased;
        // Ended here (the cut-off, a lost record), not by the provider: no upstream error to
        // count, as in the relay. Stop is no error at all.
        () = token.ended() => relay::ended_by(token.why()).map(Err),
        opened = answer::start(state, model, request(turns), Delivery::Streamed, admitted.deadline) => Some(opened),
    };
    match opened {
        Some(Ok(upstream)) => {
            let running = Running::new(
                admitted.answer(state, upstream, token).with_dropped_turns(dropped_turns),
                live,
                ending,
                log,
                conversations.redis.clone(),
                &conversations.writers,
            );
            Ok(Opened::Running(Box::new(Handoff::new(running, conversations.writers.clone()))))
        }
        None => {
            log.stopped();
            log.written().await;
            ending.with(sse::stopped(message));
            drop(ending);
            Ok(Opened::Stopped(live))
        }
        Some(Err(e)) => {
            log.error(&e);
            log.written().await;
            ending.with(sse::error(&e, ""));
            Err(e.into())
        }
    }
}
