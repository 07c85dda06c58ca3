//! The Converse/ConverseStream request body, parsed into the provider-neutral request plus the
//! Bedrock-specific members the emulator's rules and answers need.

use serde::Deserialize;
use serde_json::Value;
use streambed_core::{
    Attachment, ChatRequest, Content, Document, DocumentFormat, Image, ImageFormat, InferenceParams, Message,
    OutputSchema, Reasoning, ReasoningBlock, Role, ToolChoice, ToolResult, ToolSpec, ToolUse,
};

use super::BedrockError;

/// A parsed Converse body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Converse {
    pub request: ChatRequest,
    /// `additionalModelRequestFields.thinking`, as asked.
    pub thinking: Option<Thinking>,
    /// Whether `toolConfig` was sent at all.
    pub tool_config: bool,
    /// `serviceTier.type`.
    pub service_tier: Option<String>,
    /// Where a `cachePoint` block first follows a `document` block (message, block), which
    /// Claude refuses.
    pub cache_after_document: Option<(usize, usize)>,
}

/// The Anthropic `thinking` member, as asked (the rules need more than [`Reasoning`] keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Thinking {
    Enabled {
        budget_tokens: Option<u64>,
    },
    Adaptive,
    Disabled,
    /// A `type` Anthropic does not define.
    Other(String),
}

impl Thinking {
    pub(crate) fn is_on(&self) -> bool {
        matches!(self, Self::Enabled { .. } | Self::Adaptive)
    }
}

/// The members the emulator understands; the rest (guardrails, prompt variables, …) is accepted
/// and kept in the request record.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseBody {
    #[serde(default)]
    messages: Vec<WireMessage>,
    #[serde(default)]
    system: Vec<Value>,
    #[serde(default)]
    inference_config: WireInferenceConfig,
    tool_config: Option<WireToolConfig>,
    additional_model_request_fields: Option<Value>,
    service_tier: Option<WireServiceTier>,
    output_config: Option<WireOutputConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireOutputConfig {
    text_format: Option<WireOutputFormat>,
}

#[derive(Debug, Deserialize)]
struct WireOutputFormat {
    #[serde(rename = "type")]
    kind: String,
    structure: WireOutputStructure,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireOutputStructure {
    json_schema: WireJsonSchema,
}

/// The schema travels as JSON text.
#[derive(Debug, Deserialize)]
struct WireJsonSchema {
    schema: String,
    name: Option<String>,
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    role: String,
    content: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireInferenceConfig {
    max_tokens: Option<u32>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    #[serde(default)]
    stop_sequences: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireToolConfig {
    #[serde(default)]
    tools: Vec<Value>,
    tool_choice: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct WireServiceTier {
    #[serde(rename = "type")]
    kind: String,
}

fn malformed(error: impl std::fmt::Display) -> BedrockError {
    BedrockError::validation(format!(
        "Malformed input request: {error}, please reformat your input and try again."
    ))
}

/// Parses a request body as Bedrock would validate it.
pub(crate) fn parse_request(body: &Value) -> Result<Converse, BedrockError> {
    let parsed = ConverseBody::deserialize(body).map_err(malformed)?;
    let cache_after_document = parsed.messages.iter().enumerate().find_map(|(i, message)| {
        let j = message
            .content
            .windows(2)
            .position(|pair| pair[0].get("document").is_some() && pair[1].get("cachePoint").is_some())?;
        Some((i, j + 1))
    });
    let messages = parsed.messages.into_iter().map(message).collect::<Result<Vec<_>, _>>()?;
    if messages.first().is_none_or(|m| m.role != Role::User) {
        return Err(BedrockError::validation(
            "A conversation must start with a user message. Try again with a conversation that starts with a user message.",
        ));
    }
    let system = text_of(&parsed.system);
    let extra = parsed.additional_model_request_fields.unwrap_or(Value::Null);
    let thinking = thinking(&extra);
    let mut request = ChatRequest::new(messages);
    request.system = (!system.is_empty()).then_some(system);
    request.params = InferenceParams {
        max_tokens: parsed.inference_config.max_tokens,
        temperature: parsed.inference_config.temperature,
        top_p: parsed.inference_config.top_p,
        top_k: extra.get("top_k").and_then(Value::as_u64).map(|k| u32::try_from(k).unwrap_or(u32::MAX)),
    };
    request.stop_sequences = parsed.inference_config.stop_sequences;
    request.reasoning = reasoning(thinking.as_ref(), &extra);
    let tool_config = parsed.tool_config.is_some();
    if let Some(config) = parsed.tool_config {
        request.tools = config.tools.iter().filter_map(tool_spec).collect();
        request.tool_choice = config.tool_choice.as_ref().map_or(ToolChoice::Auto, tool_choice);
    }
    request.output_schema =
        parsed.output_config.and_then(|config| config.text_format).map(output_schema).transpose()?;
    let service_tier = parsed.service_tier.map(|t| t.kind);
    Ok(Converse { request, thinking, tool_config, service_tier, cache_after_document })
}

/// `outputConfig.textFormat`: a JSON Schema, given as the text of a JSON object.
fn output_schema(format: WireOutputFormat) -> Result<OutputSchema, BedrockError> {
    if format.kind != "json_schema" {
        return Err(BedrockError::validation(format!(
            "1 validation error detected: Value '{}' at 'outputConfig.textFormat.type' failed to satisfy \
             constraint: Member must satisfy enum value set: [json_schema]",
            format.kind
        )));
    }
    let WireJsonSchema { schema, name, description } = format.structure.json_schema;
    match serde_json::from_str::<Value>(&schema) {
        Ok(schema @ Value::Object(_)) => Ok(OutputSchema { name, description, schema }),
        _ => Err(BedrockError::validation(
            "The JSON schema in outputConfig.textFormat.structure.jsonSchema.schema is not a valid JSON object.",
        )),
    }
}

fn message(m: WireMessage) -> Result<Message, BedrockError> {
    let role = match m.role.as_str() {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        other => {
            return Err(BedrockError::validation(format!(
                "1 validation error detected: Value '{other}' at 'messages.role' failed to satisfy constraint: \
                 Member must satisfy enum value set: [user, assistant]"
            )));
        }
    };
    Ok(Message { role, content: m.content.iter().filter_map(content_block).collect() })
}

/// Joins the `text` members of a list of content blocks; other block kinds carry no text.
fn text_of(blocks: &[Value]) -> String {
    blocks.iter().filter_map(|b| b.get("text").and_then(Value::as_str)).collect()
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// One Converse content block as a core block; `None` for the kinds the core does not carry
/// (cache points, guard content) and for an image or a document whose format or bytes it
/// cannot read.
pub(crate) fn content_block(block: &Value) -> Option<Content> {
    if let Some(text) = block.get("text").and_then(Value::as_str) {
        return Some(Content::Text(text.to_owned()));
    }
    if let Some(image) = block.get("image") {
        // The SDK sends the bytes as base64 in JSON.
        let format = ImageFormat::from_media_type(&format!("image/{}", str_of(image, "format")))?;
        let bytes = image.get("source")?.get("bytes")?.as_str()?;
        let data = aws_smithy_types::base64::decode(bytes).ok()?;
        return Some(Content::Image(Image { format, data }));
    }
    if let Some(document) = block.get("document") {
        let format = DocumentFormat::from_extension(str_of(document, "format"))?;
        let source = document.get("source")?;
        let data =
            match (source.get("bytes").and_then(Value::as_str), source.get("text").and_then(Value::as_str)) {
                (Some(bytes), _) => aws_smithy_types::base64::decode(bytes).ok()?,
                (None, Some(text)) => text.as_bytes().to_vec(),
                (None, None) => return None,
            };
        let name = Some(str_of(document, "name").to_owned());
        let context = document.get("context").and_then(Value::as_str).map(str::to_owned);
        return Some(Content::Document(Document { format, name, context, data }));
    }
    if let Some(call) = block.get("toolUse") {
        return Some(Content::ToolUse(ToolUse {
            id: str_of(call, "toolUseId").to_owned(),
            name: str_of(call, "name").to_owned(),
            input: call.get("input").cloned().unwrap_or(Value::Null),
        }));
    }
    if let Some(result) = block.get("toolResult") {
        let parts = result.get("content").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let content = parts
            .iter()
            .filter_map(|p| {
                p.get("text")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| p.get("json").map(Value::to_string))
            })
            .collect::<Vec<_>>()
            .join("\n");
        // An image or a document part has the shape of the message block of its kind.
        let attachments = parts
            .iter()
            .filter_map(|p| match content_block(p)? {
                Content::Image(image) => Some(Attachment::Image(image)),
                Content::Document(document) => Some(Attachment::Document(document)),
                _ => None,
            })
            .collect();
        return Some(Content::ToolResult(ToolResult {
            tool_use_id: str_of(result, "toolUseId").to_owned(),
            content,
            attachments,
            is_error: str_of(result, "status") == "error",
        }));
    }
    let reasoning = block.get("reasoningContent")?;
    if let Some(text) = reasoning.get("reasoningText") {
        let signature = text.get("signature").and_then(Value::as_str).map(str::to_owned);
        return Some(Content::Reasoning(ReasoningBlock::Text {
            text: str_of(text, "text").to_owned(),
            signature,
        }));
    }
    let data = reasoning.get("redactedContent").and_then(Value::as_str)?;
    Some(Content::Reasoning(ReasoningBlock::Redacted { data: data.to_owned() }))
}

/// A `toolConfig.tools` entry; `None` for cache points and system tools.
pub(crate) fn tool_spec(tool: &Value) -> Option<ToolSpec> {
    let spec = tool.get("toolSpec")?;
    Some(ToolSpec {
        name: str_of(spec, "name").to_owned(),
        description: spec.get("description").and_then(Value::as_str).map(str::to_owned),
        input_schema: spec.get("inputSchema").and_then(|s| s.get("json")).cloned().unwrap_or(Value::Null),
    })
}

fn tool_choice(choice: &Value) -> ToolChoice {
    if choice.get("any").is_some() {
        ToolChoice::Any
    } else if let Some(tool) = choice.get("tool") {
        ToolChoice::Tool(str_of(tool, "name").to_owned())
    } else {
        ToolChoice::Auto
    }
}

fn thinking(extra: &Value) -> Option<Thinking> {
    let thinking = extra.get("thinking")?;
    Some(match str_of(thinking, "type") {
        "enabled" => {
            Thinking::Enabled { budget_tokens: thinking.get("budget_tokens").and_then(Value::as_u64) }
        }
        "adaptive" => Thinking::Adaptive,
        "disabled" => Thinking::Disabled,
        other => Thinking::Other(other.to_owned()),
    })
}

fn reasoning(thinking: Option<&Thinking>, extra: &Value) -> Reasoning {
    match thinking {
        Some(Thinking::Enabled { budget_tokens: Some(budget) }) => {
            Reasoning::Budget(u32::try_from(*budget).unwrap_or(u32::MAX))
        }
        Some(Thinking::Adaptive) => {
            let effort = extra.get("output_config").map(|c| str_of(c, "effort")).unwrap_or_default();
            match effort {
                "low" => Reasoning::Low,
                "medium" => Reasoning::Medium,
                _ => Reasoning::High,
            }
        }
        _ => Reasoning::Off,
    }
}

#[cfg(test)]
mod tests;
