//! The HTTP routes: Bedrock's two Converse operations plus the emulator's own request log.

use std::{sync::Arc, time::Duration, time::Instant};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{DefaultBodyLimit, Path, State},
    http::{HeaderMap, HeaderValue, header, request},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::Value;
use streambed_core::{ChatModel, ChatRequest, ChatStream, Content, ErrorKind, ProviderError};

use crate::{
    answer::{self, UNICODE_DELTAS, synthetic_delta},
    body::{Ending, event_stream},
    record::{AuthStyle, Operation, Outcome, Recorder, RequestRecord, StreamTracker},
    scenario::Scenario,
    wire::{self, BedrockError, REQUEST_ID},
};

pub(crate) struct Shared {
    pub source: Arc<dyn ChatModel>,
    pub delay: Duration,
    pub scenario: Scenario,
    pub recorder: Recorder,
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/model/{model_id}/converse", post(converse))
        .route("/model/{model_id}/converse-stream", post(converse_stream))
        .route("/_emulator/requests", get(list_requests).delete(clear_requests))
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

/// A call answered with an error before any stream.
struct Refused {
    request_id: String,
    error: BedrockError,
}

/// One accepted call: recorded, parsed, and with its scenario chosen.
struct Call {
    request_id: String,
    request: ChatRequest,
    body: Value,
    scenario: Scenario,
    attempt: u32,
    operation: Operation,
}

fn attempt(headers: &HeaderMap) -> u32 {
    let header = headers.get("amz-sdk-request").and_then(|v| v.to_str().ok()).unwrap_or_default();
    header.split(';').find_map(|part| part.trim().strip_prefix("attempt=")?.parse().ok()).unwrap_or(1)
}

fn auth_style(headers: &HeaderMap) -> AuthStyle {
    match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(v) if v.starts_with("AWS4-HMAC-SHA256") => AuthStyle::Sigv4,
        Some(v) if v.starts_with("Bearer ") => AuthStyle::Bearer,
        _ => AuthStyle::None,
    }
}

impl Shared {
    /// Records the request and decides what to do with it, or answers with the error Bedrock
    /// would send (malformed body, unknown scenario, or the scenario's refusal).
    fn begin(
        &self,
        operation: Operation,
        model_id: String,
        http: &request::Parts,
        raw: &[u8],
    ) -> Result<Call, Refused> {
        let headers = &http.headers;
        let request_id = uuid::Uuid::new_v4().to_string();
        let body: Result<Value, _> = serde_json::from_slice(raw);
        let recorded_body = body.as_ref().cloned().unwrap_or_else(|_| String::from_utf8_lossy(raw).into());
        let attempt = attempt(headers);
        self.recorder.open(RequestRecord {
            request_id: request_id.clone(),
            operation,
            model_id,
            body: recorded_body,
            attempt,
            auth: auth_style(headers),
            http_version: format!("{:?}", http.version),
            deltas_sent: 0,
            outcome: Outcome::InProgress,
            received_ms: self.recorder.now_ms(),
            ended_ms: None,
        });
        let parsed = body
            .map_err(|e| {
                BedrockError::validation(format!(
                    "Malformed input request: {e}, please reformat your input and try again."
                ))
            })
            .and_then(|body| {
                let mut request = wire::parse_request(&body)?;
                let marked = request.last_user_text().as_deref().map(Scenario::from_message).transpose();
                let scenario = marked.map_err(|e| BedrockError::validation(e.to_string()))?.flatten();
                if scenario.is_some() {
                    strip_marker(&mut request);
                }
                Ok((request, body, scenario.unwrap_or_else(|| self.scenario.clone())))
            });
        let call = parsed.map(|(request, body, scenario)| Call {
            request_id: request_id.clone(),
            request,
            body,
            scenario,
            attempt,
            operation,
        });
        call.and_then(|call| refusal(&call).map_or(Ok(call), Err))
            .map_err(|error| Refused { request_id, error })
    }

    fn refuse(&self, request_id: &str, error: BedrockError) -> Response {
        self.recorder.finish(request_id, Outcome::ErrorStatus { status: error.status.as_u16() }, 0);
        error.into_response(request_id)
    }

    /// The answer to send and how it ends.
    async fn answer(&self, call: &Call) -> Result<(ChatStream, Ending, Duration), BedrockError> {
        let input_tokens = answer::input_tokens(&call.request);
        let synthetic = |n: usize| answer::fixed((0..n).map(synthetic_delta).collect(), input_tokens);
        let delay = self.delay;
        Ok(match call.scenario {
            Scenario::Long { n } => (synthetic(n), Ending::Complete, delay),
            Scenario::Slow { delay, n } => (synthetic(n), Ending::Complete, delay),
            Scenario::Unicode => (
                answer::fixed(UNICODE_DELTAS.iter().map(|d| (*d).to_owned()).collect(), input_tokens),
                Ending::Complete,
                delay,
            ),
            Scenario::Echo => {
                (answer::fixed(chunks(&call.body.to_string(), 16), input_tokens), Ending::Complete, delay)
            }
            Scenario::Reasoning => (answer::with_reasoning(input_tokens), Ending::Complete, delay),
            Scenario::Exception { kind, after } => (synthetic(after), Ending::Exception(kind), delay),
            Scenario::Cut { at, after } => (synthetic(after), Ending::Cut(at), delay),
            Scenario::Stall { after } => (synthetic(after), Ending::Stall, delay),
            _ => {
                let answer =
                    self.source.stream(call.request.clone()).await.map_err(|e| source_refusal(&e))?;
                (answer, Ending::Complete, delay)
            }
        })
    }
}

/// Bedrock's pre-stream error for a scenario that refuses this call, if any.
fn refusal(call: &Call) -> Option<BedrockError> {
    let streaming = call.operation == Operation::ConverseStream;
    match call.scenario {
        Scenario::DenyStream if streaming => Some(BedrockError::access_denied()),
        Scenario::NoStream if streaming => Some(BedrockError::no_streaming()),
        Scenario::DenyAll => Some(BedrockError::access_denied()),
        Scenario::Throttle { first } if first.is_none_or(|k| call.attempt <= k) => {
            Some(BedrockError::throttling())
        }
        Scenario::Validation => Some(BedrockError::validation(
            "The provided model identifier is invalid. Check the model id and try again.",
        )),
        Scenario::NotFound => Some(BedrockError::not_found()),
        Scenario::ModelTimeout => Some(BedrockError::model_timeout()),
        _ => None,
    }
}

/// How a refusal from the answer source is reported before any stream starts.
fn source_refusal(error: &ProviderError) -> BedrockError {
    match error.kind {
        ErrorKind::Overloaded | ErrorKind::ShuttingDown => {
            BedrockError::service_unavailable(error.message.clone())
        }
        ErrorKind::Throttled => BedrockError::throttling(),
        ErrorKind::InvalidRequest => BedrockError::validation(error.message.clone()),
        ErrorKind::Timeout => BedrockError::model_timeout(),
        _ => BedrockError::internal(error.message.clone()),
    }
}

/// Removes the scenario marker so the answer source sees only the person's words.
fn strip_marker(request: &mut ChatRequest) {
    let Some(last) = request.messages.last_mut() else { return };
    for block in &mut last.content {
        if let Content::Text(text) = block
            && let Some(start) = text.find("[[scenario:")
            && let Some(len) = text[start..].find("]]")
        {
            text.replace_range(start..start + len + 2, "");
        }
    }
}

/// Splits text into pieces of at most `max` characters.
fn chunks(text: &str, max: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(max).map(|c| c.iter().collect()).collect()
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
    let (answer, ending, delay) = match shared.answer(&call).await {
        Ok(planned) => planned,
        Err(error) => return shared.refuse(&call.request_id, error),
    };
    let tracker = StreamTracker::new(shared.recorder.clone(), call.request_id.clone());
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
        Ok((text, completion)) => {
            shared.recorder.finish(&call.request_id, Outcome::Complete, 0);
            let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let body =
                wire::converse_response(&text, completion.stop_reason.as_str(), completion.usage, latency_ms);
            with_request_id(Json(body).into_response(), &call.request_id)
        }
        Err(error) => shared.refuse(&call.request_id, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_number_comes_from_the_sdk_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(attempt(&headers), 1);
        headers.insert("amz-sdk-request", HeaderValue::from_static("attempt=3; max=3"));
        assert_eq!(attempt(&headers), 3);
    }

    #[test]
    fn chunks_never_split_a_character() {
        assert_eq!(chunks("héllo👋", 2), ["hé", "ll", "o👋"]);
    }
}
