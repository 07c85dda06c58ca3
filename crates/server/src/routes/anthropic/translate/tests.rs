use serde_json::json;
use streambed_core::{ReasoningBlock, ToolResult, ToolUse};

use super::*;

fn parse(body: serde_json::Value) -> Result<ChatRequest, String> {
    let body: wire::MessagesRequest = serde_json::from_value(body).map_err(|e| e.to_string())?;
    request(body)
}

#[test]
fn a_plain_request_keeps_its_system_params_and_stop_sequences() {
    let request = parse(json!({
        "model": "m", "max_tokens": 100, "temperature": 0.5, "top_p": 0.9, "top_k": 40,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": "Be kind."}],
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u"}, "service_tier": "auto",
        "messages": [{"role": "user", "content": "hi"}]
    }))
    .unwrap();

    assert_eq!(request.system.as_deref(), Some("Be brief.\n\nBe kind."));
    assert_eq!(
        request.params,
        InferenceParams { max_tokens: Some(100), temperature: Some(0.5), top_p: Some(0.9), top_k: Some(40) }
    );
    assert_eq!(request.stop_sequences, ["END"]);
    assert_eq!(request.messages, [Message::user("hi")]);
    assert_eq!((request.reasoning, request.tool_choice), (Reasoning::Off, ToolChoice::Auto));
}

#[test]
fn sampling_out_of_the_messages_apis_ranges_is_refused() {
    for (param, value) in [("temperature", -1.0), ("temperature", 1.5), ("top_p", 1.5), ("top_p", -0.1)] {
        let body = json!({"model": "m", "max_tokens": 10, param: value, "messages": [{"role": "user", "content": "hi"}]});
        let refused = parse(body).unwrap_err();
        assert!(refused.starts_with(&format!("{param}: must be from 0 to 1")), "{refused}");
    }
    for value in [0.0, 1.0] {
        let body = json!({"model": "m", "max_tokens": 10, "temperature": value, "top_p": value,
                              "messages": [{"role": "user", "content": "hi"}]});
        assert!(parse(body).is_ok(), "{value} is within both ranges");
    }
}

#[test]
fn a_cache_control_mark_anywhere_or_at_the_top_asks_for_caching() {
    let hi = json!([{"role": "user", "content": "hi"}]);
    let marked = |extra: serde_json::Value| {
        let mut body = json!({"model": "m", "max_tokens": 10, "messages": hi});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        parse(body).unwrap().cache_prompt
    };

    assert!(!marked(json!({})));
    assert!(marked(json!({"cache_control": {"type": "ephemeral"}})), "automatic caching");
    assert!(marked(
        json!({"system": [{"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}]})
    ));
}

#[test]
fn system_messages_in_the_conversation_join_the_system_prompt() {
    // What Claude Code sends under the `mid-conversation-system` beta.
    let request = parse(json!({
        "model": "m", "max_tokens": 100, "system": "You are an agent.",
        "messages": [
            {"role": "user", "content": "Fix the bug."},
            {"role": "system", "content": [{"type": "text", "text": "Available agent types: …"}]}
        ]
    }))
    .unwrap();

    assert_eq!(request.system.as_deref(), Some("You are an agent.\n\nAvailable agent types: …"));
    assert_eq!(request.messages, [Message::user("Fix the bug.")]);
    let only = parse(json!({
        "model": "m", "max_tokens": 100,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    }))
    .unwrap();
    assert_eq!(only.system.as_deref(), Some("Be brief."));
}

#[test]
fn a_tool_round_trip_becomes_tool_use_and_tool_result_blocks() {
    let request = parse(json!({
        "model": "m", "max_tokens": 100,
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Use the tool.", "signature": "sig"},
                {"type": "redacted_thinking", "data": "b64"},
                {"type": "tool_use", "id": "tu_1", "name": "get_weather", "input": {"city": "Paris"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "tu_1",
                 "content": [{"type": "text", "text": "18 C"}, {"type": "text", "text": "sunny"}]},
                {"type": "tool_result", "tool_use_id": "tu_2", "content": "boom", "is_error": true}
            ]}
        ]
    }))
    .unwrap();

    assert_eq!(
        request.tools,
        [ToolSpec {
            name: "get_weather".into(),
            description: Some("Weather".into()),
            input_schema: json!({"type": "object"})
        }]
    );
    assert_eq!(request.tool_choice, ToolChoice::Tool("get_weather".into()));
    assert_eq!(
        request.messages[1].content,
        [
            Content::Reasoning(ReasoningBlock::Text {
                text: "Use the tool.".into(),
                signature: Some("sig".into())
            }),
            Content::Reasoning(ReasoningBlock::Redacted { data: "b64".into() }),
            Content::ToolUse(ToolUse {
                id: "tu_1".into(),
                name: "get_weather".into(),
                input: json!({"city": "Paris"})
            }),
        ]
    );
    assert_eq!(
        request.messages[2].content,
        [
            Content::ToolResult(ToolResult::text("tu_1", "18 C\nsunny", false)),
            Content::ToolResult(ToolResult::text("tu_2", "boom", true)),
        ]
    );
}

#[test]
fn tool_choices_map_to_their_neutral_kinds() {
    let tools = json!([{"name": "t", "input_schema": {"type": "object"}}]);
    for (choice, expected) in [
        (json!({"type": "auto"}), ToolChoice::Auto),
        (json!({"type": "any"}), ToolChoice::Any),
        (json!({"type": "none"}), ToolChoice::None),
    ] {
        let request = parse(json!({
            "model": "m", "tools": tools, "tool_choice": choice,
            "messages": [{"role": "user", "content": "hi"}]
        }));
        assert_eq!(request.unwrap().tool_choice, expected);
    }
}

#[test]
fn thinking_becomes_a_budget_or_an_effort_level() {
    let with = |thinking: serde_json::Value, config: serde_json::Value| {
        parse(json!({
            "model": "m", "thinking": thinking, "output_config": config,
            "messages": [{"role": "user", "content": "hi"}]
        }))
        .map(|r| r.reasoning)
    };
    assert_eq!(
        with(json!({"type": "enabled", "budget_tokens": 2048}), json!(null)),
        Ok(Reasoning::Budget(2048))
    );
    assert_eq!(with(json!({"type": "disabled"}), json!(null)), Ok(Reasoning::Off));
    assert_eq!(with(json!({"type": "adaptive"}), json!(null)), Ok(Reasoning::High));
    assert_eq!(with(json!({"type": "adaptive"}), json!({"effort": "low"})), Ok(Reasoning::Low));
    assert!(with(json!({"type": "adaptive"}), json!({"effort": "extreme"})).is_err());
    assert!(with(json!(null), json!({"effort": "extreme"})).is_err(), "checked with thinking off too");
}

#[test]
fn system_blocks_must_be_text_blocks() {
    for system in
        [json!([{"type": {}, "text": ""}]), json!([{"text": "a"}]), json!([{"type": "image"}]), json!(5)]
    {
        let body = json!({"model": "m", "system": system, "messages": [{"role": "user", "content": "hi"}]});
        assert!(parse(body).is_err(), "{system}");
    }
}

#[test]
fn consecutive_turns_of_one_role_are_merged() {
    let request = parse(json!({
            "model": "m",
            "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": [{"type": "text", "text": "b"}]}]
        }))
        .unwrap();
    assert_eq!(request.messages.len(), 1);
    assert_eq!(request.messages[0].text(), "a\n\nb");
}

#[test]
fn what_this_server_cannot_do_is_refused_naming_it() {
    let refused = |body: serde_json::Value| parse(body).unwrap_err();
    let image = |source: serde_json::Value| json!({"type": "image", "source": source});
    for (source, says) in [
        (json!({"type": "url", "url": "https://example.com/a.png"}), "inline only"),
        (json!({"type": "base64", "media_type": "image/svg+xml", "data": "AA=="}), "image/svg+xml"),
        (json!({"type": "base64", "media_type": "image/png", "data": "not base64!"}), "not base64"),
    ] {
        let in_result =
            json!({"type": "tool_result", "tool_use_id": "t", "content": [image(source.clone())]});
        for content in [image(source.clone()), in_result] {
            let message =
                refused(json!({"model": "m", "messages": [{"role": "user", "content": [content]}]}));
            assert!(message.contains(says), "{message}");
        }
    }
    let document = |extra: serde_json::Value| {
        let mut document = json!({"type": "document", "source": {"type": "text", "data": "x"}});
        document.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"model": "m", "messages": [{"role": "user", "content": [document]}]})
    };
    for (extra, says) in [
        (json!({"source": {"type": "url", "url": "https://example.com/a.pdf"}}), "inline only"),
        (json!({"source": {"type": "file", "file_id": "f"}}), "fetches no URL or file"),
        (json!({"source": {"type": "text", "data": " \n"}}), "hold some content"),
        (json!({"citations": {"enabled": true}}), "Citations are not supported"),
    ] {
        let message = refused(document(extra));
        assert!(message.contains(says), "{message}");
    }
    let server_tool = json!([{"type": "web_search_20250305", "name": "web_search"}]);
    let message =
        refused(json!({"model": "m", "tools": server_tool, "messages": [{"role": "user", "content": "hi"}]}));
    assert!(message.contains("server tool"), "{message}");
    let client_tool = json!([{"type": "bash_20250124", "name": "bash"}]);
    let message =
        refused(json!({"model": "m", "tools": client_tool, "messages": [{"role": "user", "content": "hi"}]}));
    assert!(message.contains("typed tools") && message.contains("your own tool"), "{message}");
    let hi = json!([{"role": "user", "content": "hi"}]);
    let mcp = json!([{"type": "url", "url": "https://mcp.example.com/sse", "name": "x"}]);
    assert!(refused(json!({"model": "m", "messages": hi, "mcp_servers": mcp})).contains("mcp_servers"));
    assert!(refused(json!({"model": "m", "messages": hi, "container": "c1"})).contains("container"));
    let prefill = json!([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "{"}]);
    assert!(refused(json!({"model": "m", "messages": prefill})).contains("last message"));
    assert!(refused(json!({"model": "m", "messages": []})).contains("empty"));
    let choice = json!({"type": "tool", "name": "missing"});
    let tools = json!([{"name": "t", "input_schema": {}}]);
    let message = refused(
        json!({"model": "m", "tools": tools, "tool_choice": choice, "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert!(message.contains("missing"), "{message}");
    let message =
        refused(json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "audio"}]}]}));
    assert!(message.contains("audio"), "{message}");
}

#[test]
fn stop_reasons_and_usage_use_anthropics_words() {
    assert_eq!(stop_reason(&StopReason::ToolUse), "tool_use");
    assert_eq!(stop_reason(&StopReason::MaxTokens), "max_tokens");
    assert_eq!(stop_reason(&StopReason::GuardrailIntervened), "refusal");
    assert_eq!(stop_reason(&StopReason::ContentFiltered), "refusal");
    assert_eq!(stop_reason(&StopReason::Other("new".into())), "end_turn");
    assert_eq!(stop_sequence(&StopReason::StopSequence, &["END".into()]), Some("END".into()));
    assert_eq!(stop_sequence(&StopReason::StopSequence, &["A".into(), "B".into()]), None);
    let cached =
        Usage { cache_read_input_tokens: Some(7), cache_write_input_tokens: Some(3), ..Usage::new(10, 2) };
    assert_eq!(
        usage(&cached),
        wire::Usage {
            input_tokens: 10,
            output_tokens: 2,
            cache_creation_input_tokens: Some(3),
            cache_read_input_tokens: Some(7)
        }
    );
}
