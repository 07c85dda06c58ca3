//! Liveness and model discovery.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use crate::AppState;

pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The active provider and the model(s) a client may pick (one for now: the configured one).
pub async fn models(State(state): State<AppState>) -> Json<Value> {
    let info = state.model.info();
    Json(json!({
        "provider": info.provider,
        "default": info.id,
        "models": [{ "id": info.id, "provider": info.provider }],
    }))
}
