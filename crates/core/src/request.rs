use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// An image's bytes and their format.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    pub format: ImageFormat,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the bytes: a megabyte of numbers in a log line says nothing.
        f.debug_struct("Image").field("format", &self.format).field("bytes", &self.data.len()).finish()
    }
}

/// The image formats the models take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageFormat {
    /// The format of a media type (`image/png`, …), if a model takes it.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        match media_type.trim().to_ascii_lowercase().as_str() {
            "image/png" => Some(Self::Png),
            "image/jpeg" | "image/jpg" => Some(Self::Jpeg),
            "image/gif" => Some(Self::Gif),
            "image/webp" => Some(Self::Webp),
            _ => None,
        }
    }

    /// The media types a model takes, for a refusal to name.
    pub const MEDIA_TYPES: &str = "image/png, image/jpeg, image/gif or image/webp";
}

/// A document's bytes, their format, and what the client called it.
#[derive(Clone, PartialEq, Eq)]
pub struct Document {
    pub format: DocumentFormat,
    /// The client's name for it (a title, a file name), if it gave one.
    pub name: Option<String>,
    /// What the client says about it beside its content (the Messages API's `context`).
    pub context: Option<String>,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("format", &self.format)
            .field("name", &self.name)
            .field("bytes", &self.data.len())
            .finish_non_exhaustive()
    }
}

impl Document {
    /// Characters of a document that is text (TXT, Markdown, CSV, HTML), for the size limits;
    /// 0 for the others, whose bytes are not characters (the body limit bounds them).
    pub fn chars(&self) -> usize {
        match self.format {
            DocumentFormat::Txt | DocumentFormat::Md | DocumentFormat::Csv | DocumentFormat::Html => {
                String::from_utf8_lossy(&self.data).chars().count()
            }
            _ => 0,
        }
    }
}

/// A media type without its parameters, in lower case: `text/plain` of ` Text/Plain; charset=utf-8`.
fn essence(media_type: &str) -> String {
    media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// The document formats the models read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentFormat {
    Pdf,
    Csv,
    Doc,
    Docx,
    Xls,
    Xlsx,
    Html,
    Txt,
    Md,
}

impl DocumentFormat {
    /// Every format, with its media type.
    const ALL: [(Self, &str); 9] = [
        (Self::Pdf, "application/pdf"),
        (Self::Csv, "text/csv"),
        (Self::Doc, "application/msword"),
        (Self::Docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (Self::Xls, "application/vnd.ms-excel"),
        (Self::Xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (Self::Html, "text/html"),
        (Self::Txt, "text/plain"),
        (Self::Md, "text/markdown"),
    ];

    /// The format of a media type (`application/pdf`, `text/plain; charset=utf-8`, …), if a
    /// model reads it.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        let essence = essence(media_type);
        if essence == "text/x-markdown" {
            return Some(Self::Md);
        }
        Self::ALL.iter().find(|(_, media)| *media == essence).map(|(format, _)| *format)
    }

    /// Whether a media type says nothing of a file's format (`application/octet-stream`, S3's
    /// `binary/octet-stream`, or none at all), so that only its name can.
    pub fn says_nothing(media_type: &str) -> bool {
        matches!(essence(media_type).as_str(), "" | "application/octet-stream" | "binary/octet-stream")
    }

    /// The format a file name's extension says (`report.PDF`), if a model reads it.
    pub fn from_file_name(name: &str) -> Option<Self> {
        Self::from_extension(name.rsplit_once('.')?.1)
    }

    /// The format of a file extension (`pdf`, `HTM`, …), as Converse names formats.
    pub fn from_extension(extension: &str) -> Option<Self> {
        let extension = extension.to_ascii_lowercase();
        let extension = match extension.as_str() {
            "htm" => "html",
            "markdown" => "md",
            other => other,
        };
        Self::ALL.iter().map(|(format, _)| *format).find(|format| format.extension() == extension)
    }

    /// The file extension, as Converse names the format.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Csv => "csv",
            Self::Doc => "doc",
            Self::Docx => "docx",
            Self::Xls => "xls",
            Self::Xlsx => "xlsx",
            Self::Html => "html",
            Self::Txt => "txt",
            Self::Md => "md",
        }
    }

    /// The formats a model reads, for a refusal to name.
    pub const NAMES: &str = "PDF, CSV, DOC, DOCX, XLS, XLSX, HTML, TXT or Markdown";
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

/// Sampling settings; `None` leaves the provider's own default in place.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct InferenceParams {
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
}

/// How hard a reasoning model may think before it answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reasoning {
    /// No reasoning requested.
    #[default]
    Off,
    Low,
    Medium,
    High,
    /// A token budget, as the Anthropic API's `thinking.budget_tokens` asks; a provider whose
    /// model takes an effort level maps it to the nearest one.
    #[serde(skip)]
    Budget(u32),
}

impl Reasoning {
    pub fn is_on(self) -> bool {
        self != Self::Off
    }

    /// The word for this level (`budget` for an explicit budget).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Budget(_) => "budget",
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the input object.
    pub input_schema: Value,
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides.
    #[default]
    Auto,
    /// The model must call some tool.
    Any,
    /// The model must call this tool.
    Tool(String),
    /// The model must not call a tool (the tools still describe the earlier calls).
    None,
}

/// A JSON Schema the answer's text must follow (structured output): the answer is then one
/// JSON value of that schema, as text.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSchema {
    pub name: Option<String>,
    pub description: Option<String>,
    pub schema: Value,
}

impl OutputSchema {
    /// JSON Schema keywords Claude's structured outputs cannot enforce (Anthropic, "Structured
    /// outputs", JSON Schema limitations), besides `minItems` above 1: `streambed-bedrock` puts
    /// them into words for Claude, and the emulator refuses them as Claude does.
    pub const CLAUDE_UNENFORCED: [&str; 11] = [
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
    ];
}

/// A chat request: the conversation so far and the options. It may end with an assistant turn
/// for the model to continue, where the provider allows that (`bedrock` checks its rules); the
/// server's routes send only conversations that end with the user's turn.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub system: Option<String>,
    pub messages: Vec<Message>,
    pub params: InferenceParams,
    /// Sequences that end the answer when the model writes them.
    pub stop_sequences: Vec<String>,
    pub reasoning: Reasoning,
    pub tools: Vec<ToolSpec>,
    pub tool_choice: ToolChoice,
    /// The schema the answer must follow, when the client asked for structured output.
    pub output_schema: Option<OutputSchema>,
    /// The client marked parts of its prompt for caching (Anthropic's `cache_control`): a
    /// provider that caches prompts caches this one's, as it would with caching turned on.
    pub cache_prompt: bool,
}

impl ChatRequest {
    /// A request for these turns with every option left at the provider's default.
    pub fn new(messages: Vec<Message>) -> Self {
        Self {
            system: None,
            messages,
            params: InferenceParams::default(),
            stop_sequences: Vec::new(),
            reasoning: Reasoning::Off,
            tools: Vec::new(),
            tool_choice: ToolChoice::Auto,
            output_schema: None,
            cache_prompt: false,
        }
    }

    /// A single-turn request, the seed's `{"prompt": …}` form.
    pub fn from_prompt(prompt: impl Into<String>) -> Self {
        Self::new(vec![Message::user(prompt)])
    }

    /// The text of the last user turn, if the conversation has one.
    pub fn last_user_text(&self) -> Option<String> {
        self.messages.iter().rev().find(|m| m.role == Role::User).map(Message::text)
    }

    /// Whether the request needs a model that can call tools.
    pub fn uses_tools(&self) -> bool {
        !self.tools.is_empty() || self.messages.iter().any(Message::has_tool_content)
    }

    /// Whether the request shows the model images (a tool's included).
    pub fn has_images(&self) -> bool {
        self.messages.iter().flat_map(Message::shown).any(|shown| matches!(shown, Shown::Image(_)))
    }

    /// The documents the request gives the model (a tool's included), in order.
    pub fn documents(&self) -> impl Iterator<Item = &Document> {
        self.messages.iter().flat_map(Message::documents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_format_is_read_from_a_media_type_or_a_file_name() {
        assert_eq!(DocumentFormat::from_media_type("application/pdf"), Some(DocumentFormat::Pdf));
        assert_eq!(DocumentFormat::from_media_type(" Text/Plain; charset=utf-8"), Some(DocumentFormat::Txt));
        assert_eq!(DocumentFormat::from_media_type("text/x-markdown"), Some(DocumentFormat::Md));
        assert_eq!(DocumentFormat::from_media_type("image/png"), None);
        for generic in
            ["", "application/octet-stream; name=a.pdf", "Application/Octet-Stream", "binary/octet-stream"]
        {
            assert!(DocumentFormat::says_nothing(generic), "{generic}");
        }
        assert!(!DocumentFormat::says_nothing("image/png"));
        assert_eq!(DocumentFormat::from_file_name("Q3 report.PDF"), Some(DocumentFormat::Pdf));
        assert_eq!(DocumentFormat::from_file_name("notes.markdown"), Some(DocumentFormat::Md));
        assert_eq!(DocumentFormat::from_file_name("page.htm"), Some(DocumentFormat::Html));
        assert_eq!(DocumentFormat::from_file_name("archive.zip"), None);
        assert_eq!(DocumentFormat::from_file_name("README"), None);
        assert_eq!(DocumentFormat::Xlsx.extension(), "xlsx");
    }
}
