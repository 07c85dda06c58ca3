//! The route table: which routes need a caller, which are rate limited, and the SPA fallback.

mod chat;
mod conversations;
mod meta;

use std::sync::Arc;

use axum::{
    Router,
    http::{Method, Uri},
    middleware::from_fn_with_state,
    routing::{any, get, post},
};
use tower_http::services::{ServeDir, ServeFile};

use crate::{
    AppState,
    auth::{self, Authenticator},
    error::AppError,
    limits::{self, RateLimit},
    metrics,
};

pub fn router(
    state: Arc<AppState>,
    auth: Option<Arc<Authenticator>>,
    rate: Option<Arc<RateLimit>>,
) -> Router {
    let static_dir = state.static_dir.clone();
    let mut chat = post(chat::chat);
    if let Some(rate) = rate {
        chat = chat.route_layer(from_fn_with_state(rate, limits::rate_limit));
    }
    let mut private = Router::new()
        .route("/api/chat", chat)
        .route("/api/conversations", post(conversations::create).get(conversations::list))
        .route(
            "/api/conversations/{id}",
            get(conversations::get).patch(conversations::rename).delete(conversations::delete),
        )
        .route("/api/conversations/{id}/export", get(conversations::export))
        .route("/api/conversations/{id}/stop", post(conversations::stop))
        .route("/api/conversations/{id}/stream", get(conversations::stream))
        .route("/api/models", get(meta::models))
        .route("/metrics", get(metrics::render));
    if let Some(auth) = auth {
        // Outside the rate limit, which keys on the identity found here.
        private = private.route_layer(from_fn_with_state(auth, auth::require));
    }
    let router = Router::new()
        .route("/api/health", get(meta::health))
        .route("/api/openapi.json", get(meta::openapi))
        .merge(private)
        .route("/api/{*rest}", any(not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    let index = static_dir.join("index.html");
    if index.is_file() {
        // The SPA: real files as they are, any other path to index.html for client-side routing.
        router.fallback_service(ServeDir::new(static_dir).fallback(ServeFile::new(index)))
    } else {
        router.fallback(not_found)
    }
}

async fn not_found(method: Method, uri: Uri) -> AppError {
    AppError::NotFound(format!("{method} {}", uri.path()))
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}
