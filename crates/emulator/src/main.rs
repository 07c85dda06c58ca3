//! `streambed-emulator`: a Bedrock Runtime endpoint on loopback for offline development.
//! Point any AWS SDK at it with `AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://127.0.0.1:4010`; with
//! `--tls`, at `https://127.0.0.1:4010` and the printed CA file (`AWS_CA_BUNDLE`).

use std::{net::IpAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use clap::Parser;
use streambed_core::ChatModel;
use streambed_emulator::{DEFAULT_H2_MAX_STREAMS, Emulator, Scenario, Scripted, TlsIdentity};
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
    /// Serve HTTPS (ALPN h2, http/1.1) with a certificate for 127.0.0.1 and localhost, signed by a
    /// throwaway CA made at start.
    #[arg(long, env = "EMULATOR_TLS")]
    tls: bool,
    /// Where `--tls` writes the CA's PEM (default: streambed-emulator-PORT-ca.pem in the temp dir).
    #[arg(long, env = "EMULATOR_CERT_OUT", requires = "tls")]
    cert_out: Option<PathBuf>,
    /// HTTP/2 streams one connection may carry at once (SETTINGS_MAX_CONCURRENT_STREAMS).
    #[arg(long, env = "EMULATOR_H2_MAX_STREAMS", default_value_t = DEFAULT_H2_MAX_STREAMS)]
    h2_max_streams: u32,
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
    let emulator = Emulator::new(source)
        .with_delay(Duration::from_millis(args.delay_ms))
        .with_scenario(args.scenario)
        .with_h2_max_streams(args.h2_max_streams);
    let addr = listener.local_addr()?;
    if !args.tls {
        tracing::info!(
            "Bedrock Runtime emulator on http://{addr}; set AWS_ENDPOINT_URL_BEDROCK_RUNTIME to it"
        );
        return emulator.serve(listener).await.context("emulator stopped");
    }
    let tls = TlsIdentity::generate()?;
    let cert_out = args.cert_out.unwrap_or_else(|| streambed_emulator::ca_pem_path(addr));
    tls.write_ca_pem(&cert_out).with_context(|| format!("cannot write {}", cert_out.display()))?;
    tracing::info!(
        "Bedrock Runtime emulator on https://{addr}; set AWS_ENDPOINT_URL_BEDROCK_RUNTIME to it and \
         AWS_CA_BUNDLE to {}",
        cert_out.display()
    );
    emulator.serve_tls(listener, tls).await.context("emulator stopped")
}
