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
        use std::io::Write as _;
        // Two `usize`s in decimal and a dot.
        let mut buffer = std::io::Cursor::new([0u8; 41]);
        write!(buffer, "{self}").expect("41 bytes hold two usizes and a dot");
        let len = usize::try_from(buffer.position()).expect("at most 41");
        frame.event(Some(std::str::from_utf8(&buffer.get_ref()[..len]).expect("digits and a dot")))
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
pub(crate) struct Frame {
    pub cursor: Cursor,
    pub sse: sse::Frame,
}

impl Frame {
    pub(crate) fn event(&self) -> Event {
        self.cursor.event(&self.sse)
    }
}

/// Text that is not a cursor: a client's `Last-Event-ID` (or `after`) from elsewhere.
#[derive(Debug, thiserror::Error)]
#[error("`Last-Event-ID` (or `after`) must be an event id of this answer, like `120.0`.")]
pub(crate) struct BadCursor;

impl FromStr for Cursor {
    type Err = BadCursor;

    fn from_str(s: &str) -> Result<Self, BadCursor> {
        let (text, reasoning) = s.trim().split_once('.').ok_or(BadCursor)?;
        Ok(Self {
            text: text.parse().map_err(|_| BadCursor)?,
            reasoning: reasoning.parse().map_err(|_| BadCursor)?,
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
        }
    }
}
