//! The models a client may choose: built once from configuration, looked up by id for each
//! request. The default comes first.

use std::sync::Arc;

use anyhow::Context;
use streambed_bedrock::{BedrockModel, anthropic_id};
use streambed_core::{ChatModel, InferenceParams, Reasoning, ReasoningStyle};
use streambed_local::{LocalModel, OnDemandLocalModel};

use crate::config::{ModelsConfig, ProviderChoice};

/// Every model offered, the default first. Cloning shares them.
#[derive(Clone)]
pub struct Models {
    all: Arc<[Arc<dyn ChatModel>]>,
}

impl std::fmt::Debug for Models {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.all.iter().map(|m| &m.info().id)).finish()
    }
}

/// A model id this server does not offer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The model `{id}` is not offered here. Choose one of: {} (GET /api/models).", .allowed.join(", "))]
pub struct UnknownModel {
    pub id: String,
    pub allowed: Vec<String>,
}

impl Models {
    /// `default` first, then the others; ids must differ.
    pub fn new(default: Arc<dyn ChatModel>, others: impl IntoIterator<Item = Arc<dyn ChatModel>>) -> Self {
        Self { all: [default].into_iter().chain(others).collect() }
    }

    pub fn default_model(&self) -> &Arc<dyn ChatModel> {
        &self.all[0]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn ChatModel>> {
        self.all.iter()
    }

    /// The model with this id, or the Bedrock model an Anthropic API id names
    /// (`names_anthropic_model`), on every route: agents such as Claude Code ask for
    /// `claude-sonnet-4-5`. Of several (an alias without a date, `-latest`), the newest; of
    /// the same model in several regions' profiles, the first offered.
    pub fn get(&self, id: &str) -> Option<&Arc<dyn ChatModel>> {
        let with_id = |id: &str| self.all.iter().find(|m| m.info().id == id);
        with_id(id).or_else(|| with_id(alias(id, self.all.iter().map(|m| m.info().id.as_str()))?))
    }

    /// The model a request names, or the default when it names none.
    pub fn pick(&self, id: Option<&str>) -> Result<&Arc<dyn ChatModel>, UnknownModel> {
        let Some(id) = id else { return Ok(self.default_model()) };
        self.get(id).ok_or_else(|| UnknownModel {
            id: id.to_owned(),
            allowed: self.all.iter().map(|m| m.info().id.clone()).collect(),
        })
    }
}

/// Whether `asked`, a model id of Anthropic's API (`claude-sonnet-4-5-20250929`, its alias
/// `claude-sonnet-4-5`, or `claude-3-5-haiku-latest`), names the Bedrock model `offered` (a model
/// or inference profile id: `us.anthropic.claude-sonnet-4-5-20250929-v1:0`). The same model and
/// version only, never a neighbour: an agent that asks for a model not offered is told so.
fn names_anthropic_model(asked: &str, offered: &str) -> bool {
    let Some(name) = anthropic_id(offered) else { return false };
    let asked = asked.strip_suffix("-latest").unwrap_or(asked);
    name == asked
        || name
            .strip_prefix(asked)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|date| date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()))
}

/// Of the `offered` ids, the one the Anthropic API id `asked` names: the newest of several (an
/// alias without a date, `-latest`), the first of the same model in several regions' profiles.
fn alias<'a>(asked: &str, offered: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    // `min_by` keeps the first of equals; reversed, the newest name (its date) wins.
    offered.filter(|id| names_anthropic_model(asked, id)).min_by(|a, b| anthropic_id(b).cmp(&anthropic_id(a)))
}

/// Reasoning asked of a model that cannot reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CannotReason {
    pub model: String,
    /// The offered models that can.
    pub able: Vec<String>,
}

impl CannotReason {
    /// The sentence for a client, with `fix` in that API's words.
    pub fn message(&self, fix: &str) -> String {
        let choose = match self.able.as_slice() {
            [] => "No model offered here can.".to_owned(),
            able => format!("Models that can: {}.", able.join(", ")),
        };
        format!("The model `{}` cannot reason: {fix}. {choose}", self.model)
    }
}

impl Models {
    /// The reasoning level a chat runs at on `model`: the one asked for (refused on a model
    /// that cannot reason), else `default` (`BEDROCK_REASONING`) where the model can reason.
    pub fn reasoning(
        &self,
        model: &dyn ChatModel,
        asked: Option<Reasoning>,
        default: Reasoning,
    ) -> Result<Reasoning, CannotReason> {
        let can_reason = |m: &dyn ChatModel| m.info().capabilities.reasoning != ReasoningStyle::None;
        match asked {
            Some(level) if level.is_on() && !can_reason(model) => Err(CannotReason {
                model: model.info().id.clone(),
                able: self.iter().filter(|m| can_reason(m.as_ref())).map(|m| m.info().id.clone()).collect(),
            }),
            Some(level) => Ok(level),
            None if can_reason(model) => Ok(default),
            None => Ok(Reasoning::Off),
        }
    }
}

/// Builds every configured model. The embedded model is loaded now when it is the default
/// (its first answer should not wait for loading), else on its first request, and offered
/// beside Bedrock only when its file exists.
pub async fn build(config: &ModelsConfig, params: &InferenceParams) -> anyhow::Result<Models> {
    let local = config.local.clone();
    match (&config.bedrock, config.default) {
        (Some(bedrock), ProviderChoice::Bedrock) => {
            let models = streambed_bedrock::connect(bedrock).await?;
            models.iter().for_each(|model| warn_dropped_params(model, params));
            let mut models = models.into_iter();
            let default = models.next().context("BEDROCK_MODEL_ID: no Bedrock model is configured")?;
            let others = models.map(|m| Arc::new(m) as Arc<dyn ChatModel>);
            let embedded = local
                .model_path
                .is_file()
                .then(|| Arc::new(OnDemandLocalModel::new(local)) as Arc<dyn ChatModel>);
            Ok(Models::new(Arc::new(default), others.chain(embedded)))
        }
        _ => {
            let model = tokio::task::spawn_blocking(move || LocalModel::load(&local)).await??;
            Ok(Models::new(Arc::new(model), []))
        }
    }
}

/// One warning per configured sampling parameter a model does not take: it is left out of
/// that model's requests instead of failing each of them.
fn warn_dropped_params(model: &BedrockModel, params: &InferenceParams) {
    for (setting, why) in model.dropped_params(params) {
        let variable = setting.variable();
        tracing::warn!(variable, model = %model.info().id, reason = why, "this model does not take {variable}; it is not sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_ids_and_aliases_name_the_same_bedrock_model_and_version_only() {
        let sonnet = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
        let haiku = "anthropic.claude-3-5-haiku-20241022-v1:0";
        let opus = "global.anthropic.claude-opus-4-6-v1";
        for (asked, offered) in [
            ("claude-sonnet-4-5-20250929", sonnet),
            ("claude-sonnet-4-5", sonnet),
            ("claude-3-5-haiku-20241022", haiku),
            ("claude-3-5-haiku-latest", haiku),
            ("claude-opus-4-6", opus),
        ] {
            assert!(names_anthropic_model(asked, offered), "{asked} names {offered}");
        }
        for (asked, offered) in [
            ("claude-sonnet-4", sonnet),
            ("claude-sonnet-4-5-20250101", sonnet),
            ("claude-opus-4-8", opus),
            ("claude-opus-4", opus),
            ("claude-sonnet-4-5", "amazon.nova-pro-v1:0"),
            ("claude-sonnet-4-5", "SmolLM2-135M-Instruct"),
        ] {
            assert!(!names_anthropic_model(asked, offered), "{asked} does not name {offered}");
        }
    }

    #[test]
    fn an_alias_picks_the_newest_of_its_models_and_the_first_region_of_equals() {
        let (june, october) =
            ("anthropic.claude-3-5-sonnet-20240620-v1:0", "us.anthropic.claude-3-5-sonnet-20241022-v2:0");
        let offered = [june, october, "eu.anthropic.claude-3-5-sonnet-20241022-v2:0"];

        assert_eq!(alias("claude-3-5-sonnet-latest", offered.into_iter()), Some(october));
        assert_eq!(alias("claude-3-5-sonnet-20240620", offered.into_iter()), Some(june));
        assert_eq!(alias("claude-3-7-sonnet", offered.into_iter()), None);
    }
}
