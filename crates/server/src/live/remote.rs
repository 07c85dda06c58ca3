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
    follow::{Elsewhere, Latest, at, stored_rest},
};
use crate::{
    replicas::{Redis, frames::FrameReader},
    sse,
};

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
        // Where the store takes over: the answer as last read, and what the client holds.
        let (latest, held) = match redis.frame_reader(message.id, BLOCK).await {
            Ok(Some(reader)) => {
                let mut reading = Reading { reader, held: after, position: Cursor::default(), read: 0 };
                let mut parts = Vec::new();
                let stored = loop {
                    let next = reading.next(&from, message.id, &mut parts).await;
                    for part in parts.drain(..) {
                        yield Ok(part);
                    }
                    match next {
                        Next::More => {}
                        Next::End(last) => {
                            yield Ok(last);
                            return;
                        }
                        Next::ToStore(stored) => break stored,
                    }
                };
                (stored.map_or(message, |stored| *stored), reading.held)
            }
            _ => (message, after),
        };
        for await frame in stored_rest(from, latest, held) {
            yield frame;
        }
    }
}

/// A follow through Redis, as far as it has read.
struct Reading {
    reader: FrameReader,
    /// What the client holds.
    held: Cursor,
    /// Where the entries read so far leave off, and how many there were.
    position: Cursor,
    read: usize,
}

/// Where the follow goes after a read.
enum Next {
    /// On through Redis.
    More,
    /// It is over, with this last event.
    End(Event),
    /// The store takes over from what the client holds: Redis cannot serve the rest (unreachable,
    /// entries missing, or behind the store), or the store says the answer ended. With the
    /// answer as the store last gave it, when it did.
    ToStore(Option<Box<StoredMessage>>),
}

impl Reading {
    /// Reads what Redis has past the entries read so far, puts the parts the client lacks in
    /// `parts`, and says where the follow goes next.
    async fn next(&mut self, from: &Elsewhere, message: Uuid, parts: &mut Vec<Event>) -> Next {
        if from.cutoff.is_cancelled() {
            return Next::End(at(sse::following_ended(), self.held));
        }
        let Ok(entries) = self.reader.read(self.read).await else { return Next::ToStore(None) };
        if entries.is_empty() {
            return check(from, message, self.position).await;
        }
        for (number, frame) in entries {
            // Missing entries (trimmed, or lost with a Redis restart): the store has them.
            if number != self.read + 1 {
                return Next::ToStore(None);
            }
            self.read = number;
            self.position = frame.cursor;
            if frame.sse.kind.is_terminal() {
                return Next::End(frame.event());
            }
            match frame.rest(self.held) {
                Rest::Held => {}
                Rest::Part(part) => {
                    self.held = self.held.max(part.cursor);
                    parts.push(part.event());
                }
                // Entries written again after Redis lost them: the store has the gap.
                Rest::Gap => return Next::ToStore(None),
            }
        }
        Next::More
    }
}

/// What the store says when Redis has had nothing new for [`BLOCK`]: read on while the answer
/// runs and Redis has all the store has; otherwise the store takes over (the answer ended, or
/// the replica running it lost Redis); the follow ends if the answer was deleted meanwhile.
async fn check(from: &Elsewhere, message: Uuid, position: Cursor) -> Next {
    let stored = match from.latest(message).await {
        Latest::Found(stored) => stored,
        Latest::Gone => return Next::End(position.last_event(&sse::stored_error(None))),
        Latest::Unread(e) => {
            // Redis may still serve the answer; the next quiet spell asks again.
            tracing::warn!(error = %e, "cannot read the answer being followed");
            return Next::More;
        }
    };
    let ahead = stored.content.len() > position.text
        || stored.reasoning.as_deref().map_or(0, str::len) > position.reasoning;
    if stored.status == MessageStatus::Streaming && !ahead {
        Next::More
    } else {
        Next::ToStore(Some(Box::new(stored)))
    }
}
