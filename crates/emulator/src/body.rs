//! The ConverseStream response body: an answer turned into event-stream frames in the order
//! real Bedrock sends them, with the scenario's pacing and ending.

use std::{io, time::Duration, time::Instant};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::json;
use streambed_core::{ChatEvent, ChatStream, ProviderError};

use crate::{
    frames,
    record::{Outcome, StreamTracker},
    scenario::{CutAt, StreamException},
    wire::metadata,
};

/// What happens once the answer's deltas have been sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// contentBlockStop, messageStop, metadata: a normal end.
    Complete,
    Exception(StreamException),
    Cut(CutAt),
    /// Go silent and keep the connection open until the client leaves.
    Stall,
}

/// The exception a failing answer source is reported as, once the stream has started.
pub(crate) fn stream_exception(error: &ProviderError) -> StreamException {
    use streambed_core::ErrorKind::*;
    match error.kind {
        Throttled => StreamException::Throttling,
        Overloaded => StreamException::ServiceUnavailable,
        InvalidRequest => StreamException::Validation,
        _ => StreamException::ModelStreamError,
    }
}

/// The kind of content block an event belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Reasoning,
    Redacted,
    Tool,
}

/// The block open in the stream: its kind, index, and whether a signature closed it.
#[derive(Clone, Copy)]
struct Open {
    kind: Kind,
    index: usize,
    signed: bool,
}

/// Where an event goes: its block kind, whether it must open a new block, and its frame
/// (`contentBlockStart` payload for a tool call, `contentBlockDelta` delta otherwise); `None`
/// for `Done`, which is no block's.
fn placement(event: ChatEvent) -> Option<(Kind, bool, Frame)> {
    Some(match event {
        ChatEvent::Text(text) => (Kind::Text, false, Frame::Delta(json!({ "text": text }))),
        ChatEvent::Reasoning(text) => {
            (Kind::Reasoning, false, Frame::Delta(json!({ "reasoningContent": { "text": text } })))
        }
        ChatEvent::ReasoningSignature(signature) => {
            (Kind::Reasoning, false, Frame::Delta(json!({ "reasoningContent": { "signature": signature } })))
        }
        // The wire carries the blob as base64, which is what the event holds.
        ChatEvent::RedactedReasoning(data) => {
            (Kind::Redacted, true, Frame::Delta(json!({ "reasoningContent": { "redactedContent": data } })))
        }
        ChatEvent::ToolCall { id, name } => {
            (Kind::Tool, true, Frame::Start(json!({ "toolUse": { "toolUseId": id, "name": name } })))
        }
        ChatEvent::ToolInput(input) => {
            (Kind::Tool, false, Frame::Delta(json!({ "toolUse": { "input": input } })))
        }
        ChatEvent::Done(_) => return None,
    })
}

enum Frame {
    Start(serde_json::Value),
    Delta(serde_json::Value),
}

/// Builds the frames. Everything lives inside the returned stream, so when the client hangs
/// up and the server drops the body, the answer source is dropped and the tracker records it.
pub(crate) fn event_stream(
    mut answer: ChatStream,
    ending: Ending,
    delay: Duration,
    mut tracker: StreamTracker,
) -> impl Stream<Item = Result<Bytes, io::Error>> {
    let started = Instant::now();
    async_stream::stream! {
        yield Ok(frames::event("messageStart", json!({ "role": "assistant" }), 0));
        let mut open: Option<Open> = None;
        let mut seq = 1;
        while let Some(event) = answer.next().await {
            seq += 1;
            let event = match event {
                Ok(ChatEvent::Done(done)) => {
                    let index = open.map_or(0, |o| o.index);
                    match ending {
                        Ending::Complete => {
                            yield Ok(frames::event("contentBlockStop", json!({ "contentBlockIndex": index }), seq));
                            yield Ok(frames::event("messageStop", json!({ "stopReason": done.stop_reason.as_str() }), seq + 1));
                            let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                            yield Ok(frames::event("metadata", metadata(&done, latency_ms), seq + 2));
                            tracker.finish(Outcome::Complete);
                        }
                        Ending::Exception(kind) => {
                            yield Ok(frames::exception(kind));
                            tracker.finish(Outcome::Exception);
                        }
                        Ending::Cut(CutAt::Boundary) => tracker.finish(Outcome::Cut),
                        Ending::Cut(CutAt::InsideFrame) => {
                            let frame = frames::event("contentBlockDelta", json!({ "contentBlockIndex": index, "delta": { "text": "cut" } }), seq);
                            tracker.finish(Outcome::Cut);
                            yield Ok(frame.slice(..frame.len() / 2));
                        }
                        Ending::Cut(CutAt::Reset) => {
                            // Let the frames already yielded leave the socket first; an error now
                            // would make hyper drop them with the connection.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            tracker.finish(Outcome::Cut);
                            yield Err(io::Error::new(io::ErrorKind::ConnectionReset, "emulated connection reset"));
                        }
                        Ending::Stall => std::future::pending::<()>().await,
                    }
                    return;
                }
                Ok(event) => event,
                Err(error) => {
                    yield Ok(frames::exception(stream_exception(&error)));
                    tracker.finish(Outcome::Exception);
                    return;
                }
            };
            let signs = matches!(event, ChatEvent::ReasoningSignature(_));
            let Some((kind, opens, frame)) = placement(event) else { continue };
            // A new kind of content, a redacted block, a tool call, or anything after a
            // signature opens a new block; only tool calls get a contentBlockStart.
            let index = match open {
                Some(o) if !opens && o.kind == kind && !o.signed => o.index,
                Some(o) => {
                    yield Ok(frames::event("contentBlockStop", json!({ "contentBlockIndex": o.index }), seq));
                    o.index + 1
                }
                None => 0,
            };
            open = Some(Open { kind, index, signed: signs });
            match frame {
                Frame::Start(start) => {
                    yield Ok(frames::event("contentBlockStart", json!({ "contentBlockIndex": index, "start": start }), seq));
                }
                Frame::Delta(delta) => {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    yield Ok(frames::event("contentBlockDelta", json!({ "contentBlockIndex": index, "delta": delta }), seq));
                    tracker.deltas += 1;
                }
            }
        }
        yield Ok(frames::exception(StreamException::ModelStreamError));
        tracker.finish(Outcome::Exception);
    }
}
