//! The one error type at the HTTP boundary: every failure before the stream starts becomes a
//! status code and the error JSON of [`crate::error_body`], with a message that says what to do.
//! The body and query extractors that reject with it are in [`crate::extract`].

use std::time::Duration;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use streambed_core::{ErrorKind, ProviderError};
use streambed_store::{BadTitle, Limit, StoreError};

use crate::{
    auth::AuthError,
    error_body::{ErrorBody, ErrorDetail},
    frame::BadEventId,
    request_id,
};

#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    /// The request is malformed; the message says how.
    #[error("{0}")]
    BadRequest(String),
    #[error("The request body is larger than the server accepts (MAX_BODY_BYTES).")]
    PayloadTooLarge,
    #[error("The request body did not arrive in time (REQUEST_BODY_TIMEOUT_SECONDS). Send it at once.")]
    BodyTimeout,
    #[error("Send the body as JSON with the header Content-Type: application/json.")]
    UnsupportedMediaType,
    #[error("Send the body uncompressed: this server reads no Content-Encoding.")]
    UnsupportedEncoding,
    #[error("No such route: {0}.")]
    NotFound(String),
    #[error("This route does not accept that method.")]
    MethodNotAllowed,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(
        "You are sending chats faster than this server allows (RATE_LIMIT_PER_MINUTE). Try again in {} s.",
        .0.as_secs_f64().ceil()
    )]
    RateLimited(Duration),
    #[error(
        "The server is answering as many chats as it can (MAX_CONCURRENT_STREAMS). Try again in a moment."
    )]
    Busy,
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(
        "This server stores no conversations: it is reachable beyond this machine without authentication. \
         Set API_KEYS or AUTH_JWT_ISSUER (or CONVERSATIONS_WITHOUT_AUTH=true to share one history)."
    )]
    ConversationsRefused,
    #[error(
        "This server has no authentication, so it keeps conversations for pages of this machine \
         only, not through a proxy: open it at http://localhost or http://127.0.0.1, or set API_KEYS \
         or AUTH_JWT_ISSUER (or CONVERSATIONS_WITHOUT_AUTH=true to share one history with whoever \
         reaches it)."
    )]
    ConversationsElsewhere,
    #[error("{}", store_message(.0))]
    Store(#[from] StoreError),
    #[error("An answer is still being written in this conversation: wait for it, or stop it first.")]
    AnswerRunning,
    #[error(
        "You have as many answers running as this server allows (MAX_RUNNING_ANSWERS_PER_OWNER). \
         Wait for one to finish, or stop one."
    )]
    TooManyAnswers,
    #[error(
        "The answer runs on another replica, which did not confirm the Stop in time. Try again in a moment."
    )]
    StopNotDelivered,
}

fn store_message(e: &StoreError) -> String {
    match e {
        StoreError::NotFound => "No such conversation.".into(),
        StoreError::Full { limit, max } => format!(
            "This server keeps at most {max} {} ({}). Delete some or start a new chat.",
            limit.counted(),
            match limit {
                Limit::ConversationsPerOwner => "MAX_CONVERSATIONS_PER_OWNER",
                Limit::MessagesPerConversation => "MAX_MESSAGES_PER_CONVERSATION",
            }
        ),
        StoreError::BadCursor => "`before` is not a cursor this server handed out.".into(),
        StoreError::AnswerRunning => AppError::AnswerRunning.to_string(),
        e @ StoreError::Database(_) if e.disk_full() => {
            "The conversation database's disk is full: nothing more can be stored until the server's \
             operator frees space."
                .into()
        }
        StoreError::Database(_) => "The conversation database is unavailable. Try again in a moment.".into(),
    }
}

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType | Self::UnsupportedEncoding => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Auth(AuthError::Unavailable) | Self::Busy | Self::StopNotDelivered => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Auth(AuthError::LockedOut(_)) => StatusCode::TOO_MANY_REQUESTS,
            Self::Auth(_) => StatusCode::UNAUTHORIZED,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::ConversationsRefused | Self::ConversationsElsewhere => StatusCode::FORBIDDEN,
            Self::AnswerRunning | Self::Store(StoreError::AnswerRunning) => StatusCode::CONFLICT,
            Self::TooManyAnswers => StatusCode::TOO_MANY_REQUESTS,
            Self::Store(StoreError::NotFound) => StatusCode::NOT_FOUND,
            Self::Store(StoreError::Full { .. }) => StatusCode::CONFLICT,
            Self::Store(StoreError::BadCursor) => StatusCode::BAD_REQUEST,
            Self::Store(StoreError::Database(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Provider(e) => match e.kind {
                ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
                ErrorKind::Throttled => StatusCode::TOO_MANY_REQUESTS,
                ErrorKind::Overloaded | ErrorKind::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
                ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
                ErrorKind::AccessDenied
                | ErrorKind::ModelNotFound
                | ErrorKind::StreamInterrupted
                | ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
            },
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "invalid_request",
            Self::PayloadTooLarge => "payload_too_large",
            Self::BodyTimeout => "request_timeout",
            Self::UnsupportedMediaType | Self::UnsupportedEncoding => "unsupported_media_type",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Auth(AuthError::Unavailable) => "auth_unavailable",
            Self::Auth(AuthError::LockedOut(_)) => "auth_locked_out",
            Self::Auth(_) => "unauthorized",
            Self::RateLimited(_) => "rate_limited",
            Self::Busy => "overloaded",
            Self::ConversationsRefused | Self::ConversationsElsewhere => "conversations_disabled",
            Self::AnswerRunning | Self::Store(StoreError::AnswerRunning) => "answer_in_progress",
            Self::TooManyAnswers => "too_many_answers",
            Self::StopNotDelivered => "stop_unavailable",
            Self::Store(StoreError::NotFound) => "not_found",
            Self::Store(StoreError::Full { .. }) => "limit_reached",
            Self::Store(StoreError::BadCursor) => "invalid_request",
            Self::Store(StoreError::Database(_)) => "store_unavailable",
            Self::Provider(e) => e.kind.code(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited(wait) | Self::Auth(AuthError::LockedOut(wait)) => Some(*wait),
            Self::Busy
            | Self::TooManyAnswers
            | Self::StopNotDelivered
            | Self::Auth(AuthError::Unavailable)
            | Self::Store(StoreError::Database(_)) => Some(Duration::from_secs(2)),
            Self::Provider(e) => e.retry_after,
            _ => None,
        }
    }
}

impl From<BadTitle> for AppError {
    fn from(bad: BadTitle) -> Self {
        Self::BadRequest(bad.to_string())
    }
}

impl From<BadEventId> for AppError {
    fn from(bad: BadEventId) -> Self {
        Self::BadRequest(bad.to_string())
    }
}

/// What the authentication middleware answers: the same response as any [`AppError`].
impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        AppError::Auth(self).into_response()
    }
}

/// Logs a request refused for the client's fault (4xx), with what it was told: what an operator
/// looks for when a client fails. Info, not warn: the server is well.
pub(crate) fn refused(status: StatusCode, code: &str, message: &dyn std::fmt::Display) {
    // Debug-quoted: the message may repeat what the client sent, line breaks and escape codes
    // included, which must not write lines of their own into the log.
    tracing::info!(status = status.as_u16(), code, error = ?message.to_string(), "request refused");
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Provider(e) = &self {
            // Warned of where the model failed (`relay`), once: this says what the client got.
            let upstream_request_id = e.request_id.as_deref();
            tracing::info!(code = self.code(), upstream_request_id, error = ?e.message, "request failed");
        } else if status.is_server_error() {
            tracing::warn!(code = self.code(), error = ?self.to_string(), "request failed");
        } else if status != StatusCode::NOT_FOUND {
            // Not a path or conversation that is not there: clients probe (`HEAD /`, a favicon)
            // and UIs look up what was deleted, and that tells an operator nothing.
            refused(status, self.code(), &self);
        }
        if let Self::Store(error @ StoreError::Database(cause)) = &self {
            tracing::error!(error = %cause, advice = error.advice().as_deref(), "conversation database failed");
        }
        let upstream_request_id = match &self {
            Self::Provider(e) => e.request_id.as_deref(),
            _ => None,
        };
        let request_id = request_id::current();
        let message = self.to_string();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: &message,
                retryable: None,
                request_id: request_id.as_deref(),
                upstream_request_id,
            },
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(wait) = self.retry_after() {
            let secs = wait.as_secs_f64().ceil().max(1.0).to_string();
            headers.insert(header::RETRY_AFTER, HeaderValue::from_str(&secs).expect("digits"));
        }
        let challenge = match &self {
            Self::Auth(AuthError::Missing) => Some(r#"Bearer realm="streambed""#),
            Self::Auth(AuthError::Invalid(_)) => Some(r#"Bearer realm="streambed", error="invalid_token""#),
            _ => None,
        };
        if let Some(challenge) = challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}
