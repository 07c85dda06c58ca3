//! OpenAI's Chat Completions JSON, as far as this server speaks it: the request read (fields
//! this server does not use are ignored, as OpenAI-compatible servers do) and the objects
//! written (`chat.completion`, `chat.completion.chunk`, the model list, the error body).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::extract::object;

/// `POST /v1/chat/completions`.
#[derive(Debug, Deserialize)]
pub(crate) struct CompletionRequest {
    pub model: String,
    pub messages: Vec<InMessage>,
    pub stream: Option<bool>,
    pub stream_options: Option<StreamOptions>,
    /// Deprecated by OpenAI in favour of `max_completion_tokens`, still what most clients send.
    pub max_tokens: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub stop: Option<Stop>,
    pub reasoning_effort: Option<String>,
    pub tools: Option<Vec<InTool>>,
    pub tool_choice: Option<InToolChoice>,
    /// Only 1: one answer per request.
    pub n: Option<u32>,
    #[serde(default, deserialize_with = "object")]
    pub response_format: Option<ResponseFormat>,
    /// Read to be refused: any value but `false` asks for what this server does not return.
    pub logprobs: Option<bool>,
    /// OpenAI's deprecated forms of `tools` and `tool_choice`, read to be refused: ignored, the
    /// model would answer in text where the client waits for a call.
    pub functions: Option<Value>,
    pub function_call: Option<Value>,
    /// Read to be refused: an answer in sound, and OpenAI's own web search, which this server
    /// does not give (ignored, the client would wait for what never comes).
    pub modalities: Option<Vec<String>>,
    pub audio: Option<Value>,
    pub web_search_options: Option<Value>,
}

/// `response_format`: plain text, JSON following a schema, or any JSON object.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ResponseFormat {
    Text,
    JsonSchema { json_schema: JsonSchemaFormat },
    JsonObject,
}

#[derive(Debug, Deserialize)]
pub(crate) struct JsonSchemaFormat {
    pub name: Option<String>,
    pub description: Option<String>,
    pub schema: Option<serde_json::Map<String, Value>>,
    /// Read, so that a value that is not a boolean is refused, and not used: Bedrock always
    /// holds the answer to the schema.
    #[serde(rename = "strict")]
    _strict: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct StreamOptions {
    pub include_usage: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "expected a string or an array of strings")]
pub(crate) enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub(crate) enum InMessage {
    System {
        content: InContent,
    },
    Developer {
        content: InContent,
    },
    User {
        content: InContent,
    },
    Assistant {
        #[serde(default)]
        content: Option<InContent>,
        #[serde(default)]
        tool_calls: Option<Vec<InToolCall>>,
        /// The deprecated form of `tool_calls`, read to be refused.
        #[serde(default)]
        function_call: Option<Value>,
    },
    Tool {
        content: InContent,
        tool_call_id: String,
    },
    /// The deprecated form of a `tool` message, read to be refused.
    Function {},
}

/// A string, or an array of content parts of which only `text` parts are taken.
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "expected `content` to be a string or an array of content parts")]
pub(crate) enum InContent {
    Text(String),
    Parts(Vec<InPart>),
}

#[derive(Debug, Deserialize)]
pub(crate) struct InPart {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
    pub image_url: Option<ImageUrl>,
    pub file: Option<FilePart>,
}

/// An `image_url` part's image: a `data:` URL (this server fetches no other).
#[derive(Debug, Deserialize)]
pub(crate) struct ImageUrl {
    pub url: String,
}

/// A `file` part's file: its bytes inline (`file_data`, a `data:` URL or plain base64) and its
/// name, or the id of an uploaded file (this server keeps no files).
#[derive(Debug, Deserialize)]
pub(crate) struct FilePart {
    pub file_data: Option<String>,
    pub filename: Option<String>,
    pub file_id: Option<String>,
}

/// A call the model made earlier, sent back in an assistant message.
#[derive(Debug, Deserialize)]
pub(crate) struct InToolCall {
    pub id: String,
    pub function: InFunctionCall,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InFunctionCall {
    pub name: String,
    /// The arguments as a JSON text.
    pub arguments: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InTool {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: Option<InFunction>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InFunction {
    pub name: String,
    pub description: Option<String>,
    pub parameters: Option<Value>,
}

/// `"auto"`, `"none"`, `"required"`, `{"type":"function","function":{"name":…}}`, or
/// `{"type":"allowed_tools","allowed_tools":{"mode":…,"tools":[…]}}`.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "expected \"auto\", \"none\", \"required\", \
                 {\"type\": \"function\", \"function\": {\"name\": …}} or \
                 {\"type\": \"allowed_tools\", \"allowed_tools\": {\"mode\": …, \"tools\": […]}}"
)]
pub(crate) enum InToolChoice {
    Mode(String),
    Named {
        #[serde(rename = "type")]
        kind: String,
        function: NamedFunction,
    },
    Allowed {
        #[serde(rename = "type")]
        kind: String,
        allowed_tools: AllowedTools,
    },
}

/// The tools the model may call this time, out of `tools`, and whether it must call one.
#[derive(Debug, Deserialize)]
pub(crate) struct AllowedTools {
    pub mode: String,
    pub tools: Vec<AllowedTool>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AllowedTool {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: NamedFunction,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NamedFunction {
    pub name: String,
}

/// What every object of one answer repeats.
#[derive(Debug, Clone)]
pub(super) struct Meta {
    /// `chatcmpl-…`, the same in every chunk of the answer.
    pub id: String,
    /// Unix seconds.
    pub created: u64,
    pub model: String,
}

/// `chat.completion.chunk`.
#[derive(Debug, Serialize)]
pub(super) struct Chunk<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: u64,
    pub model: &'a str,
    pub choices: Vec<ChunkChoice<'a>>,
    /// With `include_usage`: `null` in every chunk but the last, which has no choices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Option<OutUsage>>,
}

#[derive(Debug, Serialize)]
pub(super) struct ChunkChoice<'a> {
    pub index: u32,
    pub delta: Delta<'a>,
    pub logprobs: Option<()>,
    pub finish_reason: Option<&'static str>,
}

#[derive(Debug, Default, Serialize)]
pub(super) struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    /// Visible reasoning, under the name DeepSeek, vLLM and other OpenAI-compatible servers use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

#[derive(Debug, Serialize)]
pub(super) struct ToolCallDelta<'a> {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub function: FunctionDelta<'a>,
}

#[derive(Debug, Serialize)]
pub(super) struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    pub arguments: &'a str,
}

/// `chat.completion`.
#[derive(Debug, Serialize)]
pub(super) struct Completion {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub model: String,
    pub choices: [Choice; 1],
    pub usage: OutUsage,
}

#[derive(Debug, Serialize)]
pub(super) struct Choice {
    pub index: u32,
    pub message: OutMessage,
    pub logprobs: Option<()>,
    pub finish_reason: &'static str,
}

#[derive(Debug, Serialize)]
pub(super) struct OutMessage {
    pub role: &'static str,
    /// `null` when the answer is only tool calls.
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<OutToolCall>,
    pub refusal: Option<()>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct OutToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: OutFunction,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct OutFunction {
    pub name: String,
    /// The arguments as a JSON text, as OpenAI sends them.
    pub arguments: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(super) struct OutUsage {
    /// All input tokens, those read from or written to the prompt cache included.
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(super) struct PromptTokensDetails {
    pub cached_tokens: u32,
}

/// `GET /v1/models`.
#[derive(Debug, Serialize)]
pub(crate) struct ModelList {
    pub object: &'static str,
    pub data: Vec<ModelEntry>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ModelEntry {
    pub id: String,
    pub object: &'static str,
    /// Unix seconds; 0, since neither Bedrock nor the embedded model says when a model was made.
    pub created: u64,
    pub owned_by: String,
}

/// OpenAI's error body, before the stream and (without `param`) inside it.
#[derive(Debug, Serialize)]
pub(super) struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize)]
pub(super) struct ErrorDetail<'a> {
    pub message: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub param: Option<&'a str>,
    pub code: Option<&'a str>,
}
