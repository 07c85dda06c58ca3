//! `streambed`: the chat API and UI server. Configuration is the environment (see `.env.example`).
//! `streambed healthcheck` asks a running server on `HOST`/`PORT` for `/api/health`: the
//! container health check, for images that have no shell or curl.

use std::{
    io::IsTerminal,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    process::ExitCode,
    sync::OnceLock,
    time::Duration,
};

use anyhow::Context;
use secrecy::ExposeSecret;
use streambed_server::{Config, Conversations, Shutdown, models};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "\
streambed: the Streambed chat API and UI server.

Usage:
  streambed              serve, configured by the environment and a .env file (see .env.example)
  streambed healthcheck  ask the server at HOST and PORT for /api/health; exits 0 when healthy
  streambed --help       this text
  streambed --version    the version
";

/// Set once logging is on, when its lines are JSON: then a fatal error is one of them too.
static JSON_LOGS: OnceLock<bool> = OnceLock::new();

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if JSON_LOGS.get() == Some(&true) => {
            // One line of the logs' shape, its line breaks escaped, so a log collector keeps it
            // whole; written here, not through `tracing`, whose `RUST_LOG` could filter it out.
            let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339);
            let line = serde_json::json!({
                "timestamp": now.ok(),
                "level": "ERROR",
                "fields": { "message": "the server stopped", "error": report(&error) },
                "target": "streambed",
            });
            println!("{line}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("{}", report(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, as anyhow reports them, without a cause that the one before it
/// already says in so many words (sqlx's "error communicating with database: Connection refused",
/// then "Connection refused" again), and without a backtrace: an operator reads this.
fn report(error: &anyhow::Error) -> String {
    let mut said = error.to_string();
    let causes: Vec<String> = error
        .chain()
        .skip(1)
        .map(ToString::to_string)
        .filter(|cause| {
            let new = !said.contains(cause.as_str());
            said.clone_from(cause);
            new
        })
        .collect();
    let mut report = format!("Error: {error}");
    match causes.as_slice() {
        [] => {}
        [cause] => report.push_str(&format!("\n\nCaused by:\n    {cause}")),
        causes => {
            report.push_str("\n\nCaused by:");
            for (i, cause) in causes.iter().enumerate() {
                report.push_str(&format!("\n    {i}: {cause}"));
            }
        }
    }
    report
}

async fn run() -> anyhow::Result<()> {
    let dotenv = dotenvy::dotenv();
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("healthcheck") => return healthcheck().await,
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            return Ok(());
        }
        Some("-V" | "--version") => {
            println!("streambed {}", env!("CARGO_PKG_VERSION"));
            return Ok(());
        }
        // Never a server started by mistake, on a flag it does not know.
        Some(other) => {
            eprint!("streambed: unknown argument `{other}`\n\n{USAGE}");
            std::process::exit(2);
        }
    }
    init_tracing()?;
    if let Ok(path) = dotenv {
        tracing::info!(path = %path.display(), "loaded environment file");
    }
    let config = Config::from_env().context("invalid configuration")?;
    if !config.host.is_loopback() && !config.auth.is_enabled() {
        tracing::warn!(
            host = %config.host,
            "listening beyond this machine with no authentication: anyone who can reach it can spend \
             your Bedrock budget. Set API_KEYS or AUTH_JWT_ISSUER (see docs/deploy.md)"
        );
    }
    raise_open_file_limit(config.connections.max);
    let models = models::build(&config.models, &config.params).await?;
    log_choices(&config, &models);
    let conversations = Conversations::open(&config).await?;
    let shared = if conversations.shared_through_redis() {
        "through Redis (REDIS_URL)"
    } else {
        "none: REDIS_URL is not set"
    };
    tracing::info!(
        database = streambed_store::location(config.store.database_url.expose_secret()),
        owners = conversations.policy_reason(),
        shared_with_other_replicas = shared,
        "conversations stored"
    );
    conversations.spawn_upkeep();

    let shutdown = Shutdown::default();
    let (app, upkeep) = streambed_server::app(&config, models, conversations.clone(), shutdown.clone());
    upkeep.spawn();
    let listener = streambed_server::listen((config.host, config.port).into())
        .with_context(|| format!("cannot listen on {}:{} (set HOST/PORT)", config.host, config.port))?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    let signal = streambed_server::signal();
    streambed_server::serve(
        listener,
        app,
        config.connections.clone(),
        shutdown.clone(),
        config.shutdown,
        signal,
    )
    .await
    .context("server failed")?;
    // The connections are closed, but an answer whose client left runs on, as the others did,
    // until it ends or the cut-off ends it; then its last writes get a few seconds.
    let last_writes = async {
        shutdown.cut_off().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    };
    conversations.flush(last_writes).await;
    Ok(())
}

/// Logs to stdout, filtered by `RUST_LOG`: lines of text, or with `LOG_FORMAT=json` one JSON
/// object per line (what CloudWatch Logs Insights, Loki and Datadog parse without a pattern).
/// Colours only for a person at a terminal: a log collector would keep the escape codes as text.
/// Read here rather than with the rest of the configuration: logging starts first, to report it.
fn init_tracing() -> anyhow::Result<()> {
    let json = match std::env::var("LOG_FORMAT").as_deref().map(str::trim) {
        Err(_) | Ok("" | "text") => false,
        Ok("json") => true,
        Ok(other) => anyhow::bail!("LOG_FORMAT: expected text or json, got {other:?}"),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=warn".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        logs.json().with_current_span(false).init();
    } else {
        let colours =
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        logs.with_ansi(colours).init();
    }
    let _ = JSON_LOGS.set(json);
    Ok(())
}

/// Each open stream holds two sockets (client and Bedrock); the default soft limit of 1,024
/// descriptors would cap the server near 500 streams, so it is raised to the hard limit.
fn raise_open_file_limit(max_connections: usize) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < 2 * max_connections as u64 => tracing::warn!(
            open_file_limit = limit,
            max_connections,
            "the open-file limit allows about {} streams (two descriptors each: the client's and \
             Bedrock's), fewer than MAX_CONNECTIONS: raise the limit (ulimit -n, the container's \
             nofile) or lower MAX_CONNECTIONS",
            limit / 2
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
}

/// The start-up's choices an operator checks first: the models, and the limits and why.
fn log_choices(config: &Config, models: &models::Models) {
    let default = models.default_model().info();
    let offered: Vec<&str> = models.iter().map(|m| m.info().id.as_str()).collect();
    tracing::info!(
        provider = default.provider,
        default = %default.id,
        reason = config.models.reason,
        models = ?offered,
        "models offered"
    );
    tracing::info!(
        rate_limit = %config.limits.rate_summary(),
        auth_lockout = %config.auth.lockout_summary(),
        reason = config.limits.rate_reason,
        max_concurrent_streams = config.limits.max_streams,
        max_connections = config.connections.max,
        "client limits selected"
    );
}

/// `GET /api/health` of the server this environment configures: at `HOST` (its loopback when it
/// listens on every address) and `PORT`, as the server reads them.
async fn healthcheck() -> anyhow::Result<()> {
    let config = Config::from_env().context("invalid configuration")?;
    let host = match config.host {
        IpAddr::V4(v4) if v4.is_unspecified() => Ipv4Addr::LOCALHOST.into(),
        IpAddr::V6(v6) if v6.is_unspecified() => Ipv6Addr::LOCALHOST.into(),
        other => other,
    };
    let url = format!("http://{}/api/health", SocketAddr::new(host, config.port));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(3)).build()?;
    let response = http.get(&url).send().await.with_context(|| format!("GET {url}"))?;
    anyhow::ensure!(response.status().is_success(), "GET {url} answered {}", response.status());
    Ok(())
}
