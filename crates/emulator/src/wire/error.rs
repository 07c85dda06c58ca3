//! Bedrock's error replies: an `x-amzn-ErrorType` header plus `{"message": …}`.

use axum::{
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{ERROR_TYPE, REQUEST_ID};

/// An error reply before any stream starts, as Bedrock sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BedrockError {
    pub status: StatusCode,
    /// The error shape name, e.g. `ThrottlingException`.
    pub name: &'static str,
    pub message: String,
}

impl BedrockError {
    fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> Self {
        Self { status, name, message: message.into() }
    }

    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationException", message)
    }

    /// A request the model refused: Converse relays Anthropic's message after this prefix.
    pub(crate) fn model_refused(message: impl std::fmt::Display) -> Self {
        Self::validation(format!("The model returned the following errors: {message}"))
    }

    pub(crate) fn access_denied() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        )
    }

    pub(crate) fn no_streaming() -> Self {
        Self::validation("The model is unsupported for streaming. Use Converse instead of ConverseStream.")
    }

    pub(crate) fn throttling() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        )
    }

    pub(crate) fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "The specified model could not be found. Check the model identifier.",
        )
    }

    pub(crate) fn model_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "ModelTimeoutException",
            "Model has timed out in processing the request. Try your request again.",
        )
    }

    pub(crate) fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailableException", message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerException", message)
    }

    pub(crate) fn into_response(self, request_id: &str) -> Response {
        let error_type = format!("{}:http://internal.amazon.com/coral/com.amazon.bedrock/", self.name);
        let mut response = (self.status, axum::Json(json!({ "message": self.message }))).into_response();
        let headers = response.headers_mut();
        headers.insert(ERROR_TYPE, HeaderValue::from_str(&error_type).expect("error names are ASCII"));
        headers.insert(REQUEST_ID, HeaderValue::from_str(request_id).expect("request ids are ASCII"));
        response
    }
}
