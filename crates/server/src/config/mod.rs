//! All configuration, read once at start-up from the environment (and `.env`). A bad value
//! stops the server with a message naming the variable, never at the first request.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use secrecy::SecretString;
use streambed_core::InferenceParams;

use vars::Vars;

mod auth;
mod connections;
mod cors;
mod limits;
mod models;
mod params;
mod redis;
mod store;
#[cfg(test)]
mod task_definition;
mod vars;

pub use auth::{ApiKey, AuthConfig, JwtConfig};
pub use connections::Connections;
pub use cors::CorsOrigins;
pub use limits::{Limits, TooLarge};
pub use models::{ModelsConfig, ProviderChoice};
pub use store::{DEFAULT_DATABASE_URL, StoreConfig};

/// The server's configuration. Every field maps to one documented variable in `.env.example`.
#[derive(Debug, Clone)]
pub struct Config {
    /// `HOST`: address to listen on (`127.0.0.1`; containers use `0.0.0.0`).
    pub host: IpAddr,
    /// `PORT`: port to listen on (4000).
    pub port: u16,
    /// `CORS_ORIGIN`: comma-separated origins, or `*` (the default).
    pub cors_origins: CorsOrigins,
    /// `CHAT_PROVIDER`, `BEDROCK_MODEL_ID`, `BEDROCK_MODELS`, `BEDROCK_REGION`, the other
    /// `BEDROCK_*` request settings and `LOCAL_*`: the models offered.
    pub models: ModelsConfig,
    /// `BEDROCK_SYSTEM_PROMPT`: system instructions for every request.
    pub system_prompt: Option<String>,
    /// `BEDROCK_MAX_TOKENS`, `BEDROCK_TEMPERATURE`, `BEDROCK_TOP_P`, `BEDROCK_TOP_K`: sampling
    /// settings sent with every request (to the embedded model too) where the model takes
    /// them; unset leaves the model's defaults.
    pub params: InferenceParams,
    /// `MAX_BODY_BYTES`: largest accepted request body (1 MiB).
    pub max_body_bytes: usize,
    /// `SSE_KEEPALIVE_SECONDS`: interval of `: keep-alive` comments on quiet streams (15).
    pub keep_alive: Duration,
    /// `SHUTDOWN_GRACE_SECONDS`: how long in-flight streams may finish after SIGTERM (25).
    pub shutdown: ShutdownTiming,
    /// `STATIC_DIR`: the built SPA to serve at `/` when it exists (`frontend/dist`).
    pub static_dir: PathBuf,
    /// `API_KEYS`, `AUTH_JWT_*`: who may call the API; both unset leaves it open.
    pub auth: AuthConfig,
    /// `RATE_LIMIT_*`, `MAX_*`, `REQUEST_TIMEOUT_SECONDS`, `TRUSTED_PROXY_HOPS`.
    pub limits: Limits,
    /// `MAX_CONNECTIONS`, `HEADER_READ_TIMEOUT_SECONDS`, `REQUEST_BODY_TIMEOUT_SECONDS`,
    /// `SEND_TIMEOUT_SECONDS`.
    pub connections: Connections,
    /// `DATABASE_URL`, `DATABASE_MAX_CONNECTIONS`, `MAX_CONVERSATIONS_PER_OWNER`,
    /// `MAX_MESSAGES_PER_CONVERSATION`, `CONVERSATIONS_WITHOUT_AUTH`, `ANSWER_LEASE_SECONDS`:
    /// stored conversations.
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
        let auth = auth::read(&vars)?;
        let limits = limits::read(&vars, auth.is_enabled())?;
        let params = params::read(&vars, &limits)?;
        let connections = connections::read(&vars, limits.trusted_proxy_hops > 0)?;
        let shutdown = ShutdownTiming::read(&vars, limits.trusted_proxy_hops > 0)?;
        Ok(Self {
            models: models::read(&vars, &params)?,
            host: vars.parse(
                "HOST",
                IpAddr::from([127, 0, 0, 1]),
                "an IP address, such as 127.0.0.1 or 0.0.0.0",
            )?,
            port: vars.parse("PORT", 4000, "a port number from 0 to 65535")?,
            cors_origins: cors::read(&vars)?,
            system_prompt: vars.string("BEDROCK_SYSTEM_PROMPT"),
            params,
            max_body_bytes: vars.at_least_one("MAX_BODY_BYTES", 1024 * 1024)?,
            keep_alive: vars.seconds("SSE_KEEPALIVE_SECONDS", 15.0)?,
            shutdown,
            static_dir: vars.string("STATIC_DIR").unwrap_or_else(|| "frontend/dist".into()).into(),
            auth,
            limits,
            connections,
            store: store::read(&vars)?,
            redis_url: self::redis::read(&vars)?,
        })
    }
}

/// What the server does after SIGTERM (or Ctrl-C), both counted from the signal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShutdownTiming {
    /// `SHUTDOWN_DELAY_SECONDS`: how long new requests are still served while `/api/ready`
    /// answers 503, before the server stops accepting (0; behind proxies 5, or half the grace
    /// when that is shorter).
    pub delay: Duration,
    /// `SHUTDOWN_GRACE_SECONDS`: when answers still running are cut off (25).
    pub grace: Duration,
}

impl ShutdownTiming {
    /// `behind_proxies`: `TRUSTED_PROXY_HOPS` is above 0, so a load balancer may send for a few
    /// seconds after it began to deregister the task.
    fn read(vars: &Vars, behind_proxies: bool) -> Result<Self, ConfigError> {
        let grace = vars.seconds("SHUTDOWN_GRACE_SECONDS", 25.0)?;
        let default = if behind_proxies { (grace.as_secs_f64() / 2.0).min(5.0) } else { 0.0 };
        let delay = vars.at_least_seconds("SHUTDOWN_DELAY_SECONDS", default, 0.0)?;
        if delay >= grace {
            return Err(ConfigError::new(
                "SHUTDOWN_DELAY_SECONDS",
                "must be shorter than SHUTDOWN_GRACE_SECONDS, which counts from the same signal".into(),
            ));
        }
        Ok(Self { delay, grace })
    }
}

impl ConfigError {
    fn new(var: &'static str, message: String) -> Self {
        Self { var, message }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use axum::http::HeaderValue;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_seed_and_choose_the_local_model() {
        let config = load(&[]).unwrap();
        assert_eq!((config.host.to_string().as_str(), config.port), ("127.0.0.1", 4000));
        assert_eq!(config.cors_origins, CorsOrigins::Default);
        assert_eq!((config.models.default, config.models.bedrock), (ProviderChoice::Local, None));
        assert_eq!(config.models.reasoning, streambed_core::Reasoning::Off);
        assert_eq!(config.max_body_bytes, 1024 * 1024);
        assert_eq!(config.shutdown.grace, Duration::from_secs(25));
    }

    #[test]
    fn a_model_id_selects_bedrock_unless_the_provider_is_named() {
        let config = load(&[("BEDROCK_MODEL_ID", "m")]).unwrap().models;
        assert_eq!((config.default, config.reason), (ProviderChoice::Bedrock, "BEDROCK_MODEL_ID is set"));
        let config = load(&[("BEDROCK_MODEL_ID", "m"), ("CHAT_PROVIDER", "local")]).unwrap().models;
        assert_eq!((config.default, config.bedrock), (ProviderChoice::Local, None));
    }

    #[test]
    fn bedrock_models_are_listed_after_the_default_with_their_names() {
        let ids = |pairs: &[(&str, &str)]| {
            let bedrock = load(pairs).unwrap().models.bedrock.unwrap();
            bedrock.models.into_iter().map(|m| (m.id, m.name)).collect::<Vec<_>>()
        };
        let listed =
            ("BEDROCK_MODELS", "us.anthropic.claude-sonnet-4-5-20250929-v1:0=Sonnet 4.5, b ,a=Model A");
        assert_eq!(
            ids(&[("BEDROCK_MODEL_ID", "a"), listed]),
            [
                ("a".to_owned(), Some("Model A".to_owned())),
                ("us.anthropic.claude-sonnet-4-5-20250929-v1:0".to_owned(), Some("Sonnet 4.5".to_owned())),
                ("b".to_owned(), None),
            ],
            "the default first, named from the list, and not twice"
        );
        assert_eq!(
            ids(&[("BEDROCK_MODEL_ID", "x"), ("BEDROCK_MODELS", "y")]).len(),
            2,
            "a default not listed"
        );
        assert_eq!(
            ids(&[listed]).first().map(|(id, _)| id.as_str()),
            Some("us.anthropic.claude-sonnet-4-5-20250929-v1:0")
        );
        let config =
            load(&[("BEDROCK_MODELS", "arn:aws:bedrock:us-east-1:1:inference-profile/p")]).unwrap().models;
        assert_eq!((config.default, config.reason), (ProviderChoice::Bedrock, "BEDROCK_MODELS is set"));
    }

    #[test]
    fn bedrock_request_settings_are_read() {
        let config = load(&[
            ("BEDROCK_MODEL_ID", "m"),
            ("BEDROCK_SERVICE_TIER", "flex"),
            ("BEDROCK_LATENCY", "optimized"),
            ("BEDROCK_PROMPT_CACHE", "on"),
            ("BEDROCK_REASONING", "medium"),
        ])
        .unwrap()
        .models;
        let bedrock = config.bedrock.unwrap();
        assert_eq!(bedrock.service_tier, Some(streambed_bedrock::ServiceTier::Flex));
        assert_eq!(bedrock.latency, Some(streambed_bedrock::Latency::Optimized));
        assert!(bedrock.prompt_cache);
        assert_eq!(bedrock.settings, [streambed_bedrock::Setting::Reasoning], "for refusals to name");
        let off = load(&[("BEDROCK_MODEL_ID", "m"), ("BEDROCK_REASONING", "off"), ("BEDROCK_TOP_K", "5")]);
        let settings = off.unwrap().models.bedrock.unwrap().settings;
        assert_eq!(settings, [streambed_bedrock::Setting::TopK], "reasoning `off` sends none to refuse");
        assert_eq!(config.reasoning, streambed_core::Reasoning::Medium);
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
            (vec![("BEDROCK_MODELS", "a b")], "BEDROCK_MODELS"),
            (vec![("BEDROCK_MODEL_ID", "m"), ("BEDROCK_SERVICE_TIER", "gold")], "BEDROCK_SERVICE_TIER"),
            (vec![("BEDROCK_MODEL_ID", "m"), ("BEDROCK_LATENCY", "fast")], "BEDROCK_LATENCY"),
            (vec![("BEDROCK_MODEL_ID", "m"), ("BEDROCK_PROMPT_CACHE", "yes")], "BEDROCK_PROMPT_CACHE"),
            (vec![("BEDROCK_REASONING", "max")], "BEDROCK_REASONING"),
            (vec![("BEDROCK_TOP_K", "0")], "BEDROCK_TOP_K"),
            // Read and refused whichever provider serves.
            (vec![("CHAT_PROVIDER", "local"), ("BEDROCK_SERVICE_TIER", "gold")], "BEDROCK_SERVICE_TIER"),
            (vec![("BEDROCK_STREAM_IDLE_TIMEOUT", "0")], "BEDROCK_STREAM_IDLE_TIMEOUT"),
            (vec![("MAX_PROMPT_CHARS", "0")], "MAX_PROMPT_CHARS"),
            (vec![("MAX_BODY_BYTES", "0")], "MAX_BODY_BYTES"),
        ] {
            assert_eq!(load(&pairs).unwrap_err().var, var);
        }
    }

    #[test]
    fn bad_values_say_in_words_what_is_expected() {
        for (pairs, expected) in [
            (vec![("CONVERSATIONS_WITHOUT_AUTH", "yes")], "`yes` is not true or false"),
            (vec![("HOST", "localhost")], "`localhost` is not an IP address, such as 127.0.0.1 or 0.0.0.0"),
            (vec![("PORT", "70000")], "`70000` is not a port number from 0 to 65535"),
            (vec![("LOCAL_MAX_QUEUE", "-1")], "`-1` is not a whole number"),
        ] {
            let error = load(&pairs).unwrap_err().to_string();
            assert!(error.ends_with(expected), "{error}");
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
        let config = load(&[("API_KEYS", &format!("alice:{key},bob.b-2:another-key-0123456789"))]).unwrap();
        let names: Vec<_> = config.auth.api_keys.iter().map(|k| k.name.as_deref()).collect();
        assert_eq!(names, [Some("alice"), Some("bob.b-2")]);
        assert!(!format!("{config:?}").contains(key));
        let twice =
            load(&[("API_KEYS", &format!("alice:{key},another-key-0123456789,bob:{key}"))]).unwrap_err();
        assert!(twice.to_string().contains("key #3 is key #1 again") && !twice.to_string().contains(key));
        for bad in [format!("al ice:{key}"), format!(":{key}"), format!("alice:{}", &key[..8])] {
            let error = load(&[("API_KEYS", &bad)]).unwrap_err().to_string();
            assert!(error.contains("key #1") && !error.contains(&key[..8]), "{error}");
        }
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
            // Also walk the optional branches (JWT settings are only read with an issuer,
            // Bedrock's with a model).
            match name {
                "AUTH_JWT_ISSUER" | "AUTH_JWT_AUDIENCE" => Some("https://idp.example".to_owned()),
                "BEDROCK_MODEL_ID" => Some("m".to_owned()),
                _ => None,
            }
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
        assert_eq!(limits.first_byte, Duration::from_secs(15));
        let connections = load(&[]).unwrap().connections;
        assert_eq!(connections.max, 20_000);
        assert_eq!(connections.header_read_timeout, Duration::from_secs(10));
        assert_eq!(connections.body_read_timeout, Duration::from_secs(30));
    }

    #[test]
    fn behind_proxies_idle_connections_outlive_the_proxies_reuse_of_them() {
        let header_read = |pairs: &[(&str, &str)]| load(pairs).unwrap().connections.header_read_timeout;

        assert_eq!(header_read(&[("TRUSTED_PROXY_HOPS", "1")]), Duration::from_secs(125));
        let chosen = [("TRUSTED_PROXY_HOPS", "2"), ("HEADER_READ_TIMEOUT_SECONDS", "65")];
        assert_eq!(header_read(&chosen), Duration::from_secs(65), "a value set is kept");
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
        let config = load(&[
            ("BEDROCK_MAX_TOKENS", "512"),
            ("BEDROCK_TEMPERATURE", "0.2"),
            ("BEDROCK_TOP_P", "0.9"),
            ("BEDROCK_TOP_K", "5"),
        ])
        .unwrap();
        assert_eq!(
            config.params,
            InferenceParams {
                max_tokens: Some(512),
                temperature: Some(0.2),
                top_p: Some(0.9),
                top_k: Some(5)
            }
        );
    }
}
