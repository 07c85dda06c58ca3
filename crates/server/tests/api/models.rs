//! Choosing a model: `GET /api/models`, `"model"` and `"reasoning"` in a chat, and a
//! conversation that keeps its model.

use serde_json::{Value, json};
use streambed_emulator::Emulator;

use crate::helpers::{MODEL, TestApp, read_frames, spawn_app_with};

const SONNET_45: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

async fn two_models() -> TestApp {
    let listed = format!("{MODEL}=Claude 3 Haiku,{SONNET_45}=Claude Sonnet 4.5");
    spawn_app_with(Emulator::scripted(), &[("BEDROCK_MODELS", &listed)]).await
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_models_route_lists_every_choice_with_its_capabilities() {
    let app = two_models().await;

    let listed = json_of(app.http.get(app.url("/api/models")).send().await.unwrap()).await;

    assert_eq!(listed["default"], MODEL);
    let models = listed["models"].as_array().unwrap();
    let ids: Vec<&str> = models.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [MODEL, SONNET_45], "the default first, then the list in order");
    assert_eq!(
        (models[0]["name"].as_str(), models[0]["default"].as_bool()),
        (Some("Claude 3 Haiku"), Some(true))
    );
    assert_eq!(
        (models[1]["name"].as_str(), models[1]["default"].as_bool()),
        (Some("Claude Sonnet 4.5"), Some(false))
    );
    for model in models {
        assert_eq!(model["provider"], "bedrock");
        let capabilities = &model["capabilities"];
        assert!(
            ["none", "budget", "adaptive"].contains(&capabilities["reasoning"].as_str().unwrap()),
            "{model}"
        );
        assert!(capabilities["sampling"].is_array() && capabilities["maxOutputTokens"].as_u64() > Some(0));
        assert!(capabilities["contextWindow"].as_u64() > Some(0) && capabilities["images"].is_boolean());
    }
}

#[tokio::test]
async fn the_chosen_model_is_the_one_bedrock_is_asked() {
    let app = two_models().await;

    let chosen = read_frames(app.post_chat(json!({ "prompt": "hi", "model": SONNET_45 })).await).await;
    let default = read_frames(app.post_chat(json!({ "prompt": "hi" })).await).await;

    let asked: Vec<String> = app.emulator.recorder.requests().into_iter().map(|r| r.model_id).collect();
    assert_eq!(asked, [SONNET_45, MODEL]);
    assert_eq!(chosen.last().1["model"], SONNET_45);
    assert_eq!(default.last().1["model"], MODEL);
}

#[tokio::test]
async fn a_model_that_is_not_offered_is_refused_naming_the_allowed_ones() {
    let app = two_models().await;

    let response = app.post_chat(json!({ "prompt": "hi", "model": "anthropic.claude-v2" })).await;

    assert_eq!(response.status(), 400);
    let message = json_of(response).await["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("anthropic.claude-v2") && message.contains(MODEL) && message.contains(SONNET_45),
        "{message}"
    );
    assert!(app.emulator.recorder.requests().is_empty(), "nothing reached Bedrock");
}

#[tokio::test]
async fn reasoning_on_a_model_that_cannot_reason_is_refused() {
    let app = two_models().await;

    let response = app.post_chat(json!({ "prompt": "hi", "model": MODEL, "reasoning": "high" })).await;
    let off = app.post_chat(json!({ "prompt": "hi", "model": MODEL, "reasoning": "off" })).await;
    let unknown_level = app.post_chat(json!({ "prompt": "hi", "reasoning": "extreme" })).await;

    assert_eq!(response.status(), 400);
    let message = json_of(response).await["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("cannot reason") && message.contains(SONNET_45), "{message}");
    assert_eq!(off.status(), 200);
    assert_eq!(unknown_level.status(), 400);
}

#[tokio::test]
async fn a_conversation_keeps_its_model_for_turns_that_name_none() {
    let app = two_models().await;
    let created = app.http.post(app.url("/api/conversations")).json(&json!({})).send().await.unwrap();
    let id = json_of(created).await["id"].as_str().unwrap().to_owned();

    let first = app.post_chat(json!({ "conversationId": id, "prompt": "one", "model": SONNET_45 })).await;
    read_frames(first).await;
    let second = app.post_chat(json!({ "conversationId": id, "prompt": "two" })).await;
    read_frames(second).await;

    let asked: Vec<String> = app.emulator.recorder.requests().into_iter().map(|r| r.model_id).collect();
    assert_eq!(asked, [SONNET_45, SONNET_45]);
    let stored =
        json_of(app.http.get(app.url(&format!("/api/conversations/{id}"))).send().await.unwrap()).await;
    assert_eq!(stored["model"], SONNET_45);
    assert!(
        stored["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "assistant")
            .all(|m| m["model"] == SONNET_45)
    );
}
