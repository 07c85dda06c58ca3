//! Per-model rules (placeholder until the table lands).

use streambed_core::{Capabilities, ReasoningStyle};

pub(crate) fn capabilities() -> Capabilities {
    Capabilities {
        reasoning: ReasoningStyle::None,
        sampling: vec!["temperature", "topP"],
        temperature_with_top_p: true,
        max_output_tokens: 4096,
        context_window: 200_000,
        tools: true,
        images: false,
        documents: false,
        prompt_cache: false,
    }
}

/// A sampling parameter some models refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    Temperature,
    TopP,
    TopK,
}
