//! Extended thinking through the real SDK: signed reasoning, a redacted block, then the answer;
//! and the reasoning sent back with a tool result.

use aws_sdk_bedrockruntime::types::{
    ContentBlock, ContentBlockDelta, ConverseOutput, ConverseStreamOutput, InferenceConfiguration,
    ReasoningContentBlock, ReasoningContentBlockDelta, ReasoningTextBlock, Tool, ToolConfiguration,
    ToolInputSchema, ToolResultBlock, ToolResultContentBlock, ToolSpecification, ToolUseBlock,
};
use serde_json::json;

use crate::helpers::{assistant, document, events, message_of, spawn, user};

const SONNET_37: &str = "us.anthropic.claude-3-7-sonnet-20250219-v1:0";

fn thinking() -> aws_smithy_types::Document {
    document(&json!({"thinking": {"type": "enabled", "budget_tokens": 1024}}))
}

fn budget() -> InferenceConfiguration {
    InferenceConfiguration::builder().max_tokens(2048).build()
}

#[tokio::test]
async fn thinking_streams_signed_reasoning_then_a_redacted_block_then_the_answer() {
    let t = spawn().await;

    let out = t
        .client
        .converse_stream()
        .model_id(SONNET_37)
        .messages(user("hi"))
        .inference_config(budget())
        .additional_model_request_fields(thinking())
        .send()
        .await
        .unwrap();
    let events = events(out).await;

    let mut seen = Vec::new();
    for event in &events {
        match event {
            ConverseStreamOutput::ContentBlockDelta(d) => {
                let what = match d.delta.as_ref().unwrap() {
                    ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::Text(_)) => "reasoning",
                    ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::Signature(s)) => {
                        assert!(!s.is_empty());
                        "signature"
                    }
                    ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::RedactedContent(
                        blob,
                    )) => {
                        assert!(!blob.as_ref().is_empty(), "the redacted blob arrives decoded");
                        "redacted"
                    }
                    ContentBlockDelta::Text(_) => "text",
                    other => panic!("unexpected delta {other:?}"),
                };
                if seen.last() != Some(&(d.content_block_index, what)) {
                    seen.push((d.content_block_index, what));
                }
            }
            ConverseStreamOutput::ContentBlockStop(s) => seen.push((s.content_block_index, "stop")),
            _ => {}
        }
    }
    assert_eq!(
        seen,
        [
            (0, "reasoning"),
            (0, "signature"),
            (0, "stop"),
            (1, "redacted"),
            (1, "stop"),
            (2, "text"),
            (2, "stop")
        ]
    );
}

#[tokio::test]
async fn converse_returns_reasoning_blocks_before_the_text() {
    let t = spawn().await;

    let out = t
        .client
        .converse()
        .model_id(SONNET_37)
        .messages(user("hi"))
        .inference_config(budget())
        .additional_model_request_fields(thinking())
        .send()
        .await
        .unwrap();

    let Some(ConverseOutput::Message(message)) = out.output() else { panic!("no message") };
    let content = message.content();
    let ReasoningContentBlock::ReasoningText(reasoning) = content[0].as_reasoning_content().unwrap() else {
        panic!("{content:?}")
    };
    assert!(reasoning.text().contains("\"hi\""));
    assert!(reasoning.signature().is_some_and(|s| !s.is_empty()));
    assert!(content[1].as_reasoning_content().unwrap().is_redacted_content());
    assert!(content[2].as_text().unwrap().ends_with("You said: hi"));
}

/// With thinking on, the turn that called a tool must come back with its reasoning, unchanged.
#[tokio::test]
async fn reasoning_sent_back_with_a_tool_result_must_be_unchanged() {
    let t = spawn().await;
    let spec = ToolSpecification::builder()
        .name("get_time")
        .input_schema(ToolInputSchema::Json(document(&json!({"type": "object"}))))
        .build()
        .unwrap();
    let tools = ToolConfiguration::builder().tools(Tool::ToolSpec(spec)).build().unwrap();
    let ask = || {
        t.client
            .converse()
            .model_id(SONNET_37)
            .messages(user("What time is it?"))
            .inference_config(budget())
            .additional_model_request_fields(thinking())
            .tool_config(tools.clone())
    };
    let first = ask().send().await.unwrap();
    let Some(ConverseOutput::Message(called)) = first.output() else { panic!("no message") };
    let call = called.content().iter().find_map(|c| c.as_tool_use().ok()).expect("a tool call").clone();
    let result = ToolResultBlock::builder()
        .tool_use_id(call.tool_use_id())
        .content(ToolResultContentBlock::Text("noon".into()))
        .build()
        .unwrap();
    let answer = |turn: Vec<ContentBlock>| {
        ask()
            .messages(assistant(turn))
            .messages(message_of(vec![ContentBlock::ToolResult(result.clone())]))
            .send()
    };

    let unchanged = answer(called.content().to_vec()).await.unwrap();
    let ReasoningContentBlock::ReasoningText(reasoning) = called.content()[0].as_reasoning_content().unwrap()
    else {
        panic!()
    };
    let forged = ReasoningTextBlock::builder()
        .text(format!("{} Also…", reasoning.text()))
        .signature(reasoning.signature().unwrap());
    let mut tampered = called.content().to_vec();
    tampered[0] =
        ContentBlock::ReasoningContent(ReasoningContentBlock::ReasoningText(forged.build().unwrap()));
    let tampered = answer(tampered).await.unwrap_err().into_service_error();
    let dropped = answer(vec![ContentBlock::ToolUse(ToolUseBlock::clone(&call))])
        .await
        .unwrap_err()
        .into_service_error();

    let Some(ConverseOutput::Message(text)) = unchanged.output() else { panic!("no message") };
    assert_eq!(text.content()[0].as_text().unwrap(), "The tool `get_time` returned: noon.");
    let message = |e: &dyn aws_sdk_bedrockruntime::error::ProvideErrorMetadata| {
        e.message().unwrap_or_default().to_owned()
    };
    assert_eq!(
        message(&tampered),
        "The model returned the following errors: messages.1.content.0: Invalid `signature` in `thinking` block"
    );
    assert!(
        message(&dropped).starts_with(
            "The model returned the following errors: messages.1.content.0.type: Expected `thinking` or \
             `redacted_thinking`, but found `tool_use`."
        ),
        "{dropped:?}"
    );
}
