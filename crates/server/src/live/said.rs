//! What a running answer has said, and the frames that carry it to the clients that follow.

use super::{Cursor, CursoredFrame};
use crate::sse;

/// What a running answer has said so far.
#[derive(Debug, Default)]
pub(super) struct Said {
    /// Its text and reasoning: every content frame's delta, in order. A follower is sent what
    /// lies past its cursor. Keeping the text rather than the frames costs a token's few bytes,
    /// not a frame's hundred (for a 4,000-token answer, 16 KB rather than 400 KB), and no
    /// allocation per token.
    pub(super) text: String,
    pub(super) reasoning: String,
    /// The last frame (`done`, `error` or `stopped`), once the answer has ended.
    pub(super) terminal: Option<CursoredFrame>,
}

impl Said {
    /// Where the answer has got to.
    pub(super) fn cursor(&self) -> Cursor {
        Cursor { text: self.text.len(), reasoning: self.reasoning.len() }
    }

    /// What a client at `from` has not been sent ([`past`]).
    pub(super) fn past(&self, from: Cursor) -> (Vec<CursoredFrame>, Cursor) {
        past(&self.text, &self.reasoning, from)
    }
}

/// What of an answer's `text` and `reasoning` a client at `from` has not been sent, a frame each
/// for the reasoning and the text past it (none where nothing is new), and where those frames
/// leave the client: from a running answer, or from the store. A cursor inside a character
/// (one the client made up) reads from the next one.
pub(super) fn past(text: &str, reasoning: &str, from: Cursor) -> (Vec<CursoredFrame>, Cursor) {
    fn rest(said: &str, from: usize) -> &str {
        &said[said.ceil_char_boundary(from)..]
    }
    let mut at = from;
    let mut frames = Vec::new();
    let rest_of_reasoning = rest(reasoning, from.reasoning);
    if !rest_of_reasoning.is_empty() {
        at.reasoning = reasoning.len();
        frames.push(CursoredFrame { cursor: at, sse: sse::reasoning(rest_of_reasoning) });
    }
    let rest_of_text = rest(text, from.text);
    if !rest_of_text.is_empty() {
        at.text = text.len();
        frames.push(CursoredFrame { cursor: at, sse: sse::token(rest_of_text) });
    }
    (frames, at)
}

impl CursoredFrame {
    /// What of this content frame a client at `held` still needs. A frame's cursor is where its
    /// delta ends, so it starts that many bytes earlier; only the part of the cursor the frame
    /// advances counts, so text and reasoning may interleave in any order.
    pub(super) fn rest(&self, held: Cursor) -> Rest {
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

/// What of a content frame a client still needs ([`CursoredFrame::rest`]).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Rest {
    /// None of it: the client holds all of it.
    Held,
    /// This frame: all of it, or the end the client does not hold.
    Part(CursoredFrame),
    /// The frame starts past what the client holds, so something between is missing.
    Gap,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follower_is_sent_the_reasoning_then_the_text_past_its_cursor() {
        let said = Said { text: "héllo".into(), reasoning: "hm".into(), terminal: None };
        let end = Cursor { text: 6, reasoning: 2 };

        let (all, at) = said.past(Cursor::default());
        assert_eq!(at, end);
        assert_eq!(
            all,
            [
                CursoredFrame { cursor: Cursor { text: 0, reasoning: 2 }, sse: sse::reasoning("hm") },
                CursoredFrame { cursor: end, sse: sse::token("héllo") },
            ]
        );
        // Inside `é` (bytes 1 and 2): from the next character on.
        let (rest, _) = said.past(Cursor { text: 2, reasoning: 2 });
        assert_eq!(rest, [CursoredFrame { cursor: end, sse: sse::token("llo") }]);
        assert_eq!(said.past(end), (Vec::new(), end));
        let beyond = Cursor { text: 60, reasoning: 9 };
        assert_eq!(said.past(beyond), (Vec::new(), beyond));
    }

    #[test]
    fn a_frame_from_redis_gives_a_follower_only_what_it_does_not_hold() {
        // A write's worth of text: bytes 4 to 10 of the answer, `é` at 6 and 7.
        let frame = CursoredFrame { cursor: Cursor { text: 10, reasoning: 3 }, sse: sse::token("abéde") };
        let held = |text| Cursor { text, reasoning: 3 };

        assert_eq!(frame.rest(held(4)), Rest::Part(frame.clone()));
        assert_eq!(
            frame.rest(held(5)),
            Rest::Part(CursoredFrame { cursor: frame.cursor, sse: sse::token("béde") })
        );
        // Inside `é`: from the next character.
        assert_eq!(
            frame.rest(held(7)),
            Rest::Part(CursoredFrame { cursor: frame.cursor, sse: sse::token("de") })
        );
        assert_eq!(frame.rest(held(10)), Rest::Held);
        assert_eq!(frame.rest(held(12)), Rest::Held);
        assert_eq!(frame.rest(held(2)), Rest::Gap, "bytes 2 and 3 are in no frame");
        // Reasoning counts on its own side of the cursor.
        let thought = CursoredFrame { cursor: Cursor { text: 10, reasoning: 3 }, sse: sse::reasoning("hm") };
        assert_eq!(
            thought.rest(Cursor { text: 0, reasoning: 2 }),
            Rest::Part(CursoredFrame { cursor: thought.cursor, sse: sse::reasoning("m") })
        );
    }
}
