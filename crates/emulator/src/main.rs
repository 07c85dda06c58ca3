//! `streambed-emulator`: a Bedrock Runtime endpoint on loopback for offline development.
//! Point any AWS SDK at it with `AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://127.0.0.1:4010`.

use std::{net::IpAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use clap::Parser;
use streambed_core::ChatModel;
use streambed_emulator::{Emulator, Scenario, Scripted};
use streambed_local::{LocalConfig, LocalModel};

/// A Bedrock Runtime emulator (Converse, ConverseStream, CountTokens): Claude's parameter rules,
/// thinking, tool use, prompt caching and service tiers, with fault scenarios.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "EMULATOR_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on.
    #[arg(long, env = "EMULATOR_PORT", default_value_t = 4010)]
    port: u16,
    /// Pause before each streamed delta, in milliseconds.
    #[arg(long, env = "EMULATOR_DELAY_MS", default_value_t = 30)]
    delay_ms: u64,
    /// Where answers come from: `scripted` (deterministic) or `local` (the embedded SmolLM2 model).
    #[arg(long, env = "EMULATOR_SOURCE", default_value = "scripted", value_parser = ["scripted", "local"])]
    source: String,
    /// The GGUF file for `--source local`.
    #[arg(long, env = "LOCAL_MODEL_PATH", default_value = "models/SmolLM2-135M-Instruct.Q4_1.gguf")]
    model_path: PathBuf,
    /// Scenario for requests without a `[[scenario:…]]` marker, e.g. "slow delay_ms=100 n=50".
    #[arg(long, env = "EMULATOR_SCENARIO", default_value = "ok")]
    scenario: Scenario,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let listener = streambed_emulator::listen((args.host, args.port).into())
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let source: Arc<dyn ChatModel> = if args.source == "local" {
        let config = LocalConfig { model_path: args.model_path, ..LocalConfig::default() };
        Arc::new(tokio::task::spawn_blocking(move || LocalModel::load(&config)).await??)
    } else {
        Arc::new(Scripted::default())
    };
    let emulator =
        Emulator::new(source).with_delay(Duration::from_millis(args.delay_ms)).with_scenario(args.scenario);
    tracing::info!(
        "Bedrock Runtime emulator on http://{}; set AWS_ENDPOINT_URL_BEDROCK_RUNTIME to it",
        listener.local_addr()?
    );
    emulator.serve(listener).await.context("emulator stopped")
}
