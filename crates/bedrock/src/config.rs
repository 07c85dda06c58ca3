//! How the Bedrock provider is set up: the models offered, the region, and what every request
//! carries (service tier, latency, prompt caching). The server's config module fills this from
//! its `BEDROCK_*` variables; [`connect`] turns it into models.

use std::{str::FromStr, time::Duration};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_bedrockruntime::Client;

use crate::BedrockModel;

/// The Bedrock provider's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BedrockConfig {
    /// `BEDROCK_REGION`; `None` leaves the SDK's chain (`AWS_REGION`, the profile).
    pub region: Option<String>,
    /// `BEDROCK_MODEL_ID` first (the default), then the rest of `BEDROCK_MODELS`.
    pub models: Vec<ModelChoice>,
    /// `BEDROCK_STREAM_IDLE_TIMEOUT`: upstream silence that ends a stream.
    pub idle_timeout: Duration,
    /// `BEDROCK_SERVICE_TIER`: sent as `serviceTier` when set.
    pub service_tier: Option<ServiceTier>,
    /// `BEDROCK_LATENCY`: sent as `performanceConfig` when set.
    pub latency: Option<Latency>,
    /// `BEDROCK_PROMPT_CACHE=on`: cache points for models that support prompt caching.
    pub prompt_cache: bool,
}

/// One model offered: a model id, inference-profile id or ARN, and a name for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChoice {
    pub id: String,
    pub name: Option<String>,
}

/// Bedrock's service tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceTier {
    Default,
    Flex,
    Priority,
}

/// Bedrock's latency settings (`performanceConfig.latency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latency {
    Standard,
    Optimized,
}

impl ServiceTier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Flex => "flex",
            Self::Priority => "priority",
        }
    }
}

impl FromStr for ServiceTier {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "default" => Ok(Self::Default),
            "flex" => Ok(Self::Flex),
            "priority" => Ok(Self::Priority),
            other => Err(format!("`{other}` is not `default`, `flex` or `priority`")),
        }
    }
}

impl Latency {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Optimized => "optimized",
        }
    }
}

impl FromStr for Latency {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "standard" => Ok(Self::Standard),
            "optimized" => Ok(Self::Optimized),
            other => Err(format!("`{other}` is not `standard` or `optimized`")),
        }
    }
}

/// Bedrock could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("BEDROCK_REGION: no AWS region configured; set BEDROCK_REGION (or AWS_REGION), e.g. us-east-1")]
    NoRegion,
}

/// Loads the AWS configuration once (credentials, region, endpoint override) and returns one
/// model per choice, all sharing one SDK client and its connection pool.
pub async fn connect(config: &BedrockConfig) -> Result<Vec<BedrockModel>, ConnectError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    models(&loader.load().await, config)
}

/// The models on an AWS configuration made elsewhere (tests point it at the emulator).
pub fn models(sdk_config: &SdkConfig, config: &BedrockConfig) -> Result<Vec<BedrockModel>, ConnectError> {
    let region = sdk_config.region().ok_or(ConnectError::NoRegion)?.to_string();
    let client = Client::new(sdk_config);
    Ok(config
        .models
        .iter()
        .map(|choice| BedrockModel::with_client(client.clone(), &region, choice, config))
        .collect())
}
