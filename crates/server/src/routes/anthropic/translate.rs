//! The Messages API's request into the provider-neutral [`ChatRequest`], and the neutral stop
//! reason and usage back into Anthropic's words. Pure: no state, no I/O.

use streambed_core::{
    ChatRequest, Content, InferenceParams, Message, OutputSchema, Reasoning, Role, StopReason, ToolChoice,
    ToolSpec, Usage,
};

use serde_json::Value;

use super::{
    content::{block, marks_cache, system_text},
    wire,
};
use crate::routes::turns::{Refused, Turns};

/// The neutral request for a Messages API body; `Err` is a message for a 400. `max_tokens` is
/// taken as given (the handler requires and bounds it).
pub(super) fn request(body: wire::MessagesRequest) -> Result<ChatRequest, String> {
    if body.mcp_servers.as_ref().is_some_and(|servers| servers.as_array().is_none_or(|list| !list.is_empty()))
    {
        return Err("`mcp_servers` are connected by Anthropic's API, not by this server: leave them out, \
                    or give their tools to the model as your own."
            .into());
    }
    if body.container.as_ref().is_some_and(|container| !container.is_null()) {
        return Err("`container` (skills, code execution) runs on Anthropic's API, not on this server: \
                    leave it out."
            .into());
    }
    // The Messages API's ranges, checked here as Anthropic's API checks them, rather than
    // left to the model's provider to refuse, or not.
    for (param, value) in [("temperature", body.temperature), ("top_p", body.top_p)] {
        if let Some(value) = value
            && !(0.0..=1.0).contains(&value)
        {
            return Err(format!("{param}: must be from 0 to 1, not {value}."));
        }
    }
    let cache_prompt = marks_cache(&body);
    let (turns, later_system) = turns(body.messages)?;
    let system = body.system.map(|system| match system {
        wire::Blocks::Text(text) => text,
        wire::Blocks::Blocks(blocks) => {
            let texts: Vec<String> =
                blocks.into_iter().map(|wire::SystemBlock::Text { text, .. }| text).collect();
            texts.join("\n\n")
        }
    });
    let system = system.into_iter().chain(later_system).filter(|s| !s.trim().is_empty()).collect::<Vec<_>>();
    let tools = body.tools.unwrap_or_default().into_iter().map(tool).collect::<Result<Vec<_>, _>>()?;
    let tool_choice = match body.tool_choice {
        None | Some(wire::ToolChoice::Auto {}) => ToolChoice::Auto,
        Some(wire::ToolChoice::Any {}) => ToolChoice::Any,
        Some(wire::ToolChoice::Tool { name }) => ToolChoice::Tool(name),
        Some(wire::ToolChoice::None {}) => ToolChoice::None,
    };
    if !matches!(tool_choice, ToolChoice::Auto | ToolChoice::None) && tools.is_empty() {
        return Err("`tool_choice` asks for a tool call, but `tools` is empty.".into());
    }
    if let ToolChoice::Tool(name) = &tool_choice
        && !tools.iter().any(|t| &t.name == name)
    {
        return Err(format!("`tool_choice` names the tool `{name}`, which is not in `tools`."));
    }
    let (effort, format) = body.output_config.map_or((None, None), |c| (c.effort, c.format));
    let output_schema = format.or(body.output_format).map(|wire::OutputFormat::JsonSchema { schema }| {
        OutputSchema { name: None, description: None, schema: Value::Object(schema) }
    });
    Ok(ChatRequest {
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        params: InferenceParams {
            max_tokens: body.max_tokens,
            temperature: body.temperature,
            top_p: body.top_p,
            top_k: body.top_k,
        },
        // An empty one would end every answer at once, where Bedrock does not refuse it first.
        stop_sequences: body.stop_sequences.into_iter().flatten().filter(|s| !s.is_empty()).collect(),
        reasoning: reasoning(body.thinking, effort.as_deref())?,
        tools,
        tool_choice,
        output_schema,
        cache_prompt,
        ..turns.request()
    })
}

/// The turns in order, consecutive turns of one role merged (as the Messages API does), ending
/// with the user's; and the text of `system` messages among them, in order. Converse has system
/// instructions only before the conversation, so that is where they go, after `system`'s.
fn turns(input: Vec<wire::InputMessage>) -> Result<(Turns, Vec<String>), String> {
    let mut messages: Vec<Message> = Vec::with_capacity(input.len());
    let mut system = Vec::new();
    for (i, message) in input.into_iter().enumerate() {
        let role = match message.role {
            wire::Role::User => Role::User,
            wire::Role::Assistant => Role::Assistant,
            wire::Role::System => {
                system.push(system_text(message.content).map_err(|e| format!("`messages[{i}]`: {e}"))?);
                continue;
            }
        };
        let content = match message.content {
            wire::Blocks::Text(text) => vec![Content::Text(text)],
            wire::Blocks::Blocks(blocks) => {
                let content = blocks.into_iter().map(block).collect::<Result<Vec<_>, _>>();
                content.map_err(|e| format!("`messages[{i}]`: {e}"))?
            }
        };
        // Nothing but blank text is refused, in the words of Anthropic's API, as Bedrock might
        // not (blank text beside other blocks the Bedrock request leaves out).
        if content.iter().all(|c| matches!(c, Content::Text(text) if text.trim().is_empty())) {
            return Err(format!("messages.{i}: all messages must have non-empty content"));
        }
        messages.push(Message { role, content });
    }
    let turns = Turns::new(messages).map_err(|refused| match refused {
        Refused::Empty => "`messages` must not be empty.".to_owned(),
        Refused::EndsWithAssistant => "The last message must have the role `user`: this server does not \
             continue a prefilled assistant turn."
            .into(),
    })?;
    Ok((turns, system))
}

/// Anthropic's tools that its API runs itself; its other typed tools (`bash_…`,
/// `text_editor_…`, `computer_…`, `memory_…`) the client runs.
const SERVER_TOOLS: [&str; 4] = ["web_search", "web_fetch", "code_execution", "tool_search"];

fn tool(tool: wire::Tool) -> Result<ToolSpec, String> {
    if let Some(kind) = tool.kind.as_deref().filter(|k| *k != "custom") {
        let name = &tool.name;
        return Err(if SERVER_TOOLS.iter().any(|server| kind.starts_with(server)) {
            format!(
                "The tool `{name}` is a server tool (`{kind}`), which this server does not run: describe your \
                 own tools with `input_schema`."
            )
        } else {
            format!(
                "The tool `{name}` is one of Anthropic's typed tools (`{kind}`), whose built-in definition \
                 Bedrock does not take: describe it as your own tool, with a `description` and an \
                 `input_schema`, and run it as before."
            )
        });
    }
    let input_schema =
        tool.input_schema.ok_or_else(|| format!("The tool `{}` needs an `input_schema`.", tool.name))?;
    Ok(ToolSpec { name: tool.name, description: tool.description, input_schema: Value::Object(input_schema) })
}

/// `thinking`: a budget as given (the model checks it against `max_tokens`, whichever API asked),
/// an adaptive model's effort level (`high` unless `output_config.effort` says otherwise), or
/// none.
fn reasoning(thinking: Option<wire::Thinking>, effort: Option<&str>) -> Result<Reasoning, String> {
    let effort = match effort {
        Some("low") => Reasoning::Low,
        Some("medium") => Reasoning::Medium,
        None | Some("high" | "max") => Reasoning::High,
        Some(other) => {
            return Err(format!(
                "`output_config.effort` must be `low`, `medium`, `high` or `max`, not `{other}`."
            ));
        }
    };
    match thinking {
        None | Some(wire::Thinking::Disabled {}) => Ok(Reasoning::Off),
        Some(wire::Thinking::Enabled { budget_tokens }) => Ok(Reasoning::Budget(budget_tokens)),
        Some(wire::Thinking::Adaptive {}) => Ok(effort),
    }
}

/// Anthropic's `stop_reason` for the neutral one: a guardrail or content filter is a refusal,
/// and a reason Anthropic has no word for ends the turn.
pub(super) fn stop_reason(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::Other(_) => "end_turn",
        StopReason::ToolUse => "tool_use",
        StopReason::MaxTokens => "max_tokens",
        StopReason::StopSequence => "stop_sequence",
        StopReason::GuardrailIntervened | StopReason::ContentFiltered => "refusal",
        StopReason::ContextWindowExceeded => "model_context_window_exceeded",
    }
}

/// The `stop_sequence` that ended the answer. The provider does not say which one matched, so it
/// is named only when the request sent exactly one.
pub(super) fn stop_sequence(reason: &StopReason, sent: &[String]) -> Option<String> {
    match (reason, sent) {
        (StopReason::StopSequence, [only]) => Some(only.clone()),
        _ => None,
    }
}

pub(super) fn usage(usage: &Usage) -> wire::Usage {
    wire::Usage {
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cache_creation_input_tokens: usage.cache_write_input_tokens,
        cache_read_input_tokens: usage.cache_read_input_tokens,
    }
}

#[cfg(test)]
mod tests;
