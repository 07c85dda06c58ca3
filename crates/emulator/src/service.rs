//! The HTTP routes: Bedrock's Converse, ConverseStream and CountTokens operations, plus the
//! emulator's own request log and connection counts.

use std::{sync::Arc, time::Duration, time::Instant};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{DefaultBodyLimit, Path, State},
    http::{HeaderValue, header, request},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::json;
use streambed_core::ChatModel;

use crate::{
    answer,
    body::event_stream,
    cache::PromptCache,
    call::{Refused, source_refusal},
    record::{Operation, Outcome, Recorder, StreamTracker},
    scenario::Scenario,
    wire::{self, REQUEST_ID},
};

pub(crate) struct Shared {
    pub source: Arc<dyn ChatModel>,
    pub delay: Duration,
    pub scenario: Scenario,
    pub recorder: Recorder,
    pub cache: PromptCache,
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/model/{model_id}/converse", post(converse))
        .route("/model/{model_id}/converse-stream", post(converse_stream))
        .route("/model/{model_id}/count-tokens", post(count_tokens))
        .route("/_emulator/requests", get(list_requests).delete(clear_requests))
        .route("/_emulator/connections", get(connections).delete(reset_peak_connections))
        // Real requests may carry images and documents; Bedrock allows far more than axum's 2 MB.
        .layer(DefaultBodyLimit::max(25 * 1024 * 1024))
        .with_state(shared)
}

async fn list_requests(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.recorder.requests()).into_response()
}

async fn clear_requests(State(shared): State<Arc<Shared>>) {
    shared.recorder.clear();
}

async fn connections(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.recorder.connections()).into_response()
}

async fn reset_peak_connections(State(shared): State<Arc<Shared>>) {
    shared.recorder.reset_peak_connections();
}

fn with_request_id(mut response: Response, request_id: &str) -> Response {
    response.headers_mut().insert(REQUEST_ID, HeaderValue::from_str(request_id).expect("uuids are ASCII"));
    response
}

async fn converse_stream(
    State(shared): State<Arc<Shared>>,
    Path(model_id): Path<String>,
    http: request::Parts,
    raw: Bytes,
) -> Response {
    let call = match shared.begin(Operation::ConverseStream, model_id, &http, &raw) {
        Ok(call) => call,
        Err(Refused { request_id, error }) => return shared.refuse(&request_id, error),
    };
    // Made before the answer is planned: a client that hangs up meanwhile (a late head, say)
    // is recorded as one.
    let tracker = StreamTracker::new(shared.recorder.clone(), call.request_id.clone());
    let (answer, ending, delay) = match shared.answer(&call).await {
        Ok(planned) => planned,
        Err(error) => {
            tracker.refused();
            return shared.refuse(&call.request_id, error);
        }
    };
    let body = Body::from_stream(event_stream(answer, ending, delay, tracker));
    let response = ([(header::CONTENT_TYPE, "application/vnd.amazon.eventstream")], body).into_response();
    with_request_id(response, &call.request_id)
}

async fn converse(
    State(shared): State<Arc<Shared>>,
    Path(model_id): Path<String>,
    http: request::Parts,
    raw: Bytes,
) -> Response {
    let started = Instant::now();
    let call = match shared.begin(Operation::Converse, model_id, &http, &raw) {
        Ok(call) => call,
        Err(Refused { request_id, error }) => return shared.refuse(&request_id, error),
    };
    // Stream faults (exceptions, cuts, stalls) belong to ConverseStream; Converse answers in full.
    let collected = match shared.answer(&call).await {
        Ok((answer, _, _)) => answer::collect(answer).await.map_err(|e| source_refusal(&e)),
        Err(error) => Err(error),
    };
    match collected {
        Ok((blocks, completion)) => {
            shared.recorder.finish(&call.request_id, Outcome::Complete, 0);
            let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let body = wire::converse_response(&blocks, &completion, latency_ms);
            with_request_id(Json(body).into_response(), &call.request_id)
        }
        Err(error) => shared.refuse(&call.request_id, error),
    }
}

/// CountTokens: the input tokens the request would cost, counted as usage counts them.
async fn count_tokens(
    State(shared): State<Arc<Shared>>,
    Path(model_id): Path<String>,
    http: request::Parts,
    raw: Bytes,
) -> Response {
    let call = match shared.begin(Operation::CountTokens, model_id, &http, &raw) {
        Ok(call) => call,
        Err(Refused { request_id, error }) => return shared.refuse(&request_id, error),
    };
    shared.recorder.finish(&call.request_id, Outcome::Complete, 0);
    let body = json!({ "inputTokens": answer::input_tokens(&call.request) });
    with_request_id(Json(body).into_response(), &call.request_id)
}
