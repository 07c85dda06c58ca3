//! Where the answer text comes from: the configured answer source (any `ChatModel`), or text
//! the scenario dictates.

use futures_util::{StreamExt, stream};
use streambed_core::{
    Attachment, BoxFuture, Capabilities, ChatEvent, ChatModel, ChatRequest, ChatStream, Completion, Content,
    Document, Image, ModelInfo, ProviderError, ReasoningBlock, ReasoningStyle, StopReason, ToolSpec, Usage,
};

/// Deltas that trip naive SSE framing, JSON escaping and UTF-8 handling, including runs of
/// one-character deltas and a delta that is itself an SSE frame.
pub const UNICODE_DELTAS: &[&str] = &[
    "Hello ",
    "👋",
    " — ",
    "日本語",
    " ",
    "e\u{301}",
    "\u{302}",
    " 🇫🇷",
    " 👩‍👩‍👧",
    "\r",
    "\n",
    "\r\n",
    "data: x\n\nevent: done\n\n",
    "\"quoted\"",
    " back\\slash",
    " tab\t",
    "\u{2028}",
    "\u{0}",
    "a",
    "b",
    "c",
    "d",
    "é",
    "ß",
    "中",
    "😀",
    "🙂",
    " end",
];

/// The `i`-th delta of the synthetic answers used by `long`, `slow`, and the fault scenarios.
pub fn synthetic_delta(i: usize) -> String {
    const WORDS: [&str; 8] = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit"];
    format!("{}{i} ", WORDS[i % WORDS.len()])
}

/// The whole synthetic answer of `n` deltas, for tests that check reassembly.
pub fn long_text(n: usize) -> String {
    (0..n).map(synthetic_delta).collect()
}

/// A rough token count (whitespace-separated words) for usage figures.
pub(crate) fn count_tokens(text: &str) -> u32 {
    u32::try_from(text.split_whitespace().count()).unwrap_or(u32::MAX)
}

/// The tokens of one block of a turn: its text, a tool call's name and input, a tool's output.
pub(crate) fn content_tokens(content: &Content) -> u32 {
    match content {
        Content::Text(text) | Content::Reasoning(ReasoningBlock::Text { text, .. }) => count_tokens(text),
        Content::Reasoning(ReasoningBlock::Redacted { .. }) => 0,
        Content::ToolUse(call) => count_tokens(&call.name) + count_tokens(&call.input.to_string()),
        Content::ToolResult(result) => {
            let attachments = result.attachments.iter().map(|attachment| match attachment {
                Attachment::Image(image) => image_tokens(image),
                Attachment::Document(document) => document_tokens(document),
            });
            count_tokens(&result.content) + attachments.sum::<u32>()
        }
        Content::Image(image) => image_tokens(image),
        Content::Document(document) => document_tokens(document),
    }
}

/// About as Anthropic counts an image (width × height / 750), by its bytes: the emulator does
/// not decode it.
fn image_tokens(image: &Image) -> u32 {
    u32::try_from(image.data.len() / 750).unwrap_or(u32::MAX).max(1)
}

/// A text document by its words; another by its bytes, about four to a token.
fn document_tokens(document: &Document) -> u32 {
    match std::str::from_utf8(&document.data) {
        Ok(text) => count_tokens(text).max(1),
        Err(_) => u32::try_from(document.data.len() / 4).unwrap_or(u32::MAX).max(1),
    }
}

/// The tokens of a tool definition: name, description and input schema.
pub(crate) fn tool_tokens(tool: &ToolSpec) -> u32 {
    count_tokens(&tool.name)
        + tool.description.as_deref().map_or(0, count_tokens)
        + count_tokens(&tool.input_schema.to_string())
}

/// The input tokens of a request, counted the same way for usage, prompt caching and CountTokens.
pub(crate) fn input_tokens(request: &ChatRequest) -> u32 {
    let tools = request.tools.iter().map(tool_tokens).sum::<u32>();
    let system = request.system.as_deref().map_or(0, count_tokens);
    let messages = request.messages.iter().flat_map(|m| &m.content).map(content_tokens).sum::<u32>();
    tools + system + messages
}

/// Text cut into word deltas, the way the scripted answers stream.
pub(crate) fn words(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_owned).collect()
}

/// A stream that sends the given text deltas, then `Done` with `end_turn`.
pub(crate) fn fixed(deltas: Vec<String>, input_tokens: u32) -> ChatStream {
    events(deltas.into_iter().map(ChatEvent::Text).collect(), input_tokens)
}

/// The given text deltas, one token each, up to `max_tokens`: then `Done` with `max_tokens` if
/// the limit cut them, else `end_turn`.
pub(crate) fn up_to(mut deltas: Vec<String>, max_tokens: Option<u32>, input_tokens: u32) -> ChatStream {
    let limit = max_tokens.map_or(usize::MAX, |m| m as usize);
    let truncated = deltas.len() > limit;
    deltas.truncate(limit);
    let usage = Usage::new(input_tokens, u32::try_from(deltas.len()).unwrap_or(u32::MAX));
    let stop_reason = if truncated { StopReason::MaxTokens } else { StopReason::EndTurn };
    let done = ChatEvent::Done(Completion::new(stop_reason, usage));
    Box::pin(stream::iter(deltas.into_iter().map(ChatEvent::Text).chain([done]).map(Ok)))
}

/// Reasoning first, then the answer, as Claude's extended thinking streams it.
pub(crate) fn with_reasoning(input_tokens: u32) -> ChatStream {
    let reasoning = ["The user ", "asked for ", "a greeting."].map(|t| ChatEvent::Reasoning(t.into()));
    let text = ["Hello", " there!"].map(|t| ChatEvent::Text(t.into()));
    events(reasoning.into_iter().chain(text).collect(), input_tokens)
}

fn events(events: Vec<ChatEvent>, input_tokens: u32) -> ChatStream {
    let usage = Usage::new(input_tokens, u32::try_from(events.len()).unwrap_or(u32::MAX));
    let done = ChatEvent::Done(Completion::new(StopReason::EndTurn, usage));
    Box::pin(stream::iter(events.into_iter().chain([done]).map(Ok)))
}

/// A deterministic answer source for tests and offline development: it greets and repeats
/// the last user message, one word per delta, and honours `maxTokens`.
#[derive(Debug)]
pub struct Scripted {
    info: ModelInfo,
}

impl Default for Scripted {
    fn default() -> Self {
        let id = "streambed-emulator-scripted";
        let capabilities = Capabilities {
            reasoning: ReasoningStyle::None,
            sampling: vec!["temperature", "topP", "topK"],
            temperature_with_top_p: true,
            max_output_tokens: 4096,
            context_window: 200_000,
            tools: false,
            images: false,
            documents: false,
            prompt_cache: false,
        };
        Self { info: ModelInfo { provider: "scripted", id: id.into(), name: id.into(), capabilities } }
    }
}

impl ChatModel for Scripted {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<ChatStream, ProviderError>> {
        let said = request.last_user_text().unwrap_or_default();
        let text = format!("Hello from the Streambed emulator. You said: {}", said.trim());
        let answer = up_to(words(&text), request.params.max_tokens, input_tokens(&request));
        Box::pin(async move { Ok(answer) })
    }
}

/// One content block of a whole answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OutputBlock {
    Text(String),
    Reasoning {
        text: String,
        signature: Option<String>,
    },
    /// Base64 of the encrypted reasoning.
    Redacted(String),
    /// `input` is the JSON text the fragments spell.
    ToolUse {
        id: String,
        name: String,
        input: String,
    },
}

/// Collects a whole answer into its blocks, for the non-streaming Converse operation.
pub(crate) async fn collect(mut answer: ChatStream) -> Result<(Vec<OutputBlock>, Completion), ProviderError> {
    let mut blocks = Vec::new();
    while let Some(event) = answer.next().await {
        match (event?, blocks.last_mut()) {
            (ChatEvent::Text(t), Some(OutputBlock::Text(text))) => text.push_str(&t),
            (ChatEvent::Text(t), _) => blocks.push(OutputBlock::Text(t)),
            (ChatEvent::Reasoning(t), Some(OutputBlock::Reasoning { text, signature: None })) => {
                text.push_str(&t)
            }
            (ChatEvent::Reasoning(text), _) => blocks.push(OutputBlock::Reasoning { text, signature: None }),
            (
                ChatEvent::ReasoningSignature(s),
                Some(OutputBlock::Reasoning { signature: signature @ None, .. }),
            ) => {
                *signature = Some(s);
            }
            (ChatEvent::ReasoningSignature(s), _) => {
                blocks.push(OutputBlock::Reasoning { text: String::new(), signature: Some(s) });
            }
            (ChatEvent::RedactedReasoning(data), _) => blocks.push(OutputBlock::Redacted(data)),
            (ChatEvent::ToolCall { id, name }, _) => {
                blocks.push(OutputBlock::ToolUse { id, name, input: String::new() })
            }
            (ChatEvent::ToolInput(fragment), Some(OutputBlock::ToolUse { input, .. })) => {
                input.push_str(&fragment)
            }
            (ChatEvent::ToolInput(_), _) => {}
            (ChatEvent::Done(completion), _) => {
                if blocks.is_empty() {
                    blocks.push(OutputBlock::Text(String::new()));
                }
                return Ok((blocks, completion));
            }
        }
    }
    Err(ProviderError::new(streambed_core::ErrorKind::StreamInterrupted, "the answer source ended early"))
}

#[cfg(test)]
mod tests {
    use streambed_core::InferenceParams;

    use super::*;

    #[tokio::test]
    async fn scripted_repeats_the_prompt_and_honours_max_tokens() {
        let model = Scripted::default();
        let (blocks, done) =
            collect(model.stream(ChatRequest::from_prompt("hi there")).await.unwrap()).await.unwrap();
        assert_eq!(
            blocks,
            [OutputBlock::Text("Hello from the Streambed emulator. You said: hi there".into())]
        );
        assert_eq!(done.stop_reason, StopReason::EndTurn);
        assert_eq!(done.usage, Usage::new(2, 9));

        let mut short = ChatRequest::from_prompt("hi");
        short.params = InferenceParams { max_tokens: Some(2), ..Default::default() };
        let (blocks, done) = collect(model.stream(short).await.unwrap()).await.unwrap();
        assert_eq!(blocks, [OutputBlock::Text("Hello from ".into())]);
        assert_eq!(done.stop_reason, StopReason::MaxTokens);
    }

    #[test]
    fn synthetic_text_is_the_concatenation_of_its_deltas() {
        assert_eq!(long_text(3), "lorem0 ipsum1 dolor2 ");
    }
}
