use serde_json::{Value, json};

use super::*;
use crate::wire::parse_request;

const PREFIX: &str = "The model returned the following errors: ";

fn refusal(model_id: &str, body: Value) -> Option<String> {
    let converse = parse_request(&body).unwrap();
    check(Model::from_id(model_id).as_ref(), &converse).err().map(|e| {
        assert_eq!(e.name, "ValidationException");
        e.message
    })
}

fn ask(extra: Value) -> Value {
    json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}], "additionalModelRequestFields": extra})
}

fn sampled(config: Value) -> Value {
    json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": config})
}

const SONNET_35: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
const SONNET_37: &str = "us.anthropic.claude-3-7-sonnet-20250219-v1:0";
const SONNET_45: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";
const OPUS_46: &str = "global.anthropic.claude-opus-4-6-v1";
const OPUS_47: &str = "anthropic.claude-opus-4-7";

#[test]
fn sampling_rules_follow_the_family() {
    let both = sampled(json!({"temperature": 0.5, "topP": 0.9}));
    assert_eq!(refusal(SONNET_35, both.clone()), None);
    assert_eq!(refusal("anthropic.claude-opus-4-20250514-v1:0", both.clone()), None);
    let expected = format!(
        "{PREFIX}`temperature` and `top_p` cannot both be specified for this model. Please use only one."
    );
    for model in ["anthropic.claude-opus-4-1-20250805-v1:0", SONNET_45, OPUS_46] {
        assert_eq!(refusal(model, both.clone()).as_deref(), Some(expected.as_str()), "{model}");
    }
    assert_eq!(
        refusal(OPUS_47, sampled(json!({"temperature": 0.5}))),
        Some(format!("{PREFIX}temperature is deprecated for this model."))
    );
    assert_eq!(
        refusal(OPUS_47, sampled(json!({"topP": 0.5}))),
        Some(format!("{PREFIX}top_p is deprecated for this model."))
    );
    assert_eq!(
        refusal(OPUS_47, ask(json!({"top_k": 5}))),
        Some(format!("{PREFIX}top_k is deprecated for this model."))
    );
    assert_eq!(refusal(OPUS_47, sampled(json!({"temperature": 1.0, "maxTokens": 10}))), None);
}

#[test]
fn thinking_rules_follow_the_family() {
    let budget = json!({"thinking": {"type": "enabled", "budget_tokens": 2048}});
    let adaptive = json!({"thinking": {"type": "adaptive"}});
    assert_eq!(
        refusal("anthropic.claude-3-5-haiku-20241022-v1:0", ask(budget.clone())),
        Some(format!("{PREFIX}'claude-3-5-haiku-20241022' does not support thinking."))
    );
    assert_eq!(refusal(SONNET_37, ask(budget.clone())), None);
    assert_eq!(
        refusal(SONNET_45, ask(adaptive.clone())),
        Some(format!("{PREFIX}adaptive thinking is not supported on this model"))
    );
    assert_eq!(refusal(OPUS_46, ask(adaptive.clone())), None);
    assert_eq!(refusal(OPUS_46, ask(budget.clone())), None);
    assert_eq!(refusal(OPUS_47, ask(adaptive)), None);
    assert!(
        refusal(OPUS_47, ask(budget))
            .unwrap()
            .contains("\"thinking.type.enabled\" is not supported for this model.")
    );
    assert!(
        refusal(SONNET_45, ask(json!({"thinking": {"type": "auto"}}))).unwrap().contains("Input tag 'auto'")
    );
    assert_eq!(refusal(SONNET_35, ask(json!({"thinking": {"type": "disabled"}}))), None);
    assert_eq!(refusal("amazon.nova-pro-v1:0", ask(json!({"thinking": {"type": "adaptive"}}))), None);
}

#[test]
fn a_budget_must_be_at_least_1024_and_below_max_tokens() {
    let thinking = |budget: u32, max: u32| {
        json!({
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "inferenceConfig": {"maxTokens": max},
            "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": budget}}
        })
    };
    assert!(refusal(SONNET_37, thinking(512, 4096)).unwrap().ends_with("greater than or equal to 1024"));
    assert_eq!(
        refusal(SONNET_37, thinking(2048, 2048)),
        Some(format!(
            "{PREFIX}`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at \
             https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
        ))
    );
    assert_eq!(refusal(SONNET_37, thinking(2048, 2049)), None);
}

#[test]
fn thinking_refuses_temperature_top_k_and_forced_tools() {
    let with = |config: Value, extra: Value| {
        let mut fields = json!({"thinking": {"type": "enabled", "budget_tokens": 1024}});
        fields.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "inferenceConfig": config,
            "additionalModelRequestFields": fields,
        })
    };
    assert_eq!(
        refusal(SONNET_45, with(json!({"temperature": 0.2}), json!({}))),
        Some(format!(
            "{PREFIX}temperature may only be set to 1 when thinking is enabled or in adaptive mode"
        ))
    );
    assert_eq!(refusal(SONNET_45, with(json!({"temperature": 1.0}), json!({}))), None);
    assert_eq!(
        refusal(SONNET_45, with(json!({}), json!({"top_k": 10}))),
        Some(format!("{PREFIX}top_k must be unset when thinking is enabled."))
    );
    let mut forced = with(json!({}), json!({}));
    forced["toolConfig"] = json!({"tools": [{"toolSpec": {"name": "t", "inputSchema": {"json": {}}}}], "toolChoice": {"any": {}}});
    assert_eq!(
        refusal(SONNET_45, forced),
        Some(format!("{PREFIX}Thinking may not be enabled when tool_choice forces tool use."))
    );
}

#[test]
fn prefill_is_refused_from_the_4_6_models_on() {
    let prefilled = json!({"messages": [
        {"role": "user", "content": [{"text": "hi"}]},
        {"role": "assistant", "content": [{"text": "Hello"}]}
    ]});
    assert_eq!(refusal(SONNET_45, prefilled.clone()), None);
    let expected = format!(
        "{PREFIX}This model does not support assistant message prefill. The conversation must end with a user message."
    );
    for model in ["anthropic.claude-sonnet-4-6", OPUS_46, OPUS_47] {
        assert_eq!(refusal(model, prefilled.clone()).as_deref(), Some(expected.as_str()), "{model}");
    }
}

fn tool_turns(assistant: Value, result_id: &str, tools: bool) -> Value {
    let mut body = json!({"messages": [
        {"role": "user", "content": [{"text": "Weather?"}]},
        {"role": "assistant", "content": assistant},
        {"role": "user", "content": [{"toolResult": {"toolUseId": result_id, "content": [{"text": "Sunny"}]}}]}
    ]});
    if tools {
        body["toolConfig"] =
            json!({"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {}}}}]});
    }
    body
}

#[test]
fn tool_blocks_need_a_tool_config_and_results_need_their_call() {
    let call = json!([{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}}]);
    assert_eq!(
        refusal("amazon.nova-pro-v1:0", tool_turns(call.clone(), "t1", false)).as_deref(),
        Some("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
    );
    assert_eq!(refusal(SONNET_45, tool_turns(call.clone(), "t1", true)), None);
    assert_eq!(
        refusal(SONNET_45, tool_turns(call, "t2", true)),
        Some(format!(
            "{PREFIX}messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: t2. Each \
             `tool_result` block must have a corresponding `tool_use` block in the previous message."
        ))
    );
}

#[test]
fn every_call_is_answered_first_in_the_next_message() {
    let calls = json!([
        {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}},
        {"toolUse": {"toolUseId": "t2", "name": "get_weather", "input": {}}}
    ]);
    let result = |id: &str| json!({"toolResult": {"toolUseId": id, "content": [{"text": "Sunny"}]}});
    let answered = |content: Value| {
        let mut body = tool_turns(calls.clone(), "t1", true);
        body["messages"][2]["content"] = content;
        body
    };
    let text = json!({"text": "And tomorrow?"});
    let notes = json!({"document": {"format": "txt", "name": "notes", "source": {"bytes": "aGk="}}});
    let pdf = document("report");

    assert_eq!(refusal(SONNET_45, answered(json!([result("t1"), result("t2"), text]))), None);
    assert_eq!(refusal(SONNET_45, answered(json!([result("t1"), result("t2"), pdf, text]))), None);
    let missing = format!(
        "{PREFIX}messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: t2. \
         Each `tool_use` block must have a corresponding `tool_result` block in the next message."
    );
    assert_eq!(refusal(SONNET_45, answered(json!([result("t1"), text]))), Some(missing));
    let beside = refusal(SONNET_45, answered(json!([result("t1"), result("t2"), notes, text]))).unwrap();
    assert!(
        beside.contains("ids were found without `tool_result` blocks immediately after: t1, t2."),
        "{beside}"
    );
    assert_eq!(
        refusal(SONNET_45, answered(json!([result("t1"), text, result("t2")]))),
        Some(format!(
            "{PREFIX}messages.2: Did not find 2 `tool_result` block(s) at the beginning of this message. \
             Messages following `tool_use` blocks must begin with a matching number of `tool_result` blocks."
        ))
    );
}

#[test]
fn reasoning_must_come_back_signed_and_first() {
    let call = json!({"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}});
    let reasoning = |signature: &str| json!({"reasoningContent": {"reasoningText": {"text": "Hmm.", "signature": signature}}});
    let thinking = |mut body: Value| {
        body["additionalModelRequestFields"] =
            json!({"thinking": {"type": "enabled", "budget_tokens": 1024}});
        body
    };
    let signed = tool_turns(json!([reasoning(&thinking::sign("Hmm.")), call.clone()]), "t1", true);
    assert_eq!(refusal(SONNET_45, thinking(signed)), None);
    let forged = tool_turns(json!([reasoning("forged"), call.clone()]), "t1", true);
    assert_eq!(
        refusal(SONNET_45, forged),
        Some(format!("{PREFIX}messages.1.content.0: Invalid `signature` in `thinking` block"))
    );
    let missing = tool_turns(
        json!([{"reasoningContent": {"reasoningText": {"text": "Hmm."}}}, call.clone()]),
        "t1",
        true,
    );
    assert_eq!(
        refusal(SONNET_45, missing),
        Some(format!("{PREFIX}messages.1.content.0.thinking.signature: Field required"))
    );
    let dropped = thinking(tool_turns(json!([call]), "t1", true));
    assert!(refusal(SONNET_45, dropped).unwrap().starts_with(&format!(
        "{PREFIX}messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`."
    )));
}

#[test]
fn blank_text_blank_tool_results_and_empty_tool_descriptions_are_refused() {
    let blank = json!({"messages": [{"role": "user", "content": [{"text": "hi"}, {"text": " "}]}]});
    assert_eq!(
        refusal("amazon.nova-pro-v1:0", blank).as_deref(),
        Some(
            "The text field in the ContentBlock object at messages.0.content.1 is blank. Add text to the text \
             field, and try again."
        )
    );
    let call = json!([{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}}]);
    let mut silent = tool_turns(call.clone(), "t1", true);
    silent["messages"][2]["content"][0]["toolResult"]["content"] = json!([{"text": ""}]);
    assert_eq!(
        refusal(SONNET_45, silent),
        Some(format!("{PREFIX}messages: text content blocks must contain non-whitespace text"))
    );
    let mut undescribed = tool_turns(call, "t1", true);
    undescribed["toolConfig"]["tools"][0]["toolSpec"]["description"] = json!("");
    let refused = refusal(SONNET_45, undescribed).unwrap();
    assert!(refused.contains("'toolConfig.tools.1.member.toolSpec.description'"), "{refused}");
}

#[test]
fn tool_names_and_tool_use_ids_follow_bedrocks_patterns() {
    let call =
        json!([{"toolUse": {"toolUseId": "functions.get_weather:0", "name": "get_weather", "input": {}}}]);
    assert_eq!(refusal(SONNET_45, tool_turns(call, "functions.get_weather:0", true)), None);

    let slashed = json!([{"toolUse": {"toolUseId": "call/1", "name": "get_weather", "input": {}}}]);
    let refused = refusal(SONNET_45, tool_turns(slashed, "call/1", true)).unwrap();
    assert!(
        refused.contains("Value 'call/1' at 'messages.2.member.content.1.member.toolUse.toolUseId'")
            && refused.ends_with("pattern: [a-zA-Z0-9_.:-]+"),
        "{refused}"
    );
    let call = json!([{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}}]);
    let mut dotted = tool_turns(call, "t1", true);
    dotted["toolConfig"]["tools"][0]["toolSpec"]["name"] = json!("ns.get");
    let refused = refusal("amazon.nova-pro-v1:0", dotted).unwrap();
    assert!(refused.contains("Value 'ns.get' at 'toolConfig.tools.1.member.toolSpec.name'"), "{refused}");
}

#[test]
fn structured_output_needs_a_model_that_takes_it_and_a_schema_its_grammar_can_hold() {
    let with_schema = |schema: Value| {
        json!({
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "outputConfig": {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": schema.to_string()}}}}
        })
    };
    let closed =
        json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false});
    let bounded = json!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}, "additionalProperties": false});
    let open = json!({"type": "object", "properties": {"a": {"type": "string"}}});

    assert_eq!(refusal(SONNET_45, with_schema(closed.clone())), None);
    assert!(refusal(SONNET_35, with_schema(closed)).is_some_and(|m| m.contains("not supported on")));
    assert!(
        refusal(SONNET_45, with_schema(bounded)).is_some_and(|m| m.contains("'minimum' is not supported"))
    );
    assert!(refusal(SONNET_45, with_schema(open)).is_some_and(|m| m.contains("additionalProperties")));
}

fn with_documents(blocks: Value) -> Value {
    json!({"messages": [{"role": "user", "content": blocks}]})
}

fn document(name: &str) -> Value {
    json!({"document": {"format": "pdf", "name": name, "source": {"bytes": "JVBERi0="}}})
}

#[test]
fn documents_follow_bedrocks_rules_for_names_counts_and_text() {
    let text = json!({"text": "Summarise."});
    assert_eq!(refusal(SONNET_45, with_documents(json!([document("Q3 report (final) [v2]"), text]))), None);

    for name in ["report.pdf", "a  b", "", "John's"] {
        let refused = refusal(SONNET_45, with_documents(json!([document(name), text]))).expect(name);
        assert!(refused.starts_with("The document file name can only contain alphanumeric"), "{refused}");
    }
    let twice = with_documents(json!([document("a"), document("a"), text]));
    assert_eq!(
        refusal(SONNET_45, twice).as_deref(),
        Some("Messages can't contain duplicate document names.")
    );
    let six: Vec<Value> = (0..6).map(|i| document(&format!("d{i}"))).chain([text.clone()]).collect();
    let refused = refusal(SONNET_45, with_documents(Value::Array(six)));
    assert_eq!(refused.as_deref(), Some("You can't include more than 5 documents in a request."));
    let alone = refusal(SONNET_45, with_documents(json!([document("a")]))).unwrap();
    assert!(alone.starts_with("A text block must be included when using documents."), "{alone}");
    let from_assistant = json!({"messages": [
        {"role": "user", "content": [text]},
        {"role": "assistant", "content": [document("a"), text]},
        {"role": "user", "content": [text]}
    ]});
    let refused = refusal(SONNET_45, from_assistant).unwrap();
    assert!(refused.contains("only include images and documents if the role is user"), "{refused}");
}

/// A tool's documents, inside its result, are the request's documents too.
#[test]
fn documents_in_tool_results_count_and_are_named_by_the_same_rules() {
    let result = |documents: Vec<Value>| {
        json!({"messages": [
            {"role": "user", "content": [{"text": "Read it"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "read", "input": {}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": documents}}]}
        ], "toolConfig": {"tools": [{"toolSpec": {"name": "read", "inputSchema": {"json": {"type": "object"}}}}]}})
    };
    assert_eq!(refusal(SONNET_45, result(vec![document("a")])), None, "a result with a document alone");
    let twice = refusal(SONNET_45, result(vec![document("a"), document("a")]));
    assert_eq!(twice.as_deref(), Some("Messages can't contain duplicate document names."));
    let six = refusal(SONNET_45, result((0..6).map(|i| document(&format!("d{i}"))).collect()));
    assert_eq!(six.as_deref(), Some("You can't include more than 5 documents in a request."));
}

#[test]
fn claude_reads_at_most_twenty_images_and_documents() {
    let image = json!({"image": {"format": "png", "source": {"bytes": "iVBO"}}});
    let blocks = |images: usize| {
        let mut blocks: Vec<Value> = vec![document("a"), json!({"text": "Look"})];
        blocks.extend(std::iter::repeat_n(image.clone(), images));
        with_documents(Value::Array(blocks))
    };
    assert_eq!(refusal(SONNET_45, blocks(19)), None);
    let refused = refusal(SONNET_45, blocks(20)).unwrap();
    assert_eq!(refused, format!("{PREFIX}too many images and documents: 20 + 1 > 20"));

    let mut returned =
        tool_turns(json!([{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}}]), "t1", true);
    returned["messages"][2]["content"][0]["toolResult"]["content"] = Value::Array(vec![image.clone(); 2]);
    returned["messages"][0]["content"] = blocks(19)["messages"][0]["content"].clone();
    let refused = refusal(SONNET_45, returned).unwrap();
    assert_eq!(refused, format!("{PREFIX}too many images and documents: 21 + 1 > 20"), "a tool's count");
}

#[test]
fn claude_refuses_a_cache_point_right_after_a_document() {
    let point = json!({"cachePoint": {"type": "default"}});
    let after = with_documents(json!([{"text": "Read it."}, document("a"), point]));
    let refused = refusal(SONNET_45, after).unwrap();
    assert_eq!(refused, format!("{PREFIX}messages.0.content.2.type: Field required"));
    let text_between = with_documents(json!([document("a"), {"text": "Read it."}, point]));
    assert_eq!(refusal(SONNET_45, text_between), None);
}
