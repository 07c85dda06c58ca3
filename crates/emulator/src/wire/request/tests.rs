use serde_json::json;

use super::*;

#[test]
fn parses_system_messages_and_inference_config() {
    let body = json!({
        "system": [{"text": "Be brief."}],
        "messages": [
            {"role": "user", "content": [{"text": "Hi"}]},
            {"role": "assistant", "content": [{"text": "Hello"}]},
            {"role": "user", "content": [{"text": "More"}, {"cachePoint": {"type": "default"}}]}
        ],
        "inferenceConfig": {"maxTokens": 100, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]},
        "additionalModelRequestFields": {"top_k": 40},
        "serviceTier": {"type": "flex"}
    });
    let parsed = parse_request(&body).unwrap();
    let request = parsed.request;
    assert_eq!(request.system.as_deref(), Some("Be brief."));
    assert_eq!(request.messages.len(), 3);
    assert_eq!(request.last_user_text(), Some("More".to_owned()));
    assert_eq!(
        request.params,
        InferenceParams { max_tokens: Some(100), temperature: Some(0.5), top_p: Some(0.9), top_k: Some(40) }
    );
    assert_eq!(request.stop_sequences, ["END"]);
    assert_eq!(parsed.service_tier.as_deref(), Some("flex"));
    assert!(!parsed.tool_config);
}

#[test]
fn parses_tool_use_tool_results_and_reasoning_blocks() {
    let body = json!({
        "messages": [
            {"role": "user", "content": [{"text": "Weather?"}]},
            {"role": "assistant", "content": [
                {"reasoningContent": {"reasoningText": {"text": "Hmm.", "signature": "sig"}}},
                {"reasoningContent": {"redactedContent": "AQID"}},
                {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}
            ]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "Sunny"}, {"json": {"c": 21}}], "status": "error"}}]}
        ],
        "toolConfig": {
            "tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}, {"cachePoint": {"type": "default"}}],
            "toolChoice": {"tool": {"name": "get_weather"}}
        },
        "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    });
    let parsed = parse_request(&body).unwrap();
    let request = parsed.request;
    assert_eq!(request.messages[1].content.len(), 3);
    assert_eq!(
        request.messages[1].content[0],
        Content::Reasoning(ReasoningBlock::Text { text: "Hmm.".into(), signature: Some("sig".into()) })
    );
    assert_eq!(
        request.messages[1].content[1],
        Content::Reasoning(ReasoningBlock::Redacted { data: "AQID".into() })
    );
    let Content::ToolResult(result) = &request.messages[2].content[0] else { panic!() };
    assert_eq!((result.content.as_str(), result.is_error), ("Sunny\n{\"c\":21}", true));
    assert_eq!(request.tools.len(), 1);
    assert_eq!(request.tool_choice, ToolChoice::Tool("get_weather".into()));
    assert_eq!(request.reasoning, Reasoning::Budget(2048));
    assert_eq!(parsed.thinking, Some(Thinking::Enabled { budget_tokens: Some(2048) }));
    assert!(parsed.tool_config);
}

#[test]
fn rejects_missing_messages_unknown_roles_and_wrong_types() {
    for body in [
        json!({}),
        json!({"messages": []}),
        json!({"messages": [{"role": "robot", "content": [{"text": "x"}]}]}),
        json!({"messages": "hi"}),
        json!({"messages": [{"role": "assistant", "content": [{"text": "x"}]}]}),
    ] {
        let err = parse_request(&body).unwrap_err();
        assert_eq!(err.name, "ValidationException", "{body}");
    }
}
