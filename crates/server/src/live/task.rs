//! The task that owns a stored conversation's answer: it reads the provider stream, keeps every
//! frame for the clients that follow, writes the answer to the store in batches (and, with
//! Redis, copies its frames there for other replicas), and ends it on Stop, the deadline or the
//! shutdown cut-off, whether or not anyone is still listening.

use std::{sync::Arc, time::Duration};

use streambed_core::ChatEvent;

use super::{Cursor, Ending, Frame, Live, mirror::mirror};
use crate::{answer_log::AnswerLog, relay::Answer, replicas::Redis, sse};

/// How long the answer's last write may hold back its terminal frame.
const LAST_WRITE: Duration = Duration::from_secs(5);

/// Runs the answer to its end. The record is written before followers get the terminal frame
/// and before the answer is unregistered, so whoever reads the store or sends the next turn
/// after that finds the whole answer there. With `redis`, its frames are copied there as it
/// runs, until the last one is.
pub async fn run(answer: Answer, live: Arc<Live>, ending: Ending, log: AnswerLog, redis: Option<Redis>) {
    let mirrored = async {
        if let Some(redis) = redis {
            mirror(Arc::clone(&live), redis).await;
        }
    };
    tokio::join!(relay(answer, &live, ending, log), mirrored);
}

async fn relay(mut answer: Answer, live: &Live, mut ending: Ending, log: AnswerLog) {
    let stop = live.stop.clone();
    let terminal = loop {
        let next = tokio::select! {
            biased;
            () = stop.cancelled() => None,
            next = answer.next() => Some(next),
        };
        let Some(next) = next else {
            answer.stopped();
            // Drops the upstream request before anything else is done.
            drop(answer);
            log.stopped();
            break sse::stopped(live.message);
        };
        match &next {
            Ok(event) => log.event(event),
            Err(error) => log.error(error),
        }
        let Some(frame) = answer.frame(&next) else { continue };
        match next {
            Ok(ChatEvent::Text(text)) => live.push_content(frame, text.len(), 0),
            Ok(ChatEvent::Reasoning(text)) => live.push_content(frame, 0, text.len()),
            _ => break frame,
        }
    };
    ending.with(terminal);
    if tokio::time::timeout(LAST_WRITE, log.written()).await.is_err() {
        tracing::warn!(message_id = %live.message, "the answer's last write is late; ending its stream anyway");
    }
}

impl Live {
    fn push_content(&self, frame: sse::Frame, text: usize, reasoning: usize) {
        if text == 0 && reasoning == 0 {
            return;
        }
        let mut frames = self.frames();
        let cursor =
            Cursor { text: frames.cursor.text + text, reasoning: frames.cursor.reasoning + reasoning };
        frames.cursor = cursor;
        frames.content.push(Frame { cursor, sse: frame });
        drop(frames);
        self.changed.send_replace(());
    }

    pub(super) fn push_terminal(&self, frame: sse::Frame) {
        let mut frames = self.frames();
        let cursor = frames.cursor;
        frames.terminal.get_or_insert(Frame { cursor, sse: frame });
        drop(frames);
        self.changed.send_replace(());
    }
}
