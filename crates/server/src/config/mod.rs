//! All configuration, read once at start-up from the environment (and `.env`). A bad value
//! stops the server with a message naming the variable, never at the first request.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use axum::http::HeaderValue;
use secrecy::SecretString;
use streambed_core::InferenceParams;
use streambed_local::{LocalConfig, Settings};

use crate::auth::AuthConfig;
use vars::Vars;

mod auth;
mod connections;
mod limits;
mod redis;
mod store;
mod vars;

pub use connections::Connections;
pub use limits::Limits;
pub use store::{DEFAULT_DATABASE_URL, StoreConfig};

/// Which model answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderChoice {
    /// Amazon Bedrock through the AWS SDK.
    Bedrock,
    /// The embedded SmolLM2 model, in-process.
    Local,
}

/// Browsers allowed to call the API from another origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    List(Vec<HeaderValue>),
}

/// The server's configuration. Every field maps to one documented variable in `.env.example`.
#[derive(Debug, Clone)]
pub struct Config {
    /// `HOST`: address to listen on (`127.0.0.1`; containers use `0.0.0.0`).
    pub host: IpAddr,
    /// `PORT`: port to listen on (4000).
    pub port: u16,
    /// `CORS_ORIGIN`: comma-separated origins, or `*` (the default).
    pub cors_origins: CorsOrigins,
    /// `CHAT_PROVIDER`: `bedrock` or `local`; unset means bedrock when `BEDROCK_MODEL_ID` is set.
    pub provider: ProviderChoice,
    /// Why `provider` was chosen, for the start-up log.
    pub provider_reason: &'static str,
    /// `BEDROCK_REGION`: overrides the AWS SDK's region chain (`AWS_REGION`, profile).
    pub bedrock_region: Option<String>,
    /// `BEDROCK_MODEL_ID`: model id or inference profile id/ARN.
    pub bedrock_model_id: Option<String>,
    /// `BEDROCK_STREAM_IDLE_TIMEOUT`: seconds of upstream silence that end a stream (60).
    pub stream_idle_timeout: Duration,
    /// `BEDROCK_SYSTEM_PROMPT`: system instructions for every request.
    pub system_prompt: Option<String>,
    /// `BEDROCK_MAX_TOKENS`, `BEDROCK_TEMPERATURE`, `BEDROCK_TOP_P`: sampling settings sent
    /// with every request; unset leaves the model's defaults.
    pub params: InferenceParams,
    /// `MAX_BODY_BYTES`: largest accepted request body (1 MiB).
    pub max_body_bytes: usize,
    /// `SSE_KEEPALIVE_SECONDS`: interval of `: keep-alive` comments on quiet streams (15).
    pub keep_alive: Duration,
    /// `SHUTDOWN_GRACE_SECONDS`: how long in-flight streams may finish after SIGTERM (25).
    pub shutdown_grace: Duration,
    /// `LOCAL_MODEL_PATH`, `LOCAL_MAX_QUEUE`, `LOCAL_TOP_K`, `LOCAL_REPEAT_PENALTY`: the
    /// embedded model's file, waiting-room size and sampling; `BEDROCK_MAX_TOKENS`,
    /// `BEDROCK_TEMPERATURE` and `BEDROCK_TOP_P` apply to it too.
    pub local: LocalConfig,
    /// `STATIC_DIR`: the built SPA to serve at `/` when it exists (`frontend/dist`).
    pub static_dir: PathBuf,
    /// `API_KEYS`, `AUTH_JWT_*`: who may call the API; both unset leaves it open.
    pub auth: AuthConfig,
    /// `RATE_LIMIT_*`, `MAX_*`, `REQUEST_TIMEOUT_SECONDS`, `TRUSTED_PROXY_HOPS`.
    pub limits: Limits,
    /// `MAX_CONNECTIONS`, `HEADER_READ_TIMEOUT_SECONDS`, `REQUEST_BODY_TIMEOUT_SECONDS`.
    pub connections: Connections,
    /// `DATABASE_URL`, `MAX_CONVERSATIONS_PER_OWNER`, `MAX_MESSAGES_PER_CONVERSATION`,
    /// `CONVERSATIONS_WITHOUT_AUTH`, `ANSWER_LEASE_SECONDS`: stored conversations.
    pub store: StoreConfig,
    /// `REDIS_URL`: the Redis server replicas share (running answers, Stop, rate limits);
    /// unset keeps all of it in this process. May hold a password.
    pub redis_url: Option<SecretString>,
}

/// A variable with a value the server cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    /// Empty values count as unset, as `.env` files often leave them.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(&|name| lookup(name).filter(|v| !v.trim().is_empty()));
        let bedrock_model_id = vars.string("BEDROCK_MODEL_ID");
        let (provider, provider_reason) = match vars.string("CHAT_PROVIDER").as_deref() {
            Some("bedrock") => (ProviderChoice::Bedrock, "CHAT_PROVIDER=bedrock"),
            Some("local") => (ProviderChoice::Local, "CHAT_PROVIDER=local"),
            Some(other) => {
                return Err(ConfigError::new(
                    "CHAT_PROVIDER",
                    format!("`{other}` is not `bedrock` or `local`"),
                ));
            }
            None if bedrock_model_id.is_some() => (ProviderChoice::Bedrock, "BEDROCK_MODEL_ID is set"),
            None => (ProviderChoice::Local, "BEDROCK_MODEL_ID is not set"),
        };
        if provider == ProviderChoice::Bedrock && bedrock_model_id.is_none() {
            return Err(ConfigError::new(
                "BEDROCK_MODEL_ID",
                "is required with CHAT_PROVIDER=bedrock, e.g. anthropic.claude-3-haiku-20240307-v1:0".into(),
            ));
        }
        let cors_origins = match vars.string("CORS_ORIGIN") {
            None => CorsOrigins::Any,
            Some(v) if v.trim() == "*" => CorsOrigins::Any,
            Some(v) => CorsOrigins::List(
                v.split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(|o| {
                        HeaderValue::from_str(o).map_err(|_| {
                            ConfigError::new("CORS_ORIGIN", format!("`{o}` is not a valid origin"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        let auth = AuthConfig {
            api_keys: auth::api_keys(&vars)?,
            jwt: auth::jwt(&vars)?,
            max_failures_per_minute: auth::max_failures_per_minute(&vars)?,
        };
        let limits = limits::read(&vars, auth.is_enabled())?;
        let params = InferenceParams {
            max_tokens: vars.optional(
                "BEDROCK_MAX_TOKENS",
                |v: &u32| (1..=limits.max_tokens).contains(v),
                &format!("an integer from 1 to MAX_TOKENS_LIMIT ({})", limits.max_tokens),
            )?,
            temperature: vars.optional("BEDROCK_TEMPERATURE", unit_interval, "a number from 0 to 1")?,
            top_p: vars.optional("BEDROCK_TOP_P", unit_interval, "a number from 0 to 1")?,
            top_k: None,
        };
        let defaults = LocalConfig::default();
        let local = LocalConfig {
            model_path: vars.string("LOCAL_MODEL_PATH").map_or(defaults.model_path, PathBuf::from),
            max_queue: vars.parse("LOCAL_MAX_QUEUE", defaults.max_queue)?,
            settings: Settings {
                top_k: vars.at_least_one("LOCAL_TOP_K", defaults.settings.top_k)?,
                repeat_penalty: vars
                    .optional(
                        "LOCAL_REPEAT_PENALTY",
                        |p: &f32| (1.0..=2.0).contains(p),
                        "a number from 1 to 2",
                    )?
                    .unwrap_or(defaults.settings.repeat_penalty),
                ..defaults.settings
            },
            context_tokens: defaults.context_tokens,
        };
        Ok(Self {
            local,
            host: vars.parse("HOST", IpAddr::from([127, 0, 0, 1]))?,
            port: vars.parse("PORT", 4000)?,
            cors_origins,
            provider,
            provider_reason,
            bedrock_region: vars.string("BEDROCK_REGION"),
            bedrock_model_id,
            stream_idle_timeout: vars.seconds("BEDROCK_STREAM_IDLE_TIMEOUT", 60.0)?,
            system_prompt: vars.string("BEDROCK_SYSTEM_PROMPT"),
            params,
            max_body_bytes: vars.parse("MAX_BODY_BYTES", 1024 * 1024)?,
            keep_alive: vars.seconds("SSE_KEEPALIVE_SECONDS", 15.0)?,
            shutdown_grace: vars.seconds("SHUTDOWN_GRACE_SECONDS", 25.0)?,
            static_dir: vars.string("STATIC_DIR").unwrap_or_else(|| "frontend/dist".into()).into(),
            auth,
            limits,
            connections: connections::read(&vars)?,
            store: store::read(&vars)?,
            redis_url: self::redis::read(&vars)?,
        })
    }
}

fn unit_interval(v: &f32) -> bool {
    (0.0..=1.0).contains(v)
}

impl ConfigError {
    fn new(var: &'static str, message: String) -> Self {
        Self { var, message }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_seed_and_choose_the_local_model() {
        let config = load(&[]).unwrap();
        assert_eq!((config.host.to_string().as_str(), config.port), ("127.0.0.1", 4000));
        assert_eq!(config.cors_origins, CorsOrigins::Any);
        assert_eq!(config.provider, ProviderChoice::Local);
        assert_eq!(config.max_body_bytes, 1024 * 1024);
        assert_eq!(config.shutdown_grace, Duration::from_secs(25));
    }

    #[test]
    fn a_model_id_selects_bedrock_unless_the_provider_is_named() {
        let config = load(&[("BEDROCK_MODEL_ID", "m")]).unwrap();
        assert_eq!(
            (config.provider, config.provider_reason),
            (ProviderChoice::Bedrock, "BEDROCK_MODEL_ID is set")
        );
        let config = load(&[("BEDROCK_MODEL_ID", "m"), ("CHAT_PROVIDER", "local")]).unwrap();
        assert_eq!(config.provider, ProviderChoice::Local);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (pairs, var) in [
            (vec![("PORT", "eighty")], "PORT"),
            (vec![("HOST", "localhost:1")], "HOST"),
            (vec![("CHAT_PROVIDER", "openai")], "CHAT_PROVIDER"),
            (vec![("CHAT_PROVIDER", "bedrock")], "BEDROCK_MODEL_ID"),
            (vec![("BEDROCK_TEMPERATURE", "1.5")], "BEDROCK_TEMPERATURE"),
            (vec![("BEDROCK_TOP_P", "-0.1")], "BEDROCK_TOP_P"),
            (vec![("BEDROCK_MAX_TOKENS", "0")], "BEDROCK_MAX_TOKENS"),
            (vec![("SHUTDOWN_GRACE_SECONDS", "soon")], "SHUTDOWN_GRACE_SECONDS"),
            (vec![("LOCAL_MAX_QUEUE", "-1")], "LOCAL_MAX_QUEUE"),
            (vec![("CORS_ORIGIN", "https://a.example,bad\norigin")], "CORS_ORIGIN"),
            (vec![("LOCAL_REPEAT_PENALTY", "0.5")], "LOCAL_REPEAT_PENALTY"),
            (vec![("BEDROCK_MAX_TOKENS", "5000")], "BEDROCK_MAX_TOKENS"),
            (vec![("MAX_CONCURRENT_STREAMS", "0")], "MAX_CONCURRENT_STREAMS"),
            (vec![("REQUEST_TIMEOUT_SECONDS", "0")], "REQUEST_TIMEOUT_SECONDS"),
            (vec![("RATE_LIMIT_PER_MINUTE", "-1")], "RATE_LIMIT_PER_MINUTE"),
            (vec![("MAX_CONNECTIONS", "0")], "MAX_CONNECTIONS"),
            (vec![("HEADER_READ_TIMEOUT_SECONDS", "0")], "HEADER_READ_TIMEOUT_SECONDS"),
            (vec![("REQUEST_BODY_TIMEOUT_SECONDS", "never")], "REQUEST_BODY_TIMEOUT_SECONDS"),
            (vec![("SSE_KEEPALIVE_SECONDS", "1e300")], "SSE_KEEPALIVE_SECONDS"),
            (vec![("API_KEYS", "short")], "API_KEYS"),
            (vec![("AUTH_JWT_ISSUER", "not a url"), ("AUTH_JWT_AUDIENCE", "a")], "AUTH_JWT_ISSUER"),
            (vec![("AUTH_JWT_ISSUER", "https://idp.example")], "AUTH_JWT_AUDIENCE"),
            (vec![("AUTH_JWT_AUDIENCE", "a")], "AUTH_JWT_ISSUER"),
            (vec![("REDIS_URL", "localhost:6379")], "REDIS_URL"),
        ] {
            assert_eq!(load(&pairs).unwrap_err().var, var);
        }
    }

    #[test]
    fn secrets_never_reach_debug_output_or_errors() {
        let key = "sk-live-0123456789abcdef";
        let config = load(&[("API_KEYS", &format!("{key}, another-key-0123456789"))]).unwrap();
        assert_eq!(config.auth.api_keys.len(), 2);
        assert!(!format!("{config:?}").contains(key));
        assert!(!format!("{config:#?}").contains("0123456789"));
        let error = load(&[("API_KEYS", "tiny-secret")]).unwrap_err();
        assert!(!error.to_string().contains("tiny-secret"), "{error}");
        let config = load(&[("REDIS_URL", "rediss://:redis-password-42@cache.example:6379")]).unwrap();
        assert!(config.redis_url.is_some() && !format!("{config:?}").contains("redis-password-42"));
        let error = load(&[("REDIS_URL", "cache.example:6379?password=redis-password-42")]).unwrap_err();
        assert!(!error.to_string().contains("redis-password-42"), "{error}");
    }

    #[test]
    fn every_variable_read_is_documented_in_env_example() {
        let read = std::cell::RefCell::new(Vec::new());
        Config::from_lookup(|name| {
            read.borrow_mut().push(name.to_owned());
            // Also walk the optional branches (JWT settings are only read with an issuer).
            (name == "AUTH_JWT_ISSUER" || name == "AUTH_JWT_AUDIENCE")
                .then(|| "https://idp.example".to_owned())
        })
        .unwrap();
        let documented = include_str!("../../../../.env.example");
        for name in read.into_inner() {
            assert!(documented.contains(&format!("{name}=")), "{name} is missing from .env.example");
        }
    }

    #[test]
    fn limits_have_safe_defaults() {
        let limits = load(&[]).unwrap().limits;
        assert_eq!((limits.max_streams, limits.max_tokens), (10_000, 4096));
        assert_eq!(limits.request_timeout, Duration::from_secs(600));
        let connections = load(&[]).unwrap().connections;
        assert_eq!(connections.max, 20_000);
        assert_eq!(connections.header_read_timeout, Duration::from_secs(10));
        assert_eq!(connections.body_read_timeout, Duration::from_secs(30));
    }

    #[test]
    fn the_rate_limit_is_on_by_default_only_with_authentication() {
        let rate = |pairs: &[(&str, &str)]| {
            let limits = load(pairs).unwrap().limits;
            (limits.rate_per_minute, limits.rate_reason)
        };
        let key = ("API_KEYS", "a-key-of-sixteen-chars");
        let jwt = [("AUTH_JWT_ISSUER", "https://idp.example"), ("AUTH_JWT_AUDIENCE", "a")];

        assert_eq!(rate(&[]), (0, "authentication is off and RATE_LIMIT_PER_MINUTE is not set"));
        assert_eq!(rate(&[("RATE_LIMIT_BURST", "5")]).0, 0, "a burst alone does not turn it on");
        assert_eq!(rate(&[key]), (60, "authentication is on and RATE_LIMIT_PER_MINUTE is not set"));
        assert_eq!(rate(&jwt).0, 60);
        assert_eq!(rate(&[("RATE_LIMIT_PER_MINUTE", "30")]), (30, "RATE_LIMIT_PER_MINUTE is set"));
        assert_eq!(rate(&[key, ("RATE_LIMIT_PER_MINUTE", "0")]), (0, "RATE_LIMIT_PER_MINUTE is set"));
        assert_eq!(load(&[key]).unwrap().limits.rate_summary(), "60 chats per minute, burst 20");
        assert_eq!(load(&[]).unwrap().limits.rate_summary(), "off");
    }

    #[test]
    fn cors_origins_are_a_trimmed_list_and_empty_values_are_unset() {
        let config = load(&[("CORS_ORIGIN", "https://a.example, https://b.example"), ("PORT", "")]).unwrap();
        assert_eq!(
            config.cors_origins,
            CorsOrigins::List(vec![
                HeaderValue::from_static("https://a.example"),
                HeaderValue::from_static("https://b.example")
            ])
        );
        assert_eq!(config.port, 4000);
    }

    #[test]
    fn sampling_settings_are_forwarded() {
        let config =
            load(&[("BEDROCK_MAX_TOKENS", "512"), ("BEDROCK_TEMPERATURE", "0.2"), ("BEDROCK_TOP_P", "0.9")])
                .unwrap();
        assert_eq!(
            config.params,
            InferenceParams { max_tokens: Some(512), temperature: Some(0.2), top_p: Some(0.9), top_k: None }
        );
    }
}
