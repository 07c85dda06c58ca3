//! Answers that belong to the server. A stored conversation's answer runs as a task of its own
//! ([`run`]): the response that started it, and any that resume it later (after a reload or a
//! dropped network), only follow its frames ([`follow`]). A client that leaves does not end it;
//! Stop does, as do the request deadline and the shutdown cut-off.
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

mod follow;
mod mirror;
mod remote;
mod task;

use std::{
    collections::HashMap,
    fmt,
    str::FromStr,
    sync::{Arc, Mutex, MutexGuard},
};

use axum::response::sse::Event;
use streambed_store::Owner;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use follow::{follow, replay_stored};
pub use remote::follow_remote;
pub use task::run;

use crate::{error::AppError, sse};

/// A point in an answer: bytes of text and of reasoning sent so far. Written `text.reasoning`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    pub text: usize,
    pub reasoning: usize,
}

impl Cursor {
    /// Whether a frame that ends at `self` is past `other`, i.e. not yet seen by its holder.
    fn is_past(self, other: Self) -> bool {
        self.text > other.text || self.reasoning > other.reasoning
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.text, self.reasoning)
    }
}

impl Cursor {
    /// The furthest point of both: what a client holds after frames ending at `self` and `other`.
    fn max(self, other: Self) -> Self {
        Self { text: self.text.max(other.text), reasoning: self.reasoning.max(other.reasoning) }
    }
}

impl FromStr for Cursor {
    type Err = AppError;

    fn from_str(s: &str) -> Result<Self, AppError> {
        let bad = || {
            AppError::BadRequest(
                "`Last-Event-ID` (or `after`) must be an event id of this answer, like `120.0`.".into(),
            )
        };
        let (text, reasoning) = s.trim().split_once('.').ok_or_else(bad)?;
        Ok(Self { text: text.parse().map_err(|_| bad())?, reasoning: reasoning.parse().map_err(|_| bad())? })
    }
}

/// One running answer's frames, kept for every client that follows it.
#[derive(Debug)]
pub struct Live {
    pub conversation: Uuid,
    pub message: Uuid,
    owner: Owner,
    frames: Mutex<Frames>,
    /// Bumped after each new frame; followers wait on it.
    changed: watch::Sender<()>,
    /// Fired by Stop.
    stop: CancellationToken,
}

#[derive(Debug, Default)]
struct Frames {
    /// Content frames in order.
    content: Vec<Frame>,
    /// Where the last content frame left off.
    cursor: Cursor,
    /// The last frame (`done`, `error` or `stopped`), once the answer has ended.
    terminal: Option<Frame>,
}

/// A frame as a running answer keeps it: the cursor it leaves the client at (its `id:`), its
/// event type and its JSON data. The SSE event is made when a follower sends it; Redis carries
/// the same three fields to followers on other replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub cursor: Cursor,
    pub sse: sse::Frame,
}

impl Frame {
    fn event(&self) -> Event {
        self.sse.event(Some(&self.cursor.to_string()))
    }
}

impl Live {
    fn frames(&self) -> MutexGuard<'_, Frames> {
        self.frames.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn owned_by(&self, owner: &Owner) -> bool {
        self.owner == *owner
    }

    /// Ends the answer now: the task drops the upstream request and records it as stopped.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Resolves once the answer has its terminal frame.
    pub async fn ended(&self) {
        let mut changed = self.changed.subscribe();
        while self.frames().terminal.is_none() {
            if changed.changed().await.is_err() {
                return;
            }
        }
    }
}

/// The answers running in this process, by conversation: at most one per conversation, and at
/// most `MAX_RUNNING_ANSWERS_PER_OWNER` per owner.
#[derive(Debug)]
pub struct LiveAnswers {
    running: Mutex<HashMap<Uuid, Arc<Live>>>,
    max_per_owner: usize,
}

impl LiveAnswers {
    pub fn new(max_per_owner: usize) -> Self {
        Self { running: Mutex::default(), max_per_owner }
    }

    fn running(&self) -> MutexGuard<'_, HashMap<Uuid, Arc<Live>>> {
        self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a new answer, or refuses when the conversation already has one running or the
    /// owner is at the cap.
    pub fn begin(&self, conversation: Uuid, owner: &Owner) -> Result<Registration<'_>, AppError> {
        let running = self.running();
        if running.contains_key(&conversation) {
            return Err(AppError::AnswerRunning);
        }
        if running.values().filter(|live| live.owner == *owner).count() >= self.max_per_owner {
            return Err(AppError::TooManyAnswers);
        }
        Ok(Registration { answers: self, conversation, owner: owner.clone() })
    }

    pub fn get(&self, conversation: Uuid) -> Option<Arc<Live>> {
        self.running().get(&conversation).cloned()
    }

    fn remove(&self, conversation: Uuid) {
        self.running().remove(&conversation);
    }
}

/// A place reserved by [`LiveAnswers::begin`], taken once the answer's message exists.
#[derive(Debug)]
pub struct Registration<'a> {
    answers: &'a LiveAnswers,
    conversation: Uuid,
    owner: Owner,
}

impl Registration<'_> {
    /// The running answer, registered. Its first frame is `start`.
    pub fn insert(self, message: Uuid) -> Result<Arc<Live>, AppError> {
        let live = Arc::new(Live {
            conversation: self.conversation,
            message,
            owner: self.owner,
            frames: Mutex::default(),
            changed: watch::Sender::new(()),
            stop: CancellationToken::new(),
        });
        let mut running = self.answers.running();
        // `begin` checked; another request may have registered the conversation since.
        if running.contains_key(&self.conversation) {
            return Err(AppError::AnswerRunning);
        }
        running.insert(self.conversation, Arc::clone(&live));
        Ok(live)
    }
}
