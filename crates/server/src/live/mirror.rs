//! Copies a running answer's frames to Redis (see `replicas::frames`) for clients that resume on
//! another replica. It runs beside the answer, never in its way: frames are taken from the
//! answer's own buffer in batches, at most one round trip every [`EVERY`], so the model's
//! tokens never wait on Redis. After a failure it asks Redis how far it got and carries on from
//! there; a follower elsewhere reads the store meanwhile.

use std::{sync::Arc, time::Duration};

use tokio::time::Instant;

use super::{Frame, Live};
use crate::replicas::Redis;

/// The shortest gap between two writes of one answer: frames arriving meanwhile go together.
const EVERY: Duration = Duration::from_millis(25);
/// The waits before trying again after a failure: short at first (the first call on a
/// connection Redis dropped fails, and the next one reconnects), doubling up to the second.
const RETRY: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(1));
/// How long an answer that has ended keeps trying to reach Redis.
const GIVE_UP_AFTER_END: Duration = Duration::from_secs(5);
/// Frames in one write at most, so a write after an outage stays small.
const MAX_BATCH: usize = 256;

/// Mirrors `live` until its terminal frame is in Redis, or Redis stays unreachable for
/// [`GIVE_UP_AFTER_END`] after the answer ended.
pub(super) async fn mirror(live: Arc<Live>, redis: Redis) {
    let mut changed = live.changed.subscribe();
    // How many frames Redis holds; unknown after a failure, until Redis says.
    let mut written = Some(0);
    let mut give_up_at = None;
    let mut retry = RETRY.0;
    loop {
        changed.borrow_and_update();
        let result = match written {
            None => redis.frames_written(live.message).await.map(|n| {
                written = Some(n);
                false
            }),
            Some(n) => {
                let (batch, ended) = live.unmirrored(n);
                if batch.is_empty() {
                    // Nothing new: wait for the next frame, which goes out at once.
                    if ended || changed.changed().await.is_err() {
                        return;
                    }
                    continue;
                }
                let appended = redis.append_frames(live.message, n, &batch, ended).await;
                appended.map(|()| {
                    written = Some(n + batch.len());
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
                if live.frames().terminal.is_some() {
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
    /// The frames after the first `written` (content frames, then the terminal one), at most
    /// [`MAX_BATCH`], and whether the answer's last frame is among them or written already.
    fn unmirrored(&self, written: usize) -> (Vec<Frame>, bool) {
        let frames = self.frames();
        let all = frames.content.iter().chain(frames.terminal.iter());
        let batch: Vec<Frame> = all.skip(written).take(MAX_BATCH).cloned().collect();
        let total = frames.content.len() + usize::from(frames.terminal.is_some());
        let ended = frames.terminal.is_some() && written + batch.len() >= total;
        (batch, ended)
    }
}
