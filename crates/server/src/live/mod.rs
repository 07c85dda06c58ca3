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
use uuid::Uuid;

pub use follow::{Elsewhere, follow, replay_stored};
pub use remote::follow_remote;
pub use task::{Running, drive};

use crate::{error::AppError, shutdown::AnswerToken, sse};

/// A point in an answer: bytes of text and of reasoning sent so far. Written `text.reasoning`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    pub text: usize,
    pub reasoning: usize,
}

impl Cursor {
    /// Whether this is a point in an answer with this text and reasoning: within both, and on
    /// character boundaries (a cursor from another answer, or made up, may be neither).
    pub fn is_within(self, text: &str, reasoning: &str) -> bool {
        text.is_char_boundary(self.text) && reasoning.is_char_boundary(self.reasoning)
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.text, self.reasoning)
    }
}

impl Cursor {
    /// `frame` with this cursor as its `id:`, formatted without allocating (every frame sent
    /// has one).
    fn event(self, frame: &sse::Frame) -> Event {
        use std::io::Write as _;
        // Two `usize`s in decimal and a dot.
        let mut buffer = std::io::Cursor::new([0u8; 41]);
        write!(buffer, "{self}").expect("41 bytes hold two usizes and a dot");
        let len = usize::try_from(buffer.position()).expect("at most 41");
        frame.event(Some(std::str::from_utf8(&buffer.get_ref()[..len]).expect("digits and a dot")))
    }

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

/// One running answer: what it has said so far, for every client that follows it.
#[derive(Debug)]
pub struct Live {
    pub conversation: Uuid,
    pub message: Uuid,
    owner: Owner,
    said: Mutex<Said>,
    /// Bumped after each new frame; followers wait on it.
    changed: watch::Sender<()>,
    /// Cancelled by Stop, and at the shutdown cut-off; the answer watches it.
    token: AnswerToken,
}

/// What a running answer has said so far.
#[derive(Debug, Default)]
struct Said {
    /// Its text and reasoning: every content frame's delta, in order. A follower is sent what
    /// lies past its cursor. Keeping the text rather than the frames costs a token's few bytes,
    /// not a frame's hundred (for a 4,000-token answer, 16 KB rather than 400 KB), and no
    /// allocation per token.
    text: String,
    reasoning: String,
    /// The last frame (`done`, `error` or `stopped`), once the answer has ended.
    terminal: Option<Frame>,
}

impl Said {
    /// Where the answer has got to.
    fn cursor(&self) -> Cursor {
        Cursor { text: self.text.len(), reasoning: self.reasoning.len() }
    }

    /// What a client at `from` has not been sent, a frame each for the reasoning and the text
    /// past it (none where nothing is new), and where those frames leave the client. A cursor
    /// inside a character (one the client made up) reads from the next one.
    fn past(&self, from: Cursor) -> (Vec<Frame>, Cursor) {
        fn rest(said: &str, from: usize) -> &str {
            &said[said.ceil_char_boundary(from)..]
        }
        let (reasoning, text) = (rest(&self.reasoning, from.reasoning), rest(&self.text, from.text));
        let mut at = from;
        let mut frames = Vec::new();
        if !reasoning.is_empty() {
            at.reasoning = self.reasoning.len();
            frames.push(Frame { cursor: at, sse: sse::reasoning(reasoning) });
        }
        if !text.is_empty() {
            at.text = self.text.len();
            frames.push(Frame { cursor: at, sse: sse::token(text) });
        }
        (frames, at)
    }
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
        self.cursor.event(&self.sse)
    }

    /// What of this content frame a client at `held` still needs. A frame's cursor is where its
    /// delta ends, so it starts that many bytes earlier; only the part of the cursor the frame
    /// advances counts, so text and reasoning may interleave in any order.
    fn rest(&self, held: Cursor) -> Rest {
        let (end, held) = match self.sse.kind {
            sse::Kind::Reasoning => (self.cursor.reasoning, held.reasoning),
            _ => (self.cursor.text, held.text),
        };
        if end <= held {
            return Rest::Held;
        }
        let Some(delta) = self.sse.delta() else { return Rest::Gap };
        match end.checked_sub(delta.len()) {
            Some(start) if start == held => Rest::Part(self.clone()),
            Some(start) if start < held => {
                let rest = &delta[delta.ceil_char_boundary(held - start)..];
                let sse = match self.sse.kind {
                    sse::Kind::Reasoning => sse::reasoning(rest),
                    _ => sse::token(rest),
                };
                Rest::Part(Self { cursor: self.cursor, sse })
            }
            _ => Rest::Gap,
        }
    }
}

/// What of a content frame a client still needs ([`Frame::rest`]).
#[derive(Debug, PartialEq, Eq)]
enum Rest {
    /// None of it: the client holds all of it.
    Held,
    /// This frame: all of it, or the end the client does not hold.
    Part(Frame),
    /// The frame starts past what the client holds, so something between is missing.
    Gap,
}

impl Live {
    fn said(&self) -> MutexGuard<'_, Said> {
        self.said.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn owned_by(&self, owner: &Owner) -> bool {
        self.owner == *owner
    }

    /// Ends the answer now: the task drops the upstream request and records it as stopped.
    pub fn stop(&self) {
        self.token.stop();
    }

    /// The token the answer watches: Stop and the cut-off end it.
    pub fn token(&self) -> AnswerToken {
        self.token.clone()
    }

    /// Resolves once the answer has its terminal frame.
    pub async fn ended(&self) {
        let mut changed = self.changed.subscribe();
        while self.said().terminal.is_none() {
            if changed.changed().await.is_err() {
                return;
            }
        }
    }
}

/// The answers running in this process, by conversation: at most one per conversation, and at
/// most `MAX_RUNNING_ANSWERS_PER_OWNER` per owner. A place is reserved before the answer's
/// message is written, so two requests for one conversation cannot both start one.
#[derive(Debug)]
pub struct LiveAnswers {
    running: Mutex<HashMap<Uuid, Place>>,
    max_per_owner: usize,
}

#[derive(Debug)]
enum Place {
    Reserved(Owner),
    Running(Arc<Live>),
}

impl Place {
    fn owner(&self) -> &Owner {
        match self {
            Self::Reserved(owner) => owner,
            Self::Running(live) => &live.owner,
        }
    }
}

impl LiveAnswers {
    pub fn new(max_per_owner: usize) -> Self {
        Self { running: Mutex::default(), max_per_owner }
    }

    fn running(&self) -> MutexGuard<'_, HashMap<Uuid, Place>> {
        self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reserves the conversation's place, or refuses when it already has an answer running or
    /// the owner is at the cap. The place is given back if the reservation is dropped unused.
    pub fn begin(self: &Arc<Self>, conversation: Uuid, owner: &Owner) -> Result<Reservation, AppError> {
        let mut running = self.running();
        if running.contains_key(&conversation) {
            return Err(AppError::AnswerRunning);
        }
        if running.values().filter(|place| place.owner() == owner).count() >= self.max_per_owner {
            return Err(AppError::TooManyAnswers);
        }
        running.insert(conversation, Place::Reserved(owner.clone()));
        Ok(Reservation { answers: Arc::clone(self), conversation, owner: Some(owner.clone()) })
    }

    /// The answer running in `conversation`, if any.
    pub fn get(&self, conversation: Uuid) -> Option<Arc<Live>> {
        match self.running().get(&conversation) {
            Some(Place::Running(live)) => Some(Arc::clone(live)),
            _ => None,
        }
    }

    fn remove(&self, conversation: Uuid) {
        self.running().remove(&conversation);
    }
}

/// A conversation's place, reserved by [`LiveAnswers::begin`].
#[derive(Debug)]
pub struct Reservation {
    answers: Arc<LiveAnswers>,
    conversation: Uuid,
    /// Taken by [`Reservation::start`].
    owner: Option<Owner>,
}

impl Reservation {
    /// The answer, registered as running, and the guard that ends it: the answer's first frame
    /// is `start`, its last whatever the guard is given (an error if nothing). `token` ends it.
    pub fn start(mut self, message: Uuid, token: AnswerToken) -> (Arc<Live>, Ending) {
        let live = Arc::new(Live {
            conversation: self.conversation,
            message,
            owner: self.owner.take().expect("a reservation starts once"),
            said: Mutex::default(),
            changed: watch::Sender::new(()),
            token,
        });
        self.answers.running().insert(self.conversation, Place::Running(Arc::clone(&live)));
        let ending = Ending { live: Arc::clone(&live), answers: Arc::clone(&self.answers), terminal: None };
        (live, ending)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.owner.is_some() {
            self.answers.remove(self.conversation);
        }
    }
}

/// Ends a running answer however its task ends, even by a panic: pushes the terminal frame it
/// was given (an `error` if none, so no follower waits forever) and unregisters the answer.
#[derive(Debug)]
pub struct Ending {
    live: Arc<Live>,
    answers: Arc<LiveAnswers>,
    terminal: Option<sse::Frame>,
}

impl Ending {
    /// The frame followers get last, once the answer's record is written.
    pub fn with(&mut self, terminal: sse::Frame) {
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
    use super::*;

    #[test]
    fn a_cursor_is_its_frames_id_however_large() {
        let frame = sse::token("hi");
        for cursor in [
            Cursor::default(),
            Cursor { text: 120, reasoning: 7 },
            Cursor { text: usize::MAX, reasoning: usize::MAX },
        ] {
            let event = format!("{:?}", cursor.event(&frame));
            assert!(event.contains(&format!("id: {cursor}\\n")), "{event}");
            assert_eq!(cursor.to_string().parse::<Cursor>().unwrap(), cursor);
        }
    }

    #[test]
    fn a_follower_is_sent_the_reasoning_then_the_text_past_its_cursor() {
        let said = Said { text: "héllo".into(), reasoning: "hm".into(), terminal: None };
        let end = Cursor { text: 6, reasoning: 2 };

        let (all, at) = said.past(Cursor::default());
        assert_eq!(at, end);
        assert_eq!(
            all,
            [
                Frame { cursor: Cursor { text: 0, reasoning: 2 }, sse: sse::reasoning("hm") },
                Frame { cursor: end, sse: sse::token("héllo") },
            ]
        );
        // Inside `é` (bytes 1 and 2): from the next character on.
        let (rest, _) = said.past(Cursor { text: 2, reasoning: 2 });
        assert_eq!(rest, [Frame { cursor: end, sse: sse::token("llo") }]);
        assert_eq!(said.past(end), (Vec::new(), end));
        let beyond = Cursor { text: 60, reasoning: 9 };
        assert_eq!(said.past(beyond), (Vec::new(), beyond));
    }

    #[test]
    fn a_frame_from_redis_gives_a_follower_only_what_it_does_not_hold() {
        // A write's worth of text: bytes 4 to 10 of the answer, `é` at 6 and 7.
        let frame = Frame { cursor: Cursor { text: 10, reasoning: 3 }, sse: sse::token("abéde") };
        let held = |text| Cursor { text, reasoning: 3 };

        assert_eq!(frame.rest(held(4)), Rest::Part(frame.clone()));
        assert_eq!(frame.rest(held(5)), Rest::Part(Frame { cursor: frame.cursor, sse: sse::token("béde") }));
        // Inside `é`: from the next character.
        assert_eq!(frame.rest(held(7)), Rest::Part(Frame { cursor: frame.cursor, sse: sse::token("de") }));
        assert_eq!(frame.rest(held(10)), Rest::Held);
        assert_eq!(frame.rest(held(12)), Rest::Held);
        assert_eq!(frame.rest(held(2)), Rest::Gap, "bytes 2 and 3 are in no frame");
        // Reasoning counts on its own side of the cursor.
        let thought = Frame { cursor: Cursor { text: 10, reasoning: 3 }, sse: sse::reasoning("hm") };
        assert_eq!(
            thought.rest(Cursor { text: 0, reasoning: 2 }),
            Rest::Part(Frame { cursor: thought.cursor, sse: sse::reasoning("m") })
        );
    }
}
