//! Bedrock's answers: the Converse response body and the ConverseStream `metadata` event.

use serde_json::{Value, json};
use streambed_core::{Completion, Usage};

use crate::answer::OutputBlock;

/// The Converse (non-streaming) response body.
pub(crate) fn converse_response(blocks: &[OutputBlock], done: &Completion, latency_ms: u64) -> Value {
    let content: Vec<Value> = blocks.iter().map(block_json).collect();
    let mut body = json!({
        "metrics": { "latencyMs": latency_ms },
        "output": { "message": { "content": content, "role": "assistant" } },
        "stopReason": done.stop_reason.as_str(),
        "usage": usage_json(done.usage),
    });
    if let Some(tier) = &done.service_tier {
        body["serviceTier"] = json!({ "type": tier });
    }
    body
}

/// The payload of ConverseStream's last event.
pub(crate) fn metadata(done: &Completion, latency_ms: u64) -> Value {
    let mut metadata = json!({ "usage": usage_json(done.usage), "metrics": { "latencyMs": latency_ms } });
    if let Some(tier) = &done.service_tier {
        metadata["serviceTier"] = json!({ "type": tier });
    }
    metadata
}

fn block_json(block: &OutputBlock) -> Value {
    match block {
        OutputBlock::Text(text) => json!({ "text": text }),
        OutputBlock::Reasoning { text, signature } => {
            let mut reasoning = json!({ "text": text });
            if let Some(signature) = signature {
                reasoning["signature"] = signature.as_str().into();
            }
            json!({ "reasoningContent": { "reasoningText": reasoning } })
        }
        OutputBlock::Redacted(data) => json!({ "reasoningContent": { "redactedContent": data } }),
        OutputBlock::ToolUse { id, name, input } => {
            let input: Value = serde_json::from_str(input).unwrap_or_else(|_| json!({}));
            json!({ "toolUse": { "toolUseId": id, "name": name, "input": input } })
        }
    }
}

/// TokenUsage with every required member, and the cache members when the prompt cache was used.
/// As on Bedrock, `inputTokens` counts only the input that was neither read from nor written to
/// the cache, and `totalTokens` counts everything.
fn usage_json(usage: Usage) -> Value {
    let cached = usage.cache_read_input_tokens.unwrap_or(0) + usage.cache_write_input_tokens.unwrap_or(0);
    let mut json = json!({
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.input_tokens + usage.output_tokens + cached,
    });
    if let Some(read) = usage.cache_read_input_tokens {
        json["cacheReadInputTokens"] = read.into();
    }
    if let Some(write) = usage.cache_write_input_tokens {
        json["cacheWriteInputTokens"] = write.into();
    }
    json
}
