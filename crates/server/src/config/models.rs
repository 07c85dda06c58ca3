//! Which models are offered: the Bedrock models (`BEDROCK_MODEL_ID`, `BEDROCK_MODELS` and
//! what every Bedrock request carries), the embedded model (`LOCAL_*`), which one is the
//! default (`CHAT_PROVIDER`), and the default reasoning level.

use std::path::PathBuf;

use streambed_bedrock::{BedrockConfig, ModelChoice, Setting};
use streambed_core::{InferenceParams, Reasoning};
use streambed_local::{LocalConfig, Settings};

use super::{ConfigError, Vars};

/// Whose model is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderChoice {
    /// Amazon Bedrock through the AWS SDK.
    Bedrock,
    /// The embedded SmolLM2 model, in-process.
    Local,
}

/// The models a client may choose from.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelsConfig {
    /// `CHAT_PROVIDER`: `bedrock` or `local`; unset means bedrock when a Bedrock model is set.
    pub default: ProviderChoice,
    /// Why `default` was chosen, for the start-up log.
    pub reason: &'static str,
    /// The Bedrock models and settings; `None` when only the embedded model is offered.
    pub bedrock: Option<BedrockConfig>,
    /// `LOCAL_MODEL_PATH`, `LOCAL_MAX_QUEUE`, `LOCAL_TOP_K`, `LOCAL_REPEAT_PENALTY`: the
    /// embedded model, offered whenever its file exists (and the default without Bedrock).
    pub local: LocalConfig,
    /// `BEDROCK_REASONING`: the reasoning level of a chat that does not ask for one, on models
    /// that can reason (`off`).
    pub reasoning: Reasoning,
}

/// The models, with `params`: the sampling settings every request carries.
pub(super) fn read(vars: &Vars, params: &InferenceParams) -> Result<ModelsConfig, ConfigError> {
    let default_id = vars.string("BEDROCK_MODEL_ID").map(|id| id.trim().to_owned());
    let listed = vars.string("BEDROCK_MODELS").map(|list| choices(&list)).transpose()?.unwrap_or_default();
    let (default, reason) = match vars.string("CHAT_PROVIDER").as_deref().map(str::trim) {
        Some("bedrock") => (ProviderChoice::Bedrock, "CHAT_PROVIDER=bedrock"),
        Some("local") => (ProviderChoice::Local, "CHAT_PROVIDER=local"),
        Some(other) => {
            return Err(ConfigError::new("CHAT_PROVIDER", format!("`{other}` is not `bedrock` or `local`")));
        }
        None if default_id.is_some() => (ProviderChoice::Bedrock, "BEDROCK_MODEL_ID is set"),
        None if !listed.is_empty() => (ProviderChoice::Bedrock, "BEDROCK_MODELS is set"),
        None => (ProviderChoice::Local, "no Bedrock model is set"),
    };
    // The default first (allowed even when not listed), then the list without it again.
    let mut models: Vec<ModelChoice> = Vec::with_capacity(listed.len() + 1);
    if let Some(id) = &default_id {
        let name = listed.iter().find(|c| &c.id == id).and_then(|c| c.name.clone());
        models.push(ModelChoice { id: id.clone(), name });
    }
    for choice in listed {
        if !models.iter().any(|m| m.id == choice.id) {
            models.push(choice);
        }
    }
    if default == ProviderChoice::Bedrock && models.is_empty() {
        return Err(ConfigError::new(
            "BEDROCK_MODEL_ID",
            "is required with CHAT_PROVIDER=bedrock, e.g. anthropic.claude-3-haiku-20240307-v1:0".into(),
        ));
    }
    // `CHAT_PROVIDER=local` keeps its old meaning: the embedded model alone.
    let reasoning = reasoning(vars)?;
    let settings = [
        (params.max_tokens.is_some(), Setting::MaxTokens),
        (params.temperature.is_some(), Setting::Temperature),
        (params.top_p.is_some(), Setting::TopP),
        (params.top_k.is_some(), Setting::TopK),
        (reasoning.is_on(), Setting::Reasoning),
    ];
    let settings = settings.into_iter().filter_map(|(given, setting)| given.then_some(setting)).collect();
    // Read whichever provider serves, so a bad Bedrock setting fails at start-up either way.
    let bedrock = bedrock(vars, models, settings)?;
    let bedrock = (default == ProviderChoice::Bedrock).then_some(bedrock);
    Ok(ModelsConfig { default, reason, bedrock, local: local(vars)?, reasoning })
}

/// `id=Display name, id, …`: ids, inference-profile ids and ARNs contain no `=`.
fn choices(list: &str) -> Result<Vec<ModelChoice>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (id, name) = match entry.split_once('=') {
                Some((id, name)) => (id.trim(), Some(name.trim()).filter(|n| !n.is_empty())),
                None => (entry, None),
            };
            if id.is_empty() || id.contains(char::is_whitespace) {
                return Err(ConfigError::new(
                    "BEDROCK_MODELS",
                    format!("`{entry}` is not `model-id` or `model-id=Display name`"),
                ));
            }
            Ok(ModelChoice { id: id.to_owned(), name: name.map(str::to_owned) })
        })
        .collect()
}

fn bedrock(
    vars: &Vars,
    models: Vec<ModelChoice>,
    settings: Vec<Setting>,
) -> Result<BedrockConfig, ConfigError> {
    let prompt_cache = match vars.string("BEDROCK_PROMPT_CACHE").as_deref().map(str::trim) {
        None | Some("off") => false,
        Some("on") => true,
        Some(other) => {
            return Err(ConfigError::new("BEDROCK_PROMPT_CACHE", format!("`{other}` is not `on` or `off`")));
        }
    };
    Ok(BedrockConfig {
        region: vars.string("BEDROCK_REGION"),
        models,
        idle_timeout: vars.seconds("BEDROCK_STREAM_IDLE_TIMEOUT", 60.0)?,
        service_tier: word(vars, "BEDROCK_SERVICE_TIER")?,
        latency: word(vars, "BEDROCK_LATENCY")?,
        prompt_cache,
        ca_bundle: vars.string("AWS_CA_BUNDLE").filter(|path| !path.trim().is_empty()).map(PathBuf::from),
        streams_per_connection: vars.at_least_one("BEDROCK_STREAMS_PER_CONNECTION", 100)?,
        settings,
    })
}

/// A setting whose type says which words it takes.
fn word<T: std::str::FromStr<Err = String>>(
    vars: &Vars,
    name: &'static str,
) -> Result<Option<T>, ConfigError> {
    vars.string(name).map(|v| v.parse().map_err(|message| ConfigError::new(name, message))).transpose()
}

fn reasoning(vars: &Vars) -> Result<Reasoning, ConfigError> {
    match vars.string("BEDROCK_REASONING").as_deref().map(str::trim) {
        None | Some("off") => Ok(Reasoning::Off),
        Some("low") => Ok(Reasoning::Low),
        Some("medium") => Ok(Reasoning::Medium),
        Some("high") => Ok(Reasoning::High),
        Some(other) => Err(ConfigError::new(
            "BEDROCK_REASONING",
            format!("`{other}` is not `off`, `low`, `medium` or `high`"),
        )),
    }
}

fn local(vars: &Vars) -> Result<LocalConfig, ConfigError> {
    let defaults = LocalConfig::default();
    Ok(LocalConfig {
        model_path: vars.string("LOCAL_MODEL_PATH").map_or(defaults.model_path, PathBuf::from),
        max_queue: vars.parse("LOCAL_MAX_QUEUE", defaults.max_queue, "a whole number")?,
        settings: Settings {
            top_k: vars.at_least_one("LOCAL_TOP_K", defaults.settings.top_k)?,
            repeat_penalty: vars
                .optional("LOCAL_REPEAT_PENALTY", |p: &f32| (1.0..=2.0).contains(p), "a number from 1 to 2")?
                .unwrap_or(defaults.settings.repeat_penalty),
            ..defaults.settings
        },
        context_tokens: defaults.context_tokens,
    })
}
