//! The authentication variables: `API_KEYS`, the `AUTH_JWT_*` issuer settings and the lockout.

use std::{num::NonZeroU32, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{ConfigError, Vars};

/// Authentication settings (`auth` checks requests against them).
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// `API_KEYS`: accepted static keys.
    pub api_keys: Vec<ApiKey>,
    /// `AUTH_JWT_*`: the token issuer, when tokens are accepted.
    pub jwt: Option<JwtConfig>,
    /// `AUTH_MAX_FAILURES_PER_MINUTE`: wrong keys or tokens an address may send in a minute
    /// before it is locked out for the rest of it (30); `None` never locks out.
    pub max_failures_per_minute: Option<NonZeroU32>,
}

impl AuthConfig {
    pub fn is_enabled(&self) -> bool {
        !self.api_keys.is_empty() || self.jwt.is_some()
    }

    /// The wrong-credential lockout, for the start-up log: it exists only with authentication.
    pub fn lockout_summary(&self) -> String {
        match (self.is_enabled(), self.max_failures_per_minute) {
            (false, _) => "off (no authentication)".to_owned(),
            (true, None) => "off".to_owned(),
            (true, Some(max)) => format!("{max} wrong keys or tokens per minute"),
        }
    }
}

/// One OIDC issuer whose tokens are accepted.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// `AUTH_JWT_ISSUER`: must equal the tokens' `iss` claim exactly (an http(s) URL).
    pub issuer: String,
    /// `AUTH_JWT_AUDIENCE`: the API's audience (Cognito: the app client id), matched against
    /// `aud` or, for Cognito access tokens that have none, `client_id`.
    pub audience: String,
    /// `AUTH_JWKS_URL`: where the signing keys are; unset discovers it from the issuer's
    /// `/.well-known/openid-configuration`.
    pub jwks_url: Option<Url>,
    /// `AUTH_JWKS_MIN_REFETCH_SECONDS`: the shortest interval between two fetches of the keys
    /// when tokens name an unknown key id (30), so forged ids cannot hammer the issuer.
    pub min_refetch: Duration,
}

/// One of `API_KEYS`: the key, and the name it was given (`name:key`), which then owns its
/// conversations and rate allowance, so that a new key under the same name keeps them.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub name: Option<String>,
    pub key: SecretString,
}

/// Keys shorter than this are refused: they could be guessed.
const MIN_API_KEY_CHARS: usize = 16;

/// Longest name of a key: it is stored with each of its conversations.
const MAX_API_KEY_NAME_CHARS: usize = 64;

/// `API_KEYS`, `AUTH_JWT_ISSUER`, `AUTH_JWT_AUDIENCE`, `AUTH_JWKS_URL` and
/// `AUTH_MAX_FAILURES_PER_MINUTE`.
pub(super) fn read(vars: &Vars) -> Result<AuthConfig, ConfigError> {
    Ok(AuthConfig {
        api_keys: api_keys(vars)?,
        jwt: jwt(vars)?,
        max_failures_per_minute: max_failures_per_minute(vars)?,
    })
}

fn api_keys(vars: &Vars) -> Result<Vec<ApiKey>, ConfigError> {
    let Some(list) = vars.string("API_KEYS") else { return Ok(Vec::new()) };
    list.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .enumerate()
        .map(|(i, entry)| {
            // The messages name the key's position, never the key.
            let (name, key) = match entry.split_once(':') {
                Some((name, key)) => (Some(name), key),
                None => (None, entry),
            };
            let well_named = |name: &str| {
                (1..=MAX_API_KEY_NAME_CHARS).contains(&name.len())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            };
            if name.is_some_and(|name| !well_named(name)) {
                return Err(ConfigError::new(
                    "API_KEYS",
                    format!(
                        "key #{}: a name before `:` must be 1 to {MAX_API_KEY_NAME_CHARS} letters, digits, \
                         `.`, `_` or `-` (as in `alice:<key>`)",
                        i + 1
                    ),
                ));
            }
            if key.chars().count() < MIN_API_KEY_CHARS
                || key.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(ConfigError::new(
                    "API_KEYS",
                    format!(
                        "key #{} must be at least {MIN_API_KEY_CHARS} printable characters without spaces; \
                         generate one with `openssl rand -hex 32`",
                        i + 1
                    ),
                ));
            }
            Ok(ApiKey { name: name.map(str::to_owned), key: SecretString::from(key) })
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|keys| {
            // One key for two principals would be whichever comes last, without a word.
            for (i, key) in keys.iter().enumerate() {
                let same = |other: &ApiKey| other.key.expose_secret() == key.key.expose_secret();
                if let Some(first) = keys[..i].iter().position(same) {
                    return Err(ConfigError::new(
                        "API_KEYS",
                        format!("key #{} is key #{} again: list each key once", i + 1, first + 1),
                    ));
                }
            }
            Ok(keys)
        })
}

fn jwt(vars: &Vars) -> Result<Option<JwtConfig>, ConfigError> {
    let issuer = vars.string("AUTH_JWT_ISSUER");
    let audience = vars.string("AUTH_JWT_AUDIENCE");
    let jwks_url = vars.string("AUTH_JWKS_URL");
    let Some(issuer) = issuer else {
        return match (audience, jwks_url) {
            (None, None) => Ok(None),
            _ => Err(ConfigError::new(
                "AUTH_JWT_ISSUER",
                "is required when AUTH_JWT_AUDIENCE or AUTH_JWKS_URL is set".into(),
            )),
        };
    };
    let http_url = |var: &'static str, url: &str| match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
        _ => Err(ConfigError::new(var, format!("`{url}` is not an http(s) URL"))),
    };
    http_url("AUTH_JWT_ISSUER", &issuer)?;
    let Some(audience) = audience else {
        return Err(ConfigError::new(
            "AUTH_JWT_AUDIENCE",
            "is required with AUTH_JWT_ISSUER (the app client id)".into(),
        ));
    };
    let jwks_url = jwks_url.map(|url| http_url("AUTH_JWKS_URL", &url)).transpose()?;
    let min_refetch = vars.seconds("AUTH_JWKS_MIN_REFETCH_SECONDS", 30.0)?;
    Ok(Some(JwtConfig { issuer, audience, jwks_url, min_refetch }))
}

/// `AUTH_MAX_FAILURES_PER_MINUTE`: 0 turns the lockout off.
fn max_failures_per_minute(vars: &Vars) -> Result<Option<NonZeroU32>, ConfigError> {
    Ok(NonZeroU32::new(vars.parse(
        "AUTH_MAX_FAILURES_PER_MINUTE",
        30,
        "a whole number (0 for no lockout)",
    )?))
}
