//! A chat request: the conversation and the options that go with it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Document, Message, Role, Shown};

/// Sampling settings; `None` leaves the provider's own default in place.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct InferenceParams {
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
}

/// How hard a reasoning model may think before it answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reasoning {
    /// No reasoning requested.
    #[default]
    Off,
    Low,
    Medium,
    High,
    /// A token budget, as the Anthropic API's `thinking.budget_tokens` asks; a provider whose
    /// model takes an effort level maps it to the nearest one.
    #[serde(skip)]
    Budget(u32),
}

impl Reasoning {
    pub fn is_on(self) -> bool {
        self != Self::Off
    }

    /// The word for this level (`budget` for an explicit budget).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Budget(_) => "budget",
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the input object.
    pub input_schema: Value,
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides.
    #[default]
    Auto,
    /// The model must call some tool.
    Any,
    /// The model must call this tool.
    Tool(String),
    /// The model must not call a tool (the tools still describe the earlier calls).
    None,
}

/// A JSON Schema the answer's text must follow (structured output): the answer is then one
/// JSON value of that schema, as text.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSchema {
    pub name: Option<String>,
    pub description: Option<String>,
    pub schema: Value,
}

impl OutputSchema {
    /// JSON Schema keywords Claude's structured outputs cannot enforce (Anthropic, "Structured
    /// outputs", JSON Schema limitations), besides `minItems` above 1: `streambed-bedrock` puts
    /// them into words for Claude, and the emulator refuses them as Claude does.
    pub const CLAUDE_UNENFORCED: [&str; 11] = [
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
    ];
}

/// A chat request: the conversation so far and the options. It may end with an assistant turn
/// for the model to continue, where the provider allows that (`bedrock` checks its rules); the
/// server's routes send only conversations that end with the user's turn.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub system: Option<String>,
    pub messages: Vec<Message>,
    pub params: InferenceParams,
    /// Sequences that end the answer when the model writes them.
    pub stop_sequences: Vec<String>,
    pub reasoning: Reasoning,
    pub tools: Vec<ToolSpec>,
    pub tool_choice: ToolChoice,
    /// The schema the answer must follow, when the client asked for structured output.
    pub output_schema: Option<OutputSchema>,
    /// The client marked parts of its prompt for caching (Anthropic's `cache_control`): a
    /// provider that caches prompts caches this one's, as it would with caching turned on.
    pub cache_prompt: bool,
}

impl ChatRequest {
    /// A request for these turns with every option left at the provider's default.
    pub fn new(messages: Vec<Message>) -> Self {
        Self {
            system: None,
            messages,
            params: InferenceParams::default(),
            stop_sequences: Vec::new(),
            reasoning: Reasoning::Off,
            tools: Vec::new(),
            tool_choice: ToolChoice::Auto,
            output_schema: None,
            cache_prompt: false,
        }
    }

    /// A single-turn request, the seed's `{"prompt": …}` form.
    pub fn from_prompt(prompt: impl Into<String>) -> Self {
        Self::new(vec![Message::user(prompt)])
    }

    /// The text of the last user turn, if the conversation has one.
    pub fn last_user_text(&self) -> Option<String> {
        self.messages.iter().rev().find(|m| m.role == Role::User).map(Message::text)
    }

    /// Whether the request needs a model that can call tools.
    pub fn uses_tools(&self) -> bool {
        !self.tools.is_empty() || self.messages.iter().any(Message::has_tool_content)
    }

    /// Whether the request shows the model images (a tool's included).
    pub fn has_images(&self) -> bool {
        self.messages.iter().flat_map(Message::shown).any(|shown| matches!(shown, Shown::Image(_)))
    }

    /// The documents the request gives the model (a tool's included), in order.
    pub fn documents(&self) -> impl Iterator<Item = &Document> {
        self.messages.iter().flat_map(Message::documents)
    }
}
