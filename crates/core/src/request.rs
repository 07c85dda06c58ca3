use serde::{Deserialize, Serialize};

/// Who wrote a turn of the conversation. The system prompt travels separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn user(content: impl Into<String>) -> Self {
        Self { role: Role::User, content: content.into() }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self { role: Role::Assistant, content: content.into() }
    }
}

/// Sampling settings; `None` leaves the provider's own default in place.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct InferenceParams {
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
}

/// A validated chat request: a non-empty conversation that ends with a user turn.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub system: Option<String>,
    pub messages: Vec<Message>,
    pub params: InferenceParams,
}

impl ChatRequest {
    /// A single-turn request, the seed's `{"prompt": …}` form.
    pub fn from_prompt(prompt: impl Into<String>) -> Self {
        Self { system: None, messages: vec![Message::user(prompt)], params: InferenceParams::default() }
    }

    /// The text of the last user turn, if the conversation has one.
    pub fn last_user_text(&self) -> Option<&str> {
        self.messages.iter().rev().find(|m| m.role == Role::User).map(|m| m.content.as_str())
    }
}
