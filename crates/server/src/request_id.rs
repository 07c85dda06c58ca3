//! `X-Request-Id`: the caller's own id when it looks like one, else a fresh UUID. It is set on
//! the request before anything logs, echoed on the response, and repeated in every log line and
//! error body of the request, so a caller's id must be short and plain to be kept.
//!
//! Written here rather than with tower-http's `SetRequestIdLayer`/`PropagateRequestIdLayer`:
//! those keep whatever id a caller sends, and this module refuses (and logs) ids that are long
//! or not plain, and keeps the id in a task-local for the error bodies written deep inside.

use axum::{
    extract::Request,
    http::{HeaderMap, HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use uuid::Uuid;

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The same id under the name Anthropic's API gives it, which its SDKs read (`_request_id`):
/// set on the Messages routes' answers.
pub(crate) const ANTHROPIC_REQUEST_ID: HeaderName = HeaderName::from_static("request-id");

/// The longest id kept from a caller.
const MAX_CHARS: usize = 128;
/// How much of a refused id the log shows, escaped.
const LOGGED_PREFIX: usize = 16;

tokio::task_local! {
    /// The id of the request being handled, for error bodies built deep inside it.
    static CURRENT: String;
}

/// The request's id, as [`assign`] left it.
pub(crate) fn of(headers: &HeaderMap) -> &str {
    headers.get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// The id of the request being handled, inside [`in_scope`].
pub(crate) fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok().filter(|id| !id.is_empty())
}

/// Middleware, inside [`assign`]: makes the request's id [`current`] while it is handled, so
/// every error body built for it names it.
pub(crate) async fn in_scope(request: Request, next: Next) -> Response {
    let id = of(request.headers()).to_owned();
    CURRENT.scope(id, next.run(request)).await
}

/// Middleware, outermost: keeps the caller's id if [`acceptable`], else replaces it with a UUID
/// and logs that (with only an escaped prefix of what was sent); echoes the id on the response.
pub(crate) async fn assign(mut request: Request, next: Next) -> Response {
    let id = match request.headers().get(REQUEST_ID) {
        Some(given) if acceptable(given.as_bytes()) => given.clone(),
        given => {
            let fresh = HeaderValue::from_str(&Uuid::new_v4().to_string()).expect("a UUID is a header value");
            if let Some(given) = given {
                tracing::info!(
                    request_id = fresh.to_str().unwrap_or_default(),
                    refused_prefix = %prefix(given.as_bytes()),
                    refused_bytes = given.len(),
                    "the caller's x-request-id was refused (at most {MAX_CHARS} visible ASCII characters); \
                     a new one was generated"
                );
            }
            request.headers_mut().insert(REQUEST_ID, fresh.clone());
            fresh
        }
    };
    let mut response = next.run(request).await;
    response.headers_mut().entry(REQUEST_ID).or_insert(id);
    response
}

/// 1 to 128 visible ASCII characters: no spaces, no control characters, nothing else.
fn acceptable(id: &[u8]) -> bool {
    (1..=MAX_CHARS).contains(&id.len()) && id.iter().all(u8::is_ascii_graphic)
}

/// The start of a refused id, safe for a log line whatever it contained.
fn prefix(id: &[u8]) -> String {
    let shown: String =
        id.iter().take(LOGGED_PREFIX).flat_map(|&b| std::ascii::escape_default(b)).map(char::from).collect();
    if id.len() > LOGGED_PREFIX { format!("{shown}…") } else { shown }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kept_only_when_short_and_visible_ascii() {
        for good in ["trace-abc-123", "0", &"x".repeat(128), "a/b:c=d+e_f.g~h", "00-4bf92f3577b34da6-01"] {
            assert!(acceptable(good.as_bytes()), "{good}");
        }
        let long = "x".repeat(129);
        for bad in ["", &long, "has space", "tab\there", "new\nline", "nul\0", "del\x7f", "é"] {
            assert!(!acceptable(bad.as_bytes()), "{bad:?}");
        }
    }

    #[test]
    fn a_refused_id_is_logged_as_a_short_escaped_prefix() {
        assert_eq!(prefix(b"abc"), "abc");
        assert_eq!(prefix(b"a\x1b[31mred\r\n"), r"a\x1b[31mred\r\n");
        assert_eq!(prefix("x".repeat(5000).as_bytes()), format!("{}…", "x".repeat(16)));
    }
}
