use serde_json::json;
use streambed_core::{ToolResult, ToolUse};

use super::*;

#[test]
fn json_survives_the_round_trip_through_a_document() {
    let value = json!({ "a": [1, -2, 2.5, "x", true, null], "b": { "c": {} } });
    assert_eq!(to_json(&to_document(&value)), value);
}

#[test]
fn every_block_kind_becomes_its_sdk_block() {
    let turn = Message {
        role: Role::Assistant,
        content: vec![
            Content::Reasoning(ReasoningBlock::Text { text: "hmm".into(), signature: Some("sig".into()) }),
            Content::Reasoning(ReasoningBlock::Redacted { data: BASE64.encode(b"opaque") }),
            Content::Text("  ".into()),
            Content::ToolUse(ToolUse {
                id: "t1".into(),
                name: "weather".into(),
                input: json!({ "city": "Oslo" }),
            }),
        ],
    };
    let sdk = message(&turn, &mut Attachments::default()).unwrap();
    assert_eq!(sdk.role(), &ConversationRole::Assistant);
    let [
        ContentBlock::ReasoningContent(ReasoningContentBlock::ReasoningText(text)),
        ContentBlock::ReasoningContent(ReasoningContentBlock::RedactedContent(blob)),
        ContentBlock::ToolUse(call),
    ] = sdk.content()
    else {
        panic!("unexpected blocks: {:?}", sdk.content());
    };
    assert_eq!((text.text(), text.signature()), ("hmm", Some("sig")));
    assert_eq!(blob.as_ref(), b"opaque");
    assert_eq!((call.tool_use_id(), call.name()), ("t1", "weather"));
    assert_eq!(to_json(call.input()), json!({ "city": "Oslo" }));
}

#[test]
fn a_failed_tool_result_carries_the_error_status() {
    let turn = Message {
        role: Role::User,
        content: vec![Content::ToolResult(ToolResult::text("t1", "boom", true))],
    };
    let sdk = message(&turn, &mut Attachments::default()).unwrap();
    let [ContentBlock::ToolResult(result)] = sdk.content() else { panic!("{:?}", sdk.content()) };
    assert_eq!(result.status(), Some(&ToolResultStatus::Error));
    assert_eq!(result.content(), [ToolResultContentBlock::Text("boom".into())]);
}

#[test]
fn tool_use_ids_bedrock_would_refuse_are_rewritten_alike_in_a_call_and_its_result() {
    let long = "x".repeat(65);
    for (id, sent) in [
        ("tooluse_Ab-9", "tooluse_Ab-9"),
        ("functions.get_weather:0", "functions.get_weather:0"),
        ("call/1 two", "call_1_two_"),
    ]
    .into_iter()
    .chain([(long.as_str(), "xxxx"), ("", "_")])
    {
        let call = Content::ToolUse(ToolUse { id: id.into(), name: "weather".into(), input: json!({}) });
        let result = Content::ToolResult(ToolResult::text(id, "ok", false));
        let asked =
            message(&Message { role: Role::Assistant, content: vec![call] }, &mut Attachments::default())
                .unwrap();
        let answered =
            message(&Message { role: Role::User, content: vec![result] }, &mut Attachments::default())
                .unwrap();

        let [ContentBlock::ToolUse(call)] = asked.content() else { panic!() };
        let [ContentBlock::ToolResult(result)] = answered.content() else { panic!() };
        assert_eq!(call.tool_use_id(), result.tool_use_id(), "{id:?}");
        let valid = |c: char| c.is_ascii_alphanumeric() || "_.:-".contains(c);
        assert!(call.tool_use_id().len() <= 64 && call.tool_use_id().chars().all(valid), "{id:?}");
        assert!(call.tool_use_id().starts_with(sent), "{id:?}: {}", call.tool_use_id());
    }
    let [rewritten, kept] = ["call/1", "call_1"].map(tool_use_id);
    assert_ne!(rewritten, kept, "a rewritten id never takes another's place");
}

#[test]
fn a_tool_name_bedrock_would_refuse_is_refused_naming_the_rule() {
    for name in ["ns.get", "", &"x".repeat(65), "weather report"] {
        let error = tool_name(name).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidRequest);
        assert!(error.message.contains("letters, digits"), "{name}: {}", error.message);
    }
    assert_eq!(tool_name("get_weather-2").unwrap(), "get_weather-2");
}

#[test]
fn a_tool_that_printed_nothing_says_so_rather_than_send_a_blank_block() {
    for printed in ["", " \n"] {
        let result = ToolResult::text("t1", printed, false);
        let sdk = message(
            &Message { role: Role::User, content: vec![Content::ToolResult(result)] },
            &mut Attachments::default(),
        )
        .unwrap();
        let [ContentBlock::ToolResult(result)] = sdk.content() else { panic!("{:?}", sdk.content()) };
        assert_eq!(result.content(), [ToolResultContentBlock::Text(NO_OUTPUT.into())], "{printed:?}");
    }
}

#[test]
fn redacted_reasoning_that_is_not_base64_is_refused() {
    let turn = Message {
        role: Role::Assistant,
        content: vec![Content::Reasoning(ReasoningBlock::Redacted { data: "not base64!".into() })],
    };
    assert_eq!(message(&turn, &mut Attachments::default()).unwrap_err().kind, ErrorKind::InvalidRequest);
}

#[test]
fn a_converse_answer_becomes_the_events_of_a_stream() {
    let blocks = [
        ContentBlock::ReasoningContent(ReasoningContentBlock::ReasoningText(
            ReasoningTextBlock::builder().text("think").signature("sig").build().unwrap(),
        )),
        ContentBlock::ReasoningContent(ReasoningContentBlock::RedactedContent(Blob::new(b"x".to_vec()))),
        ContentBlock::Text("Hi".into()),
        ContentBlock::ToolUse(
            ToolUseBlock::builder()
                .tool_use_id("t1")
                .name("f")
                .input(to_document(&json!({ "a": 1 })))
                .build()
                .unwrap(),
        ),
    ];
    assert_eq!(
        answer_events(&blocks),
        [
            ChatEvent::Reasoning("think".into()),
            ChatEvent::ReasoningSignature("sig".into()),
            ChatEvent::RedactedReasoning(BASE64.encode(b"x")),
            ChatEvent::Text("Hi".into()),
            ChatEvent::ToolCall { id: "t1".into(), name: "f".into() },
            ChatEvent::ToolInput(r#"{"a":1}"#.into()),
        ]
    );
}
