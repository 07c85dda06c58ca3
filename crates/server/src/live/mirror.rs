//! Copies a running answer's frames to Redis (see `replicas::frames`) for clients that resume on
//! another replica. It runs beside the answer, never in its way: what the answer said since the
//! last write goes in one frame each of reasoning and text, at most one round trip every
//! [`EVERY`], so the model's tokens never wait on Redis. After a failure it asks Redis how far it
//! got and carries on from there; a follower elsewhere reads the store meanwhile.

use std::{sync::Arc, time::Duration};

use tokio::time::Instant;

use super::{Cursor, CursoredFrame, Live};
use crate::replicas::Redis;

/// The shortest gap between two writes of one answer: what it says meanwhile goes together.
const EVERY: Duration = Duration::from_millis(25);
/// The waits before trying again after a failure: short at first (the first call on a
/// connection Redis dropped fails, and the next one reconnects), doubling up to the second.
const RETRY: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(1));
/// How long an answer that has ended keeps trying to reach Redis.
const GIVE_UP_AFTER_END: Duration = Duration::from_secs(5);

/// Mirrors `live` until its terminal frame is in Redis, or Redis stays unreachable for
/// [`GIVE_UP_AFTER_END`] after the answer ended.
pub(super) async fn mirror(live: Arc<Live>, redis: Redis) {
    let mut changed = live.changed.subscribe();
    // How many frames Redis holds and where they leave a client; unknown after a failure,
    // until Redis says.
    let mut written = Some((0, Cursor::default()));
    let mut give_up_at = None;
    let mut retry = RETRY.0;
    loop {
        changed.borrow_and_update();
        let result = match written {
            None => redis.last_frame(live.message).await.map(|last| match last {
                Some((_, frame)) if frame.sse.kind.is_terminal() => true,
                Some((n, frame)) => {
                    written = Some((n, frame.cursor));
                    false
                }
                None => {
                    written = Some((0, Cursor::default()));
                    false
                }
            }),
            Some((n, at)) => {
                let (batch, ended) = live.unmirrored(at);
                if batch.is_empty() {
                    // Nothing new: wait for the next delta, which goes out at once.
                    if ended || changed.changed().await.is_err() {
                        return;
                    }
                    continue;
                }
                let appended = redis.append_frames(live.message, n, &batch, ended).await;
                appended.map(|()| {
                    let at = batch.last().map_or(at, |frame| frame.cursor);
                    written = Some((n + batch.len(), at));
                    ended
                })
            }
        };
        match result {
            Ok(true) => return,
            Ok(false) => {
                retry = RETRY.0;
                tokio::time::sleep(EVERY).await;
            }
            Err(_) => {
                written = None;
                if live.said().terminal.is_some() {
                    let give_up_at = *give_up_at.get_or_insert_with(|| Instant::now() + GIVE_UP_AFTER_END);
                    if Instant::now() >= give_up_at {
                        tracing::warn!(message_id = %live.message, "gave up copying an ended answer to Redis");
                        return;
                    }
                }
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY.1);
            }
        }
    }
}

impl Live {
    /// The frames of what was said past `at` (see `Said::past`), then the terminal frame once
    /// the answer has ended, and whether it has.
    fn unmirrored(&self, at: Cursor) -> (Vec<CursoredFrame>, bool) {
        let said = self.said();
        let (mut batch, _) = said.past(at);
        batch.extend(said.terminal.clone());
        (batch, said.terminal.is_some())
    }
}
