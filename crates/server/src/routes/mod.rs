//! The route table: which routes need a caller, which are rate limited, and the SPA fallback.

mod answer;
mod anthropic;
mod attachment;
mod chat;
mod conversations;
mod error_shape;
mod meta;
mod openai;
mod turns;

use std::{path::PathBuf, sync::Arc};

use axum::{
    Router,
    extract::{Path, Request, State},
    http::{HeaderMap, Method, Uri},
    middleware::{Next, from_fn, from_fn_with_state},
    response::{IntoResponse, Response},
    routing::{MethodRouter, any, get, post},
};
use tower::{ServiceExt, service_fn};
use tower_http::services::{ServeDir, ServeFile};

use crate::{
    AppState,
    admission::{self, RateLimit},
    auth::{self, Authenticator},
    error::AppError,
};

/// Where the conversation routes are, all of them under it.
pub(crate) const CONVERSATIONS: &str = "/api/conversations";

pub(crate) fn router(
    state: Arc<AppState>,
    auth: Option<Arc<Authenticator>>,
    rate: Option<Arc<RateLimit>>,
) -> Router {
    let static_dir = state.static_dir.clone();
    let rate_limited = |route: MethodRouter<Arc<AppState>>| match &rate {
        Some(rate) => route.route_layer(from_fn_with_state(Arc::clone(rate), admission::rate_limit)),
        None => route,
    };
    // Outside the rate limit, which keys on the identity found here.
    let authenticated = |routes: Router<Arc<AppState>>| match &auth {
        Some(auth) => routes.route_layer(from_fn_with_state(Arc::clone(auth), auth::require)),
        None => routes,
    };
    let private = Router::new()
        .route("/api/chat", rate_limited(post(chat::chat)))
        .route("/api/conversations", post(conversations::create).get(conversations::list))
        .route(
            "/api/conversations/{id}",
            get(conversations::get).patch(conversations::rename).delete(conversations::delete),
        )
        .route("/api/conversations/{id}/export", get(conversations::export))
        .route("/api/conversations/{id}/stop", post(conversations::stop))
        .route("/api/conversations/{id}/stream", get(conversations::stream))
        .route("/api/models", get(meta::models))
        .route("/metrics", get(meta::metrics));
    // The compatible APIs: the same guards, inside a layer that puts every error in the API's
    // shape. A wrong method is answered by each route's own fallback (405 with `Allow`), which
    // that layer wraps; the router-wide one below would stand in outside the route's layers.
    // The guards come first, so a wrong method without credentials is a 401.
    let anthropic_route = |route| rate_limited(route).fallback(method_not_allowed);
    let anthropic = authenticated(
        Router::new()
            .route("/v1/messages", anthropic_route(post(anthropic::messages)))
            .route("/v1/messages/count_tokens", anthropic_route(post(anthropic::count_tokens))),
    )
    .route_layer(from_fn(anthropic::in_anthropic_shape));
    let openai =
        authenticated(Router::new().route(
            "/v1/chat/completions",
            rate_limited(post(openai::completions)).fallback(method_not_allowed),
        ))
        .route_layer(from_fn(openai::in_openai_shape));
    // Both SDKs list and retrieve models here: answers and errors in the shape of the SDK asking,
    // as for a `/v1` path that is none of these.
    let models = authenticated(
        Router::new()
            .route("/v1/models", get(v1_models).fallback(method_not_allowed))
            // A model id may be an ARN, with slashes in it.
            .route("/v1/models/{*id}", get(v1_model).fallback(method_not_allowed)),
    )
    .route("/v1/{*rest}", any(not_found))
    // The compatible APIs' paths without their `/v1`, as a client whose base URL leaves it out
    // sends them: told so, in its SDK's shape, where it would meet the UI's files.
    .route("/messages", any(without_v1))
    .route("/messages/count_tokens", any(without_v1))
    .route("/chat/completions", any(without_v1))
    .route("/models", any(without_v1))
    .route("/models/{*id}", any(without_v1))
    .route_layer(from_fn(in_the_asking_sdks_shape));
    let router = Router::new()
        .route("/api/health", get(meta::health))
        .route("/api/ready", get(meta::ready))
        .route("/api/openapi.json", meta::openapi(&state.limits))
        .merge(authenticated(private))
        .merge(anthropic)
        .merge(openai)
        .merge(models)
        .route("/api/{*rest}", any(not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    with_the_ui(router, static_dir)
}

/// The UI's files behind every path no route serves, when `static_dir` holds a build: real files
/// as they are, any other path to `index.html` for client-side routing. Without one, a 404.
fn with_the_ui(router: Router, static_dir: PathBuf) -> Router {
    let index = static_dir.join("index.html");
    if !index.is_file() {
        return router.fallback(not_found);
    }
    // What the file system leaves for a request's path, after the folder it is read from and
    // the `/index.html` ServeDir may add to it.
    let room = PATH_MAX.saturating_sub(static_dir.as_os_str().len() + "/index.html".len());
    let app = ServeFile::new(index);
    let files = ServeDir::new(static_dir).fallback(app.clone());
    router.fallback_service(service_fn(move |request: Request| {
        let (files, app) = (files.clone(), app.clone());
        async move {
            // Files are only read: another method on a path no route serves is a 404 in the
            // API's shape, not the files' empty 405.
            if !matches!(*request.method(), Method::GET | Method::HEAD) {
                let refused = not_found(request.method().clone(), request.uri().clone()).await;
                return Ok(refused.into_response());
            }
            // tower-http answers 500 when the file system refuses a name as too long: such a
            // path names no file, so it goes to the app, as any other unknown path does.
            let served = if names_a_possible_file(request.uri().path(), room) {
                files.oneshot(request).await
            } else {
                app.oneshot(request).await
            };
            served.map(IntoResponse::into_response)
        }
    }))
}

/// `GET /v1/models` in the shape of the SDK asking: Anthropic's clients send
/// `anthropic-version`, OpenAI's do not.
async fn v1_models(state: State<Arc<AppState>>, headers: HeaderMap, uri: Uri) -> Response {
    if headers.contains_key("anthropic-version") {
        anthropic::models(&state, &uri).into_response()
    } else {
        openai::models(state).await.into_response()
    }
}

/// `GET /v1/models/{id}`, in the shape of the SDK asking, as [`v1_models`].
async fn v1_model(state: State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if headers.contains_key("anthropic-version") {
        anthropic::model(&state, &id).into_response()
    } else {
        openai::model(&state, &id).into_response()
    }
}

/// Middleware on `/v1/models` and the `/v1` paths no route serves: their errors (a missing key,
/// a wrong method, no such model or path) in the shape of the SDK asking, as [`v1_models`] picks
/// it.
async fn in_the_asking_sdks_shape(request: Request, next: Next) -> Response {
    if request.headers().contains_key("anthropic-version") {
        anthropic::in_anthropic_shape(request, next).await
    } else {
        openai::in_openai_shape(request, next).await
    }
}

/// Linux's longest path (`PATH_MAX`) and file name (`NAME_MAX`), in bytes.
const PATH_MAX: usize = 4096;
const NAME_MAX: usize = 255;

/// Whether Linux could hold a file at `path`: no name longer than `NAME_MAX`, nor the path
/// longer than `room`. Measured before percent-decoding, which only shortens a name.
fn names_a_possible_file(path: &str, room: usize) -> bool {
    path.len() < room && path.split('/').all(|name| name.len() <= NAME_MAX)
}

async fn not_found(method: Method, uri: Uri) -> AppError {
    let path = uri.path();
    match instead_of(path) {
        Some(advice) => AppError::NotFound(format!("{method} {path}. {advice}")),
        None => AppError::NotFound(format!("{method} {path}")),
    }
}

/// What to use instead of an OpenAI API this server does not serve, for the clients that ask
/// for it by default (the OpenAI Agents SDK and pydantic-ai's `openai:` models use Responses).
fn instead_of(path: &str) -> Option<&'static str> {
    if path.starts_with("/v1/responses") {
        Some(
            "Only OpenAI's Chat Completions API is served (POST /v1/chat/completions), not Responses: \
             in the OpenAI Agents SDK call set_default_openai_api(\"chat_completions\") (or use \
             OpenAIChatCompletionsModel), in pydantic-ai name the model openai-chat:<id>, with the \
             Vercel AI SDK use openai.chat(<id>)",
        )
    } else if path.trim_end_matches('/') == "/v1/completions" {
        Some("Legacy Completions are not served: use POST /v1/chat/completions (a chat model)")
    } else if path.trim_end_matches('/') == "/v1/embeddings" {
        Some("This server offers chat models only: there are no embeddings")
    } else {
        None
    }
}

async fn without_v1(method: Method, uri: Uri) -> AppError {
    AppError::NotFound(format!(
        "{method} {}. The OpenAI- and Anthropic-compatible APIs are under /v1 (POST /v1/chat/completions, \
         POST /v1/messages, GET /v1/models): add /v1 to the client's base URL",
        uri.path()
    ))
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}
