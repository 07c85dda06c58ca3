//! Every SDK error becomes a [`ProviderError`] here: one table from Bedrock's error codes to our
//! kinds and operator-facing messages, used before the stream (from `send()`) and during it
//! (from `recv()`).

use std::time::Duration;

use aws_sdk_bedrockruntime::{
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
    operation::{RequestId, converse_stream::ConverseStreamError},
    types::error::ConverseStreamOutputError,
};
use streambed_core::{ErrorKind, ProviderError};

/// What the messages need to name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub model_id: &'a str,
    pub region: &'a str,
}

/// How long to tell a throttled client to wait; Bedrock sends no hint, and the SDK has already
/// retried with backoff by the time we give up.
const THROTTLED_RETRY_AFTER: Duration = Duration::from_secs(5);

/// ConverseStream refusals that Converse may still answer: missing streaming permission, or a
/// model that does not stream (Bedrock says so in a ValidationException's message).
pub(crate) fn streaming_refused(error: &ConverseStreamError) -> bool {
    match error {
        ConverseStreamError::AccessDeniedException(_) => true,
        ConverseStreamError::ValidationException(e) => {
            e.message().is_some_and(|m| m.to_ascii_lowercase().contains("stream"))
        }
        _ => false,
    }
}

/// Maps a Bedrock error code (the shape name) and its message.
fn from_code(code: &str, upstream: &str, cx: Context<'_>) -> ProviderError {
    let Context { model_id, region } = cx;
    let (kind, message) = match code {
        "AccessDeniedException" => (
            ErrorKind::AccessDenied,
            format!(
                "Bedrock denied access to model '{model_id}' in {region}: {upstream}. Check that the IAM principal \
                 allows bedrock:InvokeModelWithResponseStream and bedrock:InvokeModel on this model (the \
                 ConverseStream and Converse actions), and that model access is enabled in the Bedrock console."
            ),
        ),
        "ResourceNotFoundException" => (
            ErrorKind::ModelNotFound,
            format!(
                "Bedrock has no model '{model_id}' in {region}: {upstream}. Check BEDROCK_MODEL_ID and BEDROCK_REGION; \
                 newer models must be called through an inference profile id such as 'us.{model_id}'."
            ),
        ),
        "ThrottlingException" | "ModelNotReadyException" | "ServiceQuotaExceededException" => (
            ErrorKind::Throttled,
            format!("Bedrock is throttling requests ({upstream}). Wait a few seconds and try again."),
        ),
        "ServiceUnavailableException" => (
            ErrorKind::Overloaded,
            format!("Bedrock is unavailable right now ({upstream}). Try again shortly."),
        ),
        "ValidationException" => {
            (ErrorKind::InvalidRequest, format!("Bedrock rejected the request: {upstream}"))
        }
        "ModelTimeoutException" => (
            ErrorKind::Timeout,
            format!(
                "The model took too long to answer ({upstream}). Try again, or ask for a shorter answer."
            ),
        ),
        _ => (ErrorKind::Upstream, format!("Bedrock failed to answer ({code}: {upstream}). Try again.")),
    };
    let error = ProviderError::new(kind, message);
    if kind == ErrorKind::Throttled { error.with_retry_after(THROTTLED_RETRY_AFTER) } else { error }
}

/// An error from `send()` of either operation, after the SDK's own retries.
pub(crate) fn before_stream<E, R>(error: &SdkError<E, R>, cx: Context<'_>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
    SdkError<E, R>: RequestId,
{
    let mapped = match error {
        SdkError::ServiceError(service) => {
            let e = service.err();
            from_code(e.code().unwrap_or("Unknown"), e.message().unwrap_or("no message"), cx)
        }
        SdkError::TimeoutError(_) => {
            ProviderError::new(ErrorKind::Timeout, "Bedrock did not answer in time. Try again.")
        }
        other => {
            let detail = DisplayErrorContext(other).to_string();
            let hint = if detail.contains("credentials") || detail.contains("Credentials") {
                "No AWS credentials were found: set AWS_PROFILE (then `aws sso login` if it uses SSO) or \
                 AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with CHAT_PROVIDER=local."
            } else {
                "Check the network path to Bedrock (region, VPC endpoint, AWS_ENDPOINT_URL_BEDROCK_RUNTIME)."
            };
            ProviderError::new(ErrorKind::Upstream, format!("Could not reach Bedrock: {detail}. {hint}"))
        }
    };
    mapped.with_request_id(error.request_id().map(str::to_owned))
}

/// An error from `recv()`, after the stream had started.
pub(crate) fn in_stream<R: std::fmt::Debug>(error: &SdkError<ConverseStreamOutputError, R>) -> ProviderError {
    let cx = Context { model_id: "", region: "" };
    match error {
        // The exception's type arrives in a frame header, not as an error code (see the wire
        // protocol notes, §4.4), so the variant tells us which one it was.
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = match e {
                ConverseStreamOutputError::ThrottlingException(_) => "ThrottlingException",
                ConverseStreamOutputError::ServiceUnavailableException(_) => "ServiceUnavailableException",
                ConverseStreamOutputError::ValidationException(_) => "ValidationException",
                ConverseStreamOutputError::ModelStreamErrorException(_) => "ModelStreamErrorException",
                ConverseStreamOutputError::InternalServerException(_) => "InternalServerException",
                _ => e.code().unwrap_or("Unknown"),
            };
            from_code(code, e.message().unwrap_or("no message"), cx)
        }
        other => ProviderError::new(
            ErrorKind::StreamInterrupted,
            format!(
                "The Bedrock stream broke before the answer was complete: {}",
                DisplayErrorContext(other)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CX: Context<'static> = Context { model_id: "anthropic.claude-3-haiku", region: "us-east-1" };

    #[test]
    fn access_denied_names_the_iam_actions_and_model_access() {
        let e = from_code("AccessDeniedException", "nope", CX);
        assert_eq!(e.kind, ErrorKind::AccessDenied);
        assert!(e.message.contains("bedrock:InvokeModelWithResponseStream"));
        assert!(e.message.contains("model access"));
    }

    #[test]
    fn throttling_suggests_when_to_retry() {
        let e = from_code("ThrottlingException", "slow down", CX);
        assert_eq!((e.kind, e.retry_after), (ErrorKind::Throttled, Some(THROTTLED_RETRY_AFTER)));
    }

    #[test]
    fn unknown_codes_are_upstream_errors() {
        assert_eq!(from_code("TeapotException", "", CX).kind, ErrorKind::Upstream);
    }
}
