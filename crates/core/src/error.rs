use std::time::Duration;

/// What went wrong, in terms a client can act on. Each kind has a stable wire `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The provider rejected the request's content (too long, malformed).
    InvalidRequest,
    /// Credentials or model access are missing.
    AccessDenied,
    /// The model id or inference profile does not exist in this region.
    ModelNotFound,
    /// The provider asked us to slow down.
    Throttled,
    /// We, or the provider, are at capacity right now.
    Overloaded,
    /// The model took too long.
    Timeout,
    /// The answer stream ended or broke before it was complete.
    StreamInterrupted,
    /// The provider failed on its side.
    Upstream,
    /// The server is shutting down.
    ShuttingDown,
}

impl ErrorKind {
    /// The stable code sent to clients.
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::AccessDenied => "access_denied",
            Self::ModelNotFound => "model_not_found",
            Self::Throttled => "throttled",
            Self::Overloaded => "overloaded",
            Self::Timeout => "model_timeout",
            Self::StreamInterrupted => "stream_interrupted",
            Self::Upstream => "upstream_error",
            Self::ShuttingDown => "shutting_down",
        }
    }

    /// The kind with this wire `code`, e.g. one read back from a stored answer.
    pub fn from_code(code: &str) -> Option<Self> {
        [
            Self::InvalidRequest,
            Self::AccessDenied,
            Self::ModelNotFound,
            Self::Throttled,
            Self::Overloaded,
            Self::Timeout,
            Self::StreamInterrupted,
            Self::Upstream,
            Self::ShuttingDown,
        ]
        .into_iter()
        .find(|kind| kind.code() == code)
    }

    /// Whether the same request may succeed if sent again later.
    pub fn retryable(self) -> bool {
        !matches!(self, Self::InvalidRequest | Self::AccessDenied | Self::ModelNotFound)
    }
}

/// An error from a chat provider, before or during the answer stream.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub kind: ErrorKind,
    /// A sentence for a person: what happened and what to do about it.
    pub message: String,
    /// The upstream request id, for support tickets and log correlation.
    pub request_id: Option<String>,
    /// How long the client should wait before retrying, when the provider said.
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), request_id: None, retry_after: None }
    }

    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }
}
