//! The Bedrock provider: a [`ChatModel`] over `aws-sdk-bedrockruntime`'s ConverseStream.
//!
//! In the data flow it sits between the server's validated [`ChatRequest`] and Amazon Bedrock:
//! it sends ConverseStream, turns `contentBlockDelta` events into [`ChatEvent`]s, and falls back
//! to Converse (one chunk) when streaming is refused before any token. The upstream HTTP response
//! lives inside the returned stream, so dropping the stream closes the Bedrock connection.

mod config;
mod errors;
mod events;
mod request;
mod rules;

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_bedrockruntime::{Client, error::SdkError, operation::RequestId};
use futures_util::stream;
use streambed_core::{
    BoxFuture, ChatEvent, ChatModel, ChatRequest, ChatStream, Completion, ModelInfo, ProviderError,
    StopReason, Usage,
};

pub use config::{BedrockConfig, ConnectError, Latency, ModelChoice, ServiceTier, connect, models};
pub use rules::Param;

use crate::errors::Context;

/// A Bedrock model, addressed by model id or inference-profile id/ARN.
#[derive(Debug, Clone)]
pub struct BedrockModel {
    client: Client,
    info: ModelInfo,
    idle_timeout: Duration,
    region: String,
}

impl BedrockModel {
    /// `sdk_config` comes from `aws_config` (credentials, region, endpoint override);
    /// `idle_timeout` ends a stream that goes silent, which the SDK never does by itself.
    pub fn new(sdk_config: &SdkConfig, model_id: impl Into<String>, idle_timeout: Duration) -> Self {
        let region = sdk_config.region().map_or_else(|| "(no region)".to_owned(), ToString::to_string);
        Self {
            client: Client::new(sdk_config),
            info: {
                let id: String = model_id.into();
                ModelInfo { provider: "bedrock", name: id.clone(), id, capabilities: rules::capabilities() }
            },
            idle_timeout,
            region,
        }
    }

    /// A model on a shared client (see [`connect`]).
    pub(crate) fn with_client(
        client: Client,
        region: &str,
        choice: &ModelChoice,
        config: &BedrockConfig,
    ) -> Self {
        let id = choice.id.clone();
        let name = choice.name.clone().unwrap_or_else(|| id.clone());
        Self {
            client,
            info: ModelInfo { provider: "bedrock", id, name, capabilities: rules::capabilities() },
            idle_timeout: config.idle_timeout,
            region: region.to_owned(),
        }
    }

    /// The configured sampling parameters this model refuses, each with why; they are left out
    /// of its requests. (Placeholder until the rules table lands.)
    pub fn dropped_params(&self, params: &streambed_core::InferenceParams) -> Vec<(Param, &'static str)> {
        let _ = params;
        Vec::new()
    }

    fn context(&self) -> Context<'_> {
        Context { model_id: &self.info.id, region: &self.region }
    }

    async fn start(&self, request: ChatRequest) -> Result<ChatStream, ProviderError> {
        let parts = request::Parts::try_from(&request)?;
        let sent = self
            .client
            .converse_stream()
            .model_id(&self.info.id)
            .set_messages(Some(parts.messages))
            .set_system(parts.system)
            .set_inference_config(parts.inference)
            .send()
            .await;
        match sent {
            Ok(output) => {
                let request_id = output.request_id().map(str::to_owned);
                Ok(events::relay(output.stream, request_id, self.idle_timeout))
            }
            Err(SdkError::ServiceError(refused)) if errors::streaming_refused(refused.err()) => {
                tracing::warn!(
                    model = %self.info.id,
                    reason = %aws_sdk_bedrockruntime::error::DisplayErrorContext(refused.err()),
                    "ConverseStream refused; falling back to Converse"
                );
                // Rare, so the request is converted again rather than copied for every call.
                self.converse(request::Parts::try_from(&request)?).await
            }
            Err(error) => Err(errors::before_stream(&error, self.context())),
        }
    }

    /// The fallback: one Converse call whose whole answer becomes a single text chunk.
    async fn converse(&self, parts: request::Parts) -> Result<ChatStream, ProviderError> {
        let output = self
            .client
            .converse()
            .model_id(&self.info.id)
            .set_messages(Some(parts.messages))
            .set_system(parts.system)
            .set_inference_config(parts.inference)
            .send()
            .await
            .map_err(|e| errors::before_stream(&e, self.context()))?;
        let usage = output.usage().map(events::usage).unwrap_or_default();
        let stop_reason = StopReason::parse(output.stop_reason().as_str());
        let text = request::answer_text(output.output());
        Ok(single_chunk(text, stop_reason, usage))
    }
}

fn single_chunk(text: String, stop_reason: StopReason, usage: Usage) -> ChatStream {
    let done = ChatEvent::Done(Completion { streamed: false, ..Completion::new(stop_reason, usage) });
    let text = (!text.is_empty()).then_some(ChatEvent::Text(text));
    Box::pin(stream::iter(text.into_iter().chain([done]).map(Ok)))
}

impl ChatModel for BedrockModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<ChatStream, ProviderError>> {
        Box::pin(self.start(request))
    }
}
