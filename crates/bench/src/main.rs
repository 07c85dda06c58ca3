//! `streambed-bench`: the figures in BENCHMARKS.md. `just bench` builds in release and runs it.

mod local;
mod machine;
mod proc_stats;
mod relay;
mod stats;
mod upstream;

use std::path::PathBuf;

use clap::Parser;

/// Benchmarks for the relay and the embedded model.
#[derive(Debug, Parser)]
struct Args {
    /// Fewer streams and repetitions: a run under two minutes.
    #[arg(long)]
    quick: bool,
    /// What to measure.
    #[arg(long, value_parser = ["all", "relay", "local"], default_value = "all")]
    only: String,
    /// Concurrency levels for the relay, comma-separated (default 1,100,1000,5000; quick 1,100).
    /// 10000 and 20000 are opt-in: they need about three open files per stream (root may raise
    /// the hard limit; the bench tries) and spread the client over 127.0.0.x source addresses.
    #[arg(long, value_delimiter = ',')]
    levels: Option<Vec<usize>>,
    /// Upstream paths: TLS + HTTP/2 (production's), plain HTTP/1.1, or both side by side.
    #[arg(long, value_enum, default_value = "both")]
    upstream: upstream::Choice,
    /// HTTP/2 streams the emulator allows per connection on the TLS path. High by default, so the
    /// relay is measured rather than the wait for a stream slot (hyper's client keeps to one
    /// connection); Bedrock's own limit decides what production sees.
    #[arg(long, default_value_t = 100_000)]
    h2_max_streams: u32,
    /// The load client reaches the server over HTTP/2 (100 streams to a connection) instead of
    /// one HTTP/1.1 connection per stream: how 20,000 streams fit an open-file limit of 20,000.
    #[arg(long)]
    client_http2: bool,
    /// Rounds of the stateless, stored and OpenAI routes, back to back, at each level where they
    /// are compared (default 3; quick 1).
    #[arg(long)]
    rounds: Option<usize>,
    /// Tokens per relayed stream.
    #[arg(long, default_value_t = 100)]
    tokens: usize,
    /// Upstream pacing, milliseconds per token.
    #[arg(long, default_value_t = 20)]
    delay_ms: u64,
    /// Where the release binaries `streambed` and `streambed-emulator` are.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// The embedded model's GGUF file.
    #[arg(long, env = "LOCAL_MODEL_PATH", default_value = "models/SmolLM2-135M-Instruct.Q4_1.gguf")]
    model_path: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.only != "local" {
        let levels =
            args.levels.unwrap_or_else(|| if args.quick { vec![1, 100] } else { vec![1, 100, 1000, 5000] });
        let saturation = if args.quick { (20, 2_000) } else { (50, 5_000) };
        let options = relay::Options {
            bin_dir: args.bin_dir,
            levels,
            tokens: args.tokens,
            delay_ms: args.delay_ms,
            saturation,
            stored_levels: if args.quick { vec![100] } else { vec![100, 1000] },
            rounds: args.rounds.unwrap_or(if args.quick { 1 } else { 3 }),
            upstream: args.upstream,
            h2_max_streams: args.h2_max_streams,
            client_http2: args.client_http2,
        };
        relay::run(options).await?;
        println!();
    }
    if args.only != "relay" {
        local::run(&args.model_path, args.quick).await?;
    }
    Ok(())
}
