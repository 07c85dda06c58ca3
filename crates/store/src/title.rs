//! A conversation's title: one a person gives it ([`Title`]), or one taken from its first
//! prompt ([`from_prompt`]).

/// A title a person gives a conversation: one line, trimmed, not empty, at most
/// [`Title::MAX_CHARS`] characters. A conversation without one is untitled (`""`) until its first
/// prompt names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

/// Why a title was refused; the message names the field, for the person who sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadTitle {
    #[error("`title` may have at most {} characters.", Title::MAX_CHARS)]
    TooLong,
    #[error("`title` must be one line of text.")]
    NotOneLine,
    #[error("`title` must not be empty.")]
    Empty,
}

impl Title {
    pub const MAX_CHARS: usize = 200;

    /// `raw`, trimmed.
    pub fn new(raw: &str) -> Result<Self, BadTitle> {
        let title = raw.trim();
        if title.is_empty() {
            return Err(BadTitle::Empty);
        }
        if title.chars().count() > Self::MAX_CHARS {
            return Err(BadTitle::TooLong);
        }
        if title.chars().any(char::is_control) {
            return Err(BadTitle::NotOneLine);
        }
        Ok(Self(title.to_owned()))
    }

    /// [`Title::new`] where a blank title means none: what a new conversation may be given.
    pub fn optional(raw: &str) -> Result<Option<Self>, BadTitle> {
        if raw.trim().is_empty() { Ok(None) } else { Self::new(raw).map(Some) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Titles from a prompt are cut to about this many characters, the ellipsis included.
const MAX_CHARS: usize = 60;

/// The prompt's first line with words, trimmed (see [`says_something`]); past [`MAX_CHARS`] cut at the last space that keeps at least half of it, and ended with
/// `…`. Blank prompts give `""` (still untitled).
pub(crate) fn from_prompt(prompt: &str) -> String {
    let line = prompt.lines().map(str::trim).find(|line| says_something(line)).unwrap_or("");
    let Some((cut, _)) = line.char_indices().nth(MAX_CHARS - 1) else {
        return line.to_owned();
    };
    if line[cut..].chars().nth(1).is_none() {
        return line.to_owned(); // exactly MAX_CHARS: it fits
    }
    let head = &line[..cut];
    let head = match head.rfind(char::is_whitespace) {
        Some(space) if head[..space].chars().count() >= MAX_CHARS / 2 => &head[..space],
        _ => head,
    };
    format!("{}…", head.trim_end())
}

/// Whether a line could name the prompt: it has a letter or digit (a JSON block's `{` does not),
/// and is not a code fence's marker, with or without its language (```` ```rust ````).
fn says_something(line: &str) -> bool {
    let marker = ["```", "~~~"].iter().find_map(|fence| line.strip_prefix(fence));
    let fence = marker.is_some_and(|info| !info.contains('`'));
    !fence && line.chars().any(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_prompts_are_their_own_title() {
        assert_eq!(from_prompt("  What is Rust?  "), "What is Rust?");
        assert_eq!(from_prompt(&"a".repeat(MAX_CHARS)), "a".repeat(MAX_CHARS));
    }

    #[test]
    fn only_the_first_non_blank_line_counts() {
        assert_eq!(from_prompt("\n\n  Explain this:\nfn main() {}"), "Explain this:");
    }

    #[test]
    fn a_prompt_that_opens_with_code_is_titled_by_its_first_line_of_code() {
        assert_eq!(from_prompt("```rust\nfn main() {}\n```\nWhy?"), "fn main() {}");
        assert_eq!(from_prompt("~~~\n\nSELECT 1;\n~~~"), "SELECT 1;");
        assert_eq!(from_prompt("```json\n{\n  \"a\": 1\n}\n```"), "\"a\": 1");
        assert_eq!(
            from_prompt("```x``` fails to build"),
            "```x``` fails to build",
            "code inline, not a fence"
        );
    }

    #[test]
    fn long_prompts_are_cut_at_a_word_with_an_ellipsis() {
        let prompt = "Summarise the attached meeting notes and list every action item with its owner";

        let title = from_prompt(prompt);

        assert_eq!(title, "Summarise the attached meeting notes and list every action…");
        assert!(title.chars().count() <= MAX_CHARS);
    }

    #[test]
    fn a_long_word_is_cut_inside_it() {
        let title = from_prompt(&"é".repeat(200));

        assert_eq!(title.chars().count(), MAX_CHARS);
        assert!(title.ends_with("é…"));
    }

    #[test]
    fn a_title_is_one_trimmed_line_of_at_most_200_characters() {
        assert_eq!(Title::new("  Trip plans \n").map(|t| t.as_str().to_owned()), Ok("Trip plans".into()));
        assert_eq!(Title::new(" "), Err(BadTitle::Empty));
        assert_eq!(Title::optional(" "), Ok(None));
        assert_eq!(Title::new("two\nlines"), Err(BadTitle::NotOneLine));
        assert!(Title::new(&"é".repeat(Title::MAX_CHARS)).is_ok());
        assert_eq!(Title::new(&"é".repeat(Title::MAX_CHARS + 1)), Err(BadTitle::TooLong));
    }

    #[test]
    fn blank_prompts_leave_the_conversation_untitled() {
        assert_eq!(from_prompt(" \n\t "), "");
    }
}
