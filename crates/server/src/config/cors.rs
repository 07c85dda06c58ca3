//! `CORS_ORIGIN`: which browsers may call the API from another origin.

use axum::http::HeaderValue;

use super::{ConfigError, Vars};

/// Browsers allowed to call the API from another origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// Unset: any origin, as the seed allowed, except on the conversation routes of a server
    /// without authentication, whose one local history only its own pages may read or change.
    Default,
    /// `*`: any origin, everywhere.
    Any,
    List(Vec<HeaderValue>),
}

/// Unset is [`CorsOrigins::Default`], `*` any origin; otherwise a comma-separated list.
pub(super) fn read(vars: &Vars) -> Result<CorsOrigins, ConfigError> {
    let list = match vars.string("CORS_ORIGIN") {
        None => return Ok(CorsOrigins::Default),
        Some(v) if v.trim() == "*" => return Ok(CorsOrigins::Any),
        Some(list) => list,
    };
    let origins = list
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| {
            HeaderValue::from_str(o)
                .map_err(|_| ConfigError::new("CORS_ORIGIN", format!("`{o}` is not a valid origin")))
        })
        .collect::<Result<_, _>>()?;
    Ok(CorsOrigins::List(origins))
}
