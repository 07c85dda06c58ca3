//! A model's rules applied to one request: which sampling parameters are sent, how reasoning is
//! asked for, and how many output tokens are allowed.

use serde_json::{Value, json};
use streambed_core::{ErrorKind, InferenceParams, ProviderError, Reasoning, ReasoningStyle};

use crate::{
    config::Setting,
    rules::{Rule, Sampling, Vendor},
};

/// Token budgets for the reasoning levels. Anthropic's minimum budget is 1,024 tokens.
const BUDGETS: [(Reasoning, u32); 3] =
    [(Reasoning::Low, 2_048), (Reasoning::Medium, 8_192), (Reasoning::High, 24_576)];
const MIN_BUDGET: u32 = 1_024;
/// Room for the answer after the reasoning when no `max_tokens` is configured.
const ANSWER_TOKENS: u32 = 4_096;
/// Room a level's budget leaves for the answer under a `max_tokens` that cannot hold both whole.
const MIN_ANSWER_TOKENS: u32 = 1_024;

/// With thinking on, Anthropic allows top_p only from 0.95 to 1 ("Extended thinking", feature
/// compatibility).
const THINKING_TOP_P: std::ops::RangeInclusive<f32> = 0.95..=1.0;

/// What goes on the wire for one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Plan {
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    /// `additionalModelRequestFields`: top_k, thinking, effort.
    pub additional: Option<Value>,
}

/// The configured parameters this model leaves out, each with why. `rule` is `None` for a model
/// the table does not know, which gets everything except a top_k no known field can carry.
pub(crate) fn dropped(
    rule: Option<&Rule>,
    model: Option<&str>,
    params: &InferenceParams,
    reasoning: Reasoning,
) -> Vec<(Setting, &'static str)> {
    let mut out = Vec::new();
    let mut drop = |param, why| out.push((param, why));
    let thinking = reasoning.is_on();
    let sampling = rule.map_or(Sampling::All, |r| r.sampling);
    if sampling == Sampling::None {
        let why = "the model takes no sampling parameters (Claude Opus 4.7 and later)";
        let configured = [
            (Setting::Temperature, params.temperature.is_some()),
            (Setting::TopP, params.top_p.is_some()),
            (Setting::TopK, params.top_k.is_some()),
        ];
        configured.into_iter().filter(|(_, set)| *set).for_each(|(param, _)| drop(param, why));
        return out;
    }
    if params.temperature.is_some() && thinking {
        drop(Setting::Temperature, "reasoning does not allow temperature");
    }
    if let Some(top_p) = params.top_p {
        if thinking && !THINKING_TOP_P.contains(&top_p) {
            drop(Setting::TopP, "reasoning allows top_p only from 0.95 to 1");
        } else if sampling == Sampling::TemperatureOrTopP && params.temperature.is_some() && !thinking {
            drop(Setting::TopP, "the model takes temperature or top_p, not both; temperature is sent");
        }
    }
    if params.top_k.is_some() {
        if thinking {
            drop(Setting::TopK, "reasoning does not allow top_k");
        } else if vendor(rule, model).is_none() {
            drop(Setting::TopK, "no Converse field is known to carry top_k for this model");
        }
    }
    out
}

/// Where a model's extra fields go: the row's, or for an unknown id its provider's.
pub(crate) fn vendor(rule: Option<&Rule>, model: Option<&str>) -> Option<Vendor> {
    rule.map(|r| r.vendor).or_else(|| match model? {
        m if m.starts_with("anthropic.") => Some(Vendor::Anthropic),
        m if m.starts_with("amazon.nova") => Some(Vendor::Nova),
        _ => None,
    })
}

/// The plan for a request, or why the model cannot take it. `id` names the model in messages.
pub(crate) fn plan(
    rule: Option<&Rule>,
    model: Option<&str>,
    id: &str,
    params: &InferenceParams,
    reasoning: Reasoning,
) -> Result<Plan, ProviderError> {
    let dropped = dropped(rule, model, params, reasoning);
    let kept = |param| !dropped.iter().any(|(p, _)| *p == param);
    let mut plan = Plan {
        max_tokens: params.max_tokens,
        temperature: params.temperature.filter(|_| kept(Setting::Temperature)),
        top_p: params.top_p.filter(|_| kept(Setting::TopP)),
        additional: None,
    };
    // Claude's range; OpenAI's API allows up to 2, and Bedrock would refuse it after the call.
    if let Some(temperature) = plan.temperature.filter(|t| *t > 1.0)
        && vendor(rule, model) == Some(Vendor::Anthropic)
    {
        return Err(refuse(format!(
            "The model '{id}' takes a temperature from 0 to 1, not {temperature} (OpenAI's range of 0 to 2 \
             does not apply to Claude)."
        )));
    }
    let mut fields = serde_json::Map::new();
    if let Some(top_k) = params.top_k.filter(|_| kept(Setting::TopK)) {
        match vendor(rule, model) {
            Some(Vendor::Anthropic) => fields.insert("top_k".into(), json!(top_k)),
            Some(Vendor::Nova) => fields.insert("inferenceConfig".into(), json!({ "topK": top_k })),
            None => None,
        };
    }
    if let Some(rule) = rule {
        plan.max_tokens = plan.max_tokens.map(|t| t.min(rule.max_output_tokens));
    }
    if reasoning.is_on() {
        let Some(rule) = rule else {
            return Err(refuse(format!(
                "The model '{id}' is not known to reason, so this server does not ask it to. Ask \
                 without reasoning, or choose a model that can (Claude 3.7 Sonnet or later)."
            )));
        };
        let ceiling = rule.max_output_tokens;
        match rule.reasoning {
            ReasoningStyle::None => {
                return Err(refuse(format!(
                    "The model '{id}' ({}) cannot reason. Ask without reasoning, or choose a model that can.",
                    rule.family
                )));
            }
            // Bedrock's "Extended thinking" page: budget_tokens at least 1,024 and below max_tokens.
            ReasoningStyle::Budget => {
                let (budget, max_tokens) = thinking_tokens(reasoning, plan.max_tokens, ceiling)?;
                plan.max_tokens = Some(max_tokens);
                fields.insert("thinking".into(), json!({ "type": "enabled", "budget_tokens": budget }));
            }
            // Bedrock's "Adaptive thinking" page: `thinking.type: adaptive` with `output_config.effort`.
            // Sent in additionalModelRequestFields, as UKGovernmentBEIS/inspect_ai#3765 and
            // ellistarn/muse#165 do with Converse, rather than the newer top-level `outputConfig`.
            ReasoningStyle::Adaptive => {
                // The model spends what it decides within `max_tokens`; with none asked for,
                // there is room for the level's reasoning and then the answer.
                plan.max_tokens =
                    Some(plan.max_tokens.unwrap_or(room_after(budget(reasoning, ceiling), ceiling)));
                fields.insert("thinking".into(), json!({ "type": "adaptive" }));
                fields.insert("output_config".into(), json!({ "effort": effort(reasoning) }));
            }
        }
    }
    plan.additional = (!fields.is_empty()).then_some(Value::Object(fields));
    Ok(plan)
}

fn refuse(message: String) -> ProviderError {
    ProviderError::new(ErrorKind::InvalidRequest, message)
}

/// The thinking budget for a level, leaving at least the minimum answer room under `ceiling`.
pub(crate) fn budget(reasoning: Reasoning, ceiling: u32) -> u32 {
    let wanted = match reasoning {
        Reasoning::Budget(n) => n,
        level => BUDGETS.iter().find(|(l, _)| *l == level).map_or(0, |(_, n)| *n),
    };
    wanted.min(ceiling.saturating_sub(MIN_ANSWER_TOKENS)).max(MIN_BUDGET)
}

/// The effort word for a level; an explicit budget takes the level whose budget is nearest
/// (thresholds at the geometric means: 4,096 and about 14,000 tokens).
pub(crate) fn effort(reasoning: Reasoning) -> &'static str {
    match reasoning {
        Reasoning::Budget(n) if n < 4_096 => "low",
        Reasoning::Budget(n) if n < 14_000 => "medium",
        Reasoning::Low => "low",
        Reasoning::Medium => "medium",
        _ => "high",
    }
}

/// The thinking budget and `max_tokens` to send to a model that thinks on a budget.
/// `max_tokens` counts the reasoning too, as Anthropic's and OpenAI's APIs both define it, so an
/// asked-for `max_tokens` is never exceeded (nor, through it, `MAX_TOKENS_LIMIT`): a level's
/// budget shrinks to leave the answer [`MIN_ANSWER_TOKENS`] where it can, while an explicit
/// budget below the minimum or not below `max_tokens` is refused, as Anthropic's API does. With
/// none asked for, the answer gets [`ANSWER_TOKENS`] after the budget, up to the model's
/// `ceiling`.
fn thinking_tokens(
    reasoning: Reasoning,
    asked: Option<u32>,
    ceiling: u32,
) -> Result<(u32, u32), ProviderError> {
    let budget = budget(reasoning, ceiling);
    match (reasoning, asked) {
        (Reasoning::Budget(explicit), _) if explicit < MIN_BUDGET => {
            Err(refuse(format!("The thinking budget must be at least {MIN_BUDGET} tokens, not {explicit}.")))
        }
        (_, None) => Ok((budget, room_after(budget, ceiling))),
        (Reasoning::Budget(_), Some(max_tokens)) if max_tokens <= budget => Err(refuse(format!(
            "`max_tokens` ({max_tokens}) must be greater than the thinking budget ({budget}): it counts \
             the reasoning too."
        ))),
        (Reasoning::Budget(_), Some(max_tokens)) => Ok((budget, max_tokens)),
        (_, Some(max_tokens)) if max_tokens <= MIN_BUDGET => Err(refuse(format!(
            "With reasoning, the most output tokens ({max_tokens} asked) must be above {MIN_BUDGET}: \
             they count the reasoning too, and the smallest reasoning budget is {MIN_BUDGET} tokens."
        ))),
        (_, Some(max_tokens)) => {
            Ok((budget.min(max_tokens.saturating_sub(MIN_ANSWER_TOKENS)).max(MIN_BUDGET), max_tokens))
        }
    }
}

/// `max_tokens` when none is asked for: the reasoning's `budget`, then [`ANSWER_TOKENS`] for the
/// answer, up to the model's `ceiling`.
fn room_after(budget: u32, ceiling: u32) -> u32 {
    (budget + ANSWER_TOKENS).min(ceiling)
}

#[cfg(test)]
mod tests;
