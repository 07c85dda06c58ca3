//! The caller's stop sequences, found in the answer as it streams: the answer ends where one
//! first appears, without it, as Bedrock and the APIs the server speaks end theirs. Text that
//! could still be the start of a sequence is held back until the next piece says whether it is.
//! Written here because the sequences are matched on decoded text, after [`crate::decode`]; the
//! emulator ends its scripted answers with the same matcher.

use std::mem;

/// Finds stop sequences in an answer as it streams.
#[derive(Debug, Default)]
pub struct StopText {
    sequences: Vec<String>,
    /// Generated text not passed on yet: its end may begin a stop sequence.
    held: String,
}

impl StopText {
    pub fn new(sequences: &[String]) -> Self {
        Self { sequences: sequences.iter().filter(|s| !s.is_empty()).cloned().collect(), held: String::new() }
    }

    /// Takes the next piece of the answer; gives the text that may be shown now (perhaps
    /// empty), and whether a stop sequence ended the answer there.
    pub fn push(&mut self, piece: String) -> (String, bool) {
        if self.sequences.is_empty() {
            return (piece, false);
        }
        self.held.push_str(&piece);
        // The sequence that is complete first, as a model writing token by token would meet it
        // (of two ending together, the one that starts first), however the text was cut.
        let found = self
            .sequences
            .iter()
            .filter_map(|s| self.held.find(s.as_str()).map(|at| (at + s.len(), at)))
            .min();
        if let Some((_, at)) = found {
            self.held.truncate(at);
            return (mem::take(&mut self.held), true);
        }
        let kept = self.held.split_off(self.partial_start());
        (mem::replace(&mut self.held, kept), false)
    }

    /// What is still held when the answer ends without a stop sequence.
    pub fn finish(&mut self) -> String {
        mem::take(&mut self.held)
    }

    /// Where the longest end of the held text that begins a stop sequence starts (its length
    /// when none does).
    fn partial_start(&self) -> usize {
        self.held
            .char_indices()
            .map(|(at, _)| at)
            .find(|&at| self.sequences.iter().any(|s| s.starts_with(&self.held[at..])))
            .unwrap_or(self.held.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pieces as shown, and whether a sequence stopped them.
    fn stream(sequences: &[&str], pieces: &[&str]) -> (Vec<String>, bool) {
        let sequences: Vec<String> = sequences.iter().map(|s| (*s).to_owned()).collect();
        let mut stops = StopText::new(&sequences);
        let mut shown = Vec::new();
        for piece in pieces {
            let (text, stopped) = stops.push((*piece).to_owned());
            shown.push(text);
            if stopped {
                return (shown, true);
            }
        }
        shown.push(stops.finish());
        (shown, false)
    }

    #[test]
    fn the_answer_ends_before_the_first_sequence_even_across_pieces() {
        assert_eq!(
            stream(&["."], &["Paris", " is big.", " More"]),
            (vec!["Paris".into(), " is big".into()], true)
        );
        let (shown, stopped) = stream(&["END"], &["one E", "N", "D two"]);
        assert_eq!((shown.concat(), stopped), ("one ".into(), true));
        let (shown, stopped) = stream(&["b", "a"], &["xab"]);
        assert_eq!((shown.concat(), stopped), ("x".into(), true), "the earliest of several");
        for pieces in [&["ab", "c"][..], &["a", "bc"], &["abc"]] {
            let (shown, stopped) = stream(&["abc", "b"], pieces);
            assert_eq!((shown.concat(), stopped), ("a".into(), true), "the first complete: {pieces:?}");
        }
    }

    #[test]
    fn text_that_only_began_a_sequence_is_shown_when_it_turns_out_not_to() {
        let (shown, stopped) = stream(&["END"], &["one E", "N", "ding"]);
        assert_eq!(shown, ["one ", "", "ENding", ""]);
        assert!(!stopped);
        let (shown, stopped) = stream(&["END"], &["the E"]);
        assert_eq!((shown, stopped), (vec!["the ".into(), "E".into()], false), "held text ends the answer");
    }

    #[test]
    fn an_empty_sequence_stops_nothing_and_text_is_held_whole_characters_at_a_time() {
        assert_eq!(stream(&[""], &["a.", "é"]), (vec!["a.".into(), "é".into(), String::new()], false));
        let (shown, _) = stream(&["ü!"], &["grün", "ü"]);
        assert_eq!(shown.concat(), "grünü", "held back at a character boundary");
    }
}
