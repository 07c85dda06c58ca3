//! A conversation as a file to keep: Markdown to read, or the same JSON the API returns.

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use streambed_core::Role;
use streambed_store::{ConversationWithMessages, MessageStatus, StoredMessage};

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
    let id = conversation.conversation.id;
    let (body, content_type, extension) = match format {
        Format::Markdown => (markdown(&conversation), "text/markdown; charset=utf-8", "md"),
        Format::Json => (
            serde_json::to_string_pretty(&wire::ConversationWithMessages::from(conversation))
                .expect("stored conversations serialise"),
            "application/json",
            "json",
        ),
    };
    let disposition = format!("attachment; filename=\"conversation-{id}.{extension}\"");
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).expect("a uuid and ASCII")),
        ],
        body,
    )
        .into_response()
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
        out.push_str(message.content.trim_end());
        out.push('\n');
        if let Some(note) = note(message) {
            out.push_str(&format!("\n> {note}\n"));
        }
    }
    out
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
