//! The generation worker: one thread that owns the model and runs one answer at a time, each
//! with its own KV cache. candle's matmuls already use every core through its thread pool, so
//! two answers at once would only slow each other down.

use std::{sync::Arc, time::SystemTime};

use candle_core::Tensor;
use candle_transformers::{
    generation::{LogitsProcessor, Sampling},
    utils::apply_repeat_penalty,
};
use streambed_core::{ChatEvent, Completion, ErrorKind, ProviderError, StopReason, Usage};
use tokio::sync::{mpsc, watch};

use crate::{
    decode::Utf8Stream,
    model::{KvCache, Model},
    stop_text::StopText,
    tokenizer::ChatTokenizer,
};

/// Sampling for one answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub max_tokens: usize,
    /// 0 means greedy decoding.
    pub temperature: f64,
    pub top_p: f64,
    pub top_k: usize,
    pub repeat_penalty: f32,
    pub repeat_last_n: usize,
}

impl Settings {
    fn sampling(&self) -> Sampling {
        if self.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            // Top-k first, so top-p sorts 40 candidates rather than the 49k-token vocabulary.
            Sampling::TopKThenTopP { k: self.top_k, p: self.top_p, temperature: self.temperature }
        }
    }
}

pub(crate) type Events = mpsc::Sender<Result<ChatEvent, ProviderError>>;

/// One queued answer.
#[derive(Debug)]
pub(crate) struct Job {
    pub prompt: Vec<u32>,
    pub settings: Settings,
    /// The caller's stop sequences.
    pub stop_sequences: Vec<String>,
    pub events: Events,
}

/// Why an answer stopped generating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stop {
    #[default]
    EndOfTurn,
    MaxTokens,
    /// One of the caller's stop sequences appeared.
    StopSequence,
    /// The client left; generation stopped at the next token boundary.
    ClientLeft,
    /// The client left while the job was still queued; nothing was generated.
    LeftWhileQueued,
    Failed,
}

/// What the worker did with its last job, so tests and logs can check cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobReport {
    pub prompt_tokens: usize,
    /// Prompt tokens the model read: all of them, unless the client left while it read them.
    pub prefilled: usize,
    pub generated: usize,
    /// Tokens whose computation finished after the client had already left (at most 1).
    pub generated_after_client_left: usize,
    pub stop: Stop,
}

/// Counts and the last report, published after every job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkerStats {
    pub jobs: u64,
    pub last: JobReport,
}

/// Prompt tokens per forward pass: bounds the attention matrices for long prompts, while a
/// typical chat prompt still goes in one pass.
const PREFILL_CHUNK: usize = 128;

/// Runs until every sender of `jobs` is gone.
///
/// Each job gets its own KV cache, so every answer starts from an empty one.
pub(crate) fn run(
    model: Model,
    tokenizer: Arc<ChatTokenizer>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    stats: watch::Sender<WorkerStats>,
) {
    while let Some(job) = jobs.blocking_recv() {
        let report = if job.events.is_closed() {
            JobReport { prompt_tokens: job.prompt.len(), stop: Stop::LeftWhileQueued, ..JobReport::default() }
        } else {
            generate(&model, &tokenizer, &job)
        };
        tracing::debug!(?report, "local generation finished");
        stats.send_modify(|s| {
            s.jobs += 1;
            s.last = report;
        });
    }
}

fn generate(model: &Model, tokenizer: &ChatTokenizer, job: &Job) -> JobReport {
    let mut report = JobReport { prompt_tokens: job.prompt.len(), ..JobReport::default() };
    let result = Generation::new(model, tokenizer, job).run(&mut report);
    if let Err(e) = result {
        report.stop = Stop::Failed;
        let error = ProviderError::new(ErrorKind::Upstream, format!("The local model failed: {e}"));
        let _ = job.events.blocking_send(Err(error));
    }
    report
}

struct Generation<'a> {
    model: &'a Model,
    cache: KvCache,
    tokenizer: &'a ChatTokenizer,
    job: &'a Job,
    sampler: LogitsProcessor,
    context: Vec<u32>,
}

impl<'a> Generation<'a> {
    fn new(model: &'a Model, tokenizer: &'a ChatTokenizer, job: &'a Job) -> Self {
        let seed =
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let sampler = LogitsProcessor::from_sampling(seed, job.settings.sampling());
        Self { model, cache: KvCache::default(), tokenizer, job, sampler, context: job.prompt.clone() }
    }

    /// Runs the model on `input` at `position`: the logits for the token after the last one.
    fn forward(&mut self, input: &[u32], position: usize) -> candle_core::Result<Tensor> {
        self.model.forward(&mut self.cache, input, position)
    }

    /// Feeds the prompt in chunks and samples the first answer token; `None` when the client
    /// left meanwhile (a long prompt takes seconds to read: Stop must not wait for it).
    fn prefill(&mut self, report: &mut JobReport) -> candle_core::Result<Option<u32>> {
        let job = self.job;
        let mut logits = None;
        for (i, chunk) in job.prompt.chunks(PREFILL_CHUNK).enumerate() {
            if job.events.is_closed() {
                return Ok(None);
            }
            logits = Some(self.forward(chunk, i * PREFILL_CHUNK)?);
            report.prefilled += chunk.len();
        }
        let logits = logits.ok_or_else(|| candle_core::Error::Msg("empty prompt".into()))?;
        self.sample(logits).map(Some)
    }

    /// One decode step: the next token after `token`, which sits at `position`.
    fn step(&mut self, token: u32, position: usize) -> candle_core::Result<u32> {
        let logits = self.forward(&[token], position)?;
        self.sample(logits)
    }

    fn sample(&mut self, logits: Tensor) -> candle_core::Result<u32> {
        let settings = self.job.settings;
        let logits = if settings.repeat_penalty == 1.0 {
            logits
        } else {
            let recent = &self.context[self.context.len().saturating_sub(settings.repeat_last_n)..];
            apply_repeat_penalty(&logits, settings.repeat_penalty, recent)?
        };
        self.sampler.sample(&logits)
    }

    fn send(&self, event: ChatEvent) -> bool {
        self.job.events.blocking_send(Ok(event)).is_ok()
    }

    /// Sends `text` unless it is empty; false when the client has left.
    fn show(&self, text: String) -> bool {
        text.is_empty() || self.send(ChatEvent::Text(text))
    }

    fn run(mut self, report: &mut JobReport) -> candle_core::Result<()> {
        let mut text = Utf8Stream::default();
        let mut stops = StopText::new(&self.job.stop_sequences);
        let Some(mut next) = self.prefill(report)? else {
            report.stop = Stop::ClientLeft;
            return Ok(());
        };
        loop {
            if self.job.events.is_closed() {
                report.generated_after_client_left += 1;
                report.stop = Stop::ClientLeft;
                return Ok(());
            }
            if self.tokenizer.is_stop(next) {
                report.stop = Stop::EndOfTurn;
                break;
            }
            report.generated += 1;
            self.context.push(next);
            if let Some(piece) = text.push(self.tokenizer.bytes(next)) {
                let (shown, stopped) = stops.push(piece);
                if !self.show(shown) {
                    report.stop = Stop::ClientLeft;
                    return Ok(());
                }
                if stopped {
                    report.stop = Stop::StopSequence;
                    break;
                }
            }
            if report.generated >= self.job.settings.max_tokens {
                report.stop = Stop::MaxTokens;
                break;
            }
            // Checked before each forward pass, so at most one token is computed for nobody.
            if self.job.events.is_closed() {
                report.stop = Stop::ClientLeft;
                return Ok(());
            }
            next = self.step(next, self.context.len() - 1)?;
        }
        if report.stop != Stop::StopSequence {
            // The characters the matcher held back, in case a stop sequence began with them. (The
            // decoder holds at most the first bytes of a character the answer was cut off inside:
            // no character, so nothing to show.)
            self.show(stops.finish());
        }
        let usage = Usage::new(
            u32::try_from(report.prompt_tokens).unwrap_or(u32::MAX),
            u32::try_from(report.generated).unwrap_or(u32::MAX),
        );
        let stop_reason = match report.stop {
            Stop::MaxTokens => StopReason::MaxTokens,
            Stop::StopSequence => StopReason::StopSequence,
            _ => StopReason::EndTurn,
        };
        self.send(ChatEvent::Done(Completion::new(stop_reason, usage)));
        Ok(())
    }
}
