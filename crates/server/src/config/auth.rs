//! The authentication variables: `API_KEYS`, the `AUTH_JWT_*` issuer settings and the lockout.

use std::num::NonZeroU32;

use secrecy::SecretString;

use super::{ConfigError, Vars};
use crate::auth::JwtConfig;

/// Keys shorter than this are refused: they could be guessed.
const MIN_API_KEY_CHARS: usize = 16;

pub(super) fn api_keys(vars: &Vars) -> Result<Vec<SecretString>, ConfigError> {
    let Some(list) = vars.string("API_KEYS") else { return Ok(Vec::new()) };
    list.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .enumerate()
        .map(|(i, key)| {
            if key.chars().count() < MIN_API_KEY_CHARS
                || key.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                // The message names the key's position, never the key.
                return Err(ConfigError::new(
                    "API_KEYS",
                    format!(
                        "key #{} must be at least {MIN_API_KEY_CHARS} printable characters without spaces; \
                         generate one with `openssl rand -hex 32`",
                        i + 1
                    ),
                ));
            }
            Ok(SecretString::from(key))
        })
        .collect()
}

pub(super) fn jwt(vars: &Vars) -> Result<Option<JwtConfig>, ConfigError> {
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
pub(super) fn max_failures_per_minute(vars: &Vars) -> Result<Option<NonZeroU32>, ConfigError> {
    Ok(NonZeroU32::new(vars.parse("AUTH_MAX_FAILURES_PER_MINUTE", 30)?))
}
