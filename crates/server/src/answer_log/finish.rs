//! Writing how an answer ended: its end and the text no flush has written yet, once, however
//! long the database takes to accept it.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use streambed_store::{ConversationStore, Finish};

use super::Shared;

/// The first pause before an answer's end is written again after the database failed it, and
/// the longest.
const FINISH_RETRY_FIRST: Duration = Duration::from_millis(100);
const FINISH_RETRY_MOST: Duration = Duration::from_secs(5);

/// Records how the answer ended, with the text no flush has written yet, once the answer has
/// ended and no flush is writing its earlier text. `true` when the record was lost: a flush
/// found it so, or the store no longer had the answer as `streaming` to end.
pub(super) async fn finish(store: Arc<dyn ConversationStore>, shared: Arc<Shared>) -> bool {
    let ((text, reasoning), finish) = loop {
        {
            let mut pending = shared.pending();
            if !pending.flushing
                && let Some(finish) = pending.finish.take()
            {
                pending.closed = true;
                let finish = Finish { reasoning_blocks: pending.blocks.take(), ..finish };
                break (shared.transcript.since(pending.written), finish);
            }
        }
        // `notify_one` keeps a wake-up that came before this wait.
        shared.changed.notified().await;
    };
    let (message, status) = (shared.message, finish.status);
    let mut pause = FINISH_RETRY_FIRST;
    loop {
        match store.finish_answer(message, &text, &reasoning, finish.clone()).await {
            Ok(true) => return false,
            Ok(false) => {
                // A flush that found it lost has said so already.
                if !shared.lost.swap(true, Ordering::AcqRel) {
                    tracing::warn!(
                        message_id = %message,
                        ?status,
                        "the answer's end went unrecorded: its conversation was deleted, or another \
                         replica marked it interrupted while this one could not renew its lease"
                    );
                }
                return true;
            }
            // The end is here in memory, and nothing else would write it: the record would say
            // `streaming` for as long as this process renews its lease. So it is written again
            // until the database takes it (shutdown waits for that only so long, then gives up
            // the lease, and the answer is swept as `interrupted`). Should a failed attempt have
            // committed after all, the next finds the answer ended and reports it lost.
            Err(e) => {
                tracing::error!(
                    message_id = %message,
                    ?status,
                    error = %e,
                    "cannot record how the answer ended; trying again in {pause:?}"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(FINISH_RETRY_MOST);
            }
        }
    }
}
