//! The embedded model's speed on a fixed prompt: the doc's 40-token chat prompt, 128 tokens
//! generated greedily, median of several runs.

use std::{path::Path, time::Instant};

use futures_util::StreamExt;
use streambed_core::{ChatEvent, ChatModel, ChatRequest, InferenceParams};
use streambed_local::{LocalConfig, LocalModel};

use crate::{machine::Machine, stats::median};

const PROMPT: &str = "Explain what a REST API is in two sentences.";
const GENERATE: u32 = 128;

struct Run {
    ttft: f64,
    prompt_tokens: u32,
    generated: u32,
    decode_seconds: f64,
}

async fn once(model: &LocalModel) -> anyhow::Result<Run> {
    let mut request = ChatRequest::from_prompt(PROMPT);
    // Temperature 0 and a long limit: the answer runs its course or stops at 128 tokens.
    request.params =
        InferenceParams { max_tokens: Some(GENERATE), temperature: Some(0.0), ..Default::default() };
    let started = Instant::now();
    let mut stream = model.stream(request).await?;
    let mut first = None;
    while let Some(event) = stream.next().await {
        match event? {
            ChatEvent::Text(_) => {
                first.get_or_insert_with(|| started.elapsed().as_secs_f64());
            }
            ChatEvent::Done(done) => {
                let ttft = first.unwrap_or_default();
                return Ok(Run {
                    ttft,
                    prompt_tokens: done.usage.input_tokens,
                    generated: done.usage.output_tokens,
                    decode_seconds: started.elapsed().as_secs_f64() - ttft,
                });
            }
            _ => {}
        }
    }
    anyhow::bail!("the answer ended without Done")
}

pub(crate) async fn run(model_path: &Path, quick: bool) -> anyhow::Result<()> {
    let config = LocalConfig { model_path: model_path.to_owned(), ..LocalConfig::default() };
    let first_load = Instant::now();
    drop(LocalModel::load(&config)?); // converts and caches the weights if needed
    let first_load = first_load.elapsed().as_secs_f64();
    let load = Instant::now();
    let model = LocalModel::load(&config)?;
    let load = load.elapsed().as_secs_f64();
    once(&model).await?; // warm-up

    let runs = if quick { 3 } else { 7 };
    let mut results = Vec::with_capacity(runs);
    for _ in 0..runs {
        results.push(once(&model).await?);
    }
    let ttft = median(&results.iter().map(|r| r.ttft).collect::<Vec<_>>());
    let prompt_tps = median(&results.iter().map(|r| f64::from(r.prompt_tokens) / r.ttft).collect::<Vec<_>>());
    let decode_tps = median(
        &results
            .iter()
            .map(|r| f64::from(r.generated.saturating_sub(1)) / r.decode_seconds)
            .collect::<Vec<_>>(),
    );
    let last = results.last().expect("at least one run");
    let file = streambed_local::file_quantization(model_path)?;
    println!("embedded model (SmolLM2-135M-Instruct, median of {runs} runs)");
    println!("| measure | value |");
    println!("| --- | --- |");
    println!("| machine | {} |", Machine::detect());
    println!("| file | {} ({file}) |", model_path.display());
    println!("| weights run as | {} |", model.quantization());
    println!("| kernel path | {} |", streambed_local::kernel_path());
    println!("| decode kernels | {} |", model.decode_kernels());
    println!("| load, first start (includes conversion if no cache) | {first_load:.2} s |");
    println!("| load, cached Q8_0 | {load:.2} s |");
    println!("| prompt tokens | {} |", last.prompt_tokens);
    println!("| time to first token | {:.0} ms |", ttft * 1000.0);
    println!("| prompt processing | {prompt_tps:.0} tokens/s |");
    println!("| generation ({} tokens) | {decode_tps:.1} tokens/s |", last.generated);
    Ok(())
}
