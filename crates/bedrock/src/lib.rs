//! The Bedrock provider: a [`ChatModel`] over `aws-sdk-bedrockruntime`'s ConverseStream.
//!
//! In the data flow it sits between the server's validated [`ChatRequest`] and Amazon Bedrock:
//! [`connect`] sets up the SDK clients every configured model shares (trusting `AWS_CA_BUNDLE`'s
//! certificates too; a few answers to each connection, see `upstream.rs`);
//! each request is shaped by its
//! model's rules (`rules.rs`: which parameters it takes, how it reasons), sent as ConverseStream,
//! and its events become [`ChatEvent`]s; when streaming is refused before any token it falls
//! back to Converse (one chunk). The upstream HTTP response lives inside the returned stream, so
//! dropping the stream closes the Bedrock connection.

mod attachments;
mod config;
mod content;
mod errors;
mod events;
mod names;
mod params;
mod request;
mod rules;
mod schema;
mod schema_tool;
mod tools;
mod trust;
mod upstream;

use std::{sync::Arc, time::Duration};

use aws_sdk_bedrockruntime::{
    error::SdkError,
    operation::{RequestId, count_tokens::CountTokensError},
    types::{ConverseTokensRequest, CountTokensInput},
};
use streambed_core::{
    BoxFuture, ChatModel, ChatRequest, ChatStream, ErrorKind, InferenceParams, ModelInfo, ProviderError,
    Reasoning,
};

pub use config::{BedrockConfig, ConnectError, Latency, ModelChoice, ServiceTier, Setting, connect, models};

pub use names::anthropic_id;
pub use trust::CaBundleError;

use futures_util::StreamExt;

use crate::{
    errors::Context,
    request::{Parts, Target},
    rules::Rule,
    upstream::Upstream,
};

/// A Bedrock model, addressed by model id or inference-profile id/ARN.
#[derive(Debug, Clone)]
pub struct BedrockModel {
    upstream: Arc<Upstream>,
    info: ModelInfo,
    /// `None` for an id the rules table does not know: what is configured is sent as it is.
    rule: Option<&'static Rule>,
    idle_timeout: Duration,
    region: String,
    service_tier: Option<ServiceTier>,
    latency: Option<Latency>,
    prompt_cache: bool,
    /// [`BedrockConfig::settings`].
    settings: Vec<Setting>,
}

/// Both operations' builders take the request's parts under the same names.
macro_rules! with_parts {
    ($builder:expr, $parts:expr) => {{
        let parts: Parts = $parts;
        $builder
            .set_messages(Some(parts.messages))
            .set_system(parts.system)
            .set_inference_config(parts.inference)
            .set_tool_config(parts.tool_config)
            .set_additional_model_request_fields(parts.additional)
            .set_service_tier(parts.service_tier)
            .set_performance_config(parts.performance)
            .set_output_config(parts.output)
    }};
}

impl BedrockModel {
    /// A model on the clients every model shares (see [`connect`]).
    pub(crate) fn with_upstream(
        upstream: Arc<Upstream>,
        region: &str,
        choice: &ModelChoice,
        config: &BedrockConfig,
    ) -> Self {
        let id = choice.id.clone();
        let name = choice.name.clone().or_else(|| names::readable(&id)).unwrap_or_else(|| id.clone());
        let rule = rules::lookup(&id);
        let capabilities = rule.map_or_else(rules::unknown_capabilities, Rule::capabilities);
        Self {
            upstream,
            info: ModelInfo { provider: "bedrock", id, name, capabilities },
            rule,
            idle_timeout: config.idle_timeout,
            region: region.to_owned(),
            service_tier: config.service_tier,
            latency: config.latency,
            prompt_cache: config.prompt_cache,
            settings: config.settings.clone(),
        }
    }

    /// The configured sampling parameters this model does not take, each with a short reason;
    /// they are left out of its requests rather than failing each one. With reasoning on, a
    /// request may leave out more (temperature, top_k).
    pub fn dropped_params(&self, params: &InferenceParams) -> Vec<(Setting, &'static str)> {
        params::dropped(self.rule, rules::model_part(&self.info.id), params, Reasoning::Off)
    }

    fn context(&self) -> Context<'_> {
        Context { model_id: &self.info.id, region: &self.region, settings: &self.settings }
    }

    /// Where a request goes; its prompt cached where the model caches and either the operator
    /// (`BEDROCK_PROMPT_CACHE`) or the client (`cache_prompt`) asks for it.
    fn target(&self, cache_prompt: bool) -> Target<'_> {
        Target {
            service_tier: self.service_tier,
            latency: self.latency,
            prompt_cache: (self.prompt_cache || cache_prompt) && self.rule.is_some_and(|r| r.prompt_cache),
            ..Target::new(&self.info.id)
        }
    }

    async fn start(&self, mut request: ChatRequest) -> Result<ChatStream, ProviderError> {
        if schema_tool::schema_as_tool(&mut request, self.rule) {
            return self.send(request).await.map(schema_tool::answer_as_text);
        }
        self.send(request).await
    }

    async fn send(&self, request: ChatRequest) -> Result<ChatStream, ProviderError> {
        let target = self.target(request.cache_prompt);
        let parts = request::build(&request, target)?;
        for (param, reason) in params::dropped(self.rule, target.model, &request.params, request.reasoning) {
            tracing::debug!(model = %self.info.id, ?param, reason, "sampling parameter not sent");
        }
        let (client, lease) = self.upstream.client();
        // Cloned so the fallback can reuse it: as cheap as building it again, and rarely needed.
        let send = with_parts!(client.converse_stream().model_id(&self.info.id), parts.clone()).send();
        let sending = async {
            match lease.warm_up().await {
                Some(warming_up) => warming_up.send(send).await,
                None => send.await,
            }
        };
        // The wait for the response's head is silence too: an endpoint that takes the request
        // and never answers would otherwise hold the answer until the request's deadline.
        let Ok(sent) = tokio::time::timeout(self.idle_timeout, sending).await else {
            return Err(ProviderError::new(
                ErrorKind::Timeout,
                format!(
                    "Bedrock did not start answering within {} s (BEDROCK_STREAM_IDLE_TIMEOUT), so the \
                     answer was abandoned. Try again.",
                    self.idle_timeout.as_secs_f32()
                ),
            ));
        };
        match sent {
            Ok(output) => {
                let request_id = output.request_id().map(str::to_owned);
                let events = events::relay(output.stream, request_id, self.idle_timeout);
                // The answer keeps its place on the client for as long as it streams.
                Ok(Box::pin(events.map(move |event| {
                    let _ = &lease;
                    event
                })))
            }
            Err(SdkError::ServiceError(refused)) if errors::streaming_refused(refused.err()) => {
                tracing::warn!(
                    model = %self.info.id,
                    reason = %aws_sdk_bedrockruntime::error::DisplayErrorContext(refused.err()),
                    "ConverseStream refused; falling back to Converse"
                );
                self.converse(&client, parts).await
            }
            Err(error) => Err(errors::before_stream(&error, self.context())),
        }
    }

    /// The fallback: one Converse call whose whole answer becomes the events of one chunk.
    async fn converse(
        &self,
        client: &aws_sdk_bedrockruntime::Client,
        parts: Parts,
    ) -> Result<ChatStream, ProviderError> {
        let output = with_parts!(client.converse().model_id(&self.info.id), parts)
            .send()
            .await
            .map_err(|e| errors::before_stream(&e, self.context()))?;
        Ok(events::single_chunk(&output))
    }

    /// Bedrock's CountTokens on the request's Converse form (messages, system, tools).
    async fn count(&self, mut request: ChatRequest) -> Result<u32, ProviderError> {
        // Reasoning and cache points do not change what the input costs; the schema's tool does.
        request.reasoning = Reasoning::Off;
        schema_tool::schema_as_tool(&mut request, self.rule);
        let parts = request::build(&request, Target { prompt_cache: false, ..self.target(false) })?;
        let input = CountTokensInput::Converse(
            ConverseTokensRequest::builder()
                .set_messages(Some(parts.messages))
                .set_system(parts.system)
                .set_tool_config(parts.tool_config)
                .build(),
        );
        // CountTokens wants a foundation-model id and refuses some inference-profile ids
        // (Boise-State-Development/agentcore-public-stack#430); others report the opposite
        // (BerriAI/litellm#34272), so the profile id is tried when the model id is refused.
        let id = self.info.id.as_str();
        let base = Target::new(id).model.filter(|m| *m != id);
        let (client, _lease) = self.upstream.client();
        let mut sent = client.count_tokens().model_id(base.unwrap_or(id)).input(input.clone()).send().await;
        if let (Some(_), Err(SdkError::ServiceError(e))) = (base, &sent)
            && matches!(e.err(), CountTokensError::ValidationException(_))
        {
            sent = client.count_tokens().model_id(id).input(input).send().await;
        }
        let output = sent.map_err(|e| errors::before_stream(&e, self.context()))?;
        Ok(u32::try_from(output.input_tokens()).unwrap_or_default())
    }
}

impl ChatModel for BedrockModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<ChatStream, ProviderError>> {
        Box::pin(self.start(request))
    }

    fn count_tokens(&self, request: ChatRequest) -> BoxFuture<'_, Result<u32, ProviderError>> {
        Box::pin(self.count(request))
    }
}
