//! Provider-neutral chat types: the request a client makes, the events a provider streams back,
//! the errors either side can meet, and the [`ChatModel`] trait every provider implements.
//!
//! Data flow: the HTTP server validates a request into a [`ChatRequest`], hands it to a
//! `ChatModel` (Bedrock, the embedded local model, or the emulator's scripted responder), and
//! relays the resulting stream of [`ChatEvent`]s. Nothing here knows about HTTP or AWS.

mod error;
mod event;
mod media;
mod message;
mod model;
mod request;

pub use error::{ErrorKind, ProviderError};
pub use event::{ChatEvent, Completion, StopReason, Usage};
pub use media::{Document, DocumentFormat, Image, ImageFormat};
pub use message::{Attachment, Content, Message, ReasoningBlock, Role, Shown, ToolResult, ToolUse};
pub use model::{BoxFuture, Capabilities, ChatModel, ChatStream, ModelInfo, ReasoningStyle};
pub use request::{ChatRequest, InferenceParams, OutputSchema, Reasoning, ToolChoice, ToolSpec};
