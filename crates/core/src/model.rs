use std::{future::Future, pin::Pin};

use futures_core::Stream;
use serde::Serialize;

use crate::{ChatEvent, ChatRequest, ErrorKind, ProviderError};

/// The answer stream. Dropping it must stop the upstream generation: providers hold the
/// upstream connection or the generation worker inside the stream, never in a detached task.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, ProviderError>> + Send>>;

/// A boxed future, so the trait stays usable as `dyn ChatModel`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a client may know about a model behind the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInfo {
    /// `bedrock`, `local` or `scripted`.
    pub provider: &'static str,
    /// The model id as the provider names it.
    pub id: String,
    /// A name for people (the id when none was configured).
    pub name: String,
    pub capabilities: Capabilities,
}

/// What a model accepts, so clients offer only controls that work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    pub reasoning: ReasoningStyle,
    /// The sampling parameters the model takes: some of `temperature`, `topP`, `topK`.
    pub sampling: Vec<&'static str>,
    /// Whether `temperature` and `topP` may be sent together.
    pub temperature_with_top_p: bool,
    pub max_output_tokens: u32,
    pub context_window: u32,
    pub tools: bool,
    pub images: bool,
    pub documents: bool,
    pub prompt_cache: bool,
}

/// How a model is asked to reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningStyle {
    /// It cannot.
    None,
    /// With a token budget.
    Budget,
    /// It decides how much, guided by an effort level.
    Adaptive,
}

/// A source of streamed chat answers.
pub trait ChatModel: Send + Sync + 'static {
    fn info(&self) -> &ModelInfo;

    /// Starts an answer. Errors known before the first event (refused, throttled, overloaded)
    /// come back here, so the HTTP layer can still answer with a real status code.
    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<ChatStream, ProviderError>>;

    /// How many input tokens the request would cost.
    fn count_tokens(&self, request: ChatRequest) -> BoxFuture<'_, Result<u32, ProviderError>> {
        let _ = request;
        let id = self.info().id.clone();
        Box::pin(async move {
            Err(ProviderError::new(
                ErrorKind::InvalidRequest,
                format!("The model '{id}' cannot count tokens."),
            ))
        })
    }
}
