//! The ConverseStream event loop: SDK events in, [`ChatEvent`]s out; and the Converse
//! fallback's whole answer as the same events.

use std::time::Duration;

use aws_sdk_bedrockruntime::{
    operation::converse::ConverseOutput,
    primitives::event_stream::EventReceiver,
    types::{
        ContentBlockDelta, ContentBlockStart, ConverseOutput as Output, ConverseStreamOutput,
        ReasoningContentBlockDelta, ServiceTier, TokenUsage, error::ConverseStreamOutputError,
    },
};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use futures_util::stream;
use streambed_core::{ChatEvent, ChatStream, Completion, ErrorKind, ProviderError, StopReason, Usage};
use tokio::time::Instant;

use crate::{content, errors};

pub(crate) fn usage(u: &TokenUsage) -> Usage {
    let count = |n: i32| u32::try_from(n).unwrap_or_default();
    Usage {
        input_tokens: count(u.input_tokens()),
        output_tokens: count(u.output_tokens()),
        cache_read_input_tokens: u.cache_read_input_tokens().map(count),
        cache_write_input_tokens: u.cache_write_input_tokens().map(count),
    }
}

fn tier(t: &ServiceTier) -> String {
    t.r#type().as_str().to_owned()
}

/// What the stream has said so far about how the answer ends.
#[derive(Debug, Default)]
struct Ending {
    stop_reason: Option<StopReason>,
    usage: Usage,
    service_tier: Option<String>,
}

impl Ending {
    /// Takes one stream event; returns what a reader or the stored answer needs of it. The
    /// event is taken whole, so a delta's text moves into ours without a copy.
    fn observe(&mut self, event: ConverseStreamOutput) -> Option<ChatEvent> {
        match event {
            ConverseStreamOutput::ContentBlockStart(start) => match start.start {
                Some(ContentBlockStart::ToolUse(call)) => {
                    Some(ChatEvent::ToolCall { id: call.tool_use_id, name: call.name })
                }
                _ => None,
            },
            ConverseStreamOutput::ContentBlockDelta(delta) => match delta.delta? {
                ContentBlockDelta::Text(text) => Some(ChatEvent::Text(text)),
                ContentBlockDelta::ToolUse(input) if !input.input.is_empty() => {
                    Some(ChatEvent::ToolInput(input.input))
                }
                ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::Text(text)) => {
                    Some(ChatEvent::Reasoning(text))
                }
                ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::Signature(signature)) => {
                    Some(ChatEvent::ReasoningSignature(signature))
                }
                ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::RedactedContent(blob)) => {
                    Some(ChatEvent::RedactedReasoning(BASE64.encode(blob.as_ref())))
                }
                // Citations, images, tool results: nothing this API carries.
                _ => None,
            },
            ConverseStreamOutput::MessageStop(stop) => {
                self.stop_reason = Some(StopReason::parse(stop.stop_reason.as_str()));
                None
            }
            ConverseStreamOutput::Metadata(metadata) => {
                self.usage = metadata.usage.as_ref().map(usage).unwrap_or_default();
                self.service_tier = metadata.service_tier.as_ref().map(tier);
                None
            }
            _ => None,
        }
    }

    /// The terminal event once the stream has ended: `Done`, or an error when Bedrock never
    /// said why the answer stopped.
    fn finish(self) -> Result<ChatEvent, ProviderError> {
        let Some(stop_reason) = self.stop_reason else {
            return Err(ProviderError::new(
                ErrorKind::StreamInterrupted,
                "The Bedrock stream ended before the answer was complete. Try again.",
            ));
        };
        Ok(ChatEvent::Done(Completion {
            service_tier: self.service_tier,
            ..Completion::new(stop_reason, self.usage)
        }))
    }
}

/// Relays the stream until Bedrock's clean end. A stream that ends without `messageStop`, or
/// that stays silent for `idle_timeout`, is an error: the SDK reports neither by itself.
pub(crate) fn relay(
    mut receiver: EventReceiver<ConverseStreamOutput, ConverseStreamOutputError>,
    request_id: Option<String>,
    idle_timeout: Duration,
) -> ChatStream {
    Box::pin(async_stream::stream! {
        let mut ending = Ending::default();
        // Until the first event: an error then may mean that what answered is not Bedrock.
        let mut first = true;
        // One timer for the whole answer, looked at only when it fires: a wait notes when it
        // began, rather than each setting a timer of its own and clearing it again. Only the
        // wait counts: the time a slow client takes to read an event is not Bedrock's silence.
        let silence = tokio::time::sleep(idle_timeout);
        tokio::pin!(silence);
        loop {
            let waiting_since = Instant::now();
            let received = {
                // One `recv` per event, never dropped half-way while the timer is moved on.
                let next = receiver.recv();
                tokio::pin!(next);
                loop {
                    tokio::select! {
                        biased;
                        received = &mut next => break Some(received),
                        () = &mut silence => {
                            if waiting_since.elapsed() >= idle_timeout {
                                break None;
                            }
                            silence.as_mut().reset(waiting_since + idle_timeout);
                        }
                    }
                }
            };
            let event = match received {
                Some(Ok(Some(event))) => event,
                Some(Ok(None)) => break,
                Some(Err(error)) => {
                    yield Err(errors::in_stream(&error, first).with_request_id(request_id));
                    return;
                }
                None => {
                    let message = format!(
                        "Bedrock sent nothing for {} s, so the answer was abandoned. Try again.",
                        idle_timeout.as_secs_f32()
                    );
                    yield Err(ProviderError::new(ErrorKind::StreamInterrupted, message).with_request_id(request_id));
                    return;
                }
            };
            first = false;
            if let Some(event) = ending.observe(event) {
                yield Ok(event);
            }
        }
        yield ending.finish().map_err(|e| e.with_request_id(request_id));
    })
}

/// The Converse fallback's whole answer, as the events a stream would have carried.
pub(crate) fn single_chunk(output: &ConverseOutput) -> ChatStream {
    Box::pin(stream::iter(answer(output).into_iter().map(Ok)))
}

fn answer(output: &ConverseOutput) -> Vec<ChatEvent> {
    let blocks = match output.output() {
        Some(Output::Message(message)) => message.content(),
        _ => &[],
    };
    let stop_reason = StopReason::parse(output.stop_reason().as_str());
    let done = Completion {
        streamed: false,
        service_tier: output.service_tier().map(tier),
        ..Completion::new(stop_reason, output.usage().map(usage).unwrap_or_default())
    };
    let mut events = content::answer_events(blocks);
    events.push(ChatEvent::Done(done));
    events
}

#[cfg(test)]
mod tests {
    use aws_sdk_bedrockruntime::{
        primitives::Blob,
        types::{
            ContentBlock, ContentBlockDeltaEvent, ContentBlockStartEvent, ConversationRole,
            ConverseStreamMetadataEvent, Message, MessageStopEvent, ServiceTierType, StopReason as SdkStop,
            ToolUseBlock, ToolUseBlockDelta, ToolUseBlockStart,
        },
    };
    use serde_json::json;

    use super::*;

    fn delta(delta: ContentBlockDelta) -> ConverseStreamOutput {
        ConverseStreamOutput::ContentBlockDelta(
            ContentBlockDeltaEvent::builder().content_block_index(0).delta(delta).build().unwrap(),
        )
    }

    fn token_usage() -> TokenUsage {
        TokenUsage::builder()
            .input_tokens(10)
            .output_tokens(5)
            .total_tokens(15)
            .cache_read_input_tokens(7)
            .cache_write_input_tokens(3)
            .build()
            .unwrap()
    }

    fn flex() -> ServiceTier {
        ServiceTier::builder().r#type(ServiceTierType::Flex).build().unwrap()
    }

    #[test]
    fn a_stream_with_tool_use_and_reasoning_becomes_our_events() {
        let tool_start = ToolUseBlockStart::builder().tool_use_id("t1").name("weather").build().unwrap();
        let stream = [
            delta(ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::Text("Let me".into()))),
            delta(ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::Signature("sig".into()))),
            delta(ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::RedactedContent(
                Blob::new(b"opaque".to_vec()),
            ))),
            delta(ContentBlockDelta::Text("Checking.".into())),
            ConverseStreamOutput::ContentBlockStart(
                ContentBlockStartEvent::builder()
                    .content_block_index(1)
                    .start(ContentBlockStart::ToolUse(tool_start))
                    .build()
                    .unwrap(),
            ),
            delta(ContentBlockDelta::ToolUse(ToolUseBlockDelta::builder().input("").build().unwrap())),
            delta(ContentBlockDelta::ToolUse(
                ToolUseBlockDelta::builder().input(r#"{"city":"#).build().unwrap(),
            )),
            ConverseStreamOutput::MessageStop(
                MessageStopEvent::builder().stop_reason(SdkStop::ToolUse).build().unwrap(),
            ),
            ConverseStreamOutput::Metadata(
                ConverseStreamMetadataEvent::builder().usage(token_usage()).service_tier(flex()).build(),
            ),
        ];
        let mut ending = Ending::default();
        let events: Vec<ChatEvent> = stream.into_iter().filter_map(|e| ending.observe(e)).collect();
        assert_eq!(
            events,
            [
                ChatEvent::Reasoning("Let me".into()),
                ChatEvent::ReasoningSignature("sig".into()),
                ChatEvent::RedactedReasoning(BASE64.encode(b"opaque")),
                ChatEvent::Text("Checking.".into()),
                ChatEvent::ToolCall { id: "t1".into(), name: "weather".into() },
                ChatEvent::ToolInput(r#"{"city":"#.into()),
            ]
        );
        let ChatEvent::Done(done) = ending.finish().unwrap() else { panic!("not Done") };
        assert_eq!(done.stop_reason, StopReason::ToolUse);
        assert_eq!(
            (done.usage.cache_read_input_tokens, done.usage.cache_write_input_tokens),
            (Some(7), Some(3))
        );
        assert_eq!(done.service_tier.as_deref(), Some("flex"));
        assert!(done.streamed);
    }

    #[test]
    fn a_stream_without_message_stop_is_interrupted() {
        let ending = Ending::default();
        assert_eq!(ending.finish().unwrap_err().kind, ErrorKind::StreamInterrupted);
    }

    #[test]
    fn the_converse_fallback_carries_tool_use_stop_reason_usage_and_tier() {
        let call = ToolUseBlock::builder()
            .tool_use_id("t1")
            .name("weather")
            .input(content::to_document(&json!({ "city": "Oslo" })))
            .build()
            .unwrap();
        let message = Message::builder()
            .role(ConversationRole::Assistant)
            .content(ContentBlock::Text("Checking.".into()))
            .content(ContentBlock::ToolUse(call))
            .build()
            .unwrap();
        let output = ConverseOutput::builder()
            .output(Output::Message(message))
            .stop_reason(SdkStop::ToolUse)
            .usage(token_usage())
            .service_tier(flex())
            .build()
            .unwrap();
        let events = answer(&output);
        assert_eq!(
            events[..3],
            [
                ChatEvent::Text("Checking.".into()),
                ChatEvent::ToolCall { id: "t1".into(), name: "weather".into() },
                ChatEvent::ToolInput(r#"{"city":"Oslo"}"#.into()),
            ]
        );
        let ChatEvent::Done(done) = &events[3] else { panic!("{events:?}") };
        assert_eq!((done.stop_reason.clone(), done.streamed), (StopReason::ToolUse, false));
        assert_eq!((done.usage.input_tokens, done.service_tier.as_deref()), (10, Some("flex")));
    }
}
