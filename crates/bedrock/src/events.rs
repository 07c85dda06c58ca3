//! The ConverseStream event loop: SDK events in, [`ChatEvent`]s out.

use std::time::Duration;

use aws_sdk_bedrockruntime::{
    primitives::event_stream::EventReceiver,
    types::{
        ContentBlockDelta, ConverseStreamOutput, ReasoningContentBlockDelta, TokenUsage,
        error::ConverseStreamOutputError,
    },
};
use streambed_core::{ChatEvent, ChatStream, Completion, ErrorKind, ProviderError, Usage};

use crate::errors;

pub(crate) fn usage(u: &TokenUsage) -> Usage {
    Usage {
        input_tokens: u32::try_from(u.input_tokens()).unwrap_or_default(),
        output_tokens: u32::try_from(u.output_tokens()).unwrap_or_default(),
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
                ConverseStreamOutput::MessageStop(stop) => stop_reason = Some(stop.stop_reason.as_str().to_owned()),
                ConverseStreamOutput::Metadata(metadata) => totals = metadata.usage.as_ref().map(usage).unwrap_or_default(),
                _ => {}
            }
        }
        match stop_reason {
            Some(stop_reason) => yield Ok(ChatEvent::Done(Completion { stop_reason, usage: totals, streamed: true })),
            None => yield Err(ProviderError::new(
                ErrorKind::StreamInterrupted,
                "The Bedrock stream ended before the answer was complete. Try again.",
            ).with_request_id(request_id)),
        }
    })
}
