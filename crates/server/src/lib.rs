//! The Streambed HTTP service. A browser or `curl` posts to `/api/chat`; the route validates the
//! request, asks the configured [`ChatModel`] (Bedrock or the embedded model) for an answer, and
//! relays its events as Server-Sent Events (see [`sse`] for the wire contract).
//!
//! `main.rs` only wires these pieces: [`Config`] from the environment, a provider from
//! [`provider::build`], then [`serve`] with graceful shutdown. Tests call the same functions.

mod auth;
pub mod config;
mod error;
mod limits;
mod metrics;
pub mod provider;
mod relay;
mod routes;
mod shutdown;
pub mod sse;

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Weak},
    time::Duration,
};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderMap, HeaderName, HeaderValue, Method, Request, header},
    middleware::{from_fn, from_fn_with_state},
    serve::ListenerExt,
};
use streambed_core::{ChatModel, InferenceParams};
use tokio::net::{TcpListener, TcpSocket};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};

pub use config::{Config, ConfigError};
pub use shutdown::{Shutdown, signal};

use crate::{
    auth::Authenticator,
    config::Limits,
    limits::{RateLimit, StreamSlots},
    metrics::Metrics,
};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, set (or taken from the client) by the outermost layer.
fn request_id(headers: &HeaderMap) -> &str {
    headers.get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Scripts and styles from this origin only, no inline script, no framing: the SPA needs
/// nothing more, and model output rendered as markdown can never run code.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
     form-action 'self'; frame-ancestors 'none'";

/// What every handler may read.
struct AppState {
    model: Arc<dyn ChatModel>,
    system_prompt: Option<String>,
    params: InferenceParams,
    keep_alive: Duration,
    static_dir: PathBuf,
    shutdown: Shutdown,
    limits: Limits,
    streams: StreamSlots,
    metrics: Arc<Metrics>,
}

/// The whole application, ready to serve; tests call this with the emulator behind `model`.
/// Call it inside a Tokio runtime: it starts a background task that keeps memory flat.
pub fn app(config: &Config, model: Arc<dyn ChatModel>, shutdown: Shutdown) -> Router {
    let metrics = Arc::new(Metrics::default());
    let rate = RateLimit::new(&config.limits);
    tokio::spawn(upkeep(Arc::downgrade(&metrics), rate.as_ref().map(Arc::downgrade)));
    let state = Arc::new(AppState {
        model,
        system_prompt: config.system_prompt.clone(),
        params: config.params,
        keep_alive: config.keep_alive,
        static_dir: config.static_dir.clone(),
        shutdown,
        limits: config.limits.clone(),
        streams: StreamSlots::new(config.limits.max_streams, metrics.active_streams.clone()),
        metrics: Arc::clone(&metrics),
    });
    let header = |name, value| SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value));
    // Listed innermost first: each `.layer` wraps everything above it.
    routes::router(state, Authenticator::new(&config.auth, config.limits.trusted_proxy_hops), rate)
        .layer(from_fn(error::with_request_id))
        .layer(from_fn_with_state(metrics, metrics::count_requests))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(cors(config))
        .layer(header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request_id(request.headers());
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// Every minute: fold histogram samples into buckets, forget clients the rate limiter no longer
/// needs. Ends when the app is dropped.
async fn upkeep(metrics: Weak<Metrics>, rate: Option<Weak<RateLimit>>) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    every.tick().await;
    loop {
        every.tick().await;
        let Some(metrics) = metrics.upgrade() else { return };
        metrics.upkeep();
        if let Some(rate) = rate.as_ref().and_then(Weak::upgrade) {
            rate.forget_idle_clients();
        }
    }
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
        .expose_headers([REQUEST_ID, header::RETRY_AFTER])
        .max_age(Duration::from_secs(3600))
}

/// Binds `addr` with a deep accept queue. Tokio's `bind` asks for 1,024 pending connections; a
/// burst of more clients than the accept loop drains at once overflows it, the kernel drops
/// their SYNs, and each retries only after a 1 s timeout. The kernel caps this at somaxconn.
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(65_535)
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
    // The peer address is the rate limiter's client key when no identity or proxy is in front.
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown.drain_after(signal, grace))
        .await
}
