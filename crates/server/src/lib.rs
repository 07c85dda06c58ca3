//! The Streambed HTTP service. A browser or `curl` posts to `/api/chat`; the route validates the
//! request, asks the configured [`ChatModel`] (Bedrock or the embedded model) for an answer, and
//! relays its events as Server-Sent Events (see [`sse`] for the wire contract).
//!
//! `main.rs` only wires these pieces: [`Config`] from the environment, a provider from
//! [`provider::build`], then [`serve`] with graceful shutdown. Tests call the same functions.

pub mod config;
mod error;
pub mod provider;
mod relay;
mod routes;
mod shutdown;
mod sse;

use std::{path::PathBuf, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, Method, header},
    serve::ListenerExt,
};
use streambed_core::{ChatModel, InferenceParams};
use tokio::net::TcpListener;
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

pub use config::{Config, ConfigError};
pub use shutdown::{Shutdown, signal};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every handler may read.
#[derive(Clone)]
struct AppState {
    model: Arc<dyn ChatModel>,
    system_prompt: Option<String>,
    params: InferenceParams,
    keep_alive: Duration,
    static_dir: PathBuf,
    shutdown: Shutdown,
}

/// The whole application, ready to serve; tests call this with the emulator behind `model`.
pub fn app(config: &Config, model: Arc<dyn ChatModel>, shutdown: Shutdown) -> Router {
    let state = AppState {
        model,
        system_prompt: config.system_prompt.clone(),
        params: config.params,
        keep_alive: config.keep_alive,
        static_dir: config.static_dir.clone(),
        shutdown,
    };
    routes::router(state)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(cors(config))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

fn cors(config: &Config) -> CorsLayer {
    let origins = match &config.cors_origins {
        config::CorsOrigins::Any => AllowOrigin::any(),
        config::CorsOrigins::List(list) => AllowOrigin::list(list.iter().cloned()),
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, REQUEST_ID])
        .expose_headers([REQUEST_ID])
        .max_age(Duration::from_secs(3600))
}

/// Serves until `signal` resolves, then drains: no new connections, in-flight streams get
/// the configured grace period, and whatever is still streaming then ends with `shutting_down`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: Shutdown,
    grace: Duration,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Frames are small and latency is the product: send each one now, not when Nagle allows.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app).with_graceful_shutdown(shutdown.drain_after(signal, grace)).await
}
