//! A conversation's title from its first prompt.

/// Titles are cut to about this many characters, the ellipsis included.
const MAX_CHARS: usize = 60;

/// The prompt's first non-blank line, trimmed; past [`MAX_CHARS`] cut at the last space that
/// keeps at least half of it, and ended with `…`. Blank prompts give `""` (still untitled).
pub(crate) fn from_prompt(prompt: &str) -> String {
    let line = prompt.lines().map(str::trim).find(|line| !line.is_empty()).unwrap_or("");
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
    fn blank_prompts_leave_the_conversation_untitled() {
        assert_eq!(from_prompt(" \n\t "), "");
    }
}
