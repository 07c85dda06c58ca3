//! The relay's overhead. The same paced upstream (the emulator, one delta every `delay_ms`) is
//! read directly (the floor) and through `streambed`, at rising concurrency, in one run. The
//! server and the emulator run as their own processes, so the server's memory and CPU can be
//! read from /proc, and the load client's sockets do not count against them. Each upstream path
//! (TLS + HTTP/2 as in production, plain HTTP/1.1 to compare; see `upstream.rs`) gets its own
//! emulator and server.

mod routes;
mod streams;

use std::{
    path::{self, PathBuf},
    process::{Child, Command, Stdio},
    time::Instant,
};

use anyhow::{Context, bail};
use futures_util::future::join_all;

use self::{
    routes::{Measured, Route, measure},
    streams::{Path, floor_stream, ms, relay_stream, summarise},
};
use crate::{
    proc_stats::ProcStats,
    stats::quantile,
    upstream::{self, Clients, Control, Upstream},
};

/// A child process that logs `…http://ADDR…` once it listens.
struct Service {
    child: Child,
    url: String,
}

impl Service {
    fn start(binary: &path::Path, args: &[&str], env: &[(&str, &str)], marker: &str) -> anyhow::Result<Self> {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(binary)
            .args(args)
            .envs(env.iter().copied())
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn,streambed=info,streambed_emulator=info")
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| {
                format!("cannot start {} (run `just bench`, which builds it)", binary.display())
            })?;
        let mut lines = BufReader::new(child.stdout.take().context("piped stdout")?).lines();
        let url = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                l.split(marker).nth(1).and_then(|rest| rest.split([';', ' ']).next()).map(str::to_owned)
            })
            .with_context(|| format!("{} exited before listening", binary.display()))?;
        // The rest of the log is read so the child never blocks on a full pipe; its first few
        // warnings and errors are shown, since they explain failed streams.
        let name = binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        std::thread::spawn(move || {
            let mut shown = 0;
            for line in lines.map_while(Result::ok) {
                if shown < 3 && (line.contains(" WARN ") || line.contains(" ERROR ")) {
                    eprintln!("  [{name}] {line}");
                    shown += 1;
                }
            }
        });
        Ok(Self { child, url })
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Options for the relay benchmark.
#[derive(Debug)]
pub(crate) struct Options {
    pub bin_dir: PathBuf,
    pub levels: Vec<usize>,
    pub tokens: usize,
    pub delay_ms: u64,
    /// Streams and tokens per stream for the saturation run with an unpaced upstream.
    pub saturation: (usize, usize),
    /// Levels at which a stored conversation's turn and OpenAI's `/v1/chat/completions` are
    /// measured beside the stateless chat.
    pub stored_levels: Vec<usize>,
    /// Rounds of those routes per level (see `routes.rs`).
    pub rounds: usize,
    /// The upstream paths to measure, each with its own emulator and server.
    pub upstream: upstream::Choice,
    /// The emulator's HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS on the TLS path.
    pub h2_max_streams: u32,
    /// Clients reach the server over HTTP/2, 100 streams to a connection, instead of one
    /// HTTP/1.1 connection per stream.
    pub client_http2: bool,
}

pub(crate) async fn run(options: Options) -> anyhow::Result<()> {
    let most = options.levels.iter().copied().max().unwrap_or(1);
    let limit = upstream::raise_nofile(most)?;
    if limit < 3 * most as u64 {
        println!("note: {limit} open files allowed, under three per stream at {most} streams");
    }
    for path in options.upstream.paths() {
        run_on(&options, path).await?;
        println!();
    }
    Ok(())
}

/// The emulator on `path`, paced as `options` say, and the release server in front of it, storing
/// conversations in a fresh SQLite file under `data`, as `just run` does by default.
fn start_services(
    options: &Options,
    path: Upstream,
    data: &std::path::Path,
) -> anyhow::Result<(Service, Service)> {
    let delay = options.delay_ms.to_string();
    let scenario = format!("slow delay_ms={} n={}", options.delay_ms, options.tokens);
    let mut emulator_args: Vec<String> =
        ["--port", "0", "--delay-ms", &delay, "--scenario", &scenario].map(str::to_owned).into();
    emulator_args.extend(upstream::emulator_args(path, options.h2_max_streams));
    let emulator_args: Vec<&str> = emulator_args.iter().map(String::as_str).collect();
    let emulator =
        Service::start(&options.bin_dir.join("streambed-emulator"), &emulator_args, &[], "emulator on ")?;
    let ca_bundle = path.ca_path().map(|p| p.display().to_string());
    let database_url = format!("sqlite:{}", data.join("streambed.db").display());
    let server = Service::start(
        &options.bin_dir.join("streambed"),
        &[],
        &[
            ("DATABASE_URL", database_url.as_str()),
            ("PORT", "0"),
            ("BEDROCK_MODEL_ID", "bench"),
            ("BEDROCK_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "bench"),
            ("AWS_SECRET_ACCESS_KEY", "bench"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", &emulator.url),
            // Every stream comes from one loopback client: measure the relay, not the limiter.
            ("RATE_LIMIT_PER_MINUTE", "0"),
            ("MAX_CONCURRENT_STREAMS", "100000"),
            // One owner (the loopback user) runs every stored answer of the run.
            ("MAX_RUNNING_ANSWERS_PER_OWNER", "100000"),
            ("MAX_CONVERSATIONS_PER_OWNER", "1000000"),
            ("MAX_CONNECTIONS", "1000000"),
        ]
        .into_iter()
        .chain(ca_bundle.as_deref().map(|ca| ("AWS_CA_BUNDLE", ca)))
        .collect::<Vec<_>>(),
        "listening on ",
    )?;
    Ok((emulator, server))
}

/// Every measurement on one upstream path.
async fn run_on(options: &Options, path: Upstream) -> anyhow::Result<()> {
    let data = std::env::temp_dir().join(format!("streambed-bench-{}", std::process::id()));
    let (emulator, server) = start_services(options, path, &data)?;
    let proc = ProcStats::new(server.child.id());
    let control = Control::new(path, &emulator.url)?;
    // One answer first: a server that has answered once holds a warm upstream connection (a cold
    // burst over TLS would race a connection per stream before the first negotiated h2).
    let warm = relay_stream(Clients::plain(1)?.pick(0), &server.url, "bench", &Path::Stateless).await;
    if !warm.complete {
        bail!("the first stream through the server did not complete");
    }

    print_header(options, path);
    let mut compared_rows = Vec::new();
    for &n in &options.levels {
        let floor_clients = Clients::of_emulator(n, path)?;
        floor_clients.warm(&emulator.url).await?;
        let floor = summarise(
            &join_all((0..n).map(|i| floor_stream(floor_clients.pick(i), &emulator.url, "bench"))).await,
        );
        drop(floor_clients);

        control.reset_peak().await?;
        let Measured { level: relay, cpu_per_1k, before, after } =
            measure(&proc, n, &server.url, Route::Stateless, options.client_http2).await?;
        let upstream_connections = control.peak().await?;
        floor.report_errors(&format!("{n} streams, floor"));
        relay.report_errors(&format!("{n} streams, relay"));
        if floor.ttft.is_empty() || relay.ttft.is_empty() {
            bail!("no stream produced a token at {n} streams");
        }
        if options.stored_levels.contains(&n) {
            compared_rows.extend(
                routes::compare(&proc, n, &server.url, options.client_http2, options.rounds, &floor).await?,
            );
        }
        let grown = after.peak_rss_kb.saturating_sub(before.rss_kb);
        println!(
            "| {} | {n} | {} / {} | {} / {} | {} / {} | {} / {} | {} / {} | {} / {} | {} | {upstream_connections} \
             | {} MB | {:.1} KB | {:.4} |",
            path.label(),
            floor.complete,
            relay.complete,
            ms(quantile(&floor.ttft, 0.5)),
            ms(quantile(&floor.ttft, 0.99)),
            ms(quantile(&relay.ttft, 0.5)),
            ms(quantile(&relay.ttft, 0.99)),
            ms(quantile(&relay.ttft, 0.5) - quantile(&floor.ttft, 0.5)),
            ms(quantile(&relay.ttft, 0.99) - quantile(&floor.ttft, 0.99)),
            ms(quantile(&floor.gaps, 0.5)),
            ms(quantile(&floor.gaps, 0.99)),
            ms(quantile(&relay.gaps, 0.5)),
            ms(quantile(&relay.gaps, 0.99)),
            ms(quantile(&relay.gaps, 0.99) - quantile(&floor.gaps, 0.99)),
            after.peak_rss_kb / 1024,
            grown as f64 / n as f64,
            cpu_per_1k,
        );
    }
    println!();
    routes::print(&compared_rows);
    let result = saturation(&emulator.url, &server.url, &proc, options.saturation, path).await;
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
    if let Some(ca) = path.ca_path() {
        let _ = std::fs::remove_file(ca);
    }
    result
}

/// What the level rows below measure, and their table's head.
fn print_header(options: &Options, path: Upstream) {
    println!(
        "relay overhead over {}: upstream paced at {} ms/token, {} tokens per stream; clients over {}; floor = the emulator read directly{}",
        path.label(),
        options.delay_ms,
        options.tokens,
        if options.client_http2 { "HTTP/2, 100 streams a connection" } else { "HTTP/1.1, a connection each" },
        if path == Upstream::Tls {
            format!(
                " (over TLS too); emulator allows {} HTTP/2 streams per connection",
                options.h2_max_streams
            )
        } else {
            String::new()
        }
    );
    println!(
        "| upstream | streams | completed (floor / relay) | TTFT p50 / p99 floor (ms) | TTFT p50 / p99 relay (ms) \
         | added TTFT p50 / p99 (ms) | gap p50 / p99 floor (ms) | gap p50 / p99 relay (ms) | added gap p99 (ms) \
         | upstream connections | server peak RSS | RSS per stream | CPU s per 1k tokens |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
}

/// Tokens per second at saturation: an unpaced upstream (every delta sent at once) read by
/// `streams` clients, directly and through the relay. The load client shares the two cores, so
/// this is what one small box does end to end, not the relay alone.
async fn saturation(
    emulator: &str,
    server: &str,
    proc: &ProcStats,
    (streams, tokens): (usize, usize),
    path: Upstream,
) -> anyhow::Result<()> {
    let prompt = format!("[[scenario:slow delay_ms=0 n={tokens}]]");
    let floor_clients = Clients::of_emulator(streams, path)?;
    floor_clients.warm(emulator).await?;
    let clients = Clients::plain(streams)?;
    let started = Instant::now();
    let floor = summarise(
        &join_all((0..streams).map(|i| floor_stream(floor_clients.pick(i), emulator, &prompt))).await,
    );
    let floor_rate = floor.tokens as f64 / started.elapsed().as_secs_f64();
    let before = proc.sample()?;
    let started = Instant::now();
    let relay = summarise(
        &join_all((0..streams).map(|i| relay_stream(clients.pick(i), server, &prompt, &Path::Stateless)))
            .await,
    );
    let relay_rate = relay.tokens as f64 / started.elapsed().as_secs_f64();
    let cpu = proc.sample()?.cpu_seconds - before.cpu_seconds;
    relay.report_errors("saturation");
    if relay.complete != streams {
        bail!("{} of {streams} saturation streams did not complete", streams - relay.complete);
    }
    println!("saturation over {}: {streams} streams × {tokens} unpaced tokens", path.label());
    println!("| floor tokens/s | relay tokens/s | server CPU s per 1k tokens |");
    println!("| --- | --- | --- |");
    println!("| {floor_rate:.0} | {relay_rate:.0} | {:.4} |", cpu / (relay.tokens as f64 / 1000.0));
    Ok(())
}
