//! The wire contract of `POST /api/chat` (mirrored by `frontend/src/features/chat/api/types.ts`):
//!
//! - `data: {"token":"…"}` for each answer delta (the seed's frame, default event type);
//! - `event: reasoning` + `data: {"token":"…"}` for visible reasoning, which seed clients ignore;
//! - `event: done` + `data: {"stopReason","usage","latencyMs","model","streamed"}`, last on success;
//! - `event: error` + `data: {"error":{"code","message","retryable","requestId","upstreamRequestId"}}`,
//!   last on failure;
//! - `: keep-alive` comments while nothing else is sent.
//!
//! Framing is axum's `Sse`, which splits multi-line data and writes comments correctly.

use std::{convert::Infallible, time::Duration};

use axum::{
    http::{HeaderName, HeaderValue, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures_util::Stream;
use serde::Serialize;
use streambed_core::{Completion, ProviderError, Usage};

#[derive(Serialize)]
struct Token<'a> {
    token: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Done<'a> {
    stop_reason: &'a str,
    usage: Usage,
    latency_ms: u64,
    model: &'a str,
    streamed: bool,
}

#[derive(Serialize)]
struct ErrorFrame<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
    retryable: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_request_id: Option<&'a str>,
}

fn json(event: Event, payload: &impl Serialize) -> Event {
    event.json_data(payload).expect("wire types always serialise")
}

pub fn token(text: &str) -> Event {
    json(Event::default(), &Token { token: text })
}

pub fn reasoning(text: &str) -> Event {
    json(Event::default().event("reasoning"), &Token { token: text })
}

pub fn done(completion: &Completion, latency: Duration, model: &str) -> Event {
    let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    json(
        Event::default().event("done"),
        &Done {
            stop_reason: &completion.stop_reason,
            usage: completion.usage,
            latency_ms,
            model,
            streamed: completion.streamed,
        },
    )
}

/// `request_id` is ours (`x-request-id`); Bedrock's own id, when known, goes beside it.
pub fn error(e: &ProviderError, request_id: &str) -> Event {
    json(
        Event::default().event("error"),
        &ErrorFrame {
            error: ErrorDetail {
                code: e.kind.code(),
                message: &e.message,
                retryable: e.kind.retryable(),
                request_id,
                upstream_request_id: e.request_id.as_deref(),
            },
        },
    )
}

const KEEP_ALIVE: &str = "keep-alive";

/// Sent first, so headers and a first byte reach the client before the model's first token.
pub fn keep_alive() -> Event {
    Event::default().comment(KEEP_ALIVE)
}

/// The streaming response with the headers proxies need to pass it through unbuffered.
pub fn response(
    events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static,
    every: Duration,
) -> Response {
    let sse = Sse::new(events).keep_alive(KeepAlive::new().interval(every).text(KEEP_ALIVE));
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-transform")),
            (HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no")),
        ],
        sse,
    )
        .into_response()
}
