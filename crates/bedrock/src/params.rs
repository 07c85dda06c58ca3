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
mod tests {
    use super::*;
    use crate::rules::{lookup, model_part};

    const ALL: InferenceParams = InferenceParams {
        max_tokens: Some(200_000),
        temperature: Some(0.5),
        top_p: Some(0.9),
        top_k: Some(40),
    };

    fn plan_for(id: &str, params: &InferenceParams, reasoning: Reasoning) -> Result<Plan, ProviderError> {
        plan(lookup(id), model_part(id), id, params, reasoning)
    }

    /// (temperature, top_p, additional, max_tokens) sent with everything configured.
    fn sent(id: &str) -> (Option<f32>, Option<f32>, Option<Value>, Option<u32>) {
        let p = plan_for(id, &ALL, Reasoning::Off).unwrap();
        (p.temperature, p.top_p, p.additional, p.max_tokens)
    }

    #[test]
    fn each_family_sends_what_it_takes_with_everything_configured() {
        let top_k = Some(json!({ "top_k": 40 }));
        let cases = [
            ("anthropic.claude-3-haiku-20240307-v1:0", (Some(0.5), Some(0.9), top_k.clone(), Some(4_096))),
            ("anthropic.claude-3-opus-20240229-v1:0", (Some(0.5), Some(0.9), top_k.clone(), Some(4_096))),
            ("anthropic.claude-3-5-haiku-20241022-v1:0", (Some(0.5), Some(0.9), top_k.clone(), Some(8_192))),
            ("anthropic.claude-3-5-sonnet-20240620-v1:0", (Some(0.5), Some(0.9), top_k.clone(), Some(4_096))),
            ("anthropic.claude-3-5-sonnet-20241022-v2:0", (Some(0.5), Some(0.9), top_k.clone(), Some(8_192))),
            (
                "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
                (Some(0.5), Some(0.9), top_k.clone(), Some(64_000)),
            ),
            (
                "us.anthropic.claude-sonnet-4-20250514-v1:0",
                (Some(0.5), Some(0.9), top_k.clone(), Some(64_000)),
            ),
            ("us.anthropic.claude-opus-4-20250514-v1:0", (Some(0.5), Some(0.9), top_k.clone(), Some(32_000))),
            ("us.anthropic.claude-opus-4-1-20250805-v1:0", (Some(0.5), None, top_k.clone(), Some(32_000))),
            (
                "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
                (Some(0.5), None, top_k.clone(), Some(64_000)),
            ),
            ("eu.anthropic.claude-haiku-4-5-20251001-v1:0", (Some(0.5), None, top_k.clone(), Some(64_000))),
            (
                "global.anthropic.claude-opus-4-5-20251101-v1:0",
                (Some(0.5), None, top_k.clone(), Some(64_000)),
            ),
            ("us.anthropic.claude-sonnet-4-6", (Some(0.5), None, top_k.clone(), Some(64_000))),
            ("us.anthropic.claude-opus-4-6-v1", (Some(0.5), None, top_k.clone(), Some(128_000))),
            ("us.anthropic.claude-opus-4-7", (None, None, None, Some(128_000))),
            (
                "us.amazon.nova-pro-v1:0",
                (Some(0.5), Some(0.9), Some(json!({ "inferenceConfig": { "topK": 40 } })), Some(5_000)),
            ),
        ];
        for (id, expected) in cases {
            assert_eq!(sent(id), expected, "{id}");
        }
    }

    #[test]
    fn unknown_models_get_what_is_configured() {
        assert_eq!(sent("meta.llama3-70b-instruct-v1:0"), (Some(0.5), Some(0.9), None, Some(200_000)));
        let app_profile = "arn:aws:bedrock:us-east-1:1:application-inference-profile/abc";
        assert_eq!(sent(app_profile), (Some(0.5), Some(0.9), None, Some(200_000)));
        // An unknown Anthropic id still takes Anthropic's top_k field.
        assert_eq!(sent("anthropic.claude-next").2, Some(json!({ "top_k": 40 })));
    }

    #[test]
    fn dropped_params_say_why() {
        let opus47 = lookup("anthropic.claude-opus-4-7");
        let left_out = dropped(opus47, Some("anthropic.claude-opus-4-7"), &ALL, Reasoning::Off);
        let params: Vec<Setting> = left_out.iter().map(|(p, _)| *p).collect();
        assert_eq!(params, [Setting::Temperature, Setting::TopP, Setting::TopK]);
        let sonnet45 = lookup("anthropic.claude-sonnet-4-5-20250929-v1:0");
        let left_out = dropped(sonnet45, None, &ALL, Reasoning::Off);
        assert_eq!(left_out.len(), 1);
        assert_eq!(left_out[0].0, Setting::TopP);
        assert!(left_out[0].1.contains("not both"));
        let only_top_p = InferenceParams { top_p: Some(0.9), ..InferenceParams::default() };
        assert!(dropped(sonnet45, None, &only_top_p, Reasoning::Off).is_empty());
        let thinking = dropped(sonnet45, None, &ALL, Reasoning::High);
        let params: Vec<Setting> = thinking.iter().map(|(p, _)| *p).collect();
        assert_eq!(params, [Setting::Temperature, Setting::TopP, Setting::TopK]);
    }

    #[test]
    fn budget_reasoning_drops_what_thinking_forbids_and_makes_room_for_the_answer() {
        let p = plan_for("us.anthropic.claude-sonnet-4-5-20250929-v1:0", &ALL, Reasoning::Medium).unwrap();
        assert_eq!((p.temperature, p.top_p), (None, None));
        assert_eq!(p.additional, Some(json!({ "thinking": { "type": "enabled", "budget_tokens": 8_192 } })));
        assert_eq!(p.max_tokens, Some(64_000));
        let small =
            InferenceParams { max_tokens: Some(1_000), top_p: Some(0.97), ..InferenceParams::default() };
        let p = plan_for("anthropic.claude-3-7-sonnet-20250219-v1:0", &small, Reasoning::High).unwrap_err();
        assert_eq!(p.kind, ErrorKind::InvalidRequest);
        assert!(p.message.contains("must be above 1024"), "{}", p.message);
        // A level's budget shrinks to leave the answer room under the asked-for total.
        let total = InferenceParams { max_tokens: Some(4_096), ..InferenceParams::default() };
        let p = plan_for("anthropic.claude-3-7-sonnet-20250219-v1:0", &total, Reasoning::High).unwrap();
        assert_eq!(p.additional, Some(json!({ "thinking": { "type": "enabled", "budget_tokens": 3_072 } })));
        assert_eq!(p.max_tokens, Some(4_096));
        // An explicit budget it cannot hold is refused, as Anthropic's API does.
        let e = plan_for("anthropic.claude-3-7-sonnet-20250219-v1:0", &total, Reasoning::Budget(8_000))
            .unwrap_err();
        assert!(e.message.contains("greater than the thinking budget (8000)"), "{}", e.message);
        let e = plan_for("anthropic.claude-3-7-sonnet-20250219-v1:0", &total, Reasoning::Budget(500))
            .unwrap_err();
        assert!(e.message.contains("at least 1024 tokens, not 500"), "{}", e.message);
        // The answer keeps 1,024 tokens wherever the total allows it, just past the level's budget too.
        let just_past = InferenceParams { max_tokens: Some(2_049), ..InferenceParams::default() };
        let p = plan_for("anthropic.claude-3-7-sonnet-20250219-v1:0", &just_past, Reasoning::Low).unwrap();
        assert_eq!(p.additional, Some(json!({ "thinking": { "type": "enabled", "budget_tokens": 1_025 } })));
        assert_eq!(p.max_tokens, Some(2_049));
        let p = plan_for(
            "anthropic.claude-opus-4-20250514-v1:0",
            &InferenceParams::default(),
            Reasoning::Budget(100_000),
        )
        .unwrap();
        assert_eq!(p.additional, Some(json!({ "thinking": { "type": "enabled", "budget_tokens": 30_976 } })));
        assert_eq!(p.max_tokens, Some(32_000));
    }

    #[test]
    fn adaptive_models_get_an_effort_level() {
        let cases = [
            (Reasoning::Low, "low"),
            (Reasoning::Medium, "medium"),
            (Reasoning::High, "high"),
            (Reasoning::Budget(1_500), "low"),
            (Reasoning::Budget(10_000), "medium"),
            (Reasoning::Budget(20_000), "high"),
        ];
        for (reasoning, word) in cases {
            let p = plan_for("us.anthropic.claude-opus-4-7", &InferenceParams::default(), reasoning).unwrap();
            let expected = json!({ "thinking": { "type": "adaptive" }, "output_config": { "effort": word } });
            assert_eq!(p.additional, Some(expected), "{reasoning:?}");
            assert!(p.max_tokens.unwrap() > budget(reasoning, 128_000));
        }
    }

    #[test]
    fn claude_refuses_a_temperature_above_one_before_the_call() {
        let hot = InferenceParams { temperature: Some(1.5), ..InferenceParams::default() };
        let e = plan_for("anthropic.claude-3-haiku-20240307-v1:0", &hot, Reasoning::Off).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(e.message.contains("from 0 to 1, not 1.5"), "{}", e.message);
        let e = plan_for("anthropic.claude-next", &hot, Reasoning::Off).unwrap_err();
        assert!(e.message.contains("from 0 to 1, not 1.5"), "an unknown Claude too: {}", e.message);
        assert_eq!(
            plan_for("meta.llama3-70b-instruct-v1:0", &hot, Reasoning::Off).unwrap().temperature,
            Some(1.5)
        );
    }

    #[test]
    fn an_adaptive_model_keeps_an_asked_for_max_tokens_however_small() {
        let small = InferenceParams { max_tokens: Some(1_000), ..InferenceParams::default() };
        let p = plan_for("us.anthropic.claude-opus-4-6-v1", &small, Reasoning::Low).unwrap();
        assert_eq!(p.max_tokens, Some(1_000));
    }

    #[test]
    fn reasoning_on_a_model_that_cannot_is_refused_by_name() {
        let small = InferenceParams { max_tokens: Some(500), ..InferenceParams::default() };
        for id in ["anthropic.claude-3-haiku-20240307-v1:0", "meta.llama3-70b-instruct-v1:0"] {
            for params in [InferenceParams::default(), small] {
                let e = plan_for(id, &params, Reasoning::Low).unwrap_err();
                assert_eq!(e.kind, ErrorKind::InvalidRequest);
                assert!(e.message.contains(id) && e.message.contains("reason"), "{}", e.message);
            }
        }
    }
}
