//! Tool use through the real SDK: the model calls a tool, the caller runs it and sends the result.

use aws_sdk_bedrockruntime::types::{
    ContentBlock, ContentBlockDelta, ContentBlockStart, ConverseOutput, ConverseStreamOutput,
    SpecificToolChoice, StopReason, Tool, ToolChoice, ToolConfiguration, ToolInputSchema, ToolResultBlock,
    ToolResultContentBlock, ToolSpecification, ToolUseBlock,
};
use serde_json::{Value, json};

use crate::helpers::{MODEL, assistant, document, drain, events, spawn, user};

fn tool(name: &str, schema: Value) -> Tool {
    let spec = ToolSpecification::builder()
        .name(name)
        .description(format!("The {name} tool"))
        .input_schema(ToolInputSchema::Json(document(&schema)))
        .build()
        .expect("valid");
    Tool::ToolSpec(spec)
}

fn weather_tools(choice: Option<&str>) -> ToolConfiguration {
    let weather = json!({
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "verbose": {"type": "boolean"}},
        "required": ["city", "days"]
    });
    let config = ToolConfiguration::builder()
        .tools(tool("get_time", json!({"type": "object", "properties": {}})))
        .tools(tool("get_weather", weather));
    let config = match choice {
        Some(name) => {
            config.tool_choice(ToolChoice::Tool(SpecificToolChoice::builder().name(name).build().unwrap()))
        }
        None => config,
    };
    config.build().expect("valid")
}

#[tokio::test]
async fn a_tool_round_trip_streams_the_call_then_answers_with_the_result() {
    let t = spawn().await;
    let question = user("What is the weather in Paris?");
    let tools = weather_tools(Some("get_weather"));

    let out = t
        .client
        .converse_stream()
        .model_id(MODEL)
        .messages(question.clone())
        .tool_config(tools.clone())
        .send();
    let events = events(out.await.unwrap()).await;

    let Some((id, name)) = events.iter().find_map(|e| match e {
        ConverseStreamOutput::ContentBlockStart(start) => match &start.start {
            Some(ContentBlockStart::ToolUse(call)) if start.content_block_index == 0 => {
                Some((call.tool_use_id.clone(), call.name.clone()))
            }
            _ => None,
        },
        _ => None,
    }) else {
        panic!("no tool call: {events:?}")
    };
    let fragments: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            ConverseStreamOutput::ContentBlockDelta(d) => match &d.delta {
                Some(ContentBlockDelta::ToolUse(input)) => Some(input.input.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let stop = events.iter().find_map(|e| match e {
        ConverseStreamOutput::MessageStop(stop) => Some(stop.stop_reason.clone()),
        _ => None,
    });
    assert!(id.starts_with("tooluse_"), "{id}");
    assert_eq!(name, "get_weather");
    assert!(fragments.len() >= 2, "the input arrives in fragments: {fragments:?}");
    let input: Value = serde_json::from_str(&fragments.concat()).unwrap();
    assert_eq!(input, json!({"city": "Paris", "days": 1}));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ConverseStreamOutput::ContentBlockStop(s) if s.content_block_index == 0))
    );
    assert_eq!(stop, Some(StopReason::ToolUse));

    let call = ToolUseBlock::builder().tool_use_id(&id).name(&name).input(document(&input)).build().unwrap();
    let result = ToolResultBlock::builder()
        .tool_use_id(&id)
        .content(ToolResultContentBlock::Text("Sunny, 21 °C".into()))
        .build()
        .unwrap();
    let answer = t
        .client
        .converse_stream()
        .model_id(MODEL)
        .messages(question)
        .messages(assistant(vec![ContentBlock::ToolUse(call)]))
        .messages(crate::helpers::message_of(vec![ContentBlock::ToolResult(result)]))
        .tool_config(tools)
        .send()
        .await
        .unwrap();
    let streamed = drain(answer).await;

    assert_eq!(streamed.text(), "The tool `get_weather` returned: Sunny, 21 °C.");
    assert_eq!(streamed.stop_reason, Some(StopReason::EndTurn));
    let recorded = &t.emulator.recorder.requests()[1].body;
    assert_eq!(recorded["messages"][2]["content"][0]["toolResult"]["toolUseId"], id.as_str());
}

#[tokio::test]
async fn converse_returns_a_call_of_the_first_tool_as_a_tool_use_block() {
    let t = spawn().await;

    let out = t
        .client
        .converse()
        .model_id(MODEL)
        .messages(user("What time is it?"))
        .tool_config(weather_tools(None))
        .send();
    let out = out.await.unwrap();

    let Some(ConverseOutput::Message(message)) = out.output() else { panic!("no message") };
    let call = message.content()[0].as_tool_use().expect("a tool call");
    assert_eq!(call.name(), "get_time");
    assert_eq!(call.input(), &document(&json!({})));
    assert_eq!(out.stop_reason(), &StopReason::ToolUse);
}

#[tokio::test]
async fn a_result_for_a_call_that_was_never_made_is_refused() {
    let t = spawn().await;
    let result = ToolResultBlock::builder()
        .tool_use_id("tooluse_unknown")
        .content(ToolResultContentBlock::Text("?".into()))
        .build()
        .unwrap();
    let call =
        ToolUseBlock::builder().tool_use_id("tooluse_1").name("get_time").input(document(&json!({}))).build();

    let err = t
        .client
        .converse()
        .model_id(MODEL)
        .messages(user("What time is it?"))
        .messages(assistant(vec![ContentBlock::ToolUse(call.unwrap())]))
        .messages(crate::helpers::message_of(vec![ContentBlock::ToolResult(result)]))
        .tool_config(weather_tools(None))
        .send()
        .await
        .unwrap_err()
        .into_service_error();

    assert!(err.is_validation_exception(), "{err:?}");
    assert_eq!(
        aws_sdk_bedrockruntime::error::ProvideErrorMetadata::message(&err),
        Some(
            "The model returned the following errors: messages.2.content.0: unexpected `tool_use_id` found in \
             `tool_result` blocks: tooluse_unknown. Each `tool_result` block must have a corresponding `tool_use` \
             block in the previous message."
        )
    );
}
