//! CountTokens' input: `{"input": {"converse": {messages, system, toolConfig, …}}}`, or
//! `{"input": {"invokeModel": {"body": <base64 of an Anthropic Messages body>}}}`.

use aws_smithy_types::base64;
use serde_json::Value;
use streambed_core::{ChatRequest, Content, Message, ReasoningBlock, Role, ToolResult, ToolSpec, ToolUse};

use crate::wire::{self, BedrockError, Converse};

fn malformed(error: impl std::fmt::Display) -> BedrockError {
    BedrockError::validation(format!(
        "Malformed input request: {error}, please reformat your input and try again."
    ))
}

/// The request whose tokens are to be counted.
pub(crate) fn parse_input(body: &Value) -> Result<Converse, BedrockError> {
    let input = body.get("input").filter(|i| !i.is_null()).ok_or_else(|| {
        BedrockError::validation(
            "1 validation error detected: Value null at 'input' failed to satisfy constraint: Member must not be null",
        )
    })?;
    if let Some(converse) = input.get("converse") {
        return wire::parse_request(converse);
    }
    let encoded = input
        .get("invokeModel")
        .and_then(|i| i.get("body"))
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("input must hold `converse` or `invokeModel.body`"))?;
    let bytes = base64::decode(encoded).map_err(malformed)?;
    let body: Value = serde_json::from_slice(&bytes).map_err(malformed)?;
    let request = anthropic_request(&body)?;
    Ok(Converse {
        tool_config: !request.tools.is_empty(),
        request,
        thinking: None,
        service_tier: None,
        cache_after_document: None,
    })
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A string, or the joined `text` of a list of blocks (Anthropic allows both).
fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks.iter().map(|b| str_of(b, "text")).collect(),
        _ => String::new(),
    }
}

/// An Anthropic Messages API body (as InvokeModel takes it) as a core request.
fn anthropic_request(body: &Value) -> Result<ChatRequest, BedrockError> {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("messages: Field required"))?;
    let messages = messages
        .iter()
        .map(|m| {
            let role = if str_of(m, "role") == "assistant" { Role::Assistant } else { Role::User };
            let content = match m.get("content") {
                Some(Value::String(text)) => vec![Content::Text(text.clone())],
                Some(Value::Array(blocks)) => blocks.iter().filter_map(anthropic_block).collect(),
                _ => Vec::new(),
            };
            Message { role, content }
        })
        .collect();
    let mut request = ChatRequest::new(messages);
    let system = text(body.get("system"));
    request.system = (!system.is_empty()).then_some(system);
    request.tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|t| ToolSpec {
            name: str_of(t, "name").to_owned(),
            description: t.get("description").and_then(Value::as_str).map(str::to_owned),
            input_schema: t.get("input_schema").cloned().unwrap_or(Value::Null),
        })
        .collect();
    Ok(request)
}

fn anthropic_block(block: &Value) -> Option<Content> {
    Some(match str_of(block, "type") {
        "text" => Content::Text(str_of(block, "text").to_owned()),
        "tool_use" => Content::ToolUse(ToolUse {
            id: str_of(block, "id").to_owned(),
            name: str_of(block, "name").to_owned(),
            input: block.get("input").cloned().unwrap_or(Value::Null),
        }),
        "tool_result" => Content::ToolResult(ToolResult::text(
            str_of(block, "tool_use_id").to_owned(),
            text(block.get("content")),
            block.get("is_error").and_then(Value::as_bool).unwrap_or(false),
        )),
        "thinking" => Content::Reasoning(ReasoningBlock::Text {
            text: str_of(block, "thinking").to_owned(),
            signature: block.get("signature").and_then(Value::as_str).map(str::to_owned),
        }),
        "redacted_thinking" => {
            Content::Reasoning(ReasoningBlock::Redacted { data: str_of(block, "data").to_owned() })
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::answer::input_tokens;

    #[test]
    fn both_input_forms_count_the_same_conversation_alike() {
        let converse = json!({"input": {"converse": {
            "system": [{"text": "Be brief."}],
            "messages": [{"role": "user", "content": [{"text": "What is the capital of France?"}]}]
        }}});
        let anthropic = json!({
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 10,
            "system": "Be brief.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]}]
        });
        let invoke = json!({"input": {"invokeModel": {"body": base64::encode(anthropic.to_string())}}});

        let a = input_tokens(&parse_input(&converse).unwrap().request);
        let b = input_tokens(&parse_input(&invoke).unwrap().request);

        assert_eq!((a, b), (8, 8));
    }

    #[test]
    fn a_missing_or_unreadable_input_is_a_validation_error() {
        for body in [json!({}), json!({"input": {}}), json!({"input": {"invokeModel": {"body": "%%%"}}})] {
            assert_eq!(parse_input(&body).unwrap_err().name, "ValidationException", "{body}");
        }
    }
}
