//! The emulated model's turn when no fault scenario overrides it: reasoning first when thinking
//! is on, then a tool call, the JSON a structured output asks for, an answer to the tool
//! results, or the answer source's text; and the usage and service tier Bedrock reports with it.

use futures_util::{StreamExt, stream};
use streambed_core::{
    ChatEvent, ChatModel, ChatRequest, ChatStream, Completion, ProviderError, StopReason, Usage,
};
use streambed_local::StopText;

use crate::{
    answer::{input_tokens, words},
    cache::CacheUse,
    structured, thinking, tools,
};

/// The answer to `request`. Tool calls and tool-result answers are the emulator's own; plain
/// questions go to `source`.
pub(crate) async fn answer(
    source: &dyn ChatModel,
    request: &ChatRequest,
    thinking: bool,
) -> Result<ChatStream, ProviderError> {
    let reply = tools::answer(request);
    // Claude thinks once per turn: the answer to a tool result continues the turn that called it.
    let prelude = if thinking && reply.is_none() { thinking::prelude(request) } else { Vec::new() };
    let body = if let Some(call) = tools::call(request) {
        own(call, StopReason::ToolUse, request)
    } else if let Some(output) = &request.output_schema {
        // The answer to tool results too: structured output holds every text the model writes.
        let text = serde_json::to_string_pretty(&structured::instance(&output.schema)).unwrap_or_default();
        own(words(&text).into_iter().map(ChatEvent::Text).collect(), StopReason::EndTurn, request)
    } else if let Some(text) = reply {
        own(words(&text).into_iter().map(ChatEvent::Text).collect(), StopReason::EndTurn, request)
    } else {
        let answer = source.stream(request.clone()).await?;
        stop_at(answer, request.stop_sequences.clone(), input_tokens(request))
    };
    let reasoning_tokens = u32::try_from(prelude.len()).unwrap_or(u32::MAX);
    let body = body.map(move |event| match event {
        Ok(ChatEvent::Done(mut done)) => {
            done.usage.output_tokens += reasoning_tokens;
            Ok(ChatEvent::Done(done))
        }
        other => other,
    });
    Ok(Box::pin(stream::iter(prelude.into_iter().map(Ok)).chain(body)))
}

fn own(events: Vec<ChatEvent>, stop_reason: StopReason, request: &ChatRequest) -> ChatStream {
    let usage = Usage::new(input_tokens(request), u32::try_from(events.len()).unwrap_or(u32::MAX));
    let done = ChatEvent::Done(Completion::new(stop_reason, usage));
    Box::pin(stream::iter(events.into_iter().chain([done]).map(Ok)))
}

/// Ends the answer where it first writes one of the stop sequences, which it leaves out, as
/// Claude does, with the embedded model's own matcher ([`StopText`]); an embedded-model source
/// has already stopped there, so for it this finds nothing more.
fn stop_at(mut answer: ChatStream, sequences: Vec<String>, input_tokens: u32) -> ChatStream {
    if sequences.iter().all(String::is_empty) {
        return answer;
    }
    Box::pin(async_stream::stream! {
        let mut stops = StopText::new(&sequences);
        let mut deltas = 0;
        while let Some(event) = answer.next().await {
            match event {
                Ok(ChatEvent::Text(delta)) => {
                    let (shown, stopped) = stops.push(delta);
                    if !shown.is_empty() {
                        deltas += 1;
                        yield Ok(ChatEvent::Text(shown));
                    }
                    if stopped {
                        let usage = Usage::new(input_tokens, deltas);
                        yield Ok(ChatEvent::Done(Completion::new(StopReason::StopSequence, usage)));
                        return;
                    }
                }
                Ok(ChatEvent::Done(done)) => {
                    let rest = stops.finish();
                    if !rest.is_empty() {
                        yield Ok(ChatEvent::Text(rest));
                    }
                    yield Ok(ChatEvent::Done(done));
                    return;
                }
                other => yield other,
            }
        }
    })
}

/// Adds what Bedrock reports besides the model's own usage: the prompt cache's share of the
/// input, and the service tier that served the request.
pub(crate) fn finish(
    answer: ChatStream,
    cache: Option<CacheUse>,
    service_tier: Option<String>,
) -> ChatStream {
    Box::pin(answer.map(move |event| match event {
        Ok(ChatEvent::Done(mut done)) => {
            if let Some(CacheUse { read, write }) = cache {
                done.usage.input_tokens = done.usage.input_tokens.saturating_sub(read + write);
                done.usage.cache_read_input_tokens = Some(read);
                done.usage.cache_write_input_tokens = Some(write);
            }
            done.service_tier.clone_from(&service_tier);
            Ok(ChatEvent::Done(done))
        }
        other => other,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use streambed_core::{ToolChoice, ToolSpec};

    use super::*;
    use crate::{Scripted, answer::OutputBlock, answer::collect};

    #[tokio::test]
    async fn thinking_opens_the_answer_and_counts_as_output() {
        let source = Scripted::default();
        let answer = answer(&source, &ChatRequest::from_prompt("hi"), true).await.unwrap();

        let (blocks, done) = collect(answer).await.unwrap();

        assert!(matches!(&blocks[0], OutputBlock::Reasoning { signature: Some(_), .. }), "{blocks:?}");
        assert!(matches!(&blocks[1], OutputBlock::Redacted(_)));
        assert!(matches!(&blocks[2], OutputBlock::Text(t) if t.ends_with("You said: hi")));
        assert_eq!(done.usage.output_tokens, 8 + 5);
    }

    #[tokio::test]
    async fn the_answer_stops_before_a_stop_sequence_even_across_deltas() {
        let mut request = ChatRequest::from_prompt("hi");
        request.stop_sequences = vec!["the Streambed".into(), "never".into()];

        let (blocks, done) =
            collect(answer(&Scripted::default(), &request, false).await.unwrap()).await.unwrap();

        assert_eq!(blocks, [OutputBlock::Text("Hello from ".into())]);
        assert_eq!(done.stop_reason, StopReason::StopSequence);
        request.stop_sequences = vec!["never".into()];
        let (blocks, done) =
            collect(answer(&Scripted::default(), &request, false).await.unwrap()).await.unwrap();
        assert_eq!(blocks, [OutputBlock::Text("Hello from the Streambed emulator. You said: hi".into())]);
        assert_eq!(done.stop_reason, StopReason::EndTurn);
    }

    #[tokio::test]
    async fn tools_are_called_and_cache_and_tier_are_reported() {
        let mut request = ChatRequest::from_prompt("Weather?");
        request.tools =
            vec![ToolSpec { name: "get_weather".into(), description: None, input_schema: json!({}) }];
        request.tool_choice = ToolChoice::Auto;
        let answer = answer(&Scripted::default(), &request, false).await.unwrap();
        let answer = finish(answer, Some(CacheUse { read: 1, write: 1 }), Some("flex".into()));

        let (blocks, done) = collect(answer).await.unwrap();

        assert!(
            matches!(&blocks[..], [OutputBlock::ToolUse { name, input, .. }] if name == "get_weather" && input == "{}")
        );
        assert_eq!(done.stop_reason, StopReason::ToolUse);
        assert_eq!(done.service_tier.as_deref(), Some("flex"));
        assert_eq!(
            (
                done.usage.input_tokens,
                done.usage.cache_read_input_tokens,
                done.usage.cache_write_input_tokens
            ),
            (1, Some(1), Some(1))
        );
    }
}
