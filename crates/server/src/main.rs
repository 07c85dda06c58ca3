//! `streambed`: the chat API and UI server. Configuration is the environment (see `.env.example`).

use anyhow::Context;
use streambed_server::{Config, Shutdown, provider};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dotenv = dotenvy::dotenv();
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
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(error = %e, "cannot raise the open-file limit");
    }
    let model = provider::build(&config).await?;
    tracing::info!(provider = model.info().provider, model = %model.info().id, reason = config.provider_reason, "chat provider selected");

    let shutdown = Shutdown::default();
    let app = streambed_server::app(&config, model, shutdown.clone());
    let listener = TcpListener::bind((config.host, config.port))
        .await
        .with_context(|| format!("cannot listen on {}:{} (set HOST/PORT)", config.host, config.port))?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    streambed_server::serve(listener, app, shutdown, config.shutdown_grace, streambed_server::signal())
        .await
        .context("server failed")
}
