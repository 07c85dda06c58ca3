//! Structured output on a model without it, as a forced tool call.
//!
//! Claude takes a schema for its answer (`outputConfig.textFormat`) from Opus 4.1 and the 4.5
//! models on; older models refuse it, and so do the Nova rows here. For those, a request with a
//! schema and no tools of its own gets the schema as the one tool the model must call, and the
//! call's JSON input is relayed as the answer's text, ending as an answer does (`end_turn`). This
//! is how the Anthropic SDKs, LangChain and the Vercel AI SDK ask such models for JSON, so
//! clients of both compatible APIs (`response_format`, `output_config.format`) get JSON from
//! every model that takes tools. A tool's input schema guides the model where structured output
//! enforces a grammar: the JSON is the model's, as the client would have it from those SDKs.

use std::future;

use futures_util::StreamExt;
use streambed_core::{ChatEvent, ChatRequest, ChatStream, Reasoning, StopReason, ToolChoice, ToolSpec};

use crate::rules::Rule;

/// The tool's name, within Bedrock's rules for tool names.
const NAME: &str = "json_answer";
/// What the tool is for, when the schema does not say.
const DESCRIPTION: &str = "Give the answer as JSON of this tool's input schema.";

/// Moves `request`'s schema into a tool the model must call, when `rule`'s model takes tools but
/// no schema for its answer; true when it did. A request with tools of its own is left as it is
/// (its tools and the schema's would compete for one forced call), and so is a model the rules
/// do not know. Claude cannot reason while it is made to call a tool, so reasoning is turned off,
/// as for any forced call.
pub(crate) fn schema_as_tool(request: &mut ChatRequest, rule: Option<&Rule>) -> bool {
    let needed = rule.is_some_and(|rule| rule.tools && !rule.structured_output);
    if !needed || !request.tools.is_empty() {
        return false;
    }
    let Some(schema) = request.output_schema.take() else {
        return false;
    };
    request.tools.push(ToolSpec {
        name: NAME.to_owned(),
        description: Some(schema.description.unwrap_or_else(|| DESCRIPTION.to_owned())),
        input_schema: schema.schema,
    });
    request.tool_choice = ToolChoice::Tool(NAME.to_owned());
    request.reasoning = Reasoning::Off;
    true
}

/// The answer to a request changed by [`schema_as_tool`]: the call's input as the answer's text,
/// and nothing else the model wrote (a model may say a word before its call), which would make
/// the text no longer JSON; the SDKs that ask this way read the call's input alone too.
pub(crate) fn answer_as_text(answer: ChatStream) -> ChatStream {
    Box::pin(answer.filter_map(|event| {
        future::ready(match event {
            Ok(ChatEvent::ToolCall { .. } | ChatEvent::Text(_) | ChatEvent::Reasoning(_)) => None,
            Ok(ChatEvent::ToolInput(json)) => Some(Ok(ChatEvent::Text(json))),
            Ok(ChatEvent::Done(mut done)) => {
                if done.stop_reason == StopReason::ToolUse {
                    done.stop_reason = StopReason::EndTurn;
                }
                Some(Ok(ChatEvent::Done(done)))
            }
            other => Some(other),
        })
    }))
}

#[cfg(test)]
mod tests {
    use futures_util::stream;
    use serde_json::json;
    use streambed_core::{Completion, OutputSchema, Usage};

    use super::*;
    use crate::rules::lookup;

    fn asking_for_json() -> ChatRequest {
        let mut request = ChatRequest::from_prompt("A city?");
        request.output_schema = Some(OutputSchema {
            name: Some("city".into()),
            description: None,
            schema: json!({ "type": "object", "properties": { "name": { "type": "string" } } }),
        });
        request
    }

    #[test]
    fn a_model_without_structured_output_is_made_to_call_the_schemas_tool() {
        let mut request = asking_for_json();
        request.reasoning = Reasoning::Low;

        assert!(schema_as_tool(&mut request, lookup("anthropic.claude-3-haiku-20240307-v1:0")));

        assert_eq!(request.output_schema, None);
        assert_eq!(request.tools.len(), 1);
        assert_eq!(request.tools[0].name, NAME);
        assert_eq!(request.tools[0].input_schema["properties"]["name"]["type"], "string");
        assert_eq!(request.tool_choice, ToolChoice::Tool(NAME.into()));
        assert_eq!(request.reasoning, Reasoning::Off);
    }

    #[test]
    fn a_model_with_structured_output_a_request_with_tools_and_an_unknown_model_are_left_alone() {
        let unchanged = |mut request: ChatRequest, rule| {
            let before = request.clone();
            assert!(!schema_as_tool(&mut request, rule));
            assert_eq!(request, before);
        };
        unchanged(asking_for_json(), lookup("anthropic.claude-sonnet-4-5-20250929-v1:0"));
        unchanged(asking_for_json(), None);
        let mut with_tools = asking_for_json();
        with_tools.tools.push(ToolSpec {
            name: "weather".into(),
            description: None,
            input_schema: json!({}),
        });
        unchanged(with_tools, lookup("anthropic.claude-3-haiku-20240307-v1:0"));
    }

    #[tokio::test]
    async fn the_calls_input_is_the_answers_text_alone_and_it_ends_as_an_answer() {
        let done = |reason| ChatEvent::Done(Completion::new(reason, Usage::new(3, 2)));
        let events = [
            ChatEvent::Text("Sure, here it is:".into()),
            ChatEvent::ToolCall { id: "tooluse_1".into(), name: NAME.into() },
            ChatEvent::ToolInput(r#"{"name":"#.into()),
            ChatEvent::ToolInput(r#""Paris"}"#.into()),
            done(StopReason::ToolUse),
        ];

        let answer = answer_as_text(Box::pin(stream::iter(events.map(Ok))));
        let answer: Vec<_> = answer.map(Result::unwrap).collect().await;

        let expected = [
            ChatEvent::Text(r#"{"name":"#.into()),
            ChatEvent::Text(r#""Paris"}"#.into()),
            done(StopReason::EndTurn),
        ];
        assert_eq!(answer, expected);
    }
}
