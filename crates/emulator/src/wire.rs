//! Bedrock Runtime's JSON: the Converse request body, the Converse response, and error replies
//! (`x-amzn-ErrorType` header plus `{"message": …}`), shaped as the real service sends them.

use axum::{
    http::{HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};
use streambed_core::{ChatRequest, Content, InferenceParams, Message, Role, Usage};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
const ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

/// The members of a Converse/ConverseStream request the emulator understands; the rest
/// (tool config, guardrails, …) is accepted and kept in the request record.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseBody {
    #[serde(default)]
    messages: Vec<WireMessage>,
    #[serde(default)]
    system: Vec<Value>,
    #[serde(default)]
    inference_config: WireInferenceConfig,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    role: String,
    content: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireInferenceConfig {
    max_tokens: Option<u32>,
    temperature: Option<f32>,
    top_p: Option<f32>,
}

/// Joins the `text` members of a list of content blocks; other block kinds carry no text.
fn text_of(blocks: &[Value]) -> String {
    blocks.iter().filter_map(|b| b.get("text").and_then(Value::as_str)).collect()
}

/// Parses a request body as Bedrock would validate it.
pub fn parse_request(body: &Value) -> Result<ChatRequest, BedrockError> {
    let parsed = ConverseBody::deserialize(body).map_err(|e| {
        BedrockError::validation(format!(
            "Malformed input request: {e}, please reformat your input and try again."
        ))
    })?;
    let messages = parsed
        .messages
        .into_iter()
        .map(|m| {
            let role = match m.role.as_str() {
                "user" => Role::User,
                "assistant" => Role::Assistant,
                other => {
                    return Err(BedrockError::validation(format!(
                        "1 validation error detected: Value '{other}' at 'messages.role' failed to satisfy constraint: \
                         Member must satisfy enum value set: [user, assistant]"
                    )));
                }
            };
            Ok(Message { role, content: vec![Content::Text(text_of(&m.content))] })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if messages.first().is_none_or(|m| m.role != Role::User) {
        return Err(BedrockError::validation(
            "A conversation must start with a user message. Try again with a conversation that starts with a user message.",
        ));
    }
    let system = text_of(&parsed.system);
    let mut request = ChatRequest::new(messages);
    request.system = (!system.is_empty()).then_some(system);
    request.params = InferenceParams {
        max_tokens: parsed.inference_config.max_tokens,
        temperature: parsed.inference_config.temperature,
        top_p: parsed.inference_config.top_p,
        top_k: None,
    };
    Ok(request)
}

/// The Converse (non-streaming) response body.
pub fn converse_response(text: &str, stop_reason: &str, usage: Usage, latency_ms: u64) -> Value {
    json!({
        "metrics": { "latencyMs": latency_ms },
        "output": { "message": { "content": [{ "text": text }], "role": "assistant" } },
        "stopReason": stop_reason,
        "usage": usage_json(usage),
    })
}

/// TokenUsage with every required member.
pub fn usage_json(usage: Usage) -> Value {
    json!({
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.input_tokens + usage.output_tokens,
    })
}

/// An error reply before any stream starts, as Bedrock sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedrockError {
    pub status: StatusCode,
    /// The error shape name, e.g. `ThrottlingException`.
    pub name: &'static str,
    pub message: String,
}

impl BedrockError {
    fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> Self {
        Self { status, name, message: message.into() }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationException", message)
    }

    pub fn access_denied() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        )
    }

    pub fn no_streaming() -> Self {
        Self::validation("The model is unsupported for streaming. Use Converse instead of ConverseStream.")
    }

    pub fn throttling() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "The specified model could not be found. Check the model identifier.",
        )
    }

    pub fn model_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "ModelTimeoutException",
            "Model has timed out in processing the request. Try your request again.",
        )
    }

    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailableException", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerException", message)
    }

    pub fn into_response(self, request_id: &str) -> Response {
        let error_type = format!("{}:http://internal.amazon.com/coral/com.amazon.bedrock/", self.name);
        let mut response = (self.status, axum::Json(json!({ "message": self.message }))).into_response();
        let headers = response.headers_mut();
        headers.insert(ERROR_TYPE, HeaderValue::from_str(&error_type).expect("error names are ASCII"));
        headers.insert(REQUEST_ID, HeaderValue::from_str(request_id).expect("request ids are ASCII"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_system_messages_and_inference_config() {
        let body = json!({
            "system": [{"text": "Be brief."}],
            "messages": [
                {"role": "user", "content": [{"text": "Hi"}]},
                {"role": "assistant", "content": [{"text": "Hello"}]},
                {"role": "user", "content": [{"text": "More"}, {"cachePoint": {"type": "default"}}]}
            ],
            "inferenceConfig": {"maxTokens": 100, "temperature": 0.5, "topP": 0.9}
        });
        let request = parse_request(&body).unwrap();
        assert_eq!(request.system.as_deref(), Some("Be brief."));
        assert_eq!(request.messages.len(), 3);
        assert_eq!(request.last_user_text(), Some("More".to_owned()));
        assert_eq!(
            request.params,
            InferenceParams { max_tokens: Some(100), temperature: Some(0.5), top_p: Some(0.9), top_k: None }
        );
    }

    #[test]
    fn rejects_missing_messages_unknown_roles_and_wrong_types() {
        for body in [
            json!({}),
            json!({"messages": []}),
            json!({"messages": [{"role": "robot", "content": [{"text": "x"}]}]}),
            json!({"messages": "hi"}),
            json!({"messages": [{"role": "assistant", "content": [{"text": "x"}]}]}),
        ] {
            let err = parse_request(&body).unwrap_err();
            assert_eq!(err.name, "ValidationException", "{body}");
        }
    }
}
