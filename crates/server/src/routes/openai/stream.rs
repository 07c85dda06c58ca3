//! An answer as OpenAI's stream: `data: {chat.completion.chunk}` frames, then `data: [DONE]`.
//!
//! - first `{"role":"assistant","content":""}`, sent at once so headers reach the client before
//!   the model's first token;
//! - a text delta as `{"content"}`; visible reasoning as `{"reasoning_content"}`, the field
//!   DeepSeek, vLLM and other OpenAI-compatible servers use (clients that do not know it ignore
//!   it; the official SDKs keep it as an extra field); reasoning signatures are not sent;
//! - a tool call as `{"tool_calls":[{index,id,type,function:{name,arguments:""}}]}`, then its
//!   input as `{"tool_calls":[{index,function:{arguments}}]}` fragments (`{}` for a call that had
//!   no input, which still has to parse as JSON once put together, as in the whole reply);
//! - the last chunk with `finish_reason`, then with `include_usage` one with `choices: []` and
//!   the usage, then `[DONE]`;
//! - a failure after the stream started: `data: {"error":{…}}` and the end, no `[DONE]`;
//! - `: keep-alive` comments while nothing else is sent.

use std::convert::Infallible;

use axum::response::sse::Event;
use futures_util::Stream;
use streambed_core::{ChatEvent, ProviderError};

use super::{
    error,
    translate::{finish_reason, usage},
    wire::{Chunk, ChunkChoice, Delta, FunctionDelta, Meta, OutUsage, ToolCallDelta},
};
use crate::relay::Answer;

/// The SSE events of an answer owned by its response: a client that leaves drops the upstream
/// request with it.
pub(super) fn events(
    mut answer: Answer,
    mut chunker: Chunker,
) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        yield Ok(Event::default().data(chunker.first()));
        loop {
            let next = answer.next().await;
            let last = matches!(next, Ok(ChatEvent::Done(_)) | Err(_));
            for data in chunker.frames(&next) {
                yield Ok(Event::default().data(data));
            }
            if last {
                break;
            }
        }
    }
}

/// Turns events into the `data:` of chunks; pure, so the wire contract is tested without a server.
#[derive(Debug)]
pub(super) struct Chunker {
    meta: Meta,
    include_usage: bool,
    /// Tool calls started so far: the next one's `index`.
    tool_calls: usize,
    /// The last call started has had no input yet.
    bare_call: bool,
}

impl Chunker {
    pub(super) fn new(meta: Meta, include_usage: bool) -> Self {
        Self { meta, include_usage, tool_calls: 0, bare_call: false }
    }

    pub(super) fn first(&self) -> String {
        self.chunk(Delta { role: Some("assistant"), content: Some(""), ..Delta::default() }, None)
    }

    /// The frames for one event; the last event (`Done` or an error) ends with `[DONE]` or the error.
    pub(super) fn frames(&mut self, event: &Result<ChatEvent, ProviderError>) -> Vec<String> {
        let mut frames = Vec::new();
        if matches!(event, Ok(ChatEvent::ToolCall { .. } | ChatEvent::Done(_))) && self.bare_call {
            frames.push(self.input_chunk("{}"));
        }
        let delta = match event {
            Ok(ChatEvent::Text(text)) if !text.is_empty() => {
                Delta { content: Some(text), ..Delta::default() }
            }
            Ok(ChatEvent::Reasoning(text)) if !text.is_empty() => {
                Delta { reasoning_content: Some(text), ..Delta::default() }
            }
            Ok(ChatEvent::ToolCall { id, name }) => {
                self.tool_calls += 1;
                self.bare_call = true;
                let call = ToolCallDelta {
                    index: self.tool_calls - 1,
                    id: Some(id),
                    kind: Some("function"),
                    function: FunctionDelta { name: Some(name), arguments: "" },
                };
                Delta { tool_calls: Some([call]), ..Delta::default() }
            }
            Ok(ChatEvent::ToolInput(fragment)) if self.tool_calls > 0 => {
                frames.push(self.input_chunk(fragment));
                return frames;
            }
            Ok(ChatEvent::Done(completion)) => {
                frames.push(self.chunk(Delta::default(), Some(finish_reason(&completion.stop_reason))));
                if self.include_usage {
                    frames.push(self.usage_chunk(usage(&completion.usage)));
                }
                frames.push("[DONE]".to_owned());
                return frames;
            }
            Err(e) => return vec![error::in_stream(e)],
            Ok(_) => return frames,
        };
        frames.push(self.chunk(delta, None));
        frames
    }

    /// A fragment of the last call's input.
    fn input_chunk(&mut self, fragment: &str) -> String {
        self.bare_call = false;
        let call = ToolCallDelta {
            index: self.tool_calls - 1,
            id: None,
            kind: None,
            function: FunctionDelta { name: None, arguments: fragment },
        };
        self.chunk(Delta { tool_calls: Some([call]), ..Delta::default() }, None)
    }

    fn chunk(&self, delta: Delta<'_>, finish_reason: Option<&'static str>) -> String {
        let choice = ChunkChoice { index: 0, delta, logprobs: None, finish_reason };
        self.serialise(vec![choice], self.include_usage.then_some(None))
    }

    fn usage_chunk(&self, usage: OutUsage) -> String {
        self.serialise(Vec::new(), Some(Some(usage)))
    }

    fn serialise(&self, choices: Vec<ChunkChoice<'_>>, usage: Option<Option<OutUsage>>) -> String {
        let chunk = Chunk {
            id: &self.meta.id,
            object: "chat.completion.chunk",
            created: self.meta.created,
            model: &self.meta.model,
            choices,
            usage,
        };
        serde_json::to_string(&chunk).expect("chunks always serialise")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use streambed_core::{Completion, ErrorKind, StopReason, Usage};

    use super::*;

    fn chunker(include_usage: bool) -> Chunker {
        Chunker::new(
            Meta { id: "chatcmpl-1".into(), created: 1_700_000_000, model: "m".into() },
            include_usage,
        )
    }

    fn json(data: &str) -> Value {
        serde_json::from_str(data).unwrap()
    }

    #[test]
    fn a_text_answer_is_a_role_chunk_deltas_a_finish_and_done() {
        let mut chunker = chunker(false);

        let first = json(&chunker.first());
        let text = chunker.frames(&Ok(ChatEvent::Text("Hi".into())));
        let done =
            chunker.frames(&Ok(ChatEvent::Done(Completion::new(StopReason::EndTurn, Usage::new(1, 2)))));

        assert_eq!(
            first,
            json!({
                "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "m",
                "choices": [{ "index": 0, "delta": { "role": "assistant", "content": "" }, "logprobs": null, "finish_reason": null }]
            })
        );
        assert_eq!(json(&text[0])["choices"][0]["delta"], json!({ "content": "Hi" }));
        assert_eq!(done.len(), 2);
        assert_eq!(json(&done[0])["choices"][0]["finish_reason"], "stop");
        assert_eq!(json(&done[0])["choices"][0]["delta"], json!({}));
        assert_eq!(done[1], "[DONE]");
    }

    #[test]
    fn with_include_usage_the_last_chunk_has_no_choices_and_the_usage() {
        let mut chunker = chunker(true);

        let text = chunker.frames(&Ok(ChatEvent::Text("Hi".into())));
        let done =
            chunker.frames(&Ok(ChatEvent::Done(Completion::new(StopReason::MaxTokens, Usage::new(3, 4)))));

        assert_eq!(json(&text[0])["usage"], Value::Null);
        assert_eq!(json(&done[0])["choices"][0]["finish_reason"], "length");
        assert_eq!(json(&done[1])["choices"], json!([]));
        assert_eq!(
            json(&done[1])["usage"],
            json!({ "prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7 })
        );
        assert_eq!(done[2], "[DONE]");
    }

    #[test]
    fn tool_calls_are_indexed_and_their_input_follows_in_fragments() {
        let mut chunker = chunker(false);
        let delta = |frames: Vec<String>| json(&frames[0])["choices"][0]["delta"].clone();

        let first =
            delta(chunker.frames(&Ok(ChatEvent::ToolCall { id: "t1".into(), name: "weather".into() })));
        let input = delta(chunker.frames(&Ok(ChatEvent::ToolInput("{\"city\":".into()))));
        let second = delta(chunker.frames(&Ok(ChatEvent::ToolCall { id: "t2".into(), name: "time".into() })));

        assert_eq!(
            first,
            json!({ "tool_calls": [{ "index": 0, "id": "t1", "type": "function", "function": { "name": "weather", "arguments": "" } }] })
        );
        assert_eq!(
            input,
            json!({ "tool_calls": [{ "index": 0, "function": { "arguments": "{\"city\":" } }] })
        );
        assert_eq!(second["tool_calls"][0]["index"], 1);
        let done =
            chunker.frames(&Ok(ChatEvent::Done(Completion::new(StopReason::ToolUse, Usage::default()))));
        assert_eq!(json(&done[1])["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn a_call_without_input_gets_arguments_that_parse() {
        let mut chunker = chunker(false);
        let call = |id: &str| Ok(ChatEvent::ToolCall { id: id.into(), name: "now".into() });
        let deltas = |frames: Vec<String>| {
            frames.iter().map(|f| json(f)["choices"][0]["delta"].clone()).collect::<Vec<_>>()
        };

        let first = deltas(chunker.frames(&call("t1")));
        let second = deltas(chunker.frames(&call("t2")));
        let done =
            chunker.frames(&Ok(ChatEvent::Done(Completion::new(StopReason::ToolUse, Usage::default()))));

        assert_eq!(first.len(), 1);
        let empty =
            |index: usize| json!({ "tool_calls": [{ "index": index, "function": { "arguments": "{}" } }] });
        assert_eq!(second[0], empty(0), "the first call's input is closed before the second starts");
        assert_eq!(second[1]["tool_calls"][0]["id"], "t2");
        assert_eq!(json(&done[0])["choices"][0]["delta"], empty(1));
        assert_eq!(json(&done[1])["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn reasoning_goes_out_as_reasoning_content_and_signatures_not_at_all() {
        let mut chunker = chunker(false);

        let reasoning = chunker.frames(&Ok(ChatEvent::Reasoning("Hmm".into())));
        let signature = chunker.frames(&Ok(ChatEvent::ReasoningSignature("sig".into())));

        assert_eq!(json(&reasoning[0])["choices"][0]["delta"], json!({ "reasoning_content": "Hmm" }));
        assert!(signature.is_empty());
    }

    #[test]
    fn a_failure_is_one_error_chunk_without_done() {
        let mut chunker = chunker(false);

        let frames = chunker.frames(&Err(ProviderError::new(ErrorKind::Upstream, "Bedrock failed.")));

        assert_eq!(frames.len(), 1);
        assert_eq!(json(&frames[0])["error"]["message"], "Bedrock failed.");
        assert_eq!(json(&frames[0])["error"]["code"], "upstream_error");
    }
}
