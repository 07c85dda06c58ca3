//! The ConverseStream event loop: SDK events in, [`ChatEvent`]s out.

use std::time::Duration;

use aws_sdk_bedrockruntime::{
    primitives::event_stream::EventReceiver,
    types::{
        ContentBlockDelta, ConverseStreamOutput, ReasoningContentBlockDelta, TokenUsage,
        error::ConverseStreamOutputError,
    },
};
use streambed_core::{ChatEvent, ChatStream, Completion, ErrorKind, ProviderError, StopReason, Usage};

use crate::errors;

pub(crate) fn usage(u: &TokenUsage) -> Usage {
    let count = |n: i32| u32::try_from(n).unwrap_or_default();
    Usage {
        input_tokens: count(u.input_tokens()),
        output_tokens: count(u.output_tokens()),
        cache_read_input_tokens: u.cache_read_input_tokens().map(count),
        cache_write_input_tokens: u.cache_write_input_tokens().map(count),
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
        let mut stop_reason = None;
        let mut totals = Usage::default();
        loop {
            let event = match tokio::time::timeout(idle_timeout, receiver.recv()).await {
                Ok(Ok(Some(event))) => event,
                Ok(Ok(None)) => break,
                Ok(Err(error)) => {
                    yield Err(errors::in_stream(&error).with_request_id(request_id));
                    return;
                }
                Err(_) => {
                    let message = format!(
                        "Bedrock sent nothing for {} s, so the answer was abandoned. Try again.",
                        idle_timeout.as_secs_f32()
                    );
                    yield Err(ProviderError::new(ErrorKind::StreamInterrupted, message).with_request_id(request_id));
                    return;
                }
            };
            match event {
                ConverseStreamOutput::ContentBlockDelta(delta) => match delta.delta {
                    Some(ContentBlockDelta::Text(text)) => yield Ok(ChatEvent::Text(text)),
                    Some(ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::Text(text))) => {
                        yield Ok(ChatEvent::Reasoning(text));
                    }
                    // Tool use, citations, signatures: nothing a chat reader sees.
                    _ => {}
                },
                ConverseStreamOutput::MessageStop(stop) => stop_reason = Some(StopReason::parse(stop.stop_reason.as_str())),
                ConverseStreamOutput::Metadata(metadata) => totals = metadata.usage.as_ref().map(usage).unwrap_or_default(),
                _ => {}
            }
        }
        match stop_reason {
            Some(stop_reason) => yield Ok(ChatEvent::Done(Completion::new(stop_reason, totals))),
            None => yield Err(ProviderError::new(
                ErrorKind::StreamInterrupted,
                "The Bedrock stream ended before the answer was complete. Try again.",
            ).with_request_id(request_id)),
        }
    })
}
