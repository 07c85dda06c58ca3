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
mod tests;
