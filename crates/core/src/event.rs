use serde::{Deserialize, Serialize, Serializer};

/// One item of a provider's answer stream. A successful stream ends with exactly one `Done`;
/// a failed one ends with an `Err` instead.
///
/// Blocks are implied by the order: a run of `Text` is one text block, a run of `Reasoning`
/// (closed by its `ReasoningSignature`) one reasoning block, and each `ToolCall` opens a tool-use
/// block whose input follows as `ToolInput` fragments.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// A piece of answer text, relayed as soon as it arrives.
    Text(String),
    /// A piece of the model's visible reasoning, for models that send it.
    Reasoning(String),
    /// The signature that closes a reasoning block: never shown, kept to send back later.
    ReasoningSignature(String),
    /// Reasoning the provider encrypted (base64): never shown, kept to send back later.
    RedactedReasoning(String),
    /// The model starts a tool call.
    ToolCall { id: String, name: String },
    /// A fragment of the JSON input of the tool call started last.
    ToolInput(String),
    /// The answer is complete.
    Done(Completion),
}

/// Why the model stopped, in Bedrock's words (which the other APIs map from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    EndTurn,
    ToolUse,
    MaxTokens,
    StopSequence,
    GuardrailIntervened,
    ContentFiltered,
    ContextWindowExceeded,
    /// A reason this version does not know, kept as the provider said it.
    Other(String),
}

impl StopReason {
    /// Every reason this version knows, for [`parse`](Self::parse); their words are `as_str`'s
    /// alone, so a reason's word is written once.
    const KNOWN: [Self; 7] = [
        Self::EndTurn,
        Self::ToolUse,
        Self::MaxTokens,
        Self::StopSequence,
        Self::GuardrailIntervened,
        Self::ContentFiltered,
        Self::ContextWindowExceeded,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            Self::EndTurn => "end_turn",
            Self::ToolUse => "tool_use",
            Self::MaxTokens => "max_tokens",
            Self::StopSequence => "stop_sequence",
            Self::GuardrailIntervened => "guardrail_intervened",
            Self::ContentFiltered => "content_filtered",
            Self::ContextWindowExceeded => "model_context_window_exceeded",
            Self::Other(reason) => reason,
        }
    }

    /// The reason for a word, e.g. one read back from a stored answer.
    pub fn parse(word: &str) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|known| known.as_str() == word)
            .unwrap_or_else(|| Self::Other(word.to_owned()))
    }
}

impl Serialize for StopReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// How an answer ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Completion {
    pub stop_reason: StopReason,
    pub usage: Usage,
    /// `false` when a non-streaming call answered in one piece.
    pub streamed: bool,
    /// The service tier the provider says served the answer (`default`, `flex`, `priority`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
}

impl Completion {
    /// A streamed answer that ended for `stop_reason`.
    pub fn new(stop_reason: StopReason, usage: Usage) -> Self {
        Self { stop_reason, usage, streamed: true, service_tier: None }
    }
}

/// Token counts as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
    /// Input tokens read from the prompt cache, when the provider reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u32>,
    /// Input tokens written to the prompt cache, when the provider reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_input_tokens: Option<u32>,
}

impl Usage {
    pub fn new(input_tokens: u32, output_tokens: u32) -> Self {
        Self { input_tokens, output_tokens, ..Self::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_round_trip_through_their_words() {
        for word in ["end_turn", "tool_use", "max_tokens", "model_context_window_exceeded", "something_new"] {
            assert_eq!(StopReason::parse(word).as_str(), word);
        }
        assert_eq!(StopReason::parse("tool_use"), StopReason::ToolUse);
        for known in StopReason::KNOWN {
            assert_eq!(StopReason::parse(known.as_str()), known);
        }
    }
}
