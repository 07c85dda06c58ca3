//! Fault scenarios, picked per request by a marker in the last user message, e.g.
//! `[[scenario:slow delay_ms=50 n=200]]`, or for every request through the library API.

use std::{collections::HashMap, fmt, str::FromStr, time::Duration};

/// The in-stream exceptions ConverseStream can send after the response has started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamException {
    InternalServer,
    ModelStreamError,
    Validation,
    Throttling,
    ServiceUnavailable,
}

impl StreamException {
    pub const ALL: [Self; 5] = [
        Self::InternalServer,
        Self::ModelStreamError,
        Self::Validation,
        Self::Throttling,
        Self::ServiceUnavailable,
    ];

    /// The `:exception-type` header value, as Bedrock spells it.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::InternalServer => "internalServerException",
            Self::ModelStreamError => "modelStreamErrorException",
            Self::Validation => "validationException",
            Self::Throttling => "throttlingException",
            Self::ServiceUnavailable => "serviceUnavailableException",
        }
    }

    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::InternalServer => "The server encountered an internal error while processing the request.",
            Self::ModelStreamError => "The model encountered an error while streaming the response.",
            Self::Validation => "The input does not satisfy the constraints specified by Amazon Bedrock.",
            Self::Throttling => "Too many tokens, please wait before trying again.",
            Self::ServiceUnavailable => "The service isn't currently available. Try again later.",
        }
    }
}

/// Where a `cut` scenario breaks the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutAt {
    /// The body ends cleanly after a whole frame: the SDK sees a normal end of stream.
    Boundary,
    /// The body ends in the middle of a frame: the SDK reports an unexpected end of stream.
    InsideFrame,
    /// The connection is aborted: the SDK reports an I/O error.
    Reset,
}

/// What the emulator does with one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scenario {
    /// Answer from the answer source.
    #[default]
    Ok,
    /// `n` synthetic deltas (see [`crate::long_text`]).
    Long { n: usize },
    /// `n` synthetic deltas, one every `delay`, after a response head that waits `head` (a
    /// cold model's first byte: the SDK's `send()` waits that long).
    Slow { delay: Duration, n: usize, head: Duration },
    /// Deltas that break naive SSE framing and UTF-8 handling (see [`crate::UNICODE_DELTAS`]).
    Unicode,
    /// The answer is the JSON of the request body received.
    Echo,
    /// Reasoning deltas in block 0, then the answer text in block 1.
    Reasoning,
    /// 403 AccessDeniedException on ConverseStream only; Converse answers.
    DenyStream,
    /// 400 ValidationException "does not support streaming" on ConverseStream only.
    NoStream,
    /// 403 AccessDeniedException on both operations.
    DenyAll,
    /// 429 ThrottlingException, for the first `first` attempts of a request (all when `None`).
    Throttle { first: Option<u32> },
    /// 400 ValidationException.
    Validation,
    /// 404 ResourceNotFoundException.
    NotFound,
    /// 408 ModelTimeoutException.
    ModelTimeout,
    /// 503 ServiceUnavailableException (the SDK retries it, and every attempt gets it).
    Unavailable,
    /// An in-stream exception after `after` deltas.
    Exception { kind: StreamException, after: usize },
    /// The stream breaks after `after` deltas.
    Cut { at: CutAt, after: usize },
    /// The stream goes silent after `after` deltas and keeps the connection open.
    Stall { after: usize },
}

const MARKER_OPEN: &str = "[[scenario:";

impl Scenario {
    /// Finds the marker in a message. `Ok(None)` when there is none.
    pub fn from_message(text: &str) -> Result<Option<Self>, ScenarioError> {
        let Some(start) = text.find(MARKER_OPEN) else { return Ok(None) };
        let rest = &text[start + MARKER_OPEN.len()..];
        let end = rest.find("]]").ok_or_else(|| ScenarioError("the marker has no closing `]]`".into()))?;
        rest[..end].parse().map(Some)
    }
}

/// A marker that names no known scenario or carries a bad parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError(String);

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid emulator scenario: {}", self.0)
    }
}

impl std::error::Error for ScenarioError {}

struct Params(HashMap<String, String>);

impl Params {
    fn get<T: FromStr>(&self, key: &str, default: T) -> Result<T, ScenarioError> {
        match self.0.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| ScenarioError(format!("bad value `{v}` for `{key}`"))),
        }
    }
}

impl FromStr for Scenario {
    type Err = ScenarioError;

    /// Parses `name key=value …`.
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut words = spec.split_whitespace();
        let name = words.next().ok_or_else(|| ScenarioError("empty scenario".into()))?;
        let params = words
            .map(|w| {
                w.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .ok_or_else(|| ScenarioError(format!("expected key=value, got `{w}`")))
            })
            .collect::<Result<HashMap<_, _>, _>>()
            .map(Params)?;
        let after = || params.get("after", 3);
        Ok(match name {
            "ok" => Self::Ok,
            "long" => Self::Long { n: params.get("n", 2_000)? },
            "slow" => Self::Slow {
                delay: Duration::from_millis(params.get("delay_ms", 50)?),
                n: params.get("n", 200)?,
                head: Duration::from_millis(params.get("head_ms", 0)?),
            },
            "unicode" => Self::Unicode,
            "echo" => Self::Echo,
            "reasoning" => Self::Reasoning,
            "deny-stream" => Self::DenyStream,
            "no-stream" => Self::NoStream,
            "deny-all" => Self::DenyAll,
            "throttle" => {
                Self::Throttle { first: params.0.get("first").map(|_| params.get("first", 0)).transpose()? }
            }
            "validation" => Self::Validation,
            "not-found" => Self::NotFound,
            "model-timeout" => Self::ModelTimeout,
            "unavailable" => Self::Unavailable,
            "exception" => {
                let kind: String = params.get("type", "internalServerException".to_owned())?;
                let kind = StreamException::ALL
                    .into_iter()
                    .find(|e| e.event_type() == kind)
                    .ok_or_else(|| ScenarioError(format!("unknown exception type `{kind}`")))?;
                Self::Exception { kind, after: after()? }
            }
            "cut" => {
                let at = match params.get("at", "boundary".to_owned())?.as_str() {
                    "boundary" => CutAt::Boundary,
                    "frame" => CutAt::InsideFrame,
                    "reset" => CutAt::Reset,
                    other => return Err(ScenarioError(format!("unknown cut point `{other}`"))),
                };
                Self::Cut { at, after: after()? }
            }
            "stall" => Self::Stall { after: after()? },
            other => return Err(ScenarioError(format!("unknown scenario `{other}`"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_without_marker_has_no_scenario() {
        assert_eq!(Scenario::from_message("hello"), Ok(None));
    }

    #[test]
    fn marker_with_parameters_parses() {
        let s = Scenario::from_message("tell me [[scenario:slow delay_ms=5 n=7]] please").unwrap();
        assert_eq!(s, Some(Scenario::Slow { delay: Duration::from_millis(5), n: 7, head: Duration::ZERO }));
        let late = Scenario::from_message("[[scenario:slow head_ms=900]]").unwrap();
        assert_eq!(
            late,
            Some(Scenario::Slow {
                delay: Duration::from_millis(50),
                n: 200,
                head: Duration::from_millis(900)
            })
        );
    }

    #[test]
    fn exception_type_and_position_parse() {
        let s: Scenario = "exception type=throttlingException after=2".parse().unwrap();
        assert_eq!(s, Scenario::Exception { kind: StreamException::Throttling, after: 2 });
    }

    #[test]
    fn throttle_defaults_to_every_attempt() {
        assert_eq!("throttle".parse(), Ok(Scenario::Throttle { first: None }));
        assert_eq!("throttle first=2".parse(), Ok(Scenario::Throttle { first: Some(2) }));
    }

    #[test]
    fn unknown_names_and_bad_values_are_errors() {
        assert!("dance".parse::<Scenario>().is_err());
        assert!("long n=many".parse::<Scenario>().is_err());
        assert!("cut at=middle".parse::<Scenario>().is_err());
        assert!(Scenario::from_message("[[scenario:ok").is_err());
    }
}
