//! How the Bedrock provider is set up: the models offered, the region, and what every request
//! carries (service tier, latency, prompt caching). The server's config module fills this from
//! its `BEDROCK_*` variables; [`connect`] turns it into models.

use std::{path::PathBuf, str::FromStr, sync::Arc, time::Duration};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::TlsContext;

use crate::{BedrockModel, trust, upstream::Upstream};

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
    /// `AWS_CA_BUNDLE`: a PEM file of CA certificates trusted besides the platform's roots.
    pub ca_bundle: Option<PathBuf>,
    /// `BEDROCK_STREAMS_PER_CONNECTION`: open answers on one upstream HTTP/2 connection before
    /// another is opened.
    pub streams_per_connection: usize,
    /// What the operator has every request carry (a sampling value, reasoning on): a refusal
    /// that names one's parameter says which variable to change, and one that names a parameter
    /// no setting gave blames the request alone.
    pub settings: Vec<Setting>,
}

/// A value the operator may have every request carry, read from its variable by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    MaxTokens,
    Temperature,
    TopP,
    TopK,
    Reasoning,
}

impl Setting {
    /// The variable that sets it.
    pub fn variable(self) -> &'static str {
        match self {
            Self::MaxTokens => "BEDROCK_MAX_TOKENS",
            Self::Temperature => "BEDROCK_TEMPERATURE",
            Self::TopP => "BEDROCK_TOP_P",
            Self::TopK => "BEDROCK_TOP_K",
            Self::Reasoning => "BEDROCK_REASONING",
        }
    }
}

/// One model offered: a model id, inference-profile id or ARN, and a name for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChoice {
    /// What Bedrock is asked for: a model id, inference-profile id or ARN.
    pub id: String,
    /// What people see; the id when `None`.
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
    #[error(transparent)]
    CaBundle(#[from] trust::CaBundleError),
}

/// Loads the AWS configuration once (credentials, region, endpoint override, extra CAs) and
/// returns one model per choice, all sharing the same SDK clients (see `upstream.rs`).
pub async fn connect(config: &BedrockConfig) -> Result<Vec<BedrockModel>, ConnectError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    // On the loader, so the credential providers (STS, SSO) trust the same CAs as Bedrock calls.
    let tls = config.ca_bundle.as_deref().map(trust::tls_context).transpose()?;
    loader = loader.http_client(trust::http_client(tls.clone()));
    build(loader.load().await, tls, config)
}

/// The models on an AWS configuration made elsewhere (tests point it at the emulator).
pub fn models(sdk_config: &SdkConfig, config: &BedrockConfig) -> Result<Vec<BedrockModel>, ConnectError> {
    let tls = config.ca_bundle.as_deref().map(trust::tls_context).transpose()?;
    build(sdk_config.clone(), tls, config)
}

fn build(
    sdk_config: SdkConfig,
    tls: Option<TlsContext>,
    config: &BedrockConfig,
) -> Result<Vec<BedrockModel>, ConnectError> {
    let region = sdk_config.region().ok_or(ConnectError::NoRegion)?.to_string();
    let upstream = Arc::new(Upstream::new(sdk_config, tls, config.streams_per_connection));
    Ok(config
        .models
        .iter()
        .map(|choice| BedrockModel::with_upstream(Arc::clone(&upstream), &region, choice, config))
        .collect())
}

#[cfg(test)]
mod tests {
    use streambed_core::{ChatModel, ReasoningStyle};

    use super::*;

    fn config(ids: &[&str]) -> BedrockConfig {
        BedrockConfig {
            region: None,
            models: ids.iter().map(|id| ModelChoice { id: (*id).into(), name: None }).collect(),
            idle_timeout: Duration::from_secs(60),
            service_tier: None,
            latency: None,
            prompt_cache: false,
            ca_bundle: None,
            streams_per_connection: 100,
            settings: Vec::new(),
        }
    }

    #[test]
    fn tiers_and_latencies_parse_from_their_words() {
        assert_eq!("flex".parse(), Ok(ServiceTier::Flex));
        assert_eq!(" priority ".parse(), Ok(ServiceTier::Priority));
        assert_eq!("optimized".parse(), Ok(Latency::Optimized));
        let e = "fast".parse::<ServiceTier>().unwrap_err();
        assert!(e.contains("flex"), "{e}");
        assert!("fast".parse::<Latency>().unwrap_err().contains("optimized"));
    }

    #[test]
    fn no_region_is_refused_with_the_variable_to_set() {
        let e = models(&SdkConfig::builder().build(), &config(&["m"])).unwrap_err();
        assert!(e.to_string().starts_with("BEDROCK_REGION: no AWS region configured"), "{e}");
    }

    #[test]
    fn each_choice_becomes_a_model_named_and_described_by_its_rules() {
        let sdk_config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .build();
        let mut config = config(&["us.anthropic.claude-opus-4-7", "meta.llama3-70b-instruct-v1:0"]);
        config.models[0].name = Some("Opus".into());
        let models = models(&sdk_config, &config).unwrap();
        let infos: Vec<_> =
            models.iter().map(|m| (m.info().name.as_str(), m.info().capabilities.reasoning)).collect();
        assert_eq!(
            infos,
            [("Opus", ReasoningStyle::Adaptive), ("meta.llama3-70b-instruct-v1:0", ReasoningStyle::None)]
        );
    }
}
