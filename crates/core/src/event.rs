use serde::{Deserialize, Serialize};

/// One item of a provider's answer stream. A successful stream ends with exactly one `Done`;
/// a failed one ends with an `Err` instead.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// A piece of answer text, relayed as soon as it arrives.
    Text(String),
    /// A piece of the model's visible reasoning, for models that send it.
    Reasoning(String),
    /// The answer is complete.
    Done(Completion),
}

/// How an answer ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Completion {
    /// Bedrock's stop reason (`end_turn`, `max_tokens`, …); local models use the same words.
    pub stop_reason: String,
    pub usage: Usage,
    /// `false` when a non-streaming call answered in one piece.
    pub streamed: bool,
}

/// Token counts as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
}
