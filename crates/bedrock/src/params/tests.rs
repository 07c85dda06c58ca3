use super::*;
use crate::rules::{lookup, model_part};

const ALL: InferenceParams =
    InferenceParams { max_tokens: Some(200_000), temperature: Some(0.5), top_p: Some(0.9), top_k: Some(40) };

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
        ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", (Some(0.5), Some(0.9), top_k.clone(), Some(64_000))),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", (Some(0.5), Some(0.9), top_k.clone(), Some(64_000))),
        ("us.anthropic.claude-opus-4-20250514-v1:0", (Some(0.5), Some(0.9), top_k.clone(), Some(32_000))),
        ("us.anthropic.claude-opus-4-1-20250805-v1:0", (Some(0.5), None, top_k.clone(), Some(32_000))),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", (Some(0.5), None, top_k.clone(), Some(64_000))),
        ("eu.anthropic.claude-haiku-4-5-20251001-v1:0", (Some(0.5), None, top_k.clone(), Some(64_000))),
        ("global.anthropic.claude-opus-4-5-20251101-v1:0", (Some(0.5), None, top_k.clone(), Some(64_000))),
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
    let small = InferenceParams { max_tokens: Some(1_000), top_p: Some(0.97), ..InferenceParams::default() };
    let p = plan_for("anthropic.claude-3-7-sonnet-20250219-v1:0", &small, Reasoning::High).unwrap_err();
    assert_eq!(p.kind, ErrorKind::InvalidRequest);
    assert!(p.message.contains("must be above 1024"), "{}", p.message);
    // A level's budget shrinks to leave the answer room under the asked-for total.
    let total = InferenceParams { max_tokens: Some(4_096), ..InferenceParams::default() };
    let p = plan_for("anthropic.claude-3-7-sonnet-20250219-v1:0", &total, Reasoning::High).unwrap();
    assert_eq!(p.additional, Some(json!({ "thinking": { "type": "enabled", "budget_tokens": 3_072 } })));
    assert_eq!(p.max_tokens, Some(4_096));
    // An explicit budget it cannot hold is refused, as Anthropic's API does.
    let e =
        plan_for("anthropic.claude-3-7-sonnet-20250219-v1:0", &total, Reasoning::Budget(8_000)).unwrap_err();
    assert!(e.message.contains("greater than the thinking budget (8000)"), "{}", e.message);
    let e =
        plan_for("anthropic.claude-3-7-sonnet-20250219-v1:0", &total, Reasoning::Budget(500)).unwrap_err();
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
