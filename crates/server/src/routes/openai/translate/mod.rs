//! OpenAI's wire types to and from the provider-neutral ones of `streambed-core`, as pure
//! functions: a request becomes a [`ChatRequest`] (here: validation and settings; its messages
//! in [`messages`], its tools in [`tools`]), an answer's events a `chat.completion` ([`reply`],
//! whose mappings the streamed chunks share).

mod format;
mod messages;
mod reply;
mod tools;

use streambed_core::{ChatRequest, Content, InferenceParams, Reasoning, ToolChoice};

pub(super) use reply::{Reply, finish_reason, usage};

use super::{
    error::Invalid,
    wire::{CompletionRequest, Stop},
};
use crate::config::Limits;

/// What a valid request asks for. The request carries the client's own system prompt and
/// settings only; the server's defaults are added by the caller.
#[derive(Debug, PartialEq)]
pub(super) struct Asked {
    pub model: String,
    pub request: ChatRequest,
    pub reasoning: Option<Reasoning>,
    pub stream: bool,
    pub include_usage: bool,
}

/// Validates a request within the server's size limits (`MAX_TURNS`, `MAX_PROMPT_CHARS`,
/// `MAX_TOKENS_LIMIT`, as for `/api/chat`; a larger `max_tokens` is capped).
pub(super) fn asked(body: CompletionRequest, limits: &Limits) -> Result<Asked, Invalid> {
    if let Some(n) = body.n.filter(|&n| n != 1) {
        return Err(Invalid::param(
            "n",
            format!("This server returns one choice per request: `n` must be 1, not {n}."),
        ));
    }
    refuse_unreturned(&body)?;
    let (system, turns) = messages::conversation(body.messages)?;
    limits.check_size(system.as_deref(), &turns).map_err(|refused| Invalid::too_long(&refused))?;
    let max_tokens = match (body.max_completion_tokens, body.max_tokens) {
        (Some(n), _) => Some(("max_completion_tokens", n)),
        (None, Some(n)) => Some(("max_tokens", n)),
        (None, None) => None,
    };
    let max_tokens = max_tokens
        .map(|(param, n)| limits.cap_max_tokens(param, n).map_err(|message| Invalid::param(param, message)))
        .transpose()?;
    for (param, value, max) in [("temperature", body.temperature, 2.0), ("top_p", body.top_p, 1.0)] {
        if let Some(value) = value
            && !(0.0..=max).contains(&value)
        {
            return Err(Invalid::param(param, format!("`{param}` must be from 0 to {max}, not {value}.")));
        }
    }
    let (tools, tool_choice) = tools::tools(body.tools, body.tool_choice)?;
    let stop_sequences = match body.stop {
        None => Vec::new(),
        Some(Stop::One(one)) => vec![one],
        Some(Stop::Many(many)) => many,
    };
    let (system, output_schema) = format::format(body.response_format)?.apply(system);
    let request = ChatRequest {
        system,
        params: InferenceParams { max_tokens, temperature: body.temperature, top_p: body.top_p, top_k: None },
        stop_sequences: stop_sequences.into_iter().filter(|s| !s.is_empty()).collect(),
        tools,
        tool_choice,
        output_schema,
        ..turns.request()
    };
    let stream = body.stream.unwrap_or(false);
    Ok(Asked {
        model: body.model,
        request,
        reasoning: body.reasoning_effort.as_deref().map(reasoning_effort).transpose()?,
        stream,
        include_usage: stream && body.stream_options.and_then(|o| o.include_usage).unwrap_or(false),
    })
}

/// Fields whose answer this server cannot give, refused rather than ignored: a client that
/// asks for them would otherwise read an answer without them as if it had them.
fn refuse_unreturned(body: &CompletionRequest) -> Result<(), Invalid> {
    if body.logprobs == Some(true) {
        return Err(Invalid::param(
            "logprobs",
            "Log probabilities are not available from these models: leave `logprobs` out.".into(),
        ));
    }
    let audio = body.audio.is_some() || body.modalities.iter().flatten().any(|modality| modality == "audio");
    if audio {
        let param = if body.audio.is_some() { "audio" } else { "modalities" };
        return Err(Invalid::param(
            param,
            "These models answer in text only: leave out audio output.".into(),
        ));
    }
    if body.web_search_options.is_some() {
        return Err(Invalid::param(
            "web_search_options",
            "This server does not search the web: leave out `web_search_options`.".into(),
        ));
    }
    let deprecated =
        [("functions", body.functions.is_some()), ("function_call", body.function_call.is_some())];
    if let Some((param, _)) = deprecated.into_iter().find(|(_, sent)| *sent) {
        return Err(Invalid::param(
            param,
            format!(
                "`{param}` is OpenAI's deprecated form of `tools` and `tool_choice`, which this server \
                 takes instead: each function as `{{\"type\": \"function\", \"function\": …}}` in `tools`."
            ),
        ));
    }
    Ok(())
}

fn reasoning_effort(effort: &str) -> Result<Reasoning, Invalid> {
    Ok(match effort {
        "none" => Reasoning::Off,
        "minimal" | "low" => Reasoning::Low,
        "medium" => Reasoning::Medium,
        "high" => Reasoning::High,
        other => {
            return Err(Invalid::param(
                "reasoning_effort",
                format!("`reasoning_effort` is `{other}`: use `low`, `medium` or `high`."),
            ));
        }
    })
}

/// `reasoning`, or off where a model that reasons (Claude on Bedrock) would refuse the request
/// that OpenAI's reasoning models take:
/// - it answers tool calls the model made without the reasoning that led to them: OpenAI's
///   messages cannot carry reasoning back with its signature, and Claude refuses tool results
///   whose call comes back without it;
/// - it forces a tool call (`required`, a named function), which Claude cannot do while it
///   reasons, and which clients use for structured output (pydantic-ai's output tool,
///   instructor's tools mode): the call is what they asked for.
pub(super) fn reasoning_for(request: &ChatRequest, reasoning: Reasoning) -> Reasoning {
    let mut turns = request.messages.iter().rev();
    let answers_tools =
        turns.next().is_some_and(|m| m.content.iter().any(|c| matches!(c, Content::ToolResult(_))));
    let reasoned = turns.next().is_some_and(|m| matches!(m.content.first(), Some(Content::Reasoning(_))));
    let forced = matches!(request.tool_choice, ToolChoice::Any | ToolChoice::Tool(_));
    if (answers_tools && !reasoned) || forced { Reasoning::Off } else { reasoning }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use streambed_core::{Message, Role, ToolResult, ToolSpec, ToolUse};

    use super::*;

    fn parse(body: Value) -> Result<Asked, String> {
        let body: CompletionRequest = serde_json::from_value(body).map_err(|e| e.to_string())?;
        asked(body, &Limits::defaults()).map_err(|e| e.message)
    }

    #[test]
    fn settings_tools_and_choices_are_carried_over() {
        let asked = parse(json!({
            "model": "m",
            "messages": [{ "role": "user", "content": "hi" }],
            "stream": true,
            "stream_options": { "include_usage": true },
            "max_tokens": 100,
            "max_completion_tokens": 200,
            "temperature": 0.5,
            "top_p": 0.9,
            "stop": "END",
            "reasoning_effort": "high",
            "tools": [{ "type": "function", "function": { "name": "f", "description": "d", "parameters": { "type": "object" } } }],
            "tool_choice": { "type": "function", "function": { "name": "f" } },
            "n": 1, "user": "u-1", "seed": 7, "parallel_tool_calls": false, "logprobs": null,
        }))
        .unwrap();

        assert!(asked.stream && asked.include_usage);
        assert_eq!(asked.reasoning, Some(Reasoning::High));
        let request = asked.request;
        assert_eq!(
            request.params,
            InferenceParams { max_tokens: Some(200), temperature: Some(0.5), top_p: Some(0.9), top_k: None }
        );
        assert_eq!(request.stop_sequences, ["END"]);
        assert_eq!(request.tools[0].name, "f");
        assert_eq!(request.tool_choice, ToolChoice::Tool("f".into()));
        for (choice, expected) in
            [("auto", ToolChoice::Auto), ("none", ToolChoice::None), ("required", ToolChoice::Any)]
        {
            let asked = parse(json!({
                "model": "m", "messages": [{ "role": "user", "content": "hi" }],
                "tools": [{ "type": "function", "function": { "name": "f" } }], "tool_choice": choice,
            }))
            .unwrap();
            assert_eq!(asked.request.tool_choice, expected);
        }
    }

    #[test]
    fn allowed_tools_offer_those_tools_alone() {
        let tools = json!([
            { "type": "function", "function": { "name": "weather" } },
            { "type": "function", "function": { "name": "time" } },
            { "type": "function", "function": { "name": "news" } },
        ]);
        for (mode, expected) in [("auto", ToolChoice::Auto), ("required", ToolChoice::Any)] {
            let asked = parse(json!({
                "model": "m", "messages": [{ "role": "user", "content": "hi" }], "tools": tools,
                "tool_choice": { "type": "allowed_tools", "allowed_tools": { "mode": mode, "tools": [
                    { "type": "function", "function": { "name": "news" } },
                    { "type": "function", "function": { "name": "weather" } },
                ] } },
            }))
            .unwrap();

            assert_eq!(asked.request.tool_choice, expected);
            let offered: Vec<_> = asked.request.tools.iter().map(|t| t.name.as_str()).collect();
            assert_eq!(offered, ["weather", "news"], "in the order of `tools`");
        }
    }

    #[test]
    fn max_tokens_past_the_limit_is_capped() {
        let user = json!([{ "role": "user", "content": "hi" }]);
        for field in ["max_tokens", "max_completion_tokens"] {
            let asked = parse(json!({ "model": "m", "messages": user, field: 64_000 })).unwrap();
            assert_eq!(asked.request.params.max_tokens, Some(Limits::defaults().max_tokens), "{field}");
        }
    }

    #[test]
    fn requests_this_server_cannot_honour_are_refused_naming_the_field() {
        let user = json!([{ "role": "user", "content": "hi" }]);
        for (body, named) in [
            (json!({ "model": "m", "messages": user, "n": 2 }), "`n`"),
            (json!({ "model": "m", "messages": user, "response_format": ["json_object"] }), "a map"),
            (json!({ "model": "m", "messages": user, "max_completion_tokens": 0 }), "max_completion_tokens"),
            (json!({ "model": "m", "messages": [] }), "last message"),
            (json!({ "model": "m", "messages": [{ "role": "assistant", "content": "hi" }] }), "last message"),
            (json!({ "model": "m", "messages": [{ "role": "user", "content": " " }] }), "empty"),
            (
                json!({ "model": "m", "messages": [{ "role": "user", "content": [{ "type": "image_url", "image_url": { "url": "x" } }] }] }),
                "image_url",
            ),
            (json!({ "model": "m", "messages": user, "reasoning_effort": "extreme" }), "reasoning_effort"),
            (json!({ "model": "m", "messages": user, "logprobs": true }), "logprobs"),
            (json!({ "model": "m", "messages": user, "modalities": ["text", "audio"] }), "audio"),
            (
                json!({ "model": "m", "messages": user, "audio": { "voice": "alloy", "format": "wav" } }),
                "audio",
            ),
            (json!({ "model": "m", "messages": user, "web_search_options": {} }), "web"),
            (json!({ "model": "m", "messages": user, "functions": [{ "name": "f" }] }), "`functions`"),
            (json!({ "model": "m", "messages": user, "function_call": "auto" }), "`function_call`"),
            (
                json!({ "model": "m", "messages": [
                    { "role": "user", "content": "Weather?" },
                    { "role": "assistant", "content": null, "function_call": { "name": "f", "arguments": "{}" } },
                    { "role": "function", "name": "f", "content": "Sunny" },
                ] }),
                "`messages[1]` uses OpenAI's deprecated function calling",
            ),
            (
                json!({ "model": "m", "messages": [{ "role": "function", "name": "f", "content": "Sunny" }] }),
                "`tool` message",
            ),
            (
                json!({ "model": "m", "messages": user, "tools": [{ "type": "function", "function": { "name": "f" } }],
                        "tool_choice": { "type": "allowed_tools", "allowed_tools": { "mode": "required", "tools": [
                            { "type": "function", "function": { "name": "g" } }
                        ] } } }),
                "among the `tools`",
            ),
            (json!({ "model": "m", "messages": user, "tool_choice": "required" }), "needs `tools`"),
            (json!({ "model": "m", "messages": user, "temperature": 2.5 }), "temperature"),
            (json!({ "model": "m", "messages": user, "top_p": -0.1 }), "top_p"),
            (
                json!({ "model": "m", "messages": user, "tools": [{ "type": "function", "function": { "name": "f", "parameters": 5 } }] }),
                "parameters",
            ),
            (
                json!({ "model": "m", "messages": user, "tools": [{ "type": "custom", "custom": {} }] }),
                "`custom`",
            ),
            (
                json!({ "model": "m", "messages": [
                    { "role": "assistant", "tool_calls": [{ "id": "c", "type": "function", "function": { "name": "f", "arguments": "[1]" } }] },
                    { "role": "tool", "tool_call_id": "c", "content": "x" }
                ] }),
                "arguments",
            ),
        ] {
            let error = parse(body.clone()).unwrap_err();
            assert!(error.contains(named), "{body}: {error}");
        }
        assert!(parse(json!({ "messages": user })).unwrap_err().contains("model"));
    }

    #[test]
    fn size_limits_are_those_of_the_chat_route() {
        let tight = Limits { max_turns: 2, max_prompt_chars: 10, ..Limits::defaults() };
        let body =
            |messages: Value| serde_json::from_value(json!({ "model": "m", "messages": messages })).unwrap();
        let three = json!([
            { "role": "user", "content": "a" }, { "role": "assistant", "content": "b" }, { "role": "user", "content": "c" }
        ]);
        assert!(asked(body(three), &tight).unwrap_err().message.contains("MAX_TURNS"));
        let long = json!([{ "role": "system", "content": "123456" }, { "role": "user", "content": "12345" }]);
        let refused = asked(body(long), &tight).unwrap_err();
        assert!(refused.message.contains("MAX_PROMPT_CHARS"));
        assert_eq!(refused.code, Some("context_length_exceeded"));
    }

    #[test]
    fn tool_results_are_answered_without_reasoning_the_messages_cannot_carry_back() {
        let mut request = ChatRequest::from_prompt("Weather?");
        assert_eq!(reasoning_for(&request, Reasoning::High), Reasoning::High);
        let call = ToolUse { id: "t1".into(), name: "weather".into(), input: json!({}) };
        request.messages.push(Message { role: Role::Assistant, content: vec![Content::ToolUse(call)] });
        let result = ToolResult::text("t1", "Sunny", false);
        request.messages.push(Message { role: Role::User, content: vec![Content::ToolResult(result)] });

        assert_eq!(reasoning_for(&request, Reasoning::High), Reasoning::Off);
    }

    #[test]
    fn a_forced_tool_call_is_answered_without_reasoning() {
        let mut request = ChatRequest::from_prompt("Extract the city.");
        request.tools = vec![ToolSpec { name: "city".into(), description: None, input_schema: json!({}) }];
        for (choice, expected) in [
            (ToolChoice::Auto, Reasoning::High),
            (ToolChoice::Any, Reasoning::Off),
            (ToolChoice::Tool("city".into()), Reasoning::Off),
        ] {
            request.tool_choice = choice;
            assert_eq!(reasoning_for(&request, Reasoning::High), expected, "{:?}", request.tool_choice);
        }
    }
}
