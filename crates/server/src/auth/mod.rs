//! Who may call the API. Off unless configured: static API keys (`API_KEYS`) and/or OIDC JWTs
//! from one issuer (`AUTH_JWT_ISSUER`, e.g. a Cognito user pool), both sent as
//! `Authorization: Bearer …` (or, as Anthropic's clients send a key, `x-api-key: …`). The identity found is put in the request's extensions for the
//! rate limiter; neither keys nor tokens are ever logged. An address that keeps sending wrong
//! ones is locked out for the rest of its minute (counted in Redis for all replicas, when
//! `REDIS_URL` is set).

mod jwt;
mod keys;
mod lockout;

use std::{
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderName, header},
    middleware::Next,
    response::Response,
};

use crate::{
    client_addr::client_ip,
    config::AuthConfig,
    replicas::{Redis, counts::SharedLockout},
};
use jwt::JwtVerifier;
use keys::ApiKeys;
use lockout::Lockout;

/// Whom a request was authenticated as: the rate limiter's key and the owner of conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// A configured API key, by its id (a digest, never the key itself).
    ApiKey(String),
    /// A token's subject.
    User(String),
}

impl Principal {
    /// A stable string naming this principal, never a secret.
    pub(crate) fn id(&self) -> String {
        match self {
            Self::ApiKey(id) => format!("key:{id}"),
            Self::User(sub) => format!("sub:{sub}"),
        }
    }
}

/// Why a request was not let in; the message is safe to show the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AuthError {
    #[error(
        "This API needs a key or token: send the header Authorization: Bearer <key> (or x-api-key: <key>)."
    )]
    Missing,
    #[error("{0}")]
    Invalid(&'static str),
    #[error(
        "Tokens cannot be checked right now: the identity provider's keys are unreachable. Try again shortly."
    )]
    Unavailable,
    #[error(
        "Too many wrong keys or tokens from this address (AUTH_MAX_FAILURES_PER_MINUTE). Try again in {} s.",
        .0.as_secs_f64().ceil()
    )]
    LockedOut(Duration),
}

/// Checks credentials; shared by every request.
#[derive(Debug)]
pub(crate) struct Authenticator {
    keys: ApiKeys,
    jwt: Option<JwtVerifier>,
    lockout: Option<Lockout>,
    /// The same lockout in Redis, shared by all replicas; `lockout` decides while it fails.
    shared_lockout: Option<SharedLockout>,
    /// `TRUSTED_PROXY_HOPS`, to find the client's address behind proxies.
    trusted_proxy_hops: usize,
}

impl Authenticator {
    /// `None` when authentication is off.
    pub(crate) fn new(
        config: &AuthConfig,
        trusted_proxy_hops: usize,
        redis: Option<&Redis>,
    ) -> Option<Arc<Self>> {
        config.is_enabled().then(|| {
            let shared_lockout = redis
                .zip(config.max_failures_per_minute)
                .map(|(redis, max)| SharedLockout::new(redis.clone(), max, lockout::WINDOW));
            Arc::new(Self {
                keys: ApiKeys::new(config.api_keys.clone()),
                jwt: config.jwt.clone().map(JwtVerifier::new),
                lockout: config.max_failures_per_minute.map(Lockout::new),
                shared_lockout,
                trusted_proxy_hops,
            })
        })
    }

    /// How long `ip` must still wait: the count in Redis when it answers, else this replica's.
    async fn locked_out(&self, lockout: &Lockout, ip: IpAddr) -> Option<Duration> {
        if let Some(shared) = &self.shared_lockout
            && let Ok(wait) = shared.locked(ip).await
        {
            return wait;
        }
        lockout.locked(ip, Instant::now())
    }

    /// Counts a wrong credential from `ip`, in Redis and here (which decides while Redis fails).
    async fn record_failure(&self, lockout: &Lockout, ip: IpAddr) {
        if let Some(shared) = &self.shared_lockout {
            // A failure is counted and logged by `replicas`.
            let _ = shared.record_failure(ip).await;
        }
        lockout.record_failure(ip, Instant::now());
    }

    async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        let credential = credential(headers)?;
        if let Some(id) = self.keys.find(credential) {
            return Ok(Principal::ApiKey(id.to_owned()));
        }
        match &self.jwt {
            Some(jwt) if credential.split('.').count() == 3 => {
                jwt.verify(credential).await.map(Principal::User)
            }
            Some(_) => Err(AuthError::Invalid("The API key or token is not valid.")),
            None => Err(AuthError::Invalid("The API key is not valid.")),
        }
    }
}

/// The header Anthropic's clients send their key in.
pub(crate) const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// The key or token: `Authorization: Bearer …` when sent, else `x-api-key`.
fn credential(headers: &HeaderMap) -> Result<&str, AuthError> {
    if headers.contains_key(header::AUTHORIZATION) {
        return bearer(headers);
    }
    let value = headers.get(X_API_KEY).ok_or(AuthError::Missing)?;
    match value.to_str().map(str::trim) {
        Ok(key) if !key.is_empty() => Ok(key),
        _ => Err(AuthError::Invalid("The x-api-key header is not valid.")),
    }
}

fn bearer(headers: &HeaderMap) -> Result<&str, AuthError> {
    let value = headers.get(header::AUTHORIZATION).ok_or(AuthError::Missing)?;
    let value = value.to_str().map_err(|_| AuthError::Invalid("The Authorization header is not valid."))?;
    match value.split_once(' ') {
        Some((scheme, credential))
            if scheme.eq_ignore_ascii_case("bearer") && !credential.trim().is_empty() =>
        {
            Ok(credential.trim())
        }
        _ => Err(AuthError::Invalid("Use the Bearer scheme: Authorization: Bearer <key>.")),
    }
}

/// Middleware for the routes that need a caller: 401 without valid credentials, 429 for an
/// address that has sent too many wrong ones (checked first, so a locked-out address learns
/// nothing about the credentials it sends).
pub(crate) async fn require(
    State(auth): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Result<Response, AuthError> {
    let client = client_ip(&request, auth.trusted_proxy_hops);
    let lockout = auth.lockout.as_ref().zip(client);
    if let Some((lockout, ip)) = lockout
        && let Some(wait) = auth.locked_out(lockout, ip).await
    {
        return Err(AuthError::LockedOut(wait));
    }
    match auth.authenticate(request.headers()).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            Ok(next.run(request).await)
        }
        Err(error) => {
            // Only wrong credentials count: a missing header is no guess, and an unreachable
            // issuer is not the client's doing.
            if let (AuthError::Invalid(_), Some((lockout, ip))) = (&error, lockout) {
                auth.record_failure(lockout, ip).await;
            }
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        HeaderMap::from_iter([(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap())])
    }

    #[test]
    fn bearer_credentials_are_read_case_insensitively_and_other_schemes_refused() {
        assert_eq!(bearer(&headers("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(&headers("bearer  abc ")), Ok("abc"));
        assert_eq!(bearer(&HeaderMap::new()), Err(AuthError::Missing));
        for bad in ["Basic dXNlcjpwdw==", "Bearer", "Bearer   ", "abc"] {
            assert!(matches!(bearer(&headers(bad)), Err(AuthError::Invalid(_))), "{bad}");
        }
    }

    #[test]
    fn an_x_api_key_is_a_credential_when_no_authorization_is_sent() {
        let key = |value: &str| HeaderMap::from_iter([(X_API_KEY, HeaderValue::from_str(value).unwrap())]);
        assert_eq!(credential(&key("sk-abc")), Ok("sk-abc"));
        assert_eq!(credential(&key(" sk-abc ")), Ok("sk-abc"));
        assert!(matches!(credential(&key("  ")), Err(AuthError::Invalid(_))));
        assert_eq!(credential(&HeaderMap::new()), Err(AuthError::Missing));
        let mut both = key("from-x-api-key");
        both.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer from-authorization"));
        assert_eq!(credential(&both), Ok("from-authorization"), "Authorization wins");
    }
}
