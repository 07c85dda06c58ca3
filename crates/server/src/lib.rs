//! The Streambed HTTP service. A browser or `curl` posts to `/api/chat`; the route validates the
//! request, asks the chosen `ChatModel` (a Bedrock model or the embedded one) for an answer, and
//! relays its events as Server-Sent Events (see [`sse`] for the wire contract).
//!
//! `main.rs` only wires these pieces: [`Config`] from the environment, the models from
//! [`models::build`], then [`serve`] with graceful shutdown. Tests call the same functions.

mod admission;
mod answer_log;
mod answer_token;
mod auth;
mod client_addr;
pub mod config;
mod connections;
mod error;
mod error_body;
mod extract;
mod frame;
mod live;
mod metrics;
pub mod models;
mod owner;
mod relay;
mod replicas;
mod request_id;
mod routes;
mod shutdown;
pub mod sse;
mod state;

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use axum::{
    Extension, Router,
    extract::DefaultBodyLimit,
    http::{HeaderValue, Method, Request, header},
    middleware::{from_fn, from_fn_with_state},
};
use tower_http::{
    cors::{AllowHeaders, AllowOrigin, CorsLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    set_header::SetResponseHeaderLayer,
    timeout::RequestBodyDeadlineLayer,
    trace::{DefaultOnFailure, TraceLayer},
};

pub use config::{Config, ConfigError, ShutdownTiming};
pub use connections::{listen, serve};
pub use models::Models;
pub use shutdown::{Shutdown, signal};
pub use state::Conversations;

use crate::{
    admission::{RateLimit, StreamSlots},
    auth::Authenticator,
    extract::BodyLimit,
    metrics::Metrics,
    state::AppState,
};

use request_id::{ANTHROPIC_REQUEST_ID, REQUEST_ID};

/// Scripts and styles from this origin only, no inline script, no framing: the SPA needs
/// nothing more, and model output rendered as markdown can never run code.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
     form-action 'self'; frame-ancestors 'none'";

/// The whole application, ready to serve, and the upkeep its state needs while it serves;
/// tests call this with the emulator behind `models`. It starts nothing: the caller runs the
/// upkeep ([`Upkeep::spawn`]), as it does the conversations' own.
pub fn app(
    config: &Config,
    models: Models,
    conversations: Conversations,
    shutdown: Shutdown,
) -> (Router, Upkeep) {
    let metrics = Arc::new(Metrics::default());
    if let Some(redis) = &conversations.redis {
        redis.count_failures_in(Arc::clone(&metrics));
    }
    let rate = RateLimit::new(&config.limits, conversations.redis.as_ref());
    let auth =
        Authenticator::new(&config.auth, config.limits.trusted_proxy_hops, conversations.redis.as_ref());
    let upkeep = Upkeep { metrics: Arc::downgrade(&metrics), rate: rate.as_ref().map(Arc::downgrade) };
    let state = Arc::new(AppState {
        models,
        reasoning: config.models.reasoning,
        system_prompt: config.system_prompt.clone(),
        params: config.params,
        keep_alive: config.keep_alive,
        static_dir: config.static_dir.clone(),
        shutdown: shutdown.clone(),
        limits: config.limits.clone(),
        streams: StreamSlots::new(config.limits.max_streams, metrics.active_streams.clone()),
        metrics: Arc::clone(&metrics),
        conversations,
    });
    let header = |name, value| SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value));
    // Listed innermost first: each `.layer` wraps everything above it.
    let router = routes::router(state, auth, rate)
        .layer(from_fn(request_id::in_scope))
        .layer(from_fn_with_state(metrics, metrics::count_requests))
        .layer(from_fn_with_state(shutdown, shutdown::close_connections_when_stopping))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(Extension(BodyLimit(config.max_body_bytes)))
        // The whole body, not each piece: a client trickling a byte at a time gets 408.
        .layer(RequestBodyDeadlineLayer::new(config.connections.body_read_timeout))
        .layer(cors(config))
        .layer(header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let id = request_id::of(request.headers());
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = id)
                })
                // A 5xx is mostly back-pressure (503 busy, with Retry-After), which the server
                // logs itself with its reason: a warning here, not an error.
                .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN)),
        )
        .layer(from_fn(request_id::assign))
        // Outermost: whatever prints headers (a debug log, a panic message) shows `Sensitive`.
        .layer(SetSensitiveRequestHeadersLayer::new([header::AUTHORIZATION, auth::X_API_KEY]));
    (router, upkeep)
}

/// Every minute while the app lives: fold histogram samples into buckets, forget clients the
/// rate limiter no longer needs. It holds neither, so it ends once both are dropped (with
/// `REDIS_URL`, Redis counts its failures in the metrics and lives with the runtime: then so
/// does this).
#[derive(Debug)]
pub struct Upkeep {
    metrics: Weak<Metrics>,
    rate: Option<Weak<RateLimit>>,
}

impl Upkeep {
    /// Runs on a task of its own, inside a Tokio runtime.
    pub fn spawn(self) {
        tokio::spawn(self.run());
    }

    async fn run(self) {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        every.tick().await;
        loop {
            every.tick().await;
            let Some(metrics) = self.metrics.upgrade() else { return };
            metrics.upkeep();
            if let Some(rate) = self.rate.as_ref().and_then(Weak::upgrade) {
                rate.forget_idle_clients();
            }
        }
    }
}

fn cors(config: &Config) -> CorsLayer {
    let origins = match &config.cors_origins {
        config::CorsOrigins::Any => AllowOrigin::any(),
        config::CorsOrigins::Default if config.auth.is_enabled() => AllowOrigin::any(),
        // Without authentication, any page could otherwise read and delete the local history
        // (and the key the seed never had is no defence): only the server's own pages, which
        // need no CORS, reach the conversation routes. The stateless routes stay open to all.
        config::CorsOrigins::Default => {
            AllowOrigin::predicate(|_, request| !request.uri.path().starts_with(routes::CONVERSATIONS))
        }
        config::CorsOrigins::List(list) => AllowOrigin::list(list.iter().cloned()),
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        // Whatever request headers the browser asks for: besides ours (`Authorization`,
        // `x-api-key`, `Last-Event-ID`, `X-Request-Id`), the official OpenAI and Anthropic SDKs
        // send their own (`x-stainless-*`, `anthropic-version`, `openai-organization`, …), and
        // new SDK versions add more. Credentials travel in headers, never cookies, so this lets
        // in nothing the allowed origins could not already send.
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([REQUEST_ID, ANTHROPIC_REQUEST_ID, header::RETRY_AFTER])
        .max_age(Duration::from_secs(3600))
}
