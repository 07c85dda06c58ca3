//! axum's extractors for a request's body and query, with every rejection an [`AppError`]: the
//! API's error shape and the status that says what went wrong (400 for invalid JSON, 408 for a
//! body that did not arrive in time, 413 past `MAX_BODY_BYTES`, declared or read, 415 for a body
//! that is not JSON or is compressed).

use axum::{
    Json,
    body::{Body, Bytes, HttpBody},
    extract::{FromRequest, FromRequestParts, Query, Request, rejection::JsonRejection},
    http::{StatusCode, header, request::Parts},
};
use serde::{Deserialize, Deserializer, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::error::AppError;

/// `MAX_BODY_BYTES`, in each request's extensions: a body whose `Content-Length` is larger is
/// refused at once, where axum's `DefaultBodyLimit` (which keeps its limit to itself) stops
/// only once that much was read, so a client that declares gigabytes and sends a trickle met
/// the body deadline's 408 instead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimit(pub(crate) usize);

/// Whether the request declares a body larger than its [`BodyLimit`].
fn declared_too_large(req: &Request) -> bool {
    let limit = req.extensions().get::<BodyLimit>();
    limit.is_some_and(|&BodyLimit(max)| req.body().size_hint().lower() > max as u64)
}

/// `axum::Json`, with its rejections in our error shape and statuses (400 for any invalid JSON).
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // A compressed body would be read as bytes that are not JSON: 415, as RFC 9110 has it
        // for a content coding the server does not take.
        let encoded = req.headers().get(header::CONTENT_ENCODING).is_some_and(|coding| {
            coding.to_str().map_or(true, |coding| !coding.trim().eq_ignore_ascii_case("identity"))
        });
        if encoded {
            return Err(AppError::UnsupportedEncoding);
        }
        if declared_too_large(&req) {
            return Err(AppError::PayloadTooLarge);
        }
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(AppError::UnsupportedMediaType),
            Err(rejection) if body_timed_out(&rejection) => Err(AppError::BodyTimeout),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::PayloadTooLarge)
            }
            // serde's own words, which name the member at fault (`messages[0].role: unknown
            // variant …`), without axum's preamble before them.
            Err(JsonRejection::JsonDataError(e)) => {
                Err(AppError::BadRequest(format!("The body is not valid: {}", cause(&e))))
            }
            Err(JsonRejection::JsonSyntaxError(e)) => {
                Err(AppError::BadRequest(format!("The body is not JSON: {}", cause(&e))))
            }
            Err(rejection) => {
                Err(AppError::BadRequest(format!("The body is not valid: {}", rejection.body_text())))
            }
        }
    }
}

/// What `rejection` says went wrong, without what axum puts before it.
fn cause(rejection: &(dyn std::error::Error + 'static)) -> String {
    rejection.source().map_or_else(|| rejection.to_string(), ToString::to_string)
}

/// [`ApiJson`] for a body that may be left out: none at all is `None`; one that is there must be
/// JSON, as `ApiJson` wants it.
#[derive(Debug)]
pub(crate) struct OptionalApiJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if declared_too_large(&req) {
            return Err(AppError::PayloadTooLarge);
        }
        let (parts, body) = req.into_parts();
        // With the request's parts, whose extensions carry the body limit (`MAX_BODY_BYTES`).
        let bytes = match Bytes::from_request(Request::from_parts(parts.clone(), body), state).await {
            Ok(bytes) => bytes,
            Err(rejection) if body_timed_out(&rejection) => return Err(AppError::BodyTimeout),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(AppError::PayloadTooLarge);
            }
            Err(rejection) => {
                return Err(AppError::BadRequest(format!(
                    "The body could not be read: {}",
                    rejection.body_text()
                )));
            }
        };
        if bytes.is_empty() {
            return Ok(Self(None));
        }
        let request = Request::from_parts(parts, Body::from(bytes));
        ApiJson::from_request(request, state).await.map(|ApiJson(value)| Self(Some(value)))
    }
}

/// `axum::extract::Query`, with its rejections in our error shape (400).
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => {
                Err(AppError::BadRequest(format!("The query is not valid: {}", rejection.body_text())))
            }
        }
    }
}

/// Whether reading the body failed because `REQUEST_BODY_TIMEOUT_SECONDS` passed: the deadline's
/// error is somewhere down the rejection's chain of causes.
fn body_timed_out(rejection: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(rejection), |e| e.source())
        .any(|e| e.is::<tower_http::timeout::TimeoutError>())
}

/// For `#[serde(default, deserialize_with = "object")]` on an optional member that must be a JSON
/// object: serde would read a struct, or an internally tagged enum, from an array too (by
/// position), which no client means and the API contract refuses.
pub(crate) fn object<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    let Some(members) = Option::<Map<String, Value>>::deserialize(deserializer)? else { return Ok(None) };
    serde_json::from_value(Value::Object(members)).map(Some).map_err(serde::de::Error::custom)
}
