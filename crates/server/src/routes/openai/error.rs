//! Errors in OpenAI's shape, `{"error":{"message","type","param","code"}}`, which the official
//! SDKs read to pick their exception (by status) and its message. The server's own errors
//! (authentication, rate limit, body, provider) are built as [`AppError`] everywhere; the
//! middleware [`in_openai_shape`] rewrites any error response of the `/v1` OpenAI routes in one
//! place, keeping its status and headers (`Retry-After`, `WWW-Authenticate`, `X-Request-Id`).

use axum::{
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::Value;
use streambed_core::{ErrorKind, ProviderError};

use super::wire::{ErrorBody, ErrorDetail};
use crate::{
    config::TooLarge,
    error::{self, AppError},
    routes::error_shape::rewrite_error,
};

/// A request this API refuses, with the field it names.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub status: StatusCode,
    pub message: String,
    pub param: Option<&'static str>,
    pub code: Option<&'static str>,
}

impl Invalid {
    /// 400 for a value of `param`.
    pub(crate) fn param(param: &'static str, message: String) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message, param: Some(param), code: None }
    }

    /// 400 `context_length_exceeded` for a conversation past the server's size limits, in the
    /// code and words OpenAI answers for one past the model's context (`This model's maximum
    /// context length is N tokens`), which clients (LiteLLM, LangChain) read, in the message
    /// where the SDK gives them nothing else, to trim the history and try again. Characters are
    /// counted, about four a token.
    pub(crate) fn too_long(refused: &TooLarge) -> Self {
        let message = match refused {
            TooLarge::Chars { count, most } => format!(
                "This model's maximum context length is {} tokens. However, your messages resulted in \
                 {} tokens. {refused}",
                most / 4,
                count.div_ceil(4)
            ),
            TooLarge::Turns { .. } => format!("This model's maximum context length is exceeded. {refused}"),
        };
        Self { code: Some("context_length_exceeded"), ..Self::param("messages", message) }
    }

    /// 404 `model_not_found`, as OpenAI answers.
    pub(crate) fn unknown_model(id: &str, offered: &[String]) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: format!(
                "The model `{id}` does not exist on this server. Choose one of: {} (GET /v1/models).",
                offered.join(", ")
            ),
            param: Some("model"),
            code: Some("model_not_found"),
        }
    }
}

/// Why a request to the OpenAI routes failed.
#[derive(Debug)]
pub(crate) enum ApiError {
    Invalid(Invalid),
    /// The server's own error, reshaped by [`in_openai_shape`].
    App(AppError),
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        Self::Invalid(invalid)
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        Self::App(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::App(error) => error.into_response(),
            Self::Invalid(Invalid { status, message, param, code }) => {
                error::refused(status, code.or(param).unwrap_or("invalid_request"), &message);
                let body = body(&message, error_type(status), param, code);
                (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body)
                    .into_response()
            }
        }
    }
}

fn body(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> String {
    let body = ErrorBody { error: ErrorDetail { message, kind, param, code } };
    serde_json::to_string(&body).expect("error bodies always serialise")
}

/// OpenAI's error `type` for a status.
fn error_type(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "authentication_error",
        StatusCode::FORBIDDEN => "permission_error",
        StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
        StatusCode::SERVICE_UNAVAILABLE => "service_unavailable_error",
        s if s.is_server_error() => "server_error",
        _ => "invalid_request_error",
    }
}

/// Our error code as OpenAI's clients know it, where they know one.
fn openai_code(code: &str) -> &str {
    match code {
        "unauthorized" => "invalid_api_key",
        "rate_limited" => "rate_limit_exceeded",
        other => other,
    }
}

/// The body of an error response in OpenAI's shape: ours (`{"error":{"code","message",…}}`)
/// rewritten, one already in OpenAI's shape kept, anything else described by its status.
pub(super) fn reshape_body(status: StatusCode, body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error")).filter(|e| e.is_object());
    if let Some(error) = error.filter(|e| e.get("type").is_some()) {
        return serde_json::json!({ "error": error }).to_string();
    }
    let text = |key| error.and_then(|e| e.get(key)).and_then(Value::as_str);
    let message =
        text("message").unwrap_or_else(|| status.canonical_reason().unwrap_or("The request failed."));
    self::body(message, error_type(status), None, text("code").map(openai_code))
}

/// Middleware on the OpenAI routes, outside authentication and the rate limit: every error
/// response leaves in OpenAI's shape.
pub(crate) async fn in_openai_shape(request: Request, next: Next) -> Response {
    rewrite_error(next.run(request).await, |status, body| (status, reshape_body(status, body).into_bytes()))
        .await
}

/// The `data:` of the chunk that ends a stream which failed after it started: the official
/// SDKs raise `APIError` on a chunk with an `error` member.
pub(super) fn in_stream(error: &ProviderError) -> String {
    let kind = match error.kind {
        ErrorKind::InvalidRequest | ErrorKind::ModelNotFound => "invalid_request_error",
        ErrorKind::AccessDenied => "permission_error",
        ErrorKind::Throttled => "rate_limit_error",
        ErrorKind::Overloaded | ErrorKind::ShuttingDown => "service_unavailable_error",
        ErrorKind::Timeout | ErrorKind::StreamInterrupted | ErrorKind::Upstream => "server_error",
    };
    body(&error.message, kind, None, Some(error.kind.code()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reshaped(status: u16, body: &str) -> Value {
        serde_json::from_str(&reshape_body(StatusCode::from_u16(status).unwrap(), body.as_bytes())).unwrap()
    }

    #[test]
    fn our_errors_are_rewritten_in_openai_shape() {
        let ours = r#"{"error":{"code":"rate_limited","message":"Slow down.","requestId":"r1"}}"#;
        assert_eq!(
            reshaped(429, ours),
            json!({ "error": { "message": "Slow down.", "type": "rate_limit_error", "param": null, "code": "rate_limit_exceeded" } })
        );
        let unauthorized = r#"{"error":{"code":"unauthorized","message":"The API key is not valid."}}"#;
        assert_eq!(reshaped(401, unauthorized)["error"]["type"], "authentication_error");
        assert_eq!(reshaped(401, unauthorized)["error"]["code"], "invalid_api_key");
        let throttled = r#"{"error":{"code":"throttled","message":"Bedrock is busy."}}"#;
        assert_eq!(reshaped(503, throttled)["error"]["type"], "service_unavailable_error");
        assert_eq!(reshaped(502, throttled)["error"]["type"], "server_error");
        assert_eq!(reshaped(400, throttled)["error"]["type"], "invalid_request_error");
    }

    #[test]
    fn openai_shaped_bodies_are_kept_and_other_bodies_described_by_status() {
        let openai = json!({ "error": { "message": "m", "type": "invalid_request_error", "param": "model", "code": "model_not_found" } });
        assert_eq!(reshaped(404, &openai.to_string()), openai);
        assert_eq!(
            reshaped(413, "length limit exceeded"),
            json!({ "error": { "message": "Payload Too Large", "type": "invalid_request_error", "param": null, "code": null } })
        );
    }

    #[test]
    fn an_error_after_the_stream_started_is_an_error_chunk() {
        let error = ProviderError::new(ErrorKind::Throttled, "Too many tokens.");
        let chunk: Value = serde_json::from_str(&in_stream(&error)).unwrap();
        assert_eq!(
            chunk,
            json!({ "error": { "message": "Too many tokens.", "type": "rate_limit_error", "param": null, "code": "throttled" } })
        );
    }
}
