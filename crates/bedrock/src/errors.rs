//! Every SDK error becomes a [`ProviderError`] here: one table from Bedrock's error codes to our
//! kinds and operator-facing messages, used before the stream (from `send()`) and during it
//! (from `recv()`).

use std::time::Duration;

use aws_sdk_bedrockruntime::{
    config::http::HttpResponse,
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
    operation::{RequestId, converse_stream::ConverseStreamError},
    types::error::ConverseStreamOutputError,
};
use streambed_core::{ErrorKind, ProviderError};

use crate::{Setting, rules::model_part};

/// What the messages need to name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub model_id: &'a str,
    pub region: &'a str,
    /// [`crate::BedrockConfig::settings`].
    pub settings: &'a [Setting],
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

/// For a bare foundation-model id, that newer models are only called through an inference
/// profile: an id that already names a profile (or is an ARN) gets no such hint.
fn profile_hint(model_id: &str) -> String {
    if model_part(model_id) == Some(model_id.trim()) {
        format!("; newer models must be called through an inference profile id such as 'us.{model_id}'")
    } else {
        String::new()
    }
}

/// Maps a Bedrock error code (the shape name) and its message.
fn from_code(code: &str, upstream: &str, cx: Context<'_>) -> ProviderError {
    let Context { model_id, region, settings } = cx;
    // Bedrock's messages mostly end with a full stop; ours go on after them (a rejection
    // quotes it whole, and ends there).
    let whole = upstream;
    let upstream = upstream.trim_end().trim_end_matches('.');
    let (kind, message) = match code {
        "AccessDeniedException" => (
            ErrorKind::AccessDenied,
            format!(
                "Bedrock denied access to model '{model_id}' in {region}: {upstream}. Check that the IAM principal \
                 allows bedrock:InvokeModelWithResponseStream and bedrock:InvokeModel on this model (the \
                 ConverseStream and Converse actions; bedrock:CountTokens to count tokens), and that model access \
                 is enabled in the Bedrock console."
            ),
        ),
        "ResourceNotFoundException" => (
            ErrorKind::ModelNotFound,
            format!(
                "Bedrock has no model '{model_id}' in {region}: {upstream}. Check BEDROCK_MODEL_ID, \
                 BEDROCK_MODELS and BEDROCK_REGION{}.",
                profile_hint(model_id)
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
        "ValidationException" => (ErrorKind::InvalidRequest, rejected(whole, settings)),
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

/// Words in a ValidationException's message, and the setting that gives what they name.
const PARAMETERS: [(&[&str], Setting); 5] = [
    (&["temperature"], Setting::Temperature),
    (&["top_p", "topp"], Setting::TopP),
    (&["top_k", "topk"], Setting::TopK),
    (&["thinking", "budget_tokens", "effort"], Setting::Reasoning),
    (&["max_tokens", "maxtokens"], Setting::MaxTokens),
];

/// A ValidationException's message; when it names a parameter the operator's settings gave,
/// which variable to unset. A parameter no setting gave came from the client, which the message
/// then reaches.
fn rejected(upstream: &str, settings: &[Setting]) -> String {
    let lower = upstream.to_ascii_lowercase();
    // Whole words only: `topP` must not match inside `stopping`.
    let words: Vec<&str> = lower.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).collect();
    let variables: Vec<&str> = PARAMETERS
        .iter()
        .filter(|(names, setting)| {
            settings.contains(setting) && names.iter().any(|name| words.contains(name))
        })
        .map(|(_, setting)| setting.variable())
        .collect();
    if variables.is_empty() {
        return format!("Bedrock rejected the request: {upstream}");
    }
    format!(
        "Bedrock rejected the request: {upstream}. The model does not take a setting this server \
         sent: unset {} (or change it) and restart. A client that sent its own value for it in the \
         request can also be the cause.",
        variables.join(" or ")
    )
}

/// A response that carries no AWS error code: not Bedrock Runtime's own (a stand-in without the
/// operation, a proxy's error page, a URL that names something else). Its status and type say
/// more than the SDK's "Unknown"; the start of its body goes to the log.
fn not_bedrock(response: &HttpResponse) -> ProviderError {
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").unwrap_or("no content type");
    let body = response.body().bytes().map(|body| String::from_utf8_lossy(body).into_owned());
    // Info: the request's own warning (the server's) follows with what the client was told.
    tracing::info!(
        status,
        content_type,
        body = ?body.as_deref().map(|body| bounded(body, 200)),
        "the Bedrock endpoint answered without an AWS error"
    );
    ProviderError::new(
        ErrorKind::Upstream,
        format!(
            "The Bedrock endpoint answered HTTP {status} ({content_type}) without an AWS error: what \
             answered is not Bedrock Runtime, or does not serve this operation. Check \
             AWS_ENDPOINT_URL_BEDROCK_RUNTIME (or BEDROCK_REGION) and any proxy on the way."
        ),
    )
}

/// An error from `send()` of either operation, after the SDK's own retries.
pub(crate) fn before_stream<E>(error: &SdkError<E, HttpResponse>, cx: Context<'_>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    SdkError<E, HttpResponse>: RequestId,
{
    let mapped = match error {
        SdkError::ServiceError(service) => {
            let e = service.err();
            match e.code() {
                Some(code) => from_code(code, e.message().unwrap_or("no message"), cx),
                None => not_bedrock(service.raw()),
            }
        }
        SdkError::TimeoutError(_) => {
            ProviderError::new(ErrorKind::Timeout, "Bedrock did not answer in time. Try again.")
        }
        other => {
            let detail = DisplayErrorContext(other).to_string();
            // The detail behind the request's warning (the server's), which names only the cause.
            tracing::info!(error = %detail, "Bedrock could not be reached");
            // Missing credentials are the operator's to fix, not a failure to retry: they are
            // access denied, as Bedrock's own answer to bad ones is.
            let (kind, hint) = if detail.contains("credentials") || detail.contains("Credentials") {
                (
                    ErrorKind::AccessDenied,
                    "No AWS credentials were found: set AWS_PROFILE (then `aws sso login` if it uses SSO) \
                     or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with CHAT_PROVIDER=local.",
                )
            } else if detail.contains("invalid peer certificate") {
                (
                    ErrorKind::Upstream,
                    "The endpoint's certificate is not trusted: behind a TLS-inspecting proxy, or for a \
                     private CA, set AWS_CA_BUNDLE to a PEM file of the CA.",
                )
            } else if detail.contains("InvalidContentType") {
                // rustls read something other than TLS: a plain-HTTP server at an https:// URL.
                (
                    ErrorKind::Upstream,
                    "The endpoint does not speak TLS: for a stand-in served over plain HTTP, write \
                     http:// in AWS_ENDPOINT_URL_BEDROCK_RUNTIME.",
                )
            } else {
                (
                    ErrorKind::Upstream,
                    "Check the network path to Bedrock (region, VPC endpoint, AWS_ENDPOINT_URL_BEDROCK_RUNTIME).",
                )
            };
            ProviderError::new(kind, format!("Could not reach Bedrock ({}). {hint}", root_cause(other)))
        }
    };
    mapped.with_request_id(error.request_id().map(str::to_owned))
}

/// An error from `recv()`, after the stream had started; `first` when no event came before it.
pub(crate) fn in_stream<R: std::fmt::Debug>(
    error: &SdkError<ConverseStreamOutputError, R>,
    first: bool,
) -> ProviderError {
    let cx = Context { model_id: "", region: "", settings: &[] };
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
        other => {
            // Bounded: an unreadable stream's error carries the bytes it could not read. Info: the
            // answer's own warning (the server's) follows with what the client was told.
            tracing::info!(error = %bounded(&DisplayErrorContext(other).to_string(), 2_000), "the Bedrock stream broke");
            let cause = root_cause(other);
            // What could not be read, as opposed to a stream cut short mid-frame: an event the
            // SDK cannot parse, or bytes that are no AWS event stream (the decoder waits for the
            // frame their first bytes announce, and meets the end: a stream cut short too, but
            // before a single event, which Bedrock always sends at once). Sending the same to
            // the same endpoint will not read any better.
            let cut_short = cause.contains("unexpected end of stream") && !first;
            if matches!(other, SdkError::ResponseError(_)) && !cut_short {
                return ProviderError::new(
                    ErrorKind::Upstream,
                    format!(
                        "Bedrock's answer could not be read ({}): what answered may not be Bedrock \
                         Runtime. Check AWS_ENDPOINT_URL_BEDROCK_RUNTIME.",
                        bounded(&cause, 300)
                    ),
                );
            }
            ProviderError::new(
                ErrorKind::StreamInterrupted,
                format!("The Bedrock stream broke before the answer was complete ({cause}). Try again."),
            )
        }
    }
}

/// `text`, cut to at most `max` bytes (on a character boundary) with `…` when it was longer.
fn bounded(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let cut = (0..=max).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    format!("{}…", &text[..cut]).into()
}

/// What a client is shown of a transport error: its innermost cause, which names what happened
/// ("Connection refused (os error 111)", "unexpected EOF during chunk size line") without the
/// SDK's and hyper's layers around it ("dispatch failure: io error: …"). The whole chain goes to
/// the log.
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut root = error;
    while let Some(cause) = root.source() {
        root = cause;
    }
    root.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: &[Setting] =
        &[Setting::Temperature, Setting::TopP, Setting::TopK, Setting::Reasoning, Setting::MaxTokens];
    const CX: Context<'static> =
        Context { model_id: "anthropic.claude-3-haiku", region: "us-east-1", settings: SETTINGS };

    #[test]
    fn a_missing_model_suggests_a_profile_only_for_a_bare_model_id() {
        let bare = from_code("ResourceNotFoundException", "no such model", CX);
        assert_eq!(bare.kind, ErrorKind::ModelNotFound);
        assert!(bare.message.contains("such as 'us.anthropic.claude-3-haiku'"), "{}", bare.message);
        let profile = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
        let e = from_code("ResourceNotFoundException", "no such model", Context { model_id: profile, ..CX });
        assert!(!e.message.contains("inference profile"), "{}", e.message);
        assert!(e.message.ends_with("BEDROCK_REGION."), "{}", e.message);
    }

    #[test]
    fn access_denied_names_the_iam_actions_and_model_access() {
        let e = from_code("AccessDeniedException", "You don't have access to the model. ", CX);
        assert!(
            e.message.contains("in us-east-1: You don't have access to the model. Check"),
            "{}",
            e.message
        );
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
    fn a_rejected_parameter_names_the_variable_to_unset() {
        let cases = [
            (
                "The model returned the following errors: `temperature` and `top_p` cannot both be specified for this model. Please use only one.",
                &["BEDROCK_TEMPERATURE", "BEDROCK_TOP_P"][..],
            ),
            ("temperature is deprecated for this model.", &["BEDROCK_TEMPERATURE"]),
            ("The value at inferenceConfig.topP is invalid", &["BEDROCK_TOP_P"]),
            ("top_k: extra inputs are not permitted", &["BEDROCK_TOP_K"]),
            ("thinking.budget_tokens: Input should be greater than or equal to 1024", &["BEDROCK_REASONING"]),
            (
                "thinking.type.enabled is not supported for this model. Use thinking.type.adaptive and output_config.effort",
                &["BEDROCK_REASONING"],
            ),
            (
                "max_tokens: 9999999 > 128000, which is the maximum allowed number of output tokens",
                &["BEDROCK_MAX_TOKENS"],
            ),
        ];
        for (upstream, variables) in cases {
            let e = from_code("ValidationException", upstream, CX);
            assert_eq!(e.kind, ErrorKind::InvalidRequest);
            for variable in variables {
                assert!(e.message.contains(variable), "{upstream} → {}", e.message);
            }
            assert!(e.message.contains("client"), "{}", e.message);
        }
    }

    #[test]
    fn other_validation_errors_name_no_variable() {
        let e = from_code("ValidationException", "Stopping: input is too long for requested model.", CX);
        assert_eq!(
            e.message,
            "Bedrock rejected the request: Stopping: input is too long for requested model."
        );
    }

    /// Claude Code asks for thinking itself: with `BEDROCK_REASONING` unset, a refusal of its
    /// thinking must not send the operator to a variable they never set.
    #[test]
    fn a_parameter_no_variable_set_names_no_variable() {
        let upstream = "thinking.budget_tokens: Input should be greater than or equal to 1024";
        let cx = Context { settings: &[Setting::Temperature], ..CX };
        let e = from_code("ValidationException", upstream, cx);
        assert_eq!(e.message, format!("Bedrock rejected the request: {upstream}"));
    }

    #[test]
    fn unknown_codes_are_upstream_errors() {
        assert_eq!(from_code("TeapotException", "", CX).kind, ErrorKind::Upstream);
    }

    /// What the SDK says when its credential chain finds nothing.
    fn unsent(cause: &'static str) -> ProviderError {
        use aws_sdk_bedrockruntime::{config::http::HttpResponse, error::ConnectorError};
        let error: SdkError<ConverseStreamError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(cause.into(), None));
        before_stream(&error, CX)
    }

    #[test]
    fn missing_credentials_are_access_denied_not_a_failure_to_retry() {
        let e = unsent("no providers in chain provided credentials");
        assert_eq!(e.kind, ErrorKind::AccessDenied);
        assert!(!e.kind.retryable());
        assert!(e.message.contains("AWS_PROFILE"), "{}", e.message);
        let unreachable = unsent("connection refused");
        assert_eq!(unreachable.kind, ErrorKind::Upstream);
        assert!(unreachable.message.contains("AWS_ENDPOINT_URL_BEDROCK_RUNTIME"), "{}", unreachable.message);
        assert!(
            unreachable.message.starts_with("Could not reach Bedrock (connection refused). "),
            "the cause, without the SDK's layers: {}",
            unreachable.message
        );
    }
}
