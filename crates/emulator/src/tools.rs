//! Tool use as the emulated model does it: asked with tools and no tool result to read, it calls
//! one (the tool `toolChoice` names, else the first) with an input built from the tool's schema;
//! given a tool result, it answers with a sentence that quotes it.

use serde_json::{Map, Value, json};
use streambed_core::{ChatEvent, ChatRequest, Content, Message, Role, ToolChoice, ToolResult};

use crate::structured::{self, Lead};

/// The tool call to make, if the model should call one now.
pub(crate) fn call(request: &ChatRequest) -> Option<Vec<ChatEvent>> {
    if request.tools.is_empty() || request.tool_choice == ToolChoice::None || !results(request).is_empty() {
        return None;
    }
    let tool = match &request.tool_choice {
        ToolChoice::Tool(name) => request.tools.iter().find(|t| &t.name == name),
        _ => None,
    };
    let tool = tool.or_else(|| request.tools.first())?;
    let input = example(&tool.input_schema).to_string();
    let id = format!("tooluse_{}", &uuid::Uuid::new_v4().simple().to_string()[..22]);
    let call = ChatEvent::ToolCall { id, name: tool.name.clone() };
    Some([call].into_iter().chain(fragments(&input).into_iter().map(ChatEvent::ToolInput)).collect())
}

/// The answer to the tool results in the last user turn, if it has any.
pub(crate) fn answer(request: &ChatRequest) -> Option<String> {
    let results = results(request);
    let sentences: Vec<String> = results
        .iter()
        .map(|result| {
            let name = tool_name(&request.messages, &result.tool_use_id).unwrap_or("unknown");
            let verb = if result.is_error { "failed with" } else { "returned" };
            format!("The tool `{name}` {verb}: {}.", result.content.trim())
        })
        .collect();
    (!sentences.is_empty()).then(|| sentences.join(" "))
}

/// The tool results of the last user turn.
fn results(request: &ChatRequest) -> Vec<&ToolResult> {
    let last = request.messages.iter().rev().find(|m| m.role == Role::User);
    last.into_iter()
        .flat_map(|m| &m.content)
        .filter_map(|c| match c {
            Content::ToolResult(result) => Some(result),
            _ => None,
        })
        .collect()
}

/// The name of the tool an earlier assistant turn called with this id.
pub(crate) fn tool_name<'a>(messages: &'a [Message], tool_use_id: &str) -> Option<&'a str> {
    messages.iter().filter(|m| m.role == Role::Assistant).flat_map(|m| &m.content).find_map(|c| match c {
        Content::ToolUse(call) if call.id == tool_use_id => Some(call.name.as_str()),
        _ => None,
    })
}

/// A plausible value for a JSON Schema: an object with its required properties filled in,
/// `$ref`s into the schema followed (as Pydantic writes nested models), a `const` or an enum's
/// first value, a union's first branch ([`structured::lead`]).
pub(crate) fn example(schema: &Value) -> Value {
    example_in(schema, schema, 0)
}

fn example_in(schema: &Value, root: &Value, depth: usize) -> Value {
    let example = |schema: &Value| example_in(schema, root, depth + 1);
    match structured::lead(schema, root, depth) {
        Lead::To(next) => return example(next),
        Lead::Fixed(fixed) => return fixed,
        Lead::Deep => return Value::Null,
        Lead::Own => {}
    }
    match schema.get("type").and_then(Value::as_str).unwrap_or("object") {
        "string" => json!("Paris"),
        "number" | "integer" => json!(1),
        "boolean" => json!(true),
        "null" => Value::Null,
        "array" => json!([example(schema.get("items").unwrap_or(&json!({"type": "string"})))]),
        _ => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let required =
                schema.get("required").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            let object: Map<String, Value> = required
                .iter()
                .filter_map(Value::as_str)
                .map(|name| {
                    let property = properties.and_then(|p| p.get(name)).unwrap_or(&Value::Null);
                    (name.to_owned(), example(property))
                })
                .collect();
            Value::Object(object)
        }
    }
}

/// The JSON input cut into the partial-JSON fragments a streamed tool call sends: at least two.
fn fragments(json: &str) -> Vec<String> {
    let chars: Vec<char> = json.chars().collect();
    let size = chars.len().div_ceil(3).clamp(1, 12);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use streambed_core::ToolSpec;

    use super::*;

    fn spec(name: &str, input_schema: Value) -> ToolSpec {
        ToolSpec { name: name.to_owned(), description: None, input_schema }
    }

    fn weather() -> Value {
        json!({
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "verbose": {"type": "boolean"}
            },
            "required": ["city", "days", "unit"]
        })
    }

    #[test]
    fn the_example_fills_required_properties_only() {
        assert_eq!(example(&weather()), json!({"city": "Paris", "days": 1, "unit": "celsius"}));
        // What Pydantic writes for `list[City]` (instructor's `create_iterable`), `City | None`.
        let nested = json!({
            "type": "object",
            "properties": {
                "tasks": { "type": "array", "items": { "$ref": "#/$defs/City" } },
                "best": { "anyOf": [{ "$ref": "#/$defs/City" }, { "type": "null" }] }
            },
            "required": ["tasks", "best"],
            "$defs": { "City": { "type": "object", "properties": { "name": { "type": "string" } }, "required": ["name"] } }
        });
        assert_eq!(example(&nested), json!({"tasks": [{"name": "Paris"}], "best": {"name": "Paris"}}));
    }

    #[test]
    fn the_named_tool_is_called_with_its_input_in_fragments() {
        let mut request = ChatRequest::from_prompt("Weather in Paris?");
        request.tools = vec![spec("get_time", json!({"type": "object"})), spec("get_weather", weather())];
        request.tool_choice = ToolChoice::Tool("get_weather".into());

        let events = call(&request).unwrap();

        let ChatEvent::ToolCall { id, name } = &events[0] else { panic!("{events:?}") };
        assert!(id.starts_with("tooluse_") && id.len() == 30, "{id}");
        assert_eq!(name, "get_weather");
        let input: String = events[1..]
            .iter()
            .map(|e| match e {
                ChatEvent::ToolInput(f) => f.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(events.len() >= 3);
        assert_eq!(serde_json::from_str::<Value>(&input).unwrap(), example(&weather()));
    }

    #[test]
    fn a_tool_result_is_answered_with_text_that_uses_it() {
        let mut request = ChatRequest::from_prompt("Weather?");
        request.tools = vec![spec("get_weather", weather())];
        let call = streambed_core::ToolUse { id: "t1".into(), name: "get_weather".into(), input: json!({}) };
        request.messages.push(Message { role: Role::Assistant, content: vec![Content::ToolUse(call)] });
        let result = ToolResult::text("t1", "Sunny, 21 °C", false);
        request.messages.push(Message { role: Role::User, content: vec![Content::ToolResult(result)] });

        assert!(super::call(&request).is_none());
        assert_eq!(answer(&request).as_deref(), Some("The tool `get_weather` returned: Sunny, 21 °C."));
    }
}
