//! A stored answer's frames as they are kept, sent to followers and shared through Redis: each
//! an SSE frame and the [`Cursor`] it leaves a client at, which is its `id:`.

use std::{fmt, str::FromStr};

use axum::response::sse::Event;

use crate::sse;

/// A point in an answer: bytes of text and of reasoning sent so far. Written `text.reasoning`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub text: usize,
    pub reasoning: usize,
}

impl Cursor {
    /// Bytes of text and reasoning together.
    pub(crate) fn bytes(self) -> usize {
        self.text + self.reasoning
    }

    /// Whether this is a point in an answer with this text and reasoning: within both, and on
    /// character boundaries (a cursor from another answer, or made up, may be neither).
    pub(crate) fn is_within(self, text: &str, reasoning: &str) -> bool {
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
    pub(crate) fn event(self, frame: &sse::Frame) -> Event {
        self.event_with(frame, "")
    }

    /// The answer's terminal `frame`, with this cursor and [`END`] as its `id:`: a client that
    /// comes back with it has the whole answer, and is told so (204) rather than sent the
    /// terminal frame again (a browser's `EventSource`, which reconnects whenever the server
    /// closes, stops at a 204).
    pub(crate) fn last_event(self, frame: &sse::Frame) -> Event {
        self.event_with(frame, END)
    }

    fn event_with(self, frame: &sse::Frame, suffix: &str) -> Event {
        use std::io::Write as _;
        // Two `usize`s in decimal, a dot and the suffix.
        let mut buffer = std::io::Cursor::new([0u8; 45]);
        write!(buffer, "{self}{suffix}").expect("45 bytes hold two usizes, a dot and `.end`");
        let len = usize::try_from(buffer.position()).expect("at most 45");
        frame.event(Some(std::str::from_utf8(&buffer.get_ref()[..len]).expect("digits, dots, `end`")))
    }

    /// The furthest point of both: what a client holds after frames ending at `self` and `other`.
    pub(crate) fn max(self, other: Self) -> Self {
        Self { text: self.text.max(other.text), reasoning: self.reasoning.max(other.reasoning) }
    }
}

/// A frame as a follower is sent it: the cursor it leaves the client at (its `id:`), its event
/// type and its JSON data. The SSE event is made when it is sent; Redis carries the same three
/// fields to followers on other replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CursoredFrame {
    pub cursor: Cursor,
    pub sse: sse::Frame,
}

impl CursoredFrame {
    /// The SSE event, its id the cursor (with [`END`] for the answer's terminal frame).
    pub(crate) fn event(&self) -> Event {
        if self.sse.kind.is_terminal() {
            self.cursor.last_event(&self.sse)
        } else {
            self.cursor.event(&self.sse)
        }
    }
}

/// What the id of an answer's terminal frame adds to its cursor.
const END: &str = ".end";

/// Where a client says it is in an answer (its `Last-Event-ID`, or `after`): at a cursor, or
/// past the terminal frame, with the whole answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resume {
    At(Cursor),
    Ended,
}

impl FromStr for Resume {
    type Err = BadEventId;

    fn from_str(s: &str) -> Result<Self, BadEventId> {
        match s.trim().strip_suffix(END) {
            Some(cursor) => cursor.parse::<Cursor>().map(|_| Self::Ended),
            None => s.parse().map(Self::At),
        }
    }
}

/// Text that is not a cursor: a client's `Last-Event-ID` (or `after`) from elsewhere.
#[derive(Debug, thiserror::Error)]
#[error("`Last-Event-ID` (or `after`) must be an event id of this answer, like `120.0`.")]
pub(crate) struct BadEventId;

impl FromStr for Cursor {
    type Err = BadEventId;

    fn from_str(s: &str) -> Result<Self, BadEventId> {
        let (text, reasoning) = s.trim().split_once('.').ok_or(BadEventId)?;
        Ok(Self {
            text: text.parse().map_err(|_| BadEventId)?,
            reasoning: reasoning.parse().map_err(|_| BadEventId)?,
        })
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
            let last = format!("{:?}", cursor.last_event(&sse::stopped(uuid::Uuid::nil())));
            assert!(last.contains(&format!("id: {cursor}.end\\n")), "{last}");
            assert_eq!(format!("{cursor}.end").parse::<Resume>().unwrap(), Resume::Ended);
            assert_eq!(cursor.to_string().parse::<Resume>().unwrap(), Resume::At(cursor));
        }
        for bad in ["", "1", "1.end", "1.2.3", "a.b.end", "1.2.End"] {
            assert!(bad.parse::<Resume>().is_err(), "{bad}");
        }
    }
}
