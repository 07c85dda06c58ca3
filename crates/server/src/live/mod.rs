//! Answers that belong to the server. A stored conversation's answer is driven by the response
//! that started it while its client stays, and handed to a task of the server's when it leaves
//! ([`run`]); responses that resume it later (after a reload or a dropped network) follow its
//! frames ([`follow`]). A client that leaves does not end it; Stop does, as do the request
//! deadline and the shutdown cut-off.
//!
//! Each frame's SSE `id:` is a [`Cursor`]: how many bytes of answer text and of reasoning the
//! client has once it has that frame. A cursor names the same point in the live answer and in
//! the stored one, so a client that comes back with `Last-Event-ID` gets exactly the rest,
//! whether the answer is still running here, or already ended and only the store has it.
//!
//! With `REDIS_URL`, each running answer's frames are also copied to a Redis Stream
//! ([`mirror`]), so a client whose reconnection lands on another replica follows the same
//! answer from there ([`follow_remote`]); without Redis, or while it is unreachable, that
//! replica follows the answer through the store ([`replay_stored`]).

mod answers;
mod follow;
mod mirror;
mod remote;
mod said;
mod task;

use std::sync::{Arc, Mutex, MutexGuard};

use streambed_store::Owner;
use tokio::sync::watch;
use uuid::Uuid;

pub(crate) use answers::{LiveAnswers, Reservation, Stopping};
pub(crate) use follow::{Elsewhere, follow, replay_stored};
pub(crate) use remote::follow_remote;
use said::{Rest, Said};
pub(crate) use task::{Handoff, Running, drive};

use crate::{
    answer_token::AnswerToken,
    frame::{Cursor, CursoredFrame},
    sse,
};

/// One running answer: what it has said so far, for every client that follows it.
#[derive(Debug)]
pub(crate) struct Live {
    pub conversation: Uuid,
    pub message: Uuid,
    owner: Owner,
    said: Mutex<Said>,
    /// Bumped after each new frame; followers wait on it.
    changed: watch::Sender<()>,
    /// Cancelled by Stop, and at the shutdown cut-off; the answer watches it.
    token: AnswerToken,
}

impl Live {
    fn said(&self) -> MutexGuard<'_, Said> {
        self.said.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn owned_by(&self, owner: &Owner) -> bool {
        self.owner == *owner
    }

    /// Ends the answer now: the task drops the upstream request and records it as stopped.
    pub(crate) fn stop(&self) {
        self.token.stop();
    }

    /// The token the answer watches: Stop and the cut-off end it.
    pub(crate) fn token(&self) -> AnswerToken {
        self.token.clone()
    }

    /// Whether `cursor` is a point in what the answer has said so far (see [`Cursor::is_within`]):
    /// one past it is from another answer, or made up.
    pub(crate) fn has_said(&self, cursor: Cursor) -> bool {
        let said = self.said();
        cursor.is_within(&said.text, &said.reasoning)
    }

    /// Resolves once the answer has its terminal frame, with its type: `Stopped`, or `Done` or
    /// `Error` for an answer that ended otherwise first.
    pub(crate) async fn ended(&self) -> Option<sse::Kind> {
        let mut changed = self.changed.subscribe();
        loop {
            if let Some(terminal) = &self.said().terminal {
                return Some(terminal.sse.kind);
            }
            if changed.changed().await.is_err() {
                return None;
            }
        }
    }
}

/// Ends a running answer however its task ends, even by a panic: pushes the terminal frame it
/// was given (an `error` if none, so no follower waits forever) and unregisters the answer.
#[derive(Debug)]
pub(crate) struct Ending {
    live: Arc<Live>,
    answers: Arc<LiveAnswers>,
    terminal: Option<sse::Frame>,
}

impl Ending {
    /// The frame followers get last, once the answer's record is written.
    pub(crate) fn with(&mut self, terminal: sse::Frame) {
        self.terminal = Some(terminal);
    }
}

impl Drop for Ending {
    fn drop(&mut self) {
        let terminal = self.terminal.take().unwrap_or_else(|| sse::stored_error(None));
        self.live.push_terminal(terminal);
        self.answers.remove(self.live.conversation);
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;
    use crate::answer_token::Why;

    #[test]
    fn stop_reaches_an_answer_still_starting_and_only_its_owners() {
        let answers = Arc::new(LiveAnswers::new(5, None));
        let token = crate::Shutdown::default().answer_token();
        let (alice, bob) = (Owner("alice".into()), Owner("bob".into()));
        let conversation = Uuid::now_v7();
        let place = answers.begin(conversation, &alice, token.clone()).unwrap();

        assert!(matches!(answers.stop(conversation, &bob), Stopping::Nothing), "not bob's answer");
        assert!(token.ended().now_or_never().is_none());
        assert!(matches!(answers.stop(conversation, &alice), Stopping::Starting));
        let (live, ending) = place.start(Uuid::now_v7());

        assert!(live.token().ended().now_or_never().is_some(), "it starts stopped");
        assert_eq!(live.token().why(), Why::Stopped);
        assert!(matches!(answers.stop(conversation, &alice), Stopping::Running(_)));
        assert!(answers.is_busy(conversation));
        let mut freed = Box::pin(answers.freed(conversation));
        assert!((&mut freed).now_or_never().is_none());
        drop(ending);
        assert!(!answers.is_busy(conversation), "its place is free once it ended");
        assert!(freed.now_or_never().is_some(), "and whoever waited for it is told");
    }

    #[test]
    fn an_answer_says_how_it_ended_so_a_stop_after_its_done_stopped_nothing() {
        let answers = Arc::new(LiveAnswers::new(5, None));
        let token = crate::Shutdown::default().answer_token();
        let place = answers.begin(Uuid::now_v7(), &Owner("alice".into()), token).unwrap();
        let (live, mut ending) = place.start(Uuid::now_v7());
        assert_eq!(live.ended().now_or_never(), None, "still running");

        ending.with(sse::Frame { kind: sse::Kind::Done, data: "{}".into() });
        drop(ending);

        assert_eq!(live.ended().now_or_never(), Some(Some(sse::Kind::Done)));
    }
}
