//! `streambed`: the chat API and UI server. Configuration is the environment (see `.env.example`).
//! `streambed healthcheck` asks a running server on `PORT` for `/api/health`: the container
//! health check, for images that have no shell or curl.

use std::time::Duration;

use anyhow::Context;
use streambed_server::{Config, Conversations, Shutdown, models};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dotenv = dotenvy::dotenv();
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return healthcheck().await;
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=warn".into()))
        .init();
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
    // Each open stream holds two sockets (client and Bedrock); the default soft limit of 1,024
    // descriptors would cap the server near 500 streams, so raise it to the hard limit.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < 2 * config.connections.max as u64 => tracing::warn!(
            open_file_limit = limit,
            max_connections = config.connections.max,
            "the open-file limit is below two per connection: lower MAX_CONNECTIONS or raise the limit"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    let models = models::build(&config.models, &config.params).await?;
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

    let conversations = Conversations::open(&config).await?;
    let shared = if conversations.shared_through_redis() {
        "through Redis (REDIS_URL)"
    } else {
        "none: REDIS_URL is not set"
    };
    tracing::info!(
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
        shutdown,
        config.shutdown_grace,
        signal,
    )
    .await
    .context("server failed")?;
    conversations.flush(Duration::from_secs(5)).await;
    Ok(())
}

async fn healthcheck() -> anyhow::Result<()> {
    let port = std::env::var("PORT").ok().filter(|p| !p.trim().is_empty()).unwrap_or_else(|| "4000".into());
    let url = format!("http://127.0.0.1:{}/api/health", port.trim());
    let http = reqwest::Client::builder().timeout(Duration::from_secs(3)).build()?;
    let response = http.get(&url).send().await.with_context(|| format!("GET {url}"))?;
    anyhow::ensure!(response.status().is_success(), "GET {url} answered {}", response.status());
    Ok(())
}
