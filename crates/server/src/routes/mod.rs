//! The route table.

mod chat;
mod meta;

use axum::{
    Router,
    http::{Method, Uri},
    routing::{get, post},
};
use tower_http::services::{ServeDir, ServeFile};

use crate::{AppState, error::AppError};

pub fn router(state: AppState) -> Router {
    let static_dir = state.static_dir.clone();
    let api = Router::new()
        .route("/chat", post(chat::chat))
        .route("/health", get(meta::health))
        .route("/models", get(meta::models))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let router = Router::new().nest("/api", api).with_state(state);
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
