//! Picks and builds the one `ChatModel` the server uses, from configuration.

use std::sync::Arc;

use anyhow::{Context, bail};
use aws_config::{BehaviorVersion, Region};
use streambed_bedrock::BedrockModel;
use streambed_core::ChatModel;
use streambed_local::LocalModel;

use crate::config::{Config, ProviderChoice};

pub async fn build(config: &Config) -> anyhow::Result<Arc<dyn ChatModel>> {
    match config.provider {
        ProviderChoice::Bedrock => {
            let model_id = config.bedrock_model_id.clone().context("BEDROCK_MODEL_ID is required")?;
            let mut loader = aws_config::defaults(BehaviorVersion::latest());
            if let Some(region) = &config.bedrock_region {
                loader = loader.region(Region::new(region.clone()));
            }
            let sdk_config = loader.load().await;
            if sdk_config.region().is_none() {
                bail!(
                    "BEDROCK_REGION: no AWS region configured; set BEDROCK_REGION (or AWS_REGION), e.g. us-east-1"
                );
            }
            Ok(Arc::new(BedrockModel::new(&sdk_config, model_id, config.stream_idle_timeout)))
        }
        ProviderChoice::Local => {
            let local = config.local.clone();
            let model = tokio::task::spawn_blocking(move || LocalModel::load(&local)).await??;
            Ok(Arc::new(model))
        }
    }
}
