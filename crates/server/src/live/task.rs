//! A stored conversation's answer as it runs: it reads the provider stream, keeps its text for
//! the clients that follow, writes the answer to the store in batches (and, with Redis,
//! copies its frames there for other replicas), and ends it on Stop, the deadline, the
//! shutdown cut-off or the loss of its record, whether or not anyone is still listening.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::response::sse::Event;
use futures_util::Stream;
use streambed_core::ChatEvent;
use tokio_util::task::TaskTracker;

use super::{Cursor, CursoredFrame, Ending, Live, mirror::mirror};
use crate::{
    answer_log::{AnswerLog, Transcript},
    relay::{self, Answer},
    replicas::Redis,
    sse,
};

/// How long the answer's last write may hold back its terminal frame.
const LAST_WRITE: Duration = Duration::from_secs(5);

/// A running answer: what must outlive any one client. Driven by the response that started it
/// while that client stays ([`drive`]: polled inside the response body, no task of its own, as a
/// stateless chat is), and by a task of the server's once it leaves ([`run`]).
#[derive(Debug)]
pub(crate) struct Running {
    answer: Answer,
    live: Arc<Live>,
    ending: Ending,
    log: AnswerLog,
}

/// What the answer did next.
enum Step {
    /// A frame for the client, its delta already kept for every follower.
    Content(Event),
    /// The answer ended with this frame, written and handed to the followers.
    End(Event),
}

impl Running {
    /// With `redis`, the answer's frames are also copied there as it runs, until the last one
    /// is, by a task of its own (spawned on `writers`).
    pub(crate) fn new(
        answer: Answer,
        live: Arc<Live>,
        ending: Ending,
        log: AnswerLog,
        redis: Option<Redis>,
        writers: &TaskTracker,
    ) -> Self {
        if let Some(redis) = redis {
            writers.spawn(mirror(Arc::clone(&live), redis));
        }
        Self { answer, live, ending, log }
    }

    /// Reads the provider until it has a frame for clients, or the answer ends (Stop, the last
    /// event, an error). The record is written before followers get the terminal frame and
    /// before the answer is unregistered, so whoever reads the store or sends the next turn
    /// after that finds the whole answer there.
    async fn step(&mut self) -> Step {
        let terminal = loop {
            let Some(next) = self.answer.next_unless_stopped().await else {
                self.answer.stopped();
                // Drops the upstream request before anything else is done.
                self.answer.drop_upstream();
                self.log.stopped();
                break sse::stopped(self.live.message);
            };
            // The log is told before the delta is kept below, where its flushes read it (the
            // log's count of what was said never lags behind what a flush can take).
            match &next {
                Ok(event) => self.log.event(event),
                Err(error) => self.log.error(error),
            }
            let Some(frame) = self.answer.frame(&next) else { continue };
            let sent = match next {
                Ok(ChatEvent::Text(text)) => self.live.push_content(&frame, &text, ""),
                Ok(ChatEvent::Reasoning(text)) => self.live.push_content(&frame, "", &text),
                _ => break frame,
            };
            if let Some(event) = sent {
                return Step::Content(event);
            }
        };
        self.ending.with(terminal.clone());
        let terminal = match tokio::time::timeout(LAST_WRITE, self.log.wait_written()).await {
            Ok(false) => terminal,
            // The store has another ending for it (`interrupted`, or none): the client and the
            // followers are told the same, not that it ended as it did here.
            Ok(true) => {
                self.answer.record_lost();
                let lost = self.answer.error_frame(&relay::lost());
                self.ending.with(lost.clone());
                lost
            }
            Err(_) => {
                tracing::warn!(
                    message_id = %self.live.message,
                    "the answer's last write is late; ending its stream anyway"
                );
                terminal
            }
        };
        Step::End(self.live.said().cursor().last_event(&terminal))
    }
}

/// Runs the answer to its end with no client attached.
async fn run(mut running: Running) {
    while let Step::Content(_) = running.step().await {}
}

/// A running answer that is never dropped unfinished: whoever holds it drives it (the response
/// of the request that started it), and dropped before the answer's end (the client left, or
/// never came for it) it hands the answer to a task of the server's (on `writers`), so the
/// answer still runs to its end and its upstream request is not dropped.
pub(crate) struct Handoff {
    running: Option<Running>,
    writers: TaskTracker,
}

impl Handoff {
    pub(crate) fn new(running: Running, writers: TaskTracker) -> Self {
        Self { running: Some(running), writers }
    }
}

impl Drop for Handoff {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.writers.spawn(run(running));
        }
    }
}

/// The response of the request that started the answer: it drives the answer while its client
/// stays (see [`Handoff`] for when it leaves).
pub(crate) fn drive(mut handoff: Handoff) -> impl Stream<Item = Result<Event, Infallible>> {
    let start = handoff.running.as_ref().map(|running| CursoredFrame {
        cursor: Cursor::default(),
        sse: sse::start(running.live.conversation, running.live.message),
    });
    async_stream::stream! {
        if let Some(start) = start {
            yield Ok(start.event());
        }
        while let Some(running) = handoff.running.as_mut() {
            match running.step().await {
                Step::Content(event) => yield Ok(event),
                Step::End(event) => {
                    handoff.running = None;
                    yield Ok(event);
                }
            }
        }
    }
}

/// The log reads what it has not written from the text kept for followers.
impl Transcript for Live {
    fn since(&self, from: Cursor) -> (String, String) {
        let said = self.said();
        // The log's offsets are sums of what this returned, so they lie within the text and on
        // its characters' boundaries; `get` keeps a broken promise from panicking the flusher.
        let rest = |said: &str, from| said.get(from..).unwrap_or_default().to_owned();
        (rest(&said.text, from.text), rest(&said.reasoning, from.reasoning))
    }
}

impl Live {
    /// Adds a content frame's delta (its `text` or its `reasoning`) to what followers are sent;
    /// returns the frame's event, or `None` for an empty delta (nothing to send).
    fn push_content(&self, frame: &sse::Frame, text: &str, reasoning: &str) -> Option<Event> {
        if text.is_empty() && reasoning.is_empty() {
            return None;
        }
        let mut said = self.said();
        said.text.push_str(text);
        said.reasoning.push_str(reasoning);
        let cursor = said.cursor();
        drop(said);
        // Nobody follows most answers: then there is no one to wake (and a follower that comes
        // later reads what was said after subscribing, so it misses nothing).
        if self.changed.receiver_count() > 0 {
            self.changed.send_replace(());
        }
        Some(cursor.event(frame))
    }

    pub(super) fn push_terminal(&self, frame: sse::Frame) {
        let mut said = self.said();
        let cursor = said.cursor();
        said.terminal.get_or_insert(CursoredFrame { cursor, sse: frame });
        drop(said);
        self.changed.send_replace(());
    }
}
