//! A conversation as a file to keep: Markdown to read, or the same JSON the API returns.

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use streambed_core::Role;
use streambed_store::{ConversationWithMessages, MessageStatus, StoredMessage};
use uuid::Uuid;

use super::wire;

/// `?format=`: `markdown` (the default) or `json`.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Format {
    #[default]
    Markdown,
    Json,
}

pub(super) fn response(conversation: ConversationWithMessages, format: Format) -> Response {
    let extension = match format {
        Format::Markdown => "md",
        Format::Json => "json",
    };
    let disposition = disposition(&conversation.conversation.title, conversation.conversation.id, extension);
    let (body, content_type) = match format {
        Format::Markdown => (markdown(&conversation), "text/markdown; charset=utf-8"),
        Format::Json => (
            serde_json::to_string_pretty(&wire::ConversationWithMessages::from(conversation))
                .expect("stored conversations serialise"),
            "application/json",
        ),
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).expect("ASCII: see disposition"),
            ),
        ],
        body,
    )
        .into_response()
}

/// The most characters of the title a file name keeps.
const NAME_CHARS: usize = 60;

/// What a file name may hold besides letters and digits: `-`, which stands for the rest.
const KEPT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-');

/// An attachment named after the conversation's title (RFC 6266): `filename*` in UTF-8, which
/// browsers prefer, and an ASCII `filename` for the rest, the conversation's id when the title
/// has no ASCII letter or digit. Letters and digits are kept, any run of other characters
/// becomes one `-`, so that no file system or header refuses the name.
fn disposition(title: &str, id: Uuid, extension: &str) -> String {
    let unicode = file_stem(title, char::is_alphanumeric);
    let ascii = file_stem(title, |c| c.is_ascii_alphanumeric());
    let ascii = if ascii.is_empty() { format!("conversation-{id}") } else { ascii };
    let mut header = format!("attachment; filename=\"{ascii}.{extension}\"");
    if !unicode.is_empty() && unicode != ascii {
        let encoded = utf8_percent_encode(&unicode, KEPT);
        header.push_str(&format!("; filename*=UTF-8''{encoded}.{extension}"));
    }
    header
}

/// `title`'s first [`NAME_CHARS`] characters that `keep` keeps, each run of others one `-`,
/// with none at either end.
fn file_stem(title: &str, keep: impl Fn(char) -> bool) -> String {
    let mut stem = String::new();
    for c in title.chars().take(NAME_CHARS) {
        if keep(c) {
            stem.push(c);
        } else if !stem.is_empty() && !stem.ends_with('-') {
            stem.push('-');
        }
    }
    stem.trim_end_matches('-').to_owned()
}

/// `# Title`, then each turn under a heading naming its author, with a note for answers that
/// did not complete.
pub(super) fn markdown(conversation: &ConversationWithMessages) -> String {
    let title = match conversation.conversation.title.as_str() {
        "" => "Untitled conversation",
        title => title,
    };
    let mut out = format!("# {title}\n");
    for message in &conversation.messages {
        out.push_str(&format!("\n## {}\n\n", author(message)));
        let mut fences = Fences::default();
        for line in message.content.trim_end().lines() {
            // A message's own headings go below its turn's, so the file's outline stays the
            // conversation's; code is left as it is.
            let code = fences.read(line);
            out.push_str(&if code { line.into() } else { nested_heading(line) });
            out.push('\n');
        }
        if let Some(fence) = fences.closing() {
            out.push_str(&fence);
            out.push('\n');
        }
        if let Some(note) = note(message) {
            out.push_str(&format!("\n> {note}\n"));
        }
    }
    out
}

/// A message's code fences, read line by line: which lines are code, and the fence the text
/// leaves open, if any, to close it with (an answer cut off by Stop or the token limit inside a
/// code block would otherwise take the rest of the file into it). Fences as CommonMark has
/// them: three or more backticks (with no backtick after them) or tildes, indented by three
/// spaces at most, closed by a run of the same character at least as long with nothing after
/// it. The closing fence keeps the opening one's indent, so that a block in a list item is
/// closed inside that item.
#[derive(Debug, Default)]
struct Fences {
    /// The open fence: its indent, character and length.
    open: Option<(usize, char, usize)>,
}

impl Fences {
    /// Reads the next line; whether it is code (a fence, or inside one).
    fn read(&mut self, line: &str) -> bool {
        let inside = self.open.is_some();
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        let Some(mark) = trimmed.chars().next().filter(|c| matches!(c, '`' | '~') && indent <= 3) else {
            return inside;
        };
        let run = trimmed.chars().take_while(|c| *c == mark).count();
        let after = &trimmed[run..];
        match self.open {
            _ if run < 3 => {}
            None if mark == '`' && after.contains('`') => {}
            None => self.open = Some((indent, mark, run)),
            Some((_, opened, length)) if opened == mark && run >= length && after.trim().is_empty() => {
                self.open = None;
            }
            Some(_) => {}
        }
        inside || self.open.is_some()
    }

    /// The fence that closes the block still open.
    fn closing(&self) -> Option<String> {
        self.open.map(|(indent, mark, length)| {
            format!("{}{}", " ".repeat(indent), mark.to_string().repeat(length))
        })
    }
}

/// `line`, if it is a heading (`#` to `######`, indented by three spaces at most), two levels
/// down (to `######` at most): below the file's `#` title and its turns' `##`.
fn nested_heading(line: &str) -> String {
    let trimmed = line.trim_start_matches(' ');
    let level = trimmed.chars().take_while(|c| *c == '#').count();
    let heading = line.len() - trimmed.len() <= 3
        && (1..=6).contains(&level)
        && trimmed[level..].chars().next().is_none_or(|c| c == ' ' || c == '\t');
    if !heading {
        return line.to_owned();
    }
    format!("{}{}", "#".repeat((level + 2).min(6)), &trimmed[level..])
}

fn author(message: &StoredMessage) -> String {
    match (message.role, &message.model) {
        (Role::User, _) => "You".into(),
        (Role::Assistant, Some(model)) => format!("Assistant ({model})"),
        (Role::Assistant, None) => "Assistant".into(),
    }
}

fn note(message: &StoredMessage) -> Option<String> {
    match message.status {
        MessageStatus::Complete => None,
        MessageStatus::Streaming => Some("_Still being written when exported._".into()),
        MessageStatus::Stopped => Some("_Stopped before the end._".into()),
        MessageStatus::Interrupted => Some("_Interrupted: the server stopped while answering._".into()),
        MessageStatus::Error => {
            Some(format!("_Failed ({})._", message.error_code.as_deref().unwrap_or("error")))
        }
    }
}

#[cfg(test)]
mod tests {
    use streambed_store::Conversation;
    use time::OffsetDateTime;

    use super::*;

    fn open_fence(text: &str) -> Option<String> {
        let mut fences = Fences::default();
        text.lines().for_each(|line| {
            fences.read(line);
        });
        fences.closing()
    }

    #[test]
    fn a_message_s_headings_go_below_its_turn_and_code_is_left_alone() {
        let text =
            "# Plan\n## Steps\n   ### Three\n###### Six\n#hashtag\n    # indented code\n```\n# comment\n```";
        let mut fences = Fences::default();
        let nested: Vec<String> = text
            .lines()
            .map(|line| if fences.read(line) { line.to_owned() } else { nested_heading(line) })
            .collect();

        assert_eq!(
            nested,
            [
                "### Plan",
                "#### Steps",
                "##### Three",
                "###### Six",
                "#hashtag",
                "    # indented code",
                "```",
                "# comment",
                "```"
            ]
        );
    }

    #[test]
    fn a_code_block_an_answer_left_open_is_closed_before_the_next_turn() {
        assert_eq!(open_fence("```rust\nfn main() {"), Some("```".into()));
        assert_eq!(
            open_fence("````\n```\nstill inside"),
            Some("````".into()),
            "a shorter run does not close it"
        );
        assert_eq!(open_fence("~~~\ncode\n~~~\n\n```py\nx = 1\n```"), None);
        assert_eq!(open_fence("    ```\nindented four: not a fence"), None);
        assert_eq!(open_fence("1. Run:\n   ```bash\n   make"), Some("   ```".into()), "inside its list item");
        assert_eq!(open_fence("``` a`b\nnot a fence: a backtick in its info string"), None);
        assert_eq!(open_fence("```\ncode\n```   \n"), None, "a closing fence may end in spaces");

        let now = OffsetDateTime::now_utc();
        let mut cut = StoredMessage::new(Role::Assistant, "Here:\n```rust\nfn main() {", now);
        cut.status = MessageStatus::Stopped;
        let conversation = ConversationWithMessages {
            conversation: Conversation {
                id: Uuid::nil(),
                title: "T".into(),
                model: None,
                created_at: now,
                updated_at: now,
            },
            messages: vec![cut, StoredMessage::new(Role::User, "Go on", now)],
        };

        let file = markdown(&conversation);

        assert!(file.contains("fn main() {\n```\n\n> _Stopped before the end._\n\n## You"), "{file}");
    }

    #[test]
    fn the_file_is_named_after_the_title() {
        let id = Uuid::nil();

        assert_eq!(
            disposition("Three points about serverless", id, "md"),
            "attachment; filename=\"Three-points-about-serverless.md\""
        );
        assert_eq!(
            disposition("Crème brûlée? 🍮 \"recipe\"", id, "json"),
            "attachment; filename=\"Cr-me-br-l-e-recipe.json\"; \
             filename*=UTF-8''Cr%C3%A8me-br%C3%BBl%C3%A9e-recipe.json"
        );
        assert_eq!(
            disposition("日本語", id, "md"),
            format!(
                "attachment; filename=\"conversation-{id}.md\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.md"
            )
        );
        assert_eq!(disposition("", id, "md"), format!("attachment; filename=\"conversation-{id}.md\""));
        assert_eq!(disposition("?!", id, "md"), format!("attachment; filename=\"conversation-{id}.md\""));
        let long = "a".repeat(200);
        assert_eq!(
            disposition(&long, id, "md"),
            format!("attachment; filename=\"{}.md\"", "a".repeat(NAME_CHARS))
        );
    }
}
