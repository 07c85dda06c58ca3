//! The error JSON, one shape for an HTTP error response ([`crate::error`]) and for a stream's
//! `error` frame ([`crate::sse`]): `{"error":{"code","message","retryable","requestId",
//! "upstreamRequestId"}}`, the last three only when known.

use serde::Serialize;

#[derive(Debug, Serialize)]
pub(crate) struct ErrorBody<'a> {
    pub(crate) error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorDetail<'a> {
    pub(crate) code: &'a str,
    /// What went wrong and what to do about it.
    pub(crate) message: &'a str,
    /// Whether asking again may succeed: said in a stream's frame, which has no status code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) retryable: Option<bool>,
    /// Ours (`x-request-id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) request_id: Option<&'a str>,
    /// Bedrock's own request id, for an AWS support case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) upstream_request_id: Option<&'a str>,
}
