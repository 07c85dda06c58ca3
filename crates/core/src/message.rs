//! The conversation: who wrote each turn, and the blocks a turn holds (text, tool calls and
//! results, reasoning, images and documents).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Document, Image};

/// Who wrote a turn of the conversation. The system prompt travels separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One turn of the conversation: text, and for tool use and reasoning models the blocks that
/// go with it, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Content>,
}

/// One block of a turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text(String),
    /// The model's earlier reasoning, sent back where the provider requires it (tool use with
    /// thinking on): exactly as it came, with its signature.
    Reasoning(ReasoningBlock),
    /// The model asked for a tool (an assistant turn).
    ToolUse(ToolUse),
    /// What the tool returned (a user turn).
    ToolResult(ToolResult),
    /// An image the user shows the model (a tool's are in its result).
    Image(Image),
    /// A document the user gives the model to read (a tool's are in its result).
    Document(Document),
}

/// Reasoning as the provider sent it: readable text with the signature that proves it, or an
/// encrypted block when the provider redacted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum ReasoningBlock {
    Text {
        text: String,
        signature: Option<String>,
    },
    /// Base64 of the provider's opaque bytes.
    Redacted {
        data: String,
    },
}

/// A tool call the model made.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolUse {
    /// The provider's id for this call, which the result must name.
    pub id: String,
    pub name: String,
    /// The arguments: a JSON object.
    pub input: Value,
}

/// The answer to one tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub tool_use_id: String,
    /// The tool's output as text (JSON output is sent as its text).
    pub content: String,
    /// The images and documents it returned besides (a screenshot, a PDF it read), after its text.
    pub attachments: Vec<Attachment>,
    pub is_error: bool,
}

impl ToolResult {
    /// A result that is text alone.
    pub fn text(tool_use_id: impl Into<String>, content: impl Into<String>, is_error: bool) -> Self {
        Self { tool_use_id: tool_use_id.into(), content: content.into(), attachments: Vec::new(), is_error }
    }
}

/// An image or a document a tool returned.
#[derive(Debug, Clone, PartialEq)]
pub enum Attachment {
    Image(Image),
    Document(Document),
}

/// An image or a document a turn shows the model, the user's or a tool's: see
/// [`Message::shown`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shown<'a> {
    Image(&'a Image),
    Document(&'a Document),
}

impl Attachment {
    pub fn shown(&self) -> Shown<'_> {
        match self {
            Self::Image(image) => Shown::Image(image),
            Self::Document(document) => Shown::Document(document),
        }
    }
}

impl Message {
    pub fn user(content: impl Into<String>) -> Self {
        Self { role: Role::User, content: vec![Content::Text(content.into())] }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self { role: Role::Assistant, content: vec![Content::Text(content.into())] }
    }

    /// The text blocks, a blank line between two (turns of one role merged into one, or a
    /// message's separate blocks): what a text-only model reads.
    pub fn text(&self) -> String {
        let mut texts = self.content.iter().filter_map(|c| match c {
            Content::Text(text) => Some(text.as_str()),
            _ => None,
        });
        match (texts.next(), texts.next()) {
            (Some(one), None) => one.to_owned(),
            (first, second) => first.into_iter().chain(second).chain(texts).collect::<Vec<_>>().join("\n\n"),
        }
    }

    /// Characters of text, text documents, tool input and tool output, for the size limits.
    pub fn chars(&self) -> usize {
        self.content
            .iter()
            .map(|c| match c {
                Content::Text(text) => text.chars().count(),
                Content::Reasoning(_) | Content::Image(_) => 0,
                Content::Document(document) => document.chars(),
                Content::ToolUse(call) => call.name.len() + call.input.to_string().chars().count(),
                Content::ToolResult(result) => {
                    let documents = result.attachments.iter().map(|attachment| match attachment {
                        Attachment::Document(document) => document.chars(),
                        Attachment::Image(_) => 0,
                    });
                    result.content.chars().count() + documents.sum::<usize>()
                }
            })
            .sum()
    }

    /// The images and documents of the turn, a tool's (inside its result) included, in order.
    pub fn shown(&self) -> impl Iterator<Item = Shown<'_>> {
        self.content.iter().flat_map(|c| {
            let (alone, returned) = match c {
                Content::Image(image) => (Some(Shown::Image(image)), &[][..]),
                Content::Document(document) => (Some(Shown::Document(document)), &[][..]),
                Content::ToolResult(result) => (None, result.attachments.as_slice()),
                _ => (None, &[][..]),
            };
            alone.into_iter().chain(returned.iter().map(Attachment::shown))
        })
    }

    /// The documents of the turn (a tool's included), in order.
    pub fn documents(&self) -> impl Iterator<Item = &Document> {
        self.shown().filter_map(|shown| match shown {
            Shown::Document(document) => Some(document),
            Shown::Image(_) => None,
        })
    }

    /// Whether the turn calls a tool or returns a tool's result.
    pub fn has_tool_content(&self) -> bool {
        self.content.iter().any(|c| matches!(c, Content::ToolUse(_) | Content::ToolResult(_)))
    }
}
