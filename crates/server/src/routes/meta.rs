//! Liveness and readiness, model discovery, the metrics and the API's own description.

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::{MethodRouter, get},
};
use serde_json::{Value, json};

use crate::{AppState, config::Limits};

/// The process serves: what a load balancer or orchestrator restarts it on. A database or Redis
/// out of reach is no reason to (the stateless chat still works, and it would not help).
pub(super) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Whether this replica can serve conversations now: the database took its lease renewal lately,
/// and it was not told to stop; 503 otherwise. Redis (with `REDIS_URL`) is reported, whether it answers a `PING`, but decides
/// nothing: without it each replica carries on alone. For dashboards, alarms and an operator's
/// look (see docs/deploy.md before making it a readiness probe).
pub(super) async fn ready(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Value>) {
    let conversations = &state.conversations;
    let store = conversations.store_reached();
    let redis = match &conversations.redis {
        Some(redis) => Some(redis.answers().await),
        None => None,
    };
    let word = |up: bool| if up { "ok" } else { "unreachable" };
    // Told to stop: a load balancer that watches readiness sends no more.
    let stopping = state.shutdown.stopping.is_cancelled();
    let ready = store && !stopping;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": if stopping { "stopping" } else if store { "ready" } else { "unready" },
        "database": word(store),
        "redis": redis.map_or("off", word),
    });
    (status, Json(body))
}

/// Every model a client may pick, with what each accepts; the default first.
pub(super) async fn models(State(state): State<Arc<AppState>>) -> Json<Value> {
    let default = state.models.default_model().info();
    let models: Vec<Value> = state
        .models
        .iter()
        .map(|model| {
            let info = model.info();
            json!({
                "id": info.id,
                "name": info.name,
                "provider": info.provider,
                "default": info.id == default.id,
                "capabilities": info.capabilities,
            })
        })
        .collect();
    Json(json!({ "provider": default.provider, "default": default.id, "models": models }))
}

/// `GET /metrics` in the Prometheus text format.
pub(super) async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}

/// `GET /api/openapi.json`: the OpenAPI 3.1 document, written by hand next to the code it
/// describes and checked against the running server by schemathesis (`just api-check`), with
/// the bounds the operator sets (`MAX_PROMPT_CHARS`, `MAX_TURNS`) as this server applies them.
/// Made once, with the routes.
pub(super) fn openapi(limits: &Limits) -> MethodRouter<Arc<AppState>> {
    let body = Bytes::from(document(limits).to_string());
    get(move || {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], body) }
    })
}

fn document(limits: &Limits) -> Value {
    let mut doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON (tested)");
    let mut set = |pointer: &str, value: usize| {
        *doc.pointer_mut(pointer).unwrap_or_else(|| panic!("openapi.json has {pointer} (tested)")) =
            value.into();
    };
    set("/components/schemas/Text/maxLength", limits.max_prompt_chars);
    set("/components/schemas/ChatRequest/oneOf/1/properties/messages/maxItems", limits.max_turns);
    doc
}

pub(super) const OPENAPI: &str = include_str!("../openapi.json");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_describes_every_route() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("valid JSON");
        let mut paths: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
        paths.sort_unstable();
        assert_eq!(
            paths,
            [
                "/api/chat",
                "/api/conversations",
                "/api/conversations/{id}",
                "/api/conversations/{id}/export",
                "/api/conversations/{id}/stop",
                "/api/conversations/{id}/stream",
                "/api/health",
                "/api/models",
                "/api/openapi.json",
                "/api/ready",
                "/metrics",
                "/v1/chat/completions",
                "/v1/messages",
                "/v1/messages/count_tokens",
                "/v1/models",
                "/v1/models/{id}"
            ]
        );
        assert_eq!(doc["openapi"], "3.1.0");
    }

    #[test]
    fn the_served_document_bounds_a_conversation_as_the_server_does() {
        let defaults = crate::config::Limits::defaults();
        let limits = Limits { max_prompt_chars: 800_000, max_turns: 1_000, ..defaults };

        let doc = document(&limits);

        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            (&schemas["Text"]["type"], &schemas["Text"]["maxLength"]),
            (&json!("string"), &json!(800_000))
        );
        let conversation = &schemas["ChatRequest"]["oneOf"][1];
        assert_eq!(conversation["title"], "Conversation");
        assert_eq!(conversation["properties"]["messages"]["maxItems"], 1_000);
    }
}
