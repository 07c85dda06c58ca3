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
    wire::usage_json,
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Reasoning,
    Text,
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
        let mut block: Option<(Block, usize)> = None;
        let mut seq = 1;
        while let Some(event) = answer.next().await {
            seq += 1;
            let (kind, delta) = match event {
                Ok(ChatEvent::Text(text)) => (Block::Text, json!({ "text": text })),
                Ok(ChatEvent::Reasoning(text)) => (Block::Reasoning, json!({ "reasoningContent": { "text": text } })),
                // Tool calls and signatures: not scripted yet.
                Ok(ChatEvent::ReasoningSignature(_) | ChatEvent::RedactedReasoning(_) | ChatEvent::ToolCall { .. } | ChatEvent::ToolInput(_)) => continue,
                Ok(ChatEvent::Done(done)) => {
                    let index = block.map_or(0, |(_, i)| i);
                    match ending {
                        Ending::Complete => {
                            yield Ok(frames::event("contentBlockStop", json!({ "contentBlockIndex": index }), seq));
                            yield Ok(frames::event("messageStop", json!({ "stopReason": done.stop_reason.as_str() }), seq + 1));
                            let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                            let metadata = json!({ "usage": usage_json(done.usage), "metrics": { "latencyMs": latency_ms } });
                            yield Ok(frames::event("metadata", metadata, seq + 2));
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
                Err(error) => {
                    yield Ok(frames::exception(stream_exception(&error)));
                    tracker.finish(Outcome::Exception);
                    return;
                }
            };
            // A new kind of content opens a new block; text blocks get no contentBlockStart.
            let index = match block {
                Some((current, i)) if current == kind => i,
                Some((_, i)) => {
                    yield Ok(frames::event("contentBlockStop", json!({ "contentBlockIndex": i }), seq));
                    i + 1
                }
                None => 0,
            };
            block = Some((kind, index));
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            yield Ok(frames::event("contentBlockDelta", json!({ "contentBlockIndex": index, "delta": delta }), seq));
            tracker.deltas += 1;
        }
        yield Ok(frames::exception(StreamException::ModelStreamError));
        tracker.finish(Outcome::Exception);
    }
}
