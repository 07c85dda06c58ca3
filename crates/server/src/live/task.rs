//! The task that owns a stored conversation's answer: it reads the provider stream, keeps every
//! frame for the clients that follow, writes the answer to the store in batches (and, with
//! Redis, copies its frames there for other replicas), and ends it on Stop, the deadline or the
//! shutdown cut-off, whether or not anyone is still listening.

use std::sync::Arc;

use streambed_core::ChatEvent;

use super::{Cursor, Frame, Live, LiveAnswers, mirror::mirror};
use crate::{answer_log::AnswerLog, relay::Answer, replicas::Redis, sse};

/// Runs the answer to its end, then unregisters it once its last write is stored (so a client
/// that resumes after that reads the store, which then has everything). With `redis`, its
/// frames are copied there as it runs, until the last one is.
pub async fn run(
    answer: Answer,
    live: Arc<Live>,
    log: AnswerLog,
    dropped_turns: usize,
    answers: Arc<LiveAnswers>,
    redis: Option<Redis>,
) {
    let mirrored = async {
        if let Some(redis) = redis {
            mirror(Arc::clone(&live), redis).await;
        }
    };
    tokio::join!(relay(answer, Arc::clone(&live), log, dropped_turns, answers), mirrored);
}

async fn relay(
    mut answer: Answer,
    live: Arc<Live>,
    log: AnswerLog,
    dropped_turns: usize,
    answers: Arc<LiveAnswers>,
) {
    let stop = live.stop.clone();
    loop {
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
            live.push_terminal(sse::stopped(live.message));
            break;
        };
        match &next {
            Ok(event) => log.event(event),
            Err(error) => log.error(error),
        }
        let frame = answer.frame(&next, dropped_turns);
        match next {
            Ok(ChatEvent::Text(text)) => live.push_content(frame, text.len(), 0),
            Ok(ChatEvent::Reasoning(text)) => live.push_content(frame, 0, text.len()),
            Ok(ChatEvent::Done(_)) | Err(_) => {
                live.push_terminal(frame);
                break;
            }
        }
    }
    log.written().await;
    answers.remove(live.conversation);
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

    fn push_terminal(&self, frame: sse::Frame) {
        let mut frames = self.frames();
        let cursor = frames.cursor;
        frames.terminal.get_or_insert(Frame { cursor, sse: frame });
        drop(frames);
        self.changed.send_replace(());
    }
}
