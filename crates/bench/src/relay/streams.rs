//! One stream's timings: read straight from the emulator (the floor) or through the server on one
//! of its routes, and a level's worth of them summed up.

use std::time::{Duration, Instant};

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use bytes::BytesMut;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;

/// What one stream saw: when each token arrived, relative to sending the request.
#[derive(Debug, Default)]
pub(super) struct Timing {
    tokens: Vec<Duration>,
    pub(super) complete: bool,
    /// Why an incomplete stream failed: the HTTP status, the error event's code, or the
    /// transport error.
    error: Option<String>,
}

impl Timing {
    fn ttft(&self) -> Option<f64> {
        self.tokens.first().map(Duration::as_secs_f64)
    }

    fn gaps(&self) -> impl Iterator<Item = f64> + '_ {
        self.tokens.windows(2).map(|w| (w[1] - w[0]).as_secs_f64())
    }
}

/// `prompt` must not need JSON escaping (it is a word or a scenario marker).
pub(super) async fn floor_stream(client: &reqwest::Client, url: &str, prompt: &str) -> Timing {
    let body = format!(r#"{{"messages":[{{"role":"user","content":[{{"text":"{prompt}"}}]}}]}}"#);
    let started = Instant::now();
    let mut timing = Timing::default();
    let Ok(mut response) = client.post(format!("{url}/model/bench/converse-stream")).body(body).send().await
    else {
        return timing;
    };
    let mut decoder = MessageFrameDecoder::new();
    let mut buffer = BytesMut::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        buffer.extend_from_slice(&chunk);
        while let Ok(DecodedFrame::Complete(message)) = decoder.decode_frame(&mut buffer) {
            let event = message.headers().iter().find(|h| h.name().as_str() == ":event-type");
            match event.and_then(|h| h.value().as_string().ok()).map(|s| s.as_str()) {
                Some("contentBlockDelta") => timing.tokens.push(started.elapsed()),
                Some("metadata") => timing.complete = true,
                _ => {}
            }
        }
    }
    timing
}

/// How one stream asks: a stored turn names its conversation (created beforehand, outside what
/// is measured).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Path {
    Stateless,
    Stored(String),
    OpenAi,
}

pub(super) async fn relay_stream(client: &reqwest::Client, url: &str, prompt: &str, path: &Path) -> Timing {
    let (route, body) = match path {
        Path::Stateless => ("/api/chat", format!(r#"{{"prompt":"{prompt}"}}"#)),
        // With its model, as the UI sends every turn (a turn without one costs a read of the
        // conversation's model first).
        Path::Stored(id) => {
            ("/api/chat", format!(r#"{{"conversationId":"{id}","model":"bench","prompt":"{prompt}"}}"#))
        }
        Path::OpenAi => (
            "/v1/chat/completions",
            format!(
                r#"{{"model":"bench","stream":true,"messages":[{{"role":"user","content":"{prompt}"}}]}}"#
            ),
        ),
    };
    let started = Instant::now();
    let mut timing = Timing::default();
    let response = match client
        .post(format!("{url}{route}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(response) if response.status().is_success() => response,
        Ok(response) => {
            timing.error = Some(format!("HTTP {}", response.status().as_u16()));
            return timing;
        }
        Err(e) => {
            timing.error = Some(format!("request: {e}"));
            return timing;
        }
    };
    let mut events = response.bytes_stream().eventsource();
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                timing.error = Some(format!("stream: {e}"));
                break;
            }
        };
        if event.event == "error" || event.data.starts_with(r#"{"error""#) {
            let code = serde_json::from_str::<serde_json::Value>(&event.data).ok().and_then(|v| {
                Some(format!("{} ({})", v["error"]["code"].as_str()?, v["error"]["message"].as_str()?))
            });
            timing.error = Some(format!("error event: {}", code.unwrap_or_else(|| event.data.clone())));
        }
        match (path, event.event.as_str()) {
            // A text delta's chunk; the first chunk (`{"role":"assistant","content":""}`) is not one.
            (Path::OpenAi, _) if event.data.contains(r#""delta":{"content":"#) => {
                timing.tokens.push(started.elapsed());
            }
            (Path::OpenAi, _) if event.data == "[DONE]" => timing.complete = true,
            (Path::OpenAi, _) => {}
            (_, "message") => timing.tokens.push(started.elapsed()),
            (_, "done") => timing.complete = true,
            _ => {}
        }
    }
    timing
}

pub(super) struct Level {
    pub(super) ttft: Vec<f64>,
    pub(super) gaps: Vec<f64>,
    pub(super) complete: usize,
    pub(super) tokens: usize,
    /// Failed streams by reason, most frequent first.
    errors: Vec<(String, usize)>,
}

pub(super) fn summarise(timings: &[Timing]) -> Level {
    Level {
        ttft: timings.iter().filter_map(Timing::ttft).collect(),
        gaps: timings.iter().flat_map(Timing::gaps).collect(),
        complete: timings.iter().filter(|t| t.complete).count(),
        tokens: timings.iter().map(|t| t.tokens.len()).sum(),
        errors: errors(timings),
    }
}

fn errors(timings: &[Timing]) -> Vec<(String, usize)> {
    let mut counts = std::collections::HashMap::<String, usize>::new();
    for timing in timings.iter().filter(|t| !t.complete) {
        *counts.entry(timing.error.clone().unwrap_or_else(|| "ended early".into())).or_default() += 1;
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    counts
}

impl Level {
    /// Prints why streams failed, if any did, under the table row.
    pub(super) fn report_errors(&self, what: &str) {
        for (reason, n) in &self.errors {
            eprintln!("  {what}: {n} failed: {reason}");
        }
    }
}

pub(super) fn ms(seconds: f64) -> String {
    format!("{:.2}", seconds * 1000.0)
}
