//! The tools a request offers, in Converse's `toolConfig`.

use aws_sdk_bedrockruntime::types::{
    AnyToolChoice, SpecificToolChoice, Tool, ToolChoice as SdkToolChoice, ToolConfiguration, ToolInputSchema,
    ToolSpecification,
};
use serde_json::json;
use streambed_core::{ChatRequest, ProviderError, ToolChoice};

use crate::content::{self, built, to_document};

/// The tools, or none. Converse has no `none` tool choice: with `none` the tools are sent
/// without a choice when earlier turns used them (Bedrock needs their definitions then, and the
/// model may still call one), and left out otherwise so the model cannot call any.
pub(crate) fn tool_config(request: &ChatRequest) -> Result<Option<ToolConfiguration>, ProviderError> {
    let used = request.messages.iter().any(|m| m.has_tool_content());
    let (tools, choice) = if request.tools.is_empty() {
        // Bedrock refuses toolUse/toolResult blocks without a toolConfig ("The toolConfig field
        // must be defined when using toolUse and toolResult content blocks"), so a conversation
        // that called tools earlier but offers none now declares the ones it named.
        let named = content::tool_names(&request.messages);
        let tools = named
            .into_iter()
            .map(|name| spec(name, Some("No longer offered."), &json!({ "type": "object" })));
        (tools.collect::<Result<Vec<_>, _>>()?, None)
    } else {
        let choice = match &request.tool_choice {
            // The default when no choice is sent; not every model takes an explicit one.
            ToolChoice::Auto => None,
            ToolChoice::Any => Some(SdkToolChoice::Any(AnyToolChoice::builder().build())),
            ToolChoice::Tool(name) => {
                Some(SdkToolChoice::Tool(built(SpecificToolChoice::builder().name(name).build())?))
            }
            ToolChoice::None if !used => return Ok(None),
            ToolChoice::None => None,
        };
        let tools = request.tools.iter().map(|t| spec(&t.name, t.description.as_deref(), &t.input_schema));
        (tools.collect::<Result<Vec<_>, _>>()?, choice)
    };
    if tools.is_empty() {
        return Ok(None);
    }
    built(ToolConfiguration::builder().set_tools(Some(tools)).set_tool_choice(choice).build()).map(Some)
}

fn spec(name: &str, description: Option<&str>, schema: &serde_json::Value) -> Result<Tool, ProviderError> {
    let spec = ToolSpecification::builder()
        .name(content::tool_name(name)?)
        // Bedrock refuses an empty description; the field may be left out.
        .set_description(description.filter(|d| !d.trim().is_empty()).map(str::to_owned))
        .input_schema(ToolInputSchema::Json(to_document(schema)))
        .build();
    Ok(Tool::ToolSpec(built(spec)?))
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;
    use streambed_core::{Content, Message as Turn, Role, ToolSpec, ToolUse};

    use super::*;
    use crate::content::to_json;

    pub(crate) fn weather() -> ToolSpec {
        ToolSpec {
            name: "weather".into(),
            description: Some("Forecast".into()),
            input_schema: json!({ "type": "object" }),
        }
    }

    pub(crate) fn used_tool() -> Vec<Turn> {
        let call = ToolUse { id: "t1".into(), name: "weather".into(), input: json!({}) };
        vec![
            Turn::user("Weather?"),
            Turn { role: Role::Assistant, content: vec![Content::ToolUse(call)] },
            Turn {
                role: Role::User,
                content: vec![Content::ToolResult(streambed_core::ToolResult::text("t1", "sunny", false))],
            },
        ]
    }

    #[test]
    fn tool_choices_map_to_converse() {
        let mut request = ChatRequest::from_prompt("hi");
        request.tools = vec![weather()];
        let choice = |request: &ChatRequest| tool_config(request).unwrap().map(|c| c.tool_choice().cloned());
        assert_eq!(choice(&request), Some(None));
        request.tool_choice = ToolChoice::Any;
        assert!(matches!(choice(&request), Some(Some(SdkToolChoice::Any(_)))));
        request.tool_choice = ToolChoice::Tool("weather".into());
        assert!(matches!(choice(&request), Some(Some(SdkToolChoice::Tool(t))) if t.name() == "weather"));
        request.tool_choice = ToolChoice::None;
        assert_eq!(choice(&request), None, "no tool blocks: no toolConfig at all");
        request.messages = used_tool();
        assert_eq!(choice(&request), Some(None), "tool blocks: the tools, without a choice");
    }

    #[test]
    fn earlier_tool_calls_without_tools_get_minimal_specs() {
        let request = ChatRequest::new(used_tool());
        let config = tool_config(&request).unwrap().expect("a toolConfig");
        let [Tool::ToolSpec(spec)] = config.tools() else { panic!("{config:?}") };
        assert_eq!(spec.name(), "weather");
        assert_eq!(
            spec.input_schema().and_then(|s| s.as_json().ok()).map(to_json),
            Some(json!({ "type": "object" }))
        );
        assert_eq!(tool_config(&ChatRequest::from_prompt("hi")).unwrap(), None);
    }
}
