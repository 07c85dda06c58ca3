//! `REDIS_URL`: the Redis server that replicas share (see `replicas`). Unset, a replica keeps
//! everything in its own memory, which is all a single replica needs.

use secrecy::SecretString;

use super::{ConfigError, Vars};

/// `REDIS_URL`, checked for its scheme only (it may hold a password, so errors never show it);
/// whether Redis answers is checked at start-up.
pub(super) fn read(vars: &Vars) -> Result<Option<SecretString>, ConfigError> {
    let Some(url) = vars.string("REDIS_URL") else { return Ok(None) };
    let url = url.trim();
    if !["redis://", "rediss://"].iter().any(|scheme| url.starts_with(scheme)) {
        return Err(ConfigError::new(
            "REDIS_URL",
            "must start with redis:// (e.g. redis://127.0.0.1:6379) or rediss:// for TLS".into(),
        ));
    }
    Ok(Some(url.into()))
}
