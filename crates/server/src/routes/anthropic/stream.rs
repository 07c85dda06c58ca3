//! The neutral event stream as Anthropic's: the core implies blocks by order, the Messages API
//! names them, so [`Blocks`] opens and closes them (a run of text is one `text` block, reasoning
//! and its signature one `thinking` block, redacted reasoning a `redacted_thinking` block, each
//! tool call a `tool_use` block fed by its input fragments). [`Collected`] folds the same events
//! into the one `message` of a non-streaming answer.

use std::{convert::Infallible, time::Duration};

use axum::response::{
    Response,
    sse::{Event, KeepAlive},
};
use futures_util::Stream;
use serde_json::{Map, Value};
use streambed_core::{ChatEvent, ErrorKind, ProviderError};

use super::{
    error, translate,
    wire::{ContentBlock, Delta, Message, MessageDelta, StreamEvent},
};
use crate::{relay::Answer, sse};

/// The block open now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    /// Closed by its signature: reasoning after it starts a new block.
    Thinking {
        signed: bool,
    },
    ToolUse,
    /// Complete when it starts; stopped before whatever comes next.
    Redacted,
}

/// The content blocks of one streamed answer.
#[derive(Debug, Default)]
pub(super) struct Blocks {
    open: Option<Open>,
    /// The index of the next block.
    next: usize,
    /// The request's stop sequences, to name the one that matched.
    stop_sequences: Vec<String>,
}

impl Blocks {
    pub(super) fn new(stop_sequences: Vec<String>) -> Self {
        Self { stop_sequences, ..Self::default() }
    }

    /// The Anthropic events for one neutral event, appended to `out`.
    pub(super) fn on(&mut self, event: ChatEvent, out: &mut Vec<StreamEvent>) {
        match event {
            ChatEvent::Text(text) => {
                self.ensure(Open::Text, ContentBlock::Text { text: String::new() }, out);
                out.push(self.delta(Delta::Text { text }));
            }
            ChatEvent::Reasoning(thinking) => {
                self.ensure(Open::Thinking { signed: false }, empty_thinking(), out);
                out.push(self.delta(Delta::Thinking { thinking }));
            }
            ChatEvent::ReasoningSignature(signature) => {
                self.ensure(Open::Thinking { signed: false }, empty_thinking(), out);
                self.open = Some(Open::Thinking { signed: true });
                out.push(self.delta(Delta::Signature { signature }));
            }
            ChatEvent::RedactedReasoning(data) => {
                self.start(Open::Redacted, ContentBlock::RedactedThinking { data }, out);
            }
            ChatEvent::ToolCall { id, name } => {
                let input = Value::Object(Map::new());
                self.start(Open::ToolUse, ContentBlock::ToolUse { id, name, input }, out);
            }
            ChatEvent::ToolInput(partial_json) => {
                // Fragments belong to the tool call opened last; one that follows no call has no block.
                if self.open == Some(Open::ToolUse) {
                    out.push(self.delta(Delta::InputJson { partial_json }));
                }
            }
            ChatEvent::Done(completion) => {
                self.close(out);
                out.push(StreamEvent::MessageDelta {
                    delta: MessageDelta {
                        stop_reason: translate::stop_reason(&completion.stop_reason),
                        stop_sequence: translate::stop_sequence(
                            &completion.stop_reason,
                            &self.stop_sequences,
                        ),
                    },
                    usage: translate::usage(&completion.usage),
                });
                out.push(StreamEvent::MessageStop);
            }
        }
    }

    /// Keeps the open block if it is `kind` (and, for thinking, not yet signed), else starts one.
    fn ensure(&mut self, kind: Open, block: ContentBlock, out: &mut Vec<StreamEvent>) {
        if self.open != Some(kind) {
            self.start(kind, block, out);
        }
    }

    fn start(&mut self, kind: Open, content_block: ContentBlock, out: &mut Vec<StreamEvent>) {
        self.close(out);
        out.push(StreamEvent::ContentBlockStart { index: self.next, content_block });
        self.open = Some(kind);
        self.next += 1;
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if self.open.take().is_some() {
            out.push(StreamEvent::ContentBlockStop { index: self.next - 1 });
        }
    }

    fn delta(&self, delta: Delta) -> StreamEvent {
        StreamEvent::ContentBlockDelta { index: self.next - 1, delta }
    }
}

fn empty_thinking() -> ContentBlock {
    ContentBlock::Thinking { thinking: String::new(), signature: String::new() }
}

/// A non-streaming answer, built from the same events a client of the stream would apply.
#[derive(Debug)]
pub(super) struct Collected {
    message: Message,
    /// Each block's input JSON so far (empty for blocks other than `tool_use`).
    inputs: Vec<String>,
}

impl Collected {
    pub(super) fn new(message: Message) -> Self {
        Self { message, inputs: Vec::new() }
    }

    pub(super) fn apply(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::ContentBlockStart { content_block, .. } => {
                self.message.content.push(content_block);
                self.inputs.push(String::new());
            }
            StreamEvent::ContentBlockDelta { index, delta } => {
                match (self.message.content.get_mut(index), delta) {
                    (Some(ContentBlock::Text { text }), Delta::Text { text: more }) => text.push_str(&more),
                    (Some(ContentBlock::Thinking { thinking, .. }), Delta::Thinking { thinking: more }) => {
                        thinking.push_str(&more);
                    }
                    (
                        Some(ContentBlock::Thinking { signature, .. }),
                        Delta::Signature { signature: more },
                    ) => {
                        signature.push_str(&more);
                    }
                    (Some(ContentBlock::ToolUse { .. }), Delta::InputJson { partial_json }) => {
                        self.inputs[index].push_str(&partial_json);
                    }
                    _ => {}
                }
            }
            StreamEvent::MessageDelta { delta, usage } => {
                self.message.stop_reason = Some(delta.stop_reason);
                self.message.stop_sequence = delta.stop_sequence;
                self.message.usage = usage;
            }
            _ => {}
        }
    }

    /// The whole message; a tool call whose input is not a JSON object is the provider's fault.
    pub(super) fn finish(mut self) -> Result<Message, ProviderError> {
        for (block, json) in self.message.content.iter_mut().zip(self.inputs) {
            if let ContentBlock::ToolUse { name, input, .. } = block
                && !json.trim().is_empty()
            {
                *input = serde_json::from_str::<Map<String, Value>>(&json).map(Value::Object).map_err(|e| {
                    ProviderError::new(
                        ErrorKind::Upstream,
                        format!("The model called `{name}` with input that is not a JSON object ({e}). Try again."),
                    )
                })?;
            }
        }
        Ok(self.message)
    }
}

/// The SSE events of a streamed answer, which the response owns: `message_start` and a `ping`
/// first, then the blocks, then `message_delta` and `message_stop` (or `error`). A client
/// that leaves drops the answer, and with it the upstream request.
pub(super) fn events(
    mut answer: Answer,
    start: Message,
    mut blocks: Blocks,
) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        yield Ok(event(&StreamEvent::MessageStart { message: start }));
        yield Ok(event(&StreamEvent::Ping));
        let mut out = Vec::new();
        loop {
            match answer.next().await {
                Ok(next) => {
                    let last = matches!(next, ChatEvent::Done(_));
                    blocks.on(next, &mut out);
                    for item in out.drain(..) {
                        yield Ok(event(&item));
                    }
                    if last {
                        break;
                    }
                }
                Err(error) => {
                    yield Ok(event(&StreamEvent::Error { error: error::detail(&error) }));
                    break;
                }
            }
        }
    }
}

fn event(item: &StreamEvent) -> Event {
    let data = serde_json::to_string(item).expect("wire types always serialise");
    Event::default().event(item.name()).data(data)
}

/// The streaming response: `ping` events while the model is quiet.
pub(super) fn response(
    events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static,
    every: Duration,
) -> Response {
    let ping = event(&StreamEvent::Ping);
    sse::streaming(events, KeepAlive::new().interval(every).event(ping))
}

#[cfg(test)]
mod tests {
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

        let tool = |id: &str, name: &str| ContentBlock::ToolUse {
            id: id.into(),
            name: name.into(),
            input: json!({}),
        };
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
}
