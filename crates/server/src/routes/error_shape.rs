//! Error responses rewritten on the way out into a compatible API's shape: the server's own
//! layers (authentication, rate limit, body limits, the handlers' [`crate::error::AppError`])
//! answer in Streambed's shape, and the `/v1` routes' middlewares hand each error body to their
//! API's rewrite here, in one place per API.

use axum::{
    body::{Body, to_bytes},
    http::{HeaderValue, StatusCode, header},
    response::Response,
};

/// Error bodies are a sentence or two; one past this is not ours and is described by its status.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// `response` as it is unless it is an error. An error's body goes through `rewrite`, which
/// gives the status and JSON body to send instead; its other headers (`Retry-After`,
/// `WWW-Authenticate`, `X-Request-Id`) stay.
pub(super) async fn rewrite_error(
    response: Response,
    rewrite: impl FnOnce(StatusCode, &[u8]) -> (StatusCode, Vec<u8>),
) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    let (status, rewritten) = rewrite(status, &bytes);
    parts.status = status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(rewritten))
}
