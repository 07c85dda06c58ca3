//! Our request in the SDK's types, built once per request so the Converse fallback reuses it.

use aws_sdk_bedrockruntime::types::{
    CachePointBlock, CachePointType, ContentBlock, InferenceConfiguration, JsonSchemaDefinition, Message,
    OutputConfig, OutputFormat, OutputFormatStructure, OutputFormatType, PerformanceConfigLatency,
    PerformanceConfiguration, ServiceTierType, SystemContentBlock, ToolConfiguration,
};
use aws_smithy_types::Document;
use streambed_core::{ChatRequest, ErrorKind, OutputSchema, ProviderError, Role, ToolChoice};

use crate::{
    attachments::Attachments,
    config::{Latency, ServiceTier},
    content::{self, built, to_document},
    params::{self, Plan},
    rules::{self, Rule, Vendor},
    schema, tools,
};

/// What a model knows about itself when it builds a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    /// The id as configured, for messages.
    pub id: &'a str,
    /// The foundation-model id inside it, when it names one.
    pub model: Option<&'a str>,
    pub rule: Option<&'static Rule>,
    pub service_tier: Option<ServiceTier>,
    pub latency: Option<Latency>,
    /// `BEDROCK_PROMPT_CACHE=on` or the client asked (`cache_control`), and the model caches.
    pub prompt_cache: bool,
}

impl<'a> Target<'a> {
    pub(crate) fn new(id: &'a str) -> Self {
        Self {
            id,
            model: rules::model_part(id),
            rule: rules::lookup(id),
            service_tier: None,
            latency: None,
            prompt_cache: false,
        }
    }
}

/// Everything ConverseStream and Converse take besides the model id.
#[derive(Debug, Clone)]
pub(crate) struct Parts {
    pub messages: Vec<Message>,
    pub system: Option<Vec<SystemContentBlock>>,
    pub inference: Option<InferenceConfiguration>,
    pub tool_config: Option<ToolConfiguration>,
    pub additional: Option<Document>,
    pub service_tier: Option<aws_sdk_bedrockruntime::types::ServiceTier>,
    pub performance: Option<PerformanceConfiguration>,
    /// Structured output: the schema the answer's text follows.
    pub output: Option<OutputConfig>,
}

/// The user turn put before a conversation that opens with the assistant.
const OPENING: &str = "(The conversation begins.)";

/// Anthropic allows four cache points: after the system prompt and after the last two user
/// turns, so the previous turn's prefix is read while the newest one is written.
const CACHED_USER_TURNS: usize = 2;

pub(crate) fn build(request: &ChatRequest, target: Target<'_>) -> Result<Parts, ProviderError> {
    check(request, target)?;
    let plan = params::plan(target.rule, target.model, target.id, &request.params, request.reasoning)?;
    let turns: Vec<_> = request.messages.iter().map(content::arranged).collect();
    let mut attachments = Attachments::of(&turns)?;
    let mut messages =
        turns.iter().map(|turn| content::message(turn, &mut attachments)).collect::<Result<Vec<_>, _>>()?;
    debug_assert!(attachments.all_asked(), "the plan of images and documents saw other turns");
    if request.messages.first().is_some_and(|m| m.role == Role::Assistant) {
        // Bedrock refuses a conversation that opens with the assistant ("A conversation must start
        // with a user message"), which OpenAI's API takes, and chat UIs send (a greeting shown
        // before the first question): a user turn that says only that goes before it.
        messages.insert(0, content::message(&streambed_core::Message::user(OPENING), &mut attachments)?);
    }
    let mut system = request.system.clone().map(|s| vec![SystemContentBlock::Text(s)]);
    if target.prompt_cache {
        add_cache_points(&mut messages, system.as_mut())?;
    }
    Ok(Parts {
        messages,
        system,
        inference: inference(&plan, request),
        tool_config: tools::tool_config(request)?,
        additional: plan.additional.as_ref().map(to_document),
        service_tier: target.service_tier.map(service_tier).transpose()?,
        performance: target.latency.map(performance),
        output: request.output_schema.as_ref().map(|output| output_config(output, target)).transpose()?,
    })
}

/// What no model takes, and what this one does not.
fn check(request: &ChatRequest, target: Target<'_>) -> Result<(), ProviderError> {
    let refuse = |message: String| Err(ProviderError::new(ErrorKind::InvalidRequest, message));
    let ends_with_assistant = request.messages.last().is_some_and(|m| m.role == Role::Assistant);
    if ends_with_assistant && target.rule.is_some_and(|r| !r.prefill) {
        return refuse(format!(
            "The model '{}' does not continue an assistant turn: the conversation must end with a user turn.",
            target.id
        ));
    }
    if request.has_images() && target.rule.is_some_and(|r| !r.images) {
        return refuse(format!("The model '{}' does not take images: choose one that does.", target.id));
    }
    // Converse shows the model images and documents only from the user ("You can only include
    // images and documents if the role is user": API reference, Message).
    let shown_by_assistant =
        request.messages.iter().position(|m| m.role == Role::Assistant && m.shown().next().is_some());
    if let Some(i) = shown_by_assistant {
        return refuse(format!(
            "Images and documents go in user turns only: turn {} of the conversation, an assistant's, holds one.",
            i + 1
        ));
    }
    if request.documents().next().is_some() && target.rule.is_some_and(|r| !r.documents) {
        return refuse(format!("The model '{}' does not read documents: choose one that does.", target.id));
    }
    if request.reasoning.is_on() {
        if ends_with_assistant {
            return refuse("With reasoning on, the conversation must end with a user turn.".into());
        }
        // "Thinking isn't compatible with forced tool use" (Anthropic, extended thinking).
        if matches!(request.tool_choice, ToolChoice::Any | ToolChoice::Tool(_)) && !request.tools.is_empty() {
            return refuse(
                "Reasoning cannot be combined with a forced tool choice: use `auto`, or turn reasoning off."
                    .into(),
            );
        }
    }
    Ok(())
}

/// `inferenceConfig`, when anything sets it.
fn inference(plan: &Plan, request: &ChatRequest) -> Option<InferenceConfiguration> {
    let stop_sequences = (!request.stop_sequences.is_empty()).then(|| request.stop_sequences.clone());
    let any = plan.max_tokens.is_some() || plan.temperature.is_some() || plan.top_p.is_some();
    (any || stop_sequences.is_some()).then(|| {
        InferenceConfiguration::builder()
            .set_max_tokens(plan.max_tokens.map(|t| i32::try_from(t).unwrap_or(i32::MAX)))
            .set_temperature(plan.temperature)
            .set_top_p(plan.top_p)
            .set_stop_sequences(stop_sequences)
            .build()
    })
}

fn service_tier(tier: ServiceTier) -> Result<aws_sdk_bedrockruntime::types::ServiceTier, ProviderError> {
    let tier = match tier {
        ServiceTier::Default => ServiceTierType::Default,
        ServiceTier::Flex => ServiceTierType::Flex,
        ServiceTier::Priority => ServiceTierType::Priority,
    };
    built(aws_sdk_bedrockruntime::types::ServiceTier::builder().r#type(tier).build())
}

fn performance(latency: Latency) -> PerformanceConfiguration {
    let latency = match latency {
        Latency::Standard => PerformanceConfigLatency::Standard,
        Latency::Optimized => PerformanceConfigLatency::Optimized,
    };
    PerformanceConfiguration::builder().latency(latency).build()
}

/// `outputConfig.textFormat`: Converse's structured output, which takes the schema as JSON text,
/// for Claude as Claude's grammar takes it ([`schema::for_claude`]).
fn output_config(output: &OutputSchema, target: Target<'_>) -> Result<OutputConfig, ProviderError> {
    let claude = params::vendor(target.rule, target.model) == Some(Vendor::Anthropic);
    let schema = if claude { schema::for_claude(&output.schema) } else { output.schema.clone() };
    let schema = built(
        JsonSchemaDefinition::builder()
            .schema(schema.to_string())
            .set_name(output.name.clone())
            .set_description(output.description.clone())
            .build(),
    )?;
    let format = built(
        OutputFormat::builder()
            .r#type(OutputFormatType::JsonSchema)
            .structure(OutputFormatStructure::JsonSchema(schema))
            .build(),
    )?;
    Ok(OutputConfig::builder().text_format(format).build())
}

/// A cache point after the system prompt and after each of the last user turns. A prefix
/// shorter than the model's minimum is simply not cached (Bedrock's prompt-caching page).
fn add_cache_points(
    messages: &mut [Message],
    system: Option<&mut Vec<SystemContentBlock>>,
) -> Result<(), ProviderError> {
    let point = || built(CachePointBlock::builder().r#type(CachePointType::Default).build());
    if let Some(system) = system {
        system.push(SystemContentBlock::CachePoint(point()?));
    }
    let user_turns = messages
        .iter_mut()
        .rev()
        .filter(|m| *m.role() == aws_sdk_bedrockruntime::types::ConversationRole::User);
    for turn in user_turns.take(CACHED_USER_TURNS) {
        turn.content.push(ContentBlock::CachePoint(point()?));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
