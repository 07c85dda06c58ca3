//! The Anthropic Messages API on the wire: the request body of `POST /v1/messages` (and of
//! `count_tokens`), the `message` object, and the stream events. Unknown fields are ignored,
//! as `metadata` and `service_tier` are; `cache_control` is read only for whether it is there.

use serde::{Deserialize, Deserializer, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::extract::object;

/// `POST /v1/messages`; `POST /v1/messages/count_tokens` sends the same without `max_tokens`.
#[derive(Debug, Deserialize)]
pub(crate) struct MessagesRequest {
    pub model: String,
    pub messages: Vec<InputMessage>,
    /// A string or text blocks.
    pub system: Option<Blocks<SystemBlock>>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    pub stream: bool,
    pub tools: Option<Vec<Tool>>,
    pub tool_choice: Option<ToolChoice>,
    pub thinking: Option<Thinking>,
    #[serde(default, deserialize_with = "object")]
    pub output_config: Option<OutputConfig>,
    /// The structured-outputs beta's name for `output_config.format`.
    #[serde(default, deserialize_with = "object")]
    pub output_format: Option<OutputFormat>,
    /// Message threads (the SDKs' `messages.thread` and tool runners): the server would have to
    /// keep the conversation, which this API does not, so any thread is refused in the words
    /// the SDKs recognise, and they send the whole conversation instead.
    #[serde(default)]
    pub thread: Option<Value>,
    /// Automatic caching: the prompt is cached as with marks on its blocks.
    pub cache_control: Option<Value>,
    /// Read to be refused: Anthropic's API connects MCP servers and runs containers itself,
    /// which this server does not (ignored, the model would answer without them).
    pub mcp_servers: Option<Value>,
    pub container: Option<Value>,
}

/// A block of `system`: text only.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum SystemBlock {
    Text { text: String, cache_control: Option<Value> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    User,
    Assistant,
    /// Instructions in the course of the conversation (the `mid-conversation-system` beta,
    /// which Claude Code sends).
    System,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InputMessage {
    pub role: Role,
    pub content: Blocks<InputBlock>,
}

/// Content given as a string (one text block) or as blocks. Parsed by hand so that a bad
/// block is reported as such, not as "did not match any variant".
#[derive(Debug)]
pub(crate) enum Blocks<B> {
    Text(String),
    Blocks(Vec<B>),
}

impl<'de, B: DeserializeOwned> Deserialize<'de> for Blocks<B> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(Self::Text(text)),
            blocks @ Value::Array(_) => {
                serde_json::from_value(blocks).map(Self::Blocks).map_err(serde::de::Error::custom)
            }
            other => Err(serde::de::Error::custom(format!(
                "`content` must be a string or an array of content blocks, not {other}"
            ))),
        }
    }
}

/// A block of a message the client sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum InputBlock {
    Text {
        text: String,
        cache_control: Option<Value>,
    },
    Image {
        source: ImageSource,
    },
    Document(DocumentBlock),
    ToolUse {
        id: String,
        name: String,
        input: Map<String, Value>,
        cache_control: Option<Value>,
    },
    ToolResult {
        tool_use_id: String,
        content: Option<Blocks<ResultBlock>>,
        is_error: Option<bool>,
        cache_control: Option<Value>,
    },
    Thinking {
        thinking: String,
        signature: Option<String>,
    },
    RedactedThinking {
        data: String,
    },
}

/// A block inside a `tool_result`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ResultBlock {
    Text { text: String },
    Image { source: ImageSource },
    Document(DocumentBlock),
}

/// Where an image's bytes are: inline (`base64`, with `media_type` and `data`), or elsewhere
/// (`url`, `file`), which this server does not fetch. A struct, not a tagged enum: serde would
/// take a number for the tag (`"type": 0` as the first variant).
#[derive(Debug, Deserialize)]
pub(crate) struct ImageSource {
    #[serde(rename = "type")]
    pub kind: String,
    pub media_type: Option<String>,
    pub data: Option<String>,
}

/// A `document` block: its source, and what the client says about it.
#[derive(Debug, Deserialize)]
pub(crate) struct DocumentBlock {
    pub source: DocumentSource,
    pub title: Option<String>,
    pub context: Option<String>,
    pub citations: Option<Citations>,
    pub cache_control: Option<Value>,
}

/// Where a document's content is: inline (`base64` with `media_type` and `data`, `text` with
/// `data`, `content` with text blocks), or elsewhere (`url`, `file`), which this server does not
/// fetch. A struct for the reason [`ImageSource`] is one.
#[derive(Debug, Deserialize)]
pub(crate) struct DocumentSource {
    #[serde(rename = "type")]
    pub kind: String,
    pub media_type: Option<String>,
    pub data: Option<String>,
    pub content: Option<Blocks<SourceBlock>>,
}

/// A block of a `content` document source.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum SourceBlock {
    Text { text: String },
    Image {},
}

#[derive(Debug, Deserialize)]
pub(crate) struct Citations {
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Tool {
    /// Absent or `custom` for a client tool; server tools (`web_search_…`, `bash_…`) name
    /// their version here.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub input_schema: Option<Map<String, Value>>,
    pub cache_control: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ToolChoice {
    Auto {},
    Any {},
    Tool { name: String },
    None {},
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Thinking {
    Enabled { budget_tokens: u32 },
    Adaptive {},
    Disabled {},
}

#[derive(Debug, Deserialize)]
pub(crate) struct OutputConfig {
    /// `low`, `medium`, `high` or `max`: how much an adaptive model may think.
    pub effort: Option<String>,
    /// Structured output: the JSON Schema the answer's text follows.
    pub format: Option<OutputFormat>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum OutputFormat {
    JsonSchema { schema: Map<String, Value> },
}

/// The `message` object: the whole answer, or its shell in `message_start`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Message {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: &'static str,
    pub model: String,
    pub content: Vec<ContentBlock>,
    pub stop_reason: Option<&'static str>,
    pub stop_sequence: Option<String>,
    pub usage: Usage,
}

impl Message {
    /// An answer with no content yet.
    pub(super) fn empty(id: String, model: String) -> Self {
        Self {
            id,
            kind: "message",
            role: "assistant",
            model,
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage: Usage::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ContentBlock {
    Text { text: String },
    Thinking { thinking: String, signature: String },
    RedactedThinking { data: String },
    ToolUse { id: String, name: String, input: Value },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(super) struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u32>,
}

/// One event of a streamed answer; its `type` is also the SSE event name.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum StreamEvent {
    MessageStart { message: Message },
    ContentBlockStart { index: usize, content_block: ContentBlock },
    Ping,
    ContentBlockDelta { index: usize, delta: Delta },
    ContentBlockStop { index: usize },
    MessageDelta { delta: MessageDelta, usage: Usage },
    MessageStop,
    Error { error: ErrorDetail },
}

impl StreamEvent {
    pub(super) fn name(&self) -> &'static str {
        match self {
            Self::MessageStart { .. } => "message_start",
            Self::ContentBlockStart { .. } => "content_block_start",
            Self::Ping => "ping",
            Self::ContentBlockDelta { .. } => "content_block_delta",
            Self::ContentBlockStop { .. } => "content_block_stop",
            Self::MessageDelta { .. } => "message_delta",
            Self::MessageStop => "message_stop",
            Self::Error { .. } => "error",
        }
    }
}

/// A `content_block_delta`'s `delta`, typed `text_delta`, `input_json_delta`, ….
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub(super) enum Delta {
    #[serde(rename = "text_delta")]
    Text { text: String },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: String },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: String },
    #[serde(rename = "signature_delta")]
    Signature { signature: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct MessageDelta {
    pub stop_reason: &'static str,
    pub stop_sequence: Option<String>,
}

/// `{"type": "error", "error": {…}, "request_id": …}`, as a response body and as the data of
/// `event: error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct ErrorResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub error: ErrorDetail,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct ErrorDetail {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: String,
    /// What an SDK acts on, where the API gives it (`{"error_code": "thread_unsupported_request"}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ErrorResponse {
    pub(super) fn new(kind: &'static str, message: String, request_id: Option<String>) -> Self {
        Self { kind: "error", error: ErrorDetail { kind, message, details: None }, request_id }
    }
}

/// `POST /v1/messages/count_tokens`'s answer.
#[derive(Debug, Serialize)]
pub(crate) struct TokenCount {
    pub input_tokens: u32,
}
