use serde_json::json;
use streambed_core::{Completion, StopReason, Usage};

use super::*;

fn run(events: Vec<ChatEvent>) -> Vec<StreamEvent> {
    let mut blocks = Blocks::new(Vec::new());
    let mut out = Vec::new();
    for event in events {
        blocks.on(event, &mut out);
    }
    out
}

fn done(reason: StopReason) -> ChatEvent {
    ChatEvent::Done(Completion::new(reason, Usage::new(12, 5)))
}

fn start(index: usize, content_block: ContentBlock) -> StreamEvent {
    StreamEvent::ContentBlockStart { index, content_block }
}

fn delta(index: usize, delta: Delta) -> StreamEvent {
    StreamEvent::ContentBlockDelta { index, delta }
}

fn text(text: &str) -> Delta {
    Delta::Text { text: text.into() }
}

fn stop(index: usize) -> StreamEvent {
    StreamEvent::ContentBlockStop { index }
}

#[test]
fn a_run_of_text_is_one_block_and_the_answer_ends_with_its_stop_reason_and_usage() {
    let events =
        run(vec![ChatEvent::Text("Hel".into()), ChatEvent::Text("lo".into()), done(StopReason::EndTurn)]);

    assert_eq!(
        events,
        [
            start(0, ContentBlock::Text { text: String::new() }),
            delta(0, text("Hel")),
            delta(0, text("lo")),
            stop(0),
            StreamEvent::MessageDelta {
                delta: MessageDelta { stop_reason: "end_turn", stop_sequence: None },
                usage: translate::usage(&Usage::new(12, 5)),
            },
            StreamEvent::MessageStop,
        ]
    );
}

#[test]
fn reasoning_with_its_signature_is_one_thinking_block_before_the_text() {
    let events = run(vec![
        ChatEvent::Reasoning("Let me ".into()),
        ChatEvent::Reasoning("think.".into()),
        ChatEvent::ReasoningSignature("sig".into()),
        ChatEvent::Reasoning("Again.".into()),
        ChatEvent::ReasoningSignature("sig2".into()),
        ChatEvent::RedactedReasoning("b64".into()),
        ChatEvent::Text("Answer".into()),
        done(StopReason::EndTurn),
    ]);

    let thinking = |t: &str| Delta::Thinking { thinking: t.into() };
    let signature = |s: &str| Delta::Signature { signature: s.into() };
    assert_eq!(
        events[..13],
        [
            start(0, empty_thinking()),
            delta(0, thinking("Let me ")),
            delta(0, thinking("think.")),
            delta(0, signature("sig")),
            stop(0),
            start(1, empty_thinking()),
            delta(1, thinking("Again.")),
            delta(1, signature("sig2")),
            stop(1),
            start(2, ContentBlock::RedactedThinking { data: "b64".into() }),
            stop(2),
            start(3, ContentBlock::Text { text: String::new() }),
            delta(3, text("Answer")),
        ]
    );
}

#[test]
fn each_tool_call_is_a_block_fed_by_its_input_fragments() {
    let events = run(vec![
        ChatEvent::Text("Checking.".into()),
        ChatEvent::ToolCall { id: "t1".into(), name: "get_weather".into() },
        ChatEvent::ToolInput("{\"city\":".into()),
        ChatEvent::ToolInput("\"Paris\"}".into()),
        ChatEvent::ToolCall { id: "t2".into(), name: "get_time".into() },
        done(StopReason::ToolUse),
    ]);

    let tool =
        |id: &str, name: &str| ContentBlock::ToolUse { id: id.into(), name: name.into(), input: json!({}) };
    let json = |s: &str| Delta::InputJson { partial_json: s.into() };
    assert_eq!(
        events[2..9],
        [
            stop(0),
            start(1, tool("t1", "get_weather")),
            delta(1, json("{\"city\":")),
            delta(1, json("\"Paris\"}")),
            stop(1),
            start(2, tool("t2", "get_time")),
            stop(2),
        ]
    );
    let StreamEvent::MessageDelta { delta, .. } = &events[9] else { panic!("{:?}", events[9]) };
    assert_eq!(delta.stop_reason, "tool_use");
}

#[test]
fn the_collected_message_holds_every_block_with_tool_input_parsed() {
    let events = run(vec![
        ChatEvent::Reasoning("Hm.".into()),
        ChatEvent::ReasoningSignature("sig".into()),
        ChatEvent::Text("Checking.".into()),
        ChatEvent::ToolCall { id: "t1".into(), name: "get_weather".into() },
        ChatEvent::ToolInput("{\"city\":".into()),
        ChatEvent::ToolInput("\"Paris\"}".into()),
        ChatEvent::ToolCall { id: "t2".into(), name: "now".into() },
        done(StopReason::ToolUse),
    ]);
    let mut collected = Collected::new(Message::empty("msg_1".into(), "m".into()));

    events.into_iter().for_each(|e| collected.apply(e));
    let message = collected.finish().unwrap();

    assert_eq!(
        message.content,
        [
            ContentBlock::Thinking { thinking: "Hm.".into(), signature: "sig".into() },
            ContentBlock::Text { text: "Checking.".into() },
            ContentBlock::ToolUse {
                id: "t1".into(),
                name: "get_weather".into(),
                input: json!({"city": "Paris"})
            },
            ContentBlock::ToolUse { id: "t2".into(), name: "now".into(), input: json!({}) },
        ]
    );
    assert_eq!((message.stop_reason, message.usage.output_tokens), (Some("tool_use"), 5));
}

#[test]
fn tool_input_that_is_not_a_json_object_is_an_upstream_error() {
    let events = run(vec![
        ChatEvent::ToolCall { id: "t1".into(), name: "f".into() },
        ChatEvent::ToolInput("{\"a\":".into()),
        done(StopReason::ToolUse),
    ]);
    let mut collected = Collected::new(Message::empty("msg_1".into(), "m".into()));
    events.into_iter().for_each(|e| collected.apply(e));

    let error = collected.finish().unwrap_err();

    assert_eq!(error.kind, ErrorKind::Upstream);
    assert!(error.message.contains("`f`"), "{}", error.message);
}
