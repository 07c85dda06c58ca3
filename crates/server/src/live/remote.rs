//! Following an answer that another replica runs, through the Redis Stream it copies its frames
//! to (see `mirror`): what the client does not hold yet, with the same cursors as ids. When Redis
//! cannot serve them (unreachable, entries missing, or behind the store because that replica
//! lost Redis), the store takes over from the client's cursor, as without Redis.

use std::{convert::Infallible, time::Duration};

use axum::response::sse::Event;
use futures_util::Stream;
use streambed_store::{MessageStatus, StoredMessage};
use uuid::Uuid;

use super::{
    Cursor, Rest,
    follow::{Elsewhere, at, stored_rest},
};
use crate::{replicas::Redis, sse};

/// How long one read waits for a frame before the follower checks with the store that the
/// answer is still running and that Redis is keeping up with it.
const BLOCK: Duration = Duration::from_secs(1);

/// Follows `message`, running on another replica, from `after`.
pub(crate) fn follow_remote(
    redis: Redis,
    from: Elsewhere,
    message: StoredMessage,
    after: Cursor,
) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        yield Ok(at(sse::start(from.conversation, message.id), after));
        // What the client holds, where the entries read so far leave off, and how many there were.
        let mut held = after;
        let mut position = Cursor::default();
        let mut read = 0;
        let mut latest = message;
        let mut ended = false;
        let reader = redis.frame_reader(latest.id, BLOCK).await.ok().flatten();
        if let Some(mut reader) = reader {
            'redis: loop {
                if from.cutoff.is_cancelled() {
                    yield Ok(at(sse::following_ended(), held));
                    ended = true;
                    break;
                }
                let Ok(entries) = reader.read(read).await else { break };
                if entries.is_empty() {
                    match check(&from, latest.id, position).await {
                        Check::KeepReading => continue,
                        Check::UseStore(stored) => {
                            latest = *stored;
                            break;
                        }
                        Check::Gone => {
                            yield Ok(sse::stored_error(None).into());
                            ended = true;
                            break;
                        }
                    }
                }
                for (number, frame) in entries {
                    // Missing entries (trimmed, or lost with a Redis restart): the store has them.
                    if number != read + 1 {
                        break 'redis;
                    }
                    read = number;
                    position = frame.cursor;
                    if frame.sse.kind.is_terminal() {
                        yield Ok(frame.event());
                        ended = true;
                        break 'redis;
                    }
                    match frame.rest(held) {
                        Rest::Held => {}
                        Rest::Part(part) => {
                            held = held.max(part.cursor);
                            yield Ok(part.event());
                        }
                        // Entries written again after Redis lost them: the store has the gap.
                        Rest::Gap => break 'redis,
                    }
                }
            }
        }
        if !ended {
            for await frame in stored_rest(from, latest, held) {
                yield frame;
            }
        }
    }
}

/// What the store says when Redis has had nothing new for [`BLOCK`].
enum Check {
    /// The answer runs, and Redis has all the store has: wait on Redis.
    KeepReading,
    /// The answer ended, or the store has text Redis lacks (the replica running it lost Redis).
    UseStore(Box<StoredMessage>),
    /// The conversation or its answer was deleted meanwhile.
    Gone,
}

async fn check(from: &Elsewhere, message: Uuid, position: Cursor) -> Check {
    let stored = match from.store.get(&from.owner, from.conversation).await {
        Ok(conversation) => conversation.messages.into_iter().find(|m| m.id == message),
        Err(e) => {
            // Redis may still serve the answer; the next quiet spell asks again.
            tracing::warn!(error = %e, "cannot read the answer being followed");
            return Check::KeepReading;
        }
    };
    let Some(stored) = stored else { return Check::Gone };
    let ahead = stored.content.len() > position.text
        || stored.reasoning.as_deref().map_or(0, str::len) > position.reasoning;
    if stored.status == MessageStatus::Streaming && !ahead {
        Check::KeepReading
    } else {
        Check::UseStore(Box::new(stored))
    }
}
