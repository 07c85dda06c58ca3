//! Errors in Anthropic's shape, `{"type":"error","error":{"type","message"},"request_id"}`.
//! The server's own layers (authentication, rate limit, body limits) answer in its own shape;
//! [`in_anthropic_shape`] wraps the Anthropic routes and rewrites every error response on the way out, so
//! there is one place where the shapes meet. Errors after the stream started are `event: error`
//! with the same body ([`detail`]).
//!
//! Overload is `529 overloaded_error`, as Anthropic's API answers it and its SDKs expect: an
//! overloaded upstream (Bedrock's ServiceUnavailableException), a server at
//! `MAX_CONCURRENT_STREAMS`, or one shutting down, all `503` on the server's own routes (other
//! 503s, such as an unreachable identity provider, stay 503 `api_error`). Throttling stays
//! `429 rate_limit_error`: Bedrock's ThrottlingException is a quota, which is what Anthropic's
//! 429 means.

use axum::{
    Json,
    extract::Request,
    http::{HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::Value;
use streambed_core::{ErrorKind, ProviderError};

use super::wire::{ErrorDetail, ErrorResponse};
use crate::routes::error_shape::rewrite_error;
use crate::{
    error::{self, AppError},
    models::UnknownModel,
    request_id,
    request_id::ANTHROPIC_REQUEST_ID,
};

/// What a Messages handler can fail with: any server error, or a model this server does not
/// offer, which the Messages API reports as 404 (`/api/chat` says 400).
#[derive(Debug)]
pub(crate) enum ApiError {
    App(AppError),
    UnknownModel(UnknownModel),
    /// A request in a message thread, which the server does not keep (see `wire::MessagesRequest::thread`).
    Threaded,
}

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(error: E) -> Self {
        Self::App(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::App(error) => error.into_response(),
            Self::UnknownModel(unknown) => {
                error::refused(StatusCode::NOT_FOUND, "not_found_error", &unknown);
                let body = ErrorResponse::new("not_found_error", unknown.to_string(), None);
                (StatusCode::NOT_FOUND, Json(body)).into_response()
            }
            Self::Threaded => {
                let message = "This server keeps no message threads: send the whole conversation, without \
                               `thread`.";
                error::refused(StatusCode::BAD_REQUEST, "thread_unsupported_request", &message);
                let mut body = ErrorResponse::new("invalid_request_error", message.to_owned(), None);
                body.error.details = Some(serde_json::json!({ "error_code": "thread_unsupported_request" }));
                (StatusCode::BAD_REQUEST, Json(body)).into_response()
            }
        }
    }
}

/// Anthropic's "overloaded" status, which `http` has no name for.
fn overloaded() -> StatusCode {
    StatusCode::from_u16(529).expect("529 is a valid status code")
}

/// The status Anthropic's API would answer for one of the server's error responses, by its
/// `{"error":{"code"}}`: 529 for "too busy right now, try again" (the server's own
/// `MAX_CONCURRENT_STREAMS` refusal shares the code `overloaded` with Bedrock's).
fn status_for(status: StatusCode, code: Option<&str>) -> StatusCode {
    let busy =
        matches!(code.and_then(ErrorKind::from_code), Some(ErrorKind::Overloaded | ErrorKind::ShuttingDown));
    if status == StatusCode::SERVICE_UNAVAILABLE && busy { overloaded() } else { status }
}

/// Anthropic's error type for an HTTP status.
pub(super) fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// Anthropic's error type for a failure in the middle of a stream.
fn kind_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest => "invalid_request_error",
        ErrorKind::AccessDenied => "permission_error",
        ErrorKind::ModelNotFound => "not_found_error",
        ErrorKind::Throttled => "rate_limit_error",
        ErrorKind::Overloaded | ErrorKind::ShuttingDown => "overloaded_error",
        ErrorKind::Timeout | ErrorKind::StreamInterrupted | ErrorKind::Upstream => "api_error",
    }
}

/// The `error` of an `event: error`.
pub(super) fn detail(error: &ProviderError) -> ErrorDetail {
    ErrorDetail { kind: kind_type(error.kind), message: error.message.clone(), details: None }
}

/// Middleware: every error response of the routes it wraps, in Anthropic's shape, with its
/// status and headers (`Retry-After`, `WWW-Authenticate`) kept; and every response with the
/// request's id as `request-id` too, the header Anthropic's SDKs read (`_request_id`).
pub(crate) async fn in_anthropic_shape(request: Request, next: Next) -> Response {
    let id = request_id::of(request.headers()).to_owned();
    let header = HeaderValue::from_str(&id).ok().filter(|_| !id.is_empty());
    let id = (!id.is_empty()).then_some(id);
    let mut response =
        rewrite_error(next.run(request).await, |status, body| reshape_body(status, body, id)).await;
    if let Some(header) = header {
        response.headers_mut().insert(ANTHROPIC_REQUEST_ID, header);
    }
    response
}

/// The Anthropic status and body for an error response: the message of the server's
/// `{"error":{"code","message"}}` (or of a body already in Anthropic's shape), else the
/// status's reason, under the type the status implies; overload becomes 529.
fn reshape_body(status: StatusCode, body: &[u8], request_id: Option<String>) -> (StatusCode, Vec<u8>) {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let status = status_for(status, parsed["error"]["code"].as_str());
    let message = parsed["error"]["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("The request failed.").to_owned());
    let mut response = ErrorResponse::new(error_type(status), message, request_id);
    response.error.details = parsed["error"].get("details").cloned();
    (status, serde_json::to_vec(&response).expect("wire types always serialise"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reshaped_with_status(status: u16, body: &str) -> (u16, Value) {
        let status = StatusCode::from_u16(status).unwrap();
        let (status, body) = reshape_body(status, body.as_bytes(), Some("req-1".into()));
        (status.as_u16(), serde_json::from_slice(&body).unwrap())
    }

    fn reshaped(status: u16, body: &str) -> Value {
        reshaped_with_status(status, body).1
    }

    #[test]
    fn the_servers_error_bodies_become_anthropic_errors_by_status() {
        let ours =
            r#"{"error":{"code":"unauthorized","message":"The API key is not valid.","requestId":"req-1"}}"#;

        assert_eq!(
            reshaped(401, ours),
            json!({
                "type": "error",
                "error": {"type": "authentication_error", "message": "The API key is not valid."},
                "request_id": "req-1"
            })
        );
        for (status, kind) in [
            (400, "invalid_request_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (408, "invalid_request_error"),
            (413, "request_too_large"),
            (415, "invalid_request_error"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "api_error"),
            (504, "api_error"),
            (529, "overloaded_error"),
        ] {
            assert_eq!(reshaped(status, ours)["error"]["type"], kind, "{status}");
        }
    }

    #[test]
    fn overload_is_529_and_other_unavailability_keeps_its_status() {
        let ours = |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"Try again."}}}}"#);

        for code in ["overloaded", "shutting_down"] {
            let (status, body) = reshaped_with_status(503, &ours(code));
            assert_eq!((status, body["error"]["type"].as_str()), (529, Some("overloaded_error")), "{code}");
            assert_eq!(body["error"]["message"], "Try again.");
        }
        assert_eq!(
            reshaped_with_status(503, &ours("auth_unavailable")),
            (503, reshaped(503, &ours("auth_unavailable")))
        );
        assert_eq!(reshaped(503, &ours("auth_unavailable"))["error"]["type"], "api_error");
        assert_eq!(reshaped_with_status(429, &ours("throttled")), (429, reshaped(429, &ours("throttled"))));
        assert_eq!(reshaped(429, &ours("throttled"))["error"]["type"], "rate_limit_error");
    }

    #[test]
    fn anthropic_bodies_keep_their_message_and_bodies_without_one_get_the_reason() {
        let already = r#"{"type":"error","error":{"type":"not_found_error","message":"No model `x`."}}"#;
        assert_eq!(reshaped(404, already)["error"]["message"], "No model `x`.");
        assert_eq!(reshaped(405, "")["error"]["message"], "Method Not Allowed");
        assert_eq!(
            reshaped(500, "<html>")["error"],
            json!({"type": "api_error", "message": "Internal Server Error"})
        );
    }

    #[test]
    fn stream_failures_are_typed_by_their_kind() {
        let throttled = ProviderError::new(ErrorKind::Throttled, "Slow down.");
        assert_eq!(
            detail(&throttled),
            ErrorDetail { kind: "rate_limit_error", message: "Slow down.".into(), details: None }
        );
        assert_eq!(detail(&ProviderError::new(ErrorKind::Overloaded, "")).kind, "overloaded_error");
        assert_eq!(detail(&ProviderError::new(ErrorKind::Upstream, "")).kind, "api_error");
        assert_eq!(detail(&ProviderError::new(ErrorKind::StreamInterrupted, "")).kind, "api_error");
    }
}
