//! Per-model rules end to end: what each Claude family is sent, reasoning, service tier and
//! prompt caching, as the emulator (which knows Bedrock's rules on its own) records them.

use serde_json::{Value, json};
use streambed_emulator::Emulator;

use crate::helpers::{Frames, TestApp, read_frames, spawn_app_with};

/// One id per family, with the sampling parameters it takes: (id, temperature, topP, top_k).
const FAMILIES: [(&str, bool, bool, bool); 13] = [
    ("anthropic.claude-3-haiku-20240307-v1:0", true, true, true),
    ("us.anthropic.claude-3-5-haiku-20241022-v1:0", true, true, true),
    ("anthropic.claude-3-5-sonnet-20241022-v2:0", true, true, true),
    ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", true, true, true),
    ("us.anthropic.claude-sonnet-4-20250514-v1:0", true, true, true),
    ("us.anthropic.claude-opus-4-20250514-v1:0", true, true, true),
    // Opus 4.1 and later, Sonnet 4.5 and Haiku 4.5: temperature or top_p, not both.
    ("us.anthropic.claude-opus-4-1-20250805-v1:0", true, false, true),
    ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", true, false, true),
    ("us.anthropic.claude-haiku-4-5-20251001-v1:0", true, false, true),
    ("us.anthropic.claude-opus-4-5-20251101-v1:0", true, false, true),
    ("us.anthropic.claude-sonnet-4-6", true, false, true),
    ("global.anthropic.claude-opus-4-6-v1", true, false, true),
    // Opus 4.7: no sampling parameters at all.
    (
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-opus-4-7",
        false,
        false,
        false,
    ),
];

const SONNET_45: &str = "global.anthropic.claude-sonnet-4-5-20250929-v1:0";
const OPUS_46: &str = "global.anthropic.claude-opus-4-6-v1";

const EVERY_SAMPLING_VARIABLE: [(&str, &str); 4] = [
    ("BEDROCK_TEMPERATURE", "0.5"),
    ("BEDROCK_TOP_P", "0.9"),
    ("BEDROCK_TOP_K", "40"),
    ("BEDROCK_MAX_TOKENS", "2000"),
];

async fn app_with(models: &[&str], vars: &[(&str, &str)]) -> TestApp {
    let listed = models.join(",");
    let mut all = vec![("BEDROCK_MODELS", listed.as_str())];
    all.extend_from_slice(vars);
    spawn_app_with(Emulator::scripted(), &all).await
}

/// The request body Bedrock received last.
fn last_body(app: &TestApp) -> Value {
    app.emulator.recorder.requests().pop().expect("a request reached Bedrock").body
}

async fn chat(app: &TestApp, body: Value) -> Frames {
    let response = app.post_chat(body).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    read_frames(response).await
}

#[tokio::test]
async fn each_family_is_sent_exactly_the_sampling_parameters_it_takes() {
    let ids: Vec<&str> = FAMILIES.iter().map(|f| f.0).collect();
    let app = app_with(&ids, &EVERY_SAMPLING_VARIABLE).await;

    for (id, temperature, top_p, top_k) in FAMILIES {
        let frames = chat(&app, json!({ "prompt": "hi", "model": id })).await;

        assert_eq!(frames.last().0, "done", "{id}: the emulator, which knows the model's rules, accepted it");
        let body = last_body(&app);
        let inference = &body["inferenceConfig"];
        assert_eq!(inference.get("temperature").is_some(), temperature, "{id}: {body}");
        assert_eq!(inference.get("topP").is_some(), top_p, "{id}: {body}");
        assert_eq!(body.pointer("/additionalModelRequestFields/top_k").is_some(), top_k, "{id}: {body}");
        assert_eq!(inference["maxTokens"], 2000, "{id}");
    }
}

#[tokio::test]
async fn reasoning_on_a_budget_model_asks_for_a_budget_and_streams_before_the_text() {
    let app = app_with(&[SONNET_45], &EVERY_SAMPLING_VARIABLE).await;

    let frames = chat(&app, json!({ "prompt": "hi", "model": SONNET_45, "reasoning": "medium" })).await;

    let body = last_body(&app);
    let thinking = &body["additionalModelRequestFields"]["thinking"];
    assert_eq!(thinking["type"], "enabled", "{body}");
    let budget = thinking["budget_tokens"].as_u64().expect("a budget");
    assert!(budget >= 1024 && budget < body["inferenceConfig"]["maxTokens"].as_u64().unwrap(), "{body}");
    assert!(body["inferenceConfig"].get("temperature").is_none(), "thinking takes no temperature: {body}");
    assert!(body.pointer("/additionalModelRequestFields/top_k").is_none(), "nor top_k: {body}");
    assert_reasoning_then_text(&frames);
}

#[tokio::test]
async fn reasoning_on_an_adaptive_model_asks_for_adaptive_thinking_at_that_effort() {
    let app = app_with(&[OPUS_46], &EVERY_SAMPLING_VARIABLE).await;

    let frames = chat(&app, json!({ "prompt": "hi", "model": OPUS_46, "reasoning": "high" })).await;

    let body = last_body(&app);
    let fields = &body["additionalModelRequestFields"];
    assert_eq!(fields["thinking"]["type"], "adaptive", "{body}");
    assert!(fields["thinking"].get("budget_tokens").is_none(), "{body}");
    assert!(fields.to_string().contains("\"high\""), "the effort level is sent: {body}");
    assert_reasoning_then_text(&frames);
}

fn assert_reasoning_then_text(frames: &Frames) {
    let kinds: Vec<&str> = frames.all.iter().map(|(event, _)| event.as_str()).collect();
    let first_reasoning = kinds.iter().position(|k| *k == "reasoning").expect("reasoning frames");
    let first_token = kinds.iter().position(|k| *k == "message").expect("answer tokens");
    assert!(first_reasoning < first_token, "{kinds:?}");
    assert_eq!(frames.last().0, "done");
    assert!(!frames.text().is_empty());
}

#[tokio::test]
async fn the_service_tier_and_latency_reach_bedrock_and_the_tier_comes_back_in_done() {
    let app =
        app_with(&[SONNET_45], &[("BEDROCK_SERVICE_TIER", "flex"), ("BEDROCK_LATENCY", "optimized")]).await;

    let frames = chat(&app, json!({ "prompt": "hi" })).await;

    let body = last_body(&app);
    assert_eq!(body["serviceTier"], json!({ "type": "flex" }), "{body}");
    assert_eq!(body["performanceConfig"], json!({ "latency": "optimized" }), "{body}");
    assert_eq!(frames.last().1["serviceTier"], "flex");
}

#[tokio::test]
async fn prompt_caching_places_cache_points_and_reports_cache_use() {
    let vars = [("BEDROCK_PROMPT_CACHE", "on"), ("BEDROCK_SYSTEM_PROMPT", "You are a careful assistant.")];
    let app = app_with(&[SONNET_45], &vars).await;
    let messages = json!([
        { "role": "user", "content": "Here is a long document." },
        { "role": "assistant", "content": "Read it." },
        { "role": "user", "content": "Summarise it." },
    ]);

    let first = chat(&app, json!({ "messages": messages, "model": SONNET_45 })).await;
    let second = chat(&app, json!({ "messages": messages, "model": SONNET_45 })).await;

    let body = last_body(&app);
    let has_cache_point =
        |blocks: &Value| blocks.as_array().unwrap().iter().any(|b| b.get("cachePoint").is_some());
    assert!(has_cache_point(&body["system"]), "after the system prompt: {body}");
    let last_user = body["messages"].as_array().unwrap().last().unwrap();
    assert!(has_cache_point(&last_user["content"]), "after the latest user turn: {body}");
    assert!(first.last().1["usage"]["cacheWriteInputTokens"].as_u64() > Some(0), "{:?}", first.last());
    assert!(second.last().1["usage"]["cacheReadInputTokens"].as_u64() > Some(0), "{:?}", second.last());
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let read = metrics.lines().find(|l| l.starts_with("streambed_prompt_cache_read_tokens_total")).unwrap();
    assert!(!read.ends_with(" 0"), "{read}");
}

#[tokio::test]
async fn without_the_cache_setting_or_on_a_model_that_cannot_cache_no_cache_points_are_sent() {
    let off = app_with(&[SONNET_45], &[("BEDROCK_SYSTEM_PROMPT", "Be brief.")]).await;
    let unable =
        app_with(&[], &[("BEDROCK_SYSTEM_PROMPT", "Be brief."), ("BEDROCK_PROMPT_CACHE", "on")]).await;

    chat(&off, json!({ "prompt": "hi", "model": SONNET_45 })).await;
    chat(&unable, json!({ "prompt": "hi" })).await;

    assert!(!last_body(&off).to_string().contains("cachePoint"));
    assert!(!last_body(&unable).to_string().contains("cachePoint"), "Claude 3 Haiku does not cache");
}

#[tokio::test]
async fn a_reasoning_conversation_sends_its_signed_reasoning_back_on_the_next_turn() {
    let app = app_with(&[SONNET_45], &[]).await;
    let created = app.http.post(app.url("/api/conversations")).json(&json!({})).send().await.unwrap();
    let id = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let turn = |prompt: &str| json!({ "conversationId": id, "prompt": prompt, "model": SONNET_45, "reasoning": "low" });

    let first = chat(&app, turn("one")).await;
    let second = chat(&app, turn("two")).await;

    assert_eq!((first.last().0, second.last().0), ("done", "done"), "the emulator checks signatures");
    let body = last_body(&app);
    let answer = &body["messages"][1];
    assert_eq!(answer["role"], "assistant");
    let reasoning = answer["content"][0]["reasoningContent"]["reasoningText"].clone();
    assert!(reasoning["signature"].is_string(), "{body}");
    let stored = app.http.get(app.url(&format!("/api/conversations/{id}"))).send().await.unwrap();
    let stored: Value = stored.json().await.unwrap();
    assert!(stored["messages"][1]["reasoning"].is_string());
    assert_eq!(reasoning["text"], stored["messages"][1]["reasoning"], "sent back as stored, once");
    assert!(!stored.to_string().contains("signature"), "signatures never reach clients");
}
