//! The wire contract of `POST /api/chat` (mirrored by `frontend/src/features/chat/api/types.ts`):
//!
//! - `data: {"token":"…"}` for each answer delta (the seed's frame, default event type);
//! - `event: reasoning` + `data: {"token":"…"}` for visible reasoning, which seed clients ignore;
//! - `event: done` + `data: {"stopReason","usage","latencyMs","model","streamed"}`, last on success,
//!   with `serviceTier` when Bedrock names one and `droppedTurns` when a stored conversation's
//!   oldest turns were left out;
//! - `event: error` + `data: {"error":{"code","message","retryable","requestId","upstreamRequestId"}}`
//!   (the HTTP error JSON of `error_body`, with `retryable`), last on failure;
//! - `: keep-alive` comments while nothing else is sent.
//!
//! An answer stored in a conversation opens with `event: start` +
//! `data: {"conversationId","messageId"}`, each of its frames carries an `id:` (a cursor, see
//! `frame`), and Stop ends it with `event: stopped` + `data: {"messageId"}`.
//!
//! Each frame is first a [`Frame`] (its event type and JSON data), which a running answer keeps
//! for its followers and Redis carries to other replicas; axum's `Sse` frames it on the way out,
//! splitting multi-line data and writing comments correctly.

use std::{borrow::Cow, convert::Infallible, time::Duration};

use axum::{
    http::{HeaderName, HeaderValue, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use streambed_core::{Completion, ErrorKind, ProviderError, Usage};
use streambed_store::StoredMessage;
use uuid::Uuid;

use crate::error_body::{ErrorBody, ErrorDetail};

/// The data of a content frame (`message` or `reasoning`): one delta of the answer.
#[derive(Serialize, Deserialize)]
struct Token<'a> {
    #[serde(borrow)]
    token: Cow<'a, str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Start {
    conversation_id: Uuid,
    message_id: Uuid,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Stopped {
    message_id: Uuid,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Done<'a> {
    stop_reason: &'a str,
    usage: Usage,
    /// Absent when the answer is replayed from the store.
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<u64>,
    model: &'a str,
    streamed: bool,
    /// The service tier Bedrock says served the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    service_tier: Option<&'a str>,
    /// Oldest turns of a stored conversation left out to fit `MAX_TURNS`/`MAX_PROMPT_CHARS`.
    #[serde(skip_serializing_if = "is_zero")]
    dropped_turns: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// An event type of the wire contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An answer delta: the default type, so no `event:` line is written.
    Message,
    Reasoning,
    Start,
    Done,
    Error,
    Stopped,
}

impl Kind {
    const ALL: [Self; 6] =
        [Self::Message, Self::Reasoning, Self::Start, Self::Done, Self::Error, Self::Stopped];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Reasoning => "reasoning",
            Self::Start => "start",
            Self::Done => "done",
            Self::Error => "error",
            Self::Stopped => "stopped",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Whether a frame of this type ends the stream.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Done | Self::Error | Self::Stopped)
    }
}

/// One frame before axum frames it: its event type and its data, a line of JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: Kind,
    pub data: String,
}

impl Frame {
    /// The SSE event, with `id` as its `id:` when given.
    pub fn event(&self, id: Option<&str>) -> Event {
        let event = match self.kind {
            Kind::Message => Event::default(),
            kind => Event::default().event(kind.as_str()),
        };
        let event = event.data(&self.data);
        match id {
            Some(id) => event.id(id),
            None => event,
        }
    }
}

impl Frame {
    /// A content frame's delta; `None` for any other frame.
    pub fn delta(&self) -> Option<Cow<'_, str>> {
        if !matches!(self.kind, Kind::Message | Kind::Reasoning) {
            return None;
        }
        serde_json::from_str::<Token<'_>>(&self.data).ok().map(|data| data.token)
    }
}

impl From<Frame> for Event {
    fn from(frame: Frame) -> Self {
        frame.event(None)
    }
}

fn json(kind: Kind, payload: &impl Serialize) -> Frame {
    Frame { kind, data: serde_json::to_string(payload).expect("wire types always serialise") }
}

pub fn token(text: &str) -> Frame {
    json(Kind::Message, &Token { token: Cow::Borrowed(text) })
}

pub fn reasoning(text: &str) -> Frame {
    json(Kind::Reasoning, &Token { token: Cow::Borrowed(text) })
}

pub fn start(conversation_id: Uuid, message_id: Uuid) -> Frame {
    json(Kind::Start, &Start { conversation_id, message_id })
}

pub fn done(completion: &Completion, latency: Duration, model: &str, dropped_turns: usize) -> Frame {
    let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    json(
        Kind::Done,
        &Done {
            stop_reason: completion.stop_reason.as_str(),
            usage: completion.usage,
            latency_ms: Some(latency_ms),
            model,
            streamed: completion.streamed,
            service_tier: completion.service_tier.as_deref(),
            dropped_turns,
        },
    )
}

/// `done` for an answer replayed from the store.
pub fn stored_done(message: &StoredMessage) -> Frame {
    json(
        Kind::Done,
        &Done {
            stop_reason: message.stop_reason.as_deref().unwrap_or("end_turn"),
            usage: message.usage.unwrap_or_default(),
            latency_ms: None,
            model: message.model.as_deref().unwrap_or_default(),
            streamed: true,
            service_tier: None,
            dropped_turns: 0,
        },
    )
}

/// The last frame of a stored answer ended by Stop.
pub fn stopped(message_id: Uuid) -> Frame {
    json(Kind::Stopped, &Stopped { message_id })
}

/// `error` for a stored answer that failed or was interrupted, from what the store kept.
pub fn stored_error(code: Option<&str>) -> Frame {
    let error = match code.and_then(ErrorKind::from_code) {
        Some(kind) => ProviderError::new(kind, "The answer failed before its end; the text so far is kept."),
        None => ProviderError::new(
            ErrorKind::StreamInterrupted,
            "The server stopped while answering; the text so far is kept. Send the question again.",
        ),
    };
    self::error(&error, "")
}

/// Ends a follow of an answer this process does not run: the server is shutting down (or has
/// followed it for longer than any answer runs). The answer itself goes on; follow it again.
pub fn following_ended() -> Frame {
    error(
        &ProviderError::new(
            ErrorKind::ShuttingDown,
            "This server stopped following the answer; it goes on elsewhere. Reconnect to follow it.",
        ),
        "",
    )
}

/// `request_id` is ours (`x-request-id`); Bedrock's own id, when known, goes beside it.
pub fn error(e: &ProviderError, request_id: &str) -> Frame {
    json(
        Kind::Error,
        &ErrorBody {
            error: ErrorDetail {
                code: e.kind.code(),
                message: &e.message,
                retryable: Some(e.kind.retryable()),
                request_id: Some(request_id).filter(|id| !id.is_empty()),
                upstream_request_id: e.request_id.as_deref(),
            },
        },
    )
}

const KEEP_ALIVE: &str = "keep-alive";

/// Sent first, so headers and a first byte reach the client before the model's first token.
pub fn keep_alive() -> Event {
    Event::default().comment(KEEP_ALIVE)
}

/// The streaming response, with a `: keep-alive` comment every `every` while the answer is quiet.
pub fn response(
    events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static,
    every: Duration,
) -> Response {
    streaming(events, KeepAlive::new().interval(every).text(KEEP_ALIVE))
}

/// A streaming response of any of the APIs, sending `keep_alive` while it is quiet, with the
/// headers proxies need to pass it through unbuffered.
pub fn streaming(
    events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static,
    keep_alive: KeepAlive,
) -> Response {
    let sse = Sse::new(events).keep_alive(keep_alive);
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-transform")),
            (HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no")),
        ],
        sse,
    )
        .into_response()
}
