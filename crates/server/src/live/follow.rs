//! What a client that follows an answer receives: `start`, the frames past its cursor, then the
//! rest as it comes, ending with the terminal frame. From the running answer when this process
//! runs it, otherwise from the store (polled while another replica is still writing it).

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::response::sse::Event;
use futures_util::Stream;
use streambed_store::{ConversationStore, MessageStatus, Owner, StoreError, StoredMessage};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Cursor, Live, said};
use crate::sse;

/// How often a follower reads the store while another replica writes the answer: about as
/// often as that replica flushes it.
const STORE_POLL: Duration = Duration::from_millis(500);

/// Longest a follower reads another replica's answer through the store: past any answer's
/// `REQUEST_TIMEOUT_SECONDS` and lease, so only a record that can no longer change is left.
const FOLLOW_AT_MOST: Duration = Duration::from_secs(3600);

/// Follows a running answer of this process from `after`.
pub(crate) fn follow(live: Arc<Live>, after: Cursor) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        // `start` carries the client's own cursor: a client that reconnects right after it
        // keeps its place.
        yield Ok(at(sse::start(live.conversation, live.message), after));
        let mut changed = live.changed.subscribe();
        // Where the frames sent so far leave the client.
        let mut held = after;
        loop {
            changed.borrow_and_update();
            let (frames, terminal) = {
                let said = live.said();
                let (frames, now) = said.past(held);
                held = now;
                (frames, said.terminal.clone())
            };
            for frame in frames {
                yield Ok(frame.event());
            }
            if let Some(terminal) = terminal {
                yield Ok(terminal.event());
                break;
            }
            if changed.changed().await.is_err() {
                break;
            }
        }
    }
}

/// Where a follower reads an answer this process does not run, and what ends the follow early.
#[derive(Debug, Clone)]
pub(crate) struct Elsewhere {
    pub store: Arc<dyn ConversationStore>,
    pub owner: Owner,
    pub conversation: Uuid,
    /// The shutdown cut-off.
    pub cutoff: CancellationToken,
}

/// The answer being followed, as the store has it now.
pub(super) enum Latest {
    Found(StoredMessage),
    /// Deleted, with its conversation: the follow ends.
    Gone,
    /// The store could not be read; ask again later.
    Unread(StoreError),
}

impl Elsewhere {
    pub(super) async fn latest(&self, message: Uuid) -> Latest {
        match self.store.message(&self.owner, self.conversation, message).await {
            Ok(Some(latest)) => Latest::Found(latest),
            Ok(None) => Latest::Gone,
            Err(e) => Latest::Unread(e),
        }
    }
}

/// Replays a stored answer from `after`: what the store has past the cursor, more as another
/// replica flushes it while it is `streaming`, and a terminal frame made from how it ended.
pub(crate) fn replay_stored(
    from: Elsewhere,
    message: StoredMessage,
    after: Cursor,
) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        yield Ok(at(sse::start(from.conversation, message.id), after));
        for await frame in stored_rest(from, message, after) {
            yield frame;
        }
    }
}

/// [`replay_stored`] without its `start`: also where a follower of another replica's answer
/// through Redis carries on when Redis cannot serve it. A store that cannot be read is tried
/// again; the shutdown cut-off, or [`FOLLOW_AT_MOST`], ends the follow with an error.
pub(super) fn stored_rest(
    from: Elsewhere,
    message: StoredMessage,
    after: Cursor,
) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        let mut cursor = after;
        let mut message = message;
        let give_up = tokio::time::Instant::now() + FOLLOW_AT_MOST;
        loop {
            let reasoning = message.reasoning.as_deref().unwrap_or_default();
            let (frames, now) = said::past(&message.content, reasoning, cursor);
            cursor = now;
            for frame in frames {
                yield Ok(frame.event());
            }
            if message.status != MessageStatus::Streaming {
                yield Ok(cursor.last_event(&terminal(&message)));
                break;
            }
            let waited = tokio::select! {
                () = from.cutoff.cancelled() => false,
                () = tokio::time::sleep(STORE_POLL) => tokio::time::Instant::now() < give_up,
            };
            if !waited {
                yield Ok(at(sse::following_ended(), cursor));
                break;
            }
            match from.latest(message.id).await {
                Latest::Found(latest) => message = latest,
                Latest::Gone => {
                    yield Ok(cursor.last_event(&sse::stored_error(None)));
                    break;
                }
                Latest::Unread(e) => tracing::warn!(error = %e, "cannot read the answer being followed; trying again"),
            }
        }
    }
}

/// `frame` with `cursor` as its `id:`.
pub(super) fn at(frame: sse::Frame, cursor: Cursor) -> Event {
    cursor.event(&frame)
}

/// The terminal frame of an answer that ended, as the store recorded it.
fn terminal(message: &StoredMessage) -> sse::Frame {
    match message.status {
        MessageStatus::Complete => sse::stored_done(message),
        MessageStatus::Stopped => sse::stopped(message.id),
        MessageStatus::Error => sse::stored_error(message.error_code.as_deref()),
        MessageStatus::Interrupted | MessageStatus::Streaming => sse::stored_error(None),
    }
}
