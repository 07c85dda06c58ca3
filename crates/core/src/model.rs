use std::{future::Future, pin::Pin};

use futures_core::Stream;
use serde::Serialize;

use crate::{ChatEvent, ChatRequest, ProviderError};

/// The answer stream. Dropping it must stop the upstream generation: providers hold the
/// upstream connection or the generation worker inside the stream, never in a detached task.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, ProviderError>> + Send>>;

/// A boxed future, so the trait stays usable as `dyn ChatModel`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a client may know about the model behind the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInfo {
    /// `bedrock`, `local` or `scripted`.
    pub provider: &'static str,
    /// The model id as the provider names it.
    pub id: String,
}

/// A source of streamed chat answers.
pub trait ChatModel: Send + Sync + 'static {
    fn info(&self) -> &ModelInfo;

    /// Starts an answer. Errors known before the first event (refused, throttled, overloaded)
    /// come back here, so the HTTP layer can still answer with a real status code.
    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<ChatStream, ProviderError>>;
}
