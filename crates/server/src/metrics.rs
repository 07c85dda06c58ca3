//! Prometheus metrics at `GET /metrics`, rendered by `metrics-exporter-prometheus`.
//!
//! Each app owns its recorder instead of installing a process-global one: two servers in one
//! process (the tests) keep separate counts. Hot-path handles (one per token) are registered
//! once; labelled series are looked up per request or error, which is rare by comparison.

use std::sync::Arc;

use axum::{
    extract::{MatchedPath, Request, State},
    http::Method,
    middleware::Next,
    response::Response,
};
use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

const REQUESTS: &str = "streambed_http_requests_total";
const ACTIVE_STREAMS: &str = "streambed_active_streams";
const TTFT: &str = "streambed_time_to_first_token_seconds";
const INTER_TOKEN: &str = "streambed_inter_token_seconds";
const TOKENS: &str = "streambed_tokens_relayed_total";
const UPSTREAM_ERRORS: &str = "streambed_upstream_errors_total";
const FALLBACKS: &str = "streambed_fallbacks_total";
const CANCELLATIONS: &str = "streambed_cancellations_total";
const REDIS_ERRORS: &str = "streambed_redis_errors_total";
const CACHE_READ: &str = "streambed_prompt_cache_read_tokens_total";
const INPUT_TOKENS: &str = "streambed_input_tokens_total";
const OUTPUT_TOKENS: &str = "streambed_output_tokens_total";
const CACHE_WRITE: &str = "streambed_prompt_cache_write_tokens_total";

const TTFT_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
const INTER_TOKEN_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

pub(crate) struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    pub active_streams: Gauge,
    pub time_to_first_token: Histogram,
    pub inter_token: Histogram,
    pub tokens: Counter,
    pub fallbacks: Counter,
    pub cancellations: Counter,
    pub cache_read_tokens: Counter,
    pub cache_write_tokens: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(TTFT.into()), TTFT_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(INTER_TOKEN.into()), INTER_TOKEN_BUCKETS))
            .expect("bucket lists are non-empty")
            .build_recorder();
        let describe =
            |name: &'static str, unit, help: &'static str| (name, unit, SharedString::const_str(help));
        for (name, unit, help) in [
            describe(REQUESTS, None, "HTTP requests by route, method and status."),
            describe(TOKENS, None, "Answer text deltas relayed to clients."),
            describe(UPSTREAM_ERRORS, None, "Model provider errors by code, before or during a stream."),
            describe(FALLBACKS, None, "Answers served by the non-streaming Converse fallback."),
            describe(CANCELLATIONS, None, "Streams whose client left before the answer ended."),
            describe(REDIS_ERRORS, None, "Failed Redis calls by use; the server carried on without Redis."),
            describe(CACHE_READ, None, "Input tokens the provider read from its prompt cache."),
            describe(
                INPUT_TOKENS,
                None,
                "Input tokens of completed answers, by model, as the provider counted them.",
            ),
            describe(
                OUTPUT_TOKENS,
                None,
                "Output tokens of completed answers, by model, as the provider counted them.",
            ),
            describe(CACHE_WRITE, None, "Input tokens the provider wrote to its prompt cache."),
        ] {
            recorder.describe_counter(name.into(), unit, help);
        }
        recorder.describe_gauge(ACTIVE_STREAMS.into(), None, "Answers streaming now.".into());
        recorder.describe_histogram(
            TTFT.into(),
            Some(Unit::Seconds),
            "Request received to first token.".into(),
        );
        recorder.describe_histogram(INTER_TOKEN.into(), Some(Unit::Seconds), "Gap between tokens.".into());
        Self {
            handle: recorder.handle(),
            active_streams: recorder.register_gauge(&Key::from_static_name(ACTIVE_STREAMS), &METADATA),
            time_to_first_token: recorder.register_histogram(&Key::from_static_name(TTFT), &METADATA),
            inter_token: recorder.register_histogram(&Key::from_static_name(INTER_TOKEN), &METADATA),
            tokens: recorder.register_counter(&Key::from_static_name(TOKENS), &METADATA),
            fallbacks: recorder.register_counter(&Key::from_static_name(FALLBACKS), &METADATA),
            cancellations: recorder.register_counter(&Key::from_static_name(CANCELLATIONS), &METADATA),
            cache_read_tokens: recorder.register_counter(&Key::from_static_name(CACHE_READ), &METADATA),
            cache_write_tokens: recorder.register_counter(&Key::from_static_name(CACHE_WRITE), &METADATA),
            recorder,
        }
    }
}

impl Metrics {
    pub(crate) fn request(&self, route: String, method: &'static str, status: u16) {
        let labels = vec![
            Label::new("route", route),
            Label::from_static_parts("method", method),
            Label::new("status", status.to_string()),
        ];
        self.recorder.register_counter(&Key::from_parts(REQUESTS, labels), &METADATA).increment(1);
    }

    pub(crate) fn upstream_error(&self, code: &'static str) {
        let key = Key::from_parts(UPSTREAM_ERRORS, vec![Label::from_static_parts("code", code)]);
        self.recorder.register_counter(&key, &METADATA).increment(1);
    }

    /// A Redis call that failed; `use` is what it was for (`frames`, `follow`, `stop`,
    /// `rate_limit`, `lockout`, `running_answers`).
    pub(crate) fn redis_error(&self, purpose: &'static str) {
        let key = Key::from_parts(REDIS_ERRORS, vec![Label::from_static_parts("use", purpose)]);
        self.recorder.register_counter(&key, &METADATA).increment(1);
    }

    /// What a finished answer of `model` cost: its tokens, and the prompt cache's part of them.
    /// Labelled by model, whose ids are the few the server offers.
    pub(crate) fn usage(&self, model: &str, usage: &streambed_core::Usage) {
        for (name, tokens) in [(INPUT_TOKENS, usage.input_tokens), (OUTPUT_TOKENS, usage.output_tokens)] {
            let key = Key::from_parts(name, vec![Label::new("model", model.to_owned())]);
            self.recorder.register_counter(&key, &METADATA).increment(tokens.into());
        }
        self.cache_read_tokens.increment(usage.cache_read_input_tokens.unwrap_or(0).into());
        self.cache_write_tokens.increment(usage.cache_write_input_tokens.unwrap_or(0).into());
    }

    /// Folds recorded histogram samples into their buckets so memory stays flat between scrapes.
    pub(crate) fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// Middleware: counts every request by its route pattern and a known method name (never the raw
/// path or an arbitrary method, which would let clients create unbounded series).
pub(crate) async fn count_requests(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "other",
    };
    let response = next.run(request).await;
    metrics.request(route, method, response.status().as_u16());
    response
}

impl Metrics {
    /// Every metric in the Prometheus text format.
    pub(crate) fn render(&self) -> String {
        self.handle.render()
    }
}
