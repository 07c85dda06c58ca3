//! An answer's events as OpenAI's `chat.completion` (for `stream: false`), and the stop reason
//! and usage mappings the streamed chunks share.

use streambed_core::{ChatEvent, Completion, StopReason, Usage};

use crate::routes::openai::wire::{self, Meta, OutFunction, OutToolCall, OutUsage, PromptTokensDetails};

/// OpenAI's `finish_reason` for the neutral stop reason.
pub(crate) fn finish_reason(stop: &StopReason) -> &'static str {
    match stop {
        StopReason::EndTurn | StopReason::StopSequence | StopReason::Other(_) => "stop",
        StopReason::MaxTokens | StopReason::ContextWindowExceeded => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::GuardrailIntervened | StopReason::ContentFiltered => "content_filter",
    }
}

/// OpenAI counts cached input in `prompt_tokens`; Bedrock counts it apart.
pub(crate) fn usage(usage: &Usage) -> OutUsage {
    let cached = usage.cache_read_input_tokens;
    let prompt = usage.input_tokens + cached.unwrap_or(0) + usage.cache_write_input_tokens.unwrap_or(0);
    OutUsage {
        prompt_tokens: prompt,
        completion_tokens: usage.output_tokens,
        total_tokens: prompt + usage.output_tokens,
        prompt_tokens_details: cached.map(|cached_tokens| PromptTokensDetails { cached_tokens }),
    }
}

/// A whole answer gathered from its events, for `stream: false`.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    text: String,
    reasoning: String,
    tool_calls: Vec<OutToolCall>,
}

impl Reply {
    /// Adds an event other than `Done`.
    pub(crate) fn push(&mut self, event: ChatEvent) {
        match event {
            ChatEvent::Text(text) => self.text.push_str(&text),
            ChatEvent::Reasoning(text) => self.reasoning.push_str(&text),
            ChatEvent::ToolCall { id, name } => self.tool_calls.push(OutToolCall {
                id,
                kind: "function",
                function: OutFunction { name, arguments: String::new() },
            }),
            ChatEvent::ToolInput(fragment) => {
                if let Some(call) = self.tool_calls.last_mut() {
                    call.function.arguments.push_str(&fragment);
                }
            }
            ChatEvent::ReasoningSignature(_) | ChatEvent::RedactedReasoning(_) | ChatEvent::Done(_) => {}
        }
    }

    pub(crate) fn finish(mut self, completion: &Completion, meta: Meta) -> wire::Completion {
        for call in &mut self.tool_calls {
            // A call without input still has to parse as JSON on the client's side.
            if call.function.arguments.is_empty() {
                call.function.arguments.push_str("{}");
            }
        }
        let content = (!self.text.is_empty() || self.tool_calls.is_empty()).then_some(self.text);
        wire::Completion {
            id: meta.id,
            object: "chat.completion",
            created: meta.created,
            model: meta.model,
            choices: [wire::Choice {
                index: 0,
                message: wire::OutMessage {
                    role: "assistant",
                    content,
                    reasoning_content: (!self.reasoning.is_empty()).then_some(self.reasoning),
                    tool_calls: self.tool_calls,
                    refusal: None,
                },
                logprobs: None,
                finish_reason: finish_reason(&completion.stop_reason),
            }],
            usage: usage(&completion.usage),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stop_reasons_map_to_finish_reasons() {
        for (stop, finish) in [
            (StopReason::EndTurn, "stop"),
            (StopReason::StopSequence, "stop"),
            (StopReason::MaxTokens, "length"),
            (StopReason::ToolUse, "tool_calls"),
            (StopReason::ContentFiltered, "content_filter"),
            (StopReason::GuardrailIntervened, "content_filter"),
        ] {
            assert_eq!(finish_reason(&stop), finish, "{stop:?}");
        }
    }

    #[test]
    fn cached_input_counts_in_prompt_tokens() {
        let usage = usage(&Usage { cache_read_input_tokens: Some(30), ..Usage::new(5, 7) });
        assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (35, 7, 42));
        assert_eq!(usage.prompt_tokens_details, Some(PromptTokensDetails { cached_tokens: 30 }));
    }

    #[test]
    fn a_reply_gathers_text_and_whole_tool_calls() {
        let mut reply = Reply::default();
        for event in [
            ChatEvent::Text("Let me look.".into()),
            ChatEvent::ToolCall { id: "t1".into(), name: "weather".into() },
            ChatEvent::ToolInput("{\"city\":".into()),
            ChatEvent::ToolInput("\"Paris\"}".into()),
        ] {
            reply.push(event);
        }
        let meta = Meta { id: "chatcmpl-1".into(), created: 1, model: "m".into() };

        let completion = reply.finish(&Completion::new(StopReason::ToolUse, Usage::new(1, 2)), meta);

        let json = serde_json::to_value(&completion).unwrap();
        assert_eq!(json["object"], "chat.completion");
        assert_eq!(json["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(json["choices"][0]["message"]["content"], "Let me look.");
        assert_eq!(
            json["choices"][0]["message"]["tool_calls"],
            json!([{ "id": "t1", "type": "function", "function": { "name": "weather", "arguments": "{\"city\":\"Paris\"}" } }])
        );
        assert_eq!(json["usage"], json!({ "prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3 }));
    }
}
