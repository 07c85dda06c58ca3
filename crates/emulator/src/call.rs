//! One call: recorded, parsed, checked against Bedrock's and the model's rules, its scenario
//! chosen; then the answer it gets.

use std::time::Duration;

use axum::{
    http::{HeaderMap, header, request},
    response::Response,
};
use serde_json::Value;
use streambed_core::{ChatRequest, ChatStream, Content, ErrorKind, ProviderError};

use crate::{
    answer::{self, UNICODE_DELTAS, synthetic_delta},
    body::Ending,
    cache::CacheUse,
    family::Model,
    record::{AuthStyle, Operation, Outcome, RequestRecord},
    rules,
    scenario::Scenario,
    service::Shared,
    tokens,
    turn::{self, finish},
    wire::{self, BedrockError, Thinking},
};

/// A call answered with an error before any stream.
pub(crate) struct Refused {
    pub request_id: String,
    pub error: BedrockError,
}

/// One accepted call.
pub(crate) struct Call {
    pub request_id: String,
    pub request: ChatRequest,
    pub body: Value,
    pub scenario: Scenario,
    pub attempt: u32,
    pub operation: Operation,
    /// Whether the model reasons before it answers.
    pub thinking: bool,
    pub service_tier: Option<String>,
    pub cache: Option<CacheUse>,
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
    /// would send (malformed body, a parameter the model refuses, an unknown scenario, or the
    /// scenario's refusal).
    pub(crate) fn begin(
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
            model_id: model_id.clone(),
            body: recorded_body,
            attempt,
            auth: auth_style(headers),
            http_version: format!("{:?}", http.version),
            deltas_sent: 0,
            outcome: Outcome::InProgress,
            received_ms: self.recorder.now_ms(),
            ended_ms: None,
        });
        let model = Model::from_id(&model_id);
        let parsed = body
            .map_err(|e| {
                BedrockError::validation(format!(
                    "Malformed input request: {e}, please reformat your input and try again."
                ))
            })
            .and_then(|body| {
                let converse = if operation == Operation::CountTokens {
                    tokens::parse_input(&body)?
                } else {
                    let converse = wire::parse_request(&body)?;
                    rules::check(model.as_ref(), &converse)?;
                    converse
                };
                let mut request = converse.request;
                let marked = request.last_user_text().as_deref().map(Scenario::from_message).transpose();
                let scenario = marked.map_err(|e| BedrockError::validation(e.to_string()))?.flatten();
                if scenario.is_some() {
                    strip_marker(&mut request);
                }
                Ok(Call {
                    request_id: request_id.clone(),
                    request,
                    body,
                    scenario: scenario.unwrap_or_else(|| self.scenario.clone()),
                    attempt,
                    operation,
                    thinking: converse.thinking.as_ref().is_some_and(Thinking::is_on),
                    service_tier: converse.service_tier,
                    cache: None,
                })
            });
        let mut call = parsed
            .and_then(|call| refusal(&call).map_or(Ok(call), Err))
            .map_err(|error| Refused { request_id, error })?;
        if operation != Operation::CountTokens {
            call.cache = self.cache.lookup(&model_id, &call.body);
        }
        Ok(call)
    }

    pub(crate) fn refuse(&self, request_id: &str, error: BedrockError) -> Response {
        self.recorder.finish(request_id, Outcome::ErrorStatus { status: error.status.as_u16() }, 0);
        error.into_response(request_id)
    }

    /// The answer to send and how it ends.
    pub(crate) async fn answer(&self, call: &Call) -> Result<(ChatStream, Ending, Duration), BedrockError> {
        let input_tokens = answer::input_tokens(&call.request);
        let synthetic = |n: usize| answer::fixed((0..n).map(synthetic_delta).collect(), input_tokens);
        // An answer the model writes in full stops at `maxTokens`, as Claude's does; the fault
        // scenarios count their deltas themselves.
        let max_tokens = call.request.params.max_tokens;
        let written =
            |n: usize| answer::up_to((0..n).map(synthetic_delta).collect(), max_tokens, input_tokens);
        let delay = self.delay;
        let (answer, ending, delay) = match call.scenario {
            Scenario::Long { n } => (written(n), Ending::Complete, delay),
            Scenario::Slow { delay, n, head } => {
                tokio::time::sleep(head).await;
                (written(n), Ending::Complete, delay)
            }
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
                let answer = turn::answer(&*self.source, &call.request, call.thinking).await;
                (answer.map_err(|e| source_refusal(&e))?, Ending::Complete, delay)
            }
        };
        Ok((finish(answer, call.cache, call.service_tier.clone()), ending, delay))
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
        Scenario::Unavailable => {
            Some(BedrockError::service_unavailable("The service isn't currently available. Try again later."))
        }
        _ => None,
    }
}

/// How a refusal from the answer source is reported before any stream starts.
pub(crate) fn source_refusal(error: &ProviderError) -> BedrockError {
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

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

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
