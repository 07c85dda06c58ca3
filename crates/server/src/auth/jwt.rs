//! OIDC access/ID tokens: signature checked against the issuer's JWKS (RS256 or ES256 only),
//! then issuer, expiry and audience. Keys are cached; an unknown `kid` triggers one refetch
//! (the issuer rotated its keys), at most every `AUTH_JWKS_MIN_REFETCH_SECONDS` so forged
//! `kid`s cannot make us hammer the issuer.

use std::{
    collections::HashMap,
    sync::{PoisonError, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation, decode, decode_header,
    errors::ErrorKind,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm},
};
use serde::Deserialize;
use tokio::sync::{Mutex, OnceCell};
use url::Url;

use super::AuthError;
use crate::config::JwtConfig;

/// Keys are refetched when older than this, so revoked keys stop working within the hour.
const MAX_AGE: Duration = Duration::from_secs(3600);
/// Clock skew tolerated between us and the issuer.
const LEEWAY_SECONDS: u64 = 30;

#[derive(Debug)]
pub(super) struct JwtVerifier {
    config: JwtConfig,
    http: reqwest::Client,
    jwks_url: OnceCell<Url>,
    keys: RwLock<KeySet>,
    /// Held while fetching, so concurrent misses share one fetch.
    fetching: Mutex<()>,
}

#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, (Algorithm, DecodingKey)>,
    fetched: Option<Instant>,
    /// The last fetch attempt and whether it failed: while the issuer is down, requests wait
    /// `min_refetch` between attempts instead of each waiting on a fetch of its own.
    attempted: Option<(Instant, bool)>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("kids", &self.by_kid.keys())
            .field("fetched", &self.fetched)
            .field("attempted", &self.attempted)
            .finish()
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    aud: Audience,
    client_id: Option<String>,
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Audience {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl JwtVerifier {
    pub(super) fn new(config: JwtConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("the HTTP client for JWKS builds with default TLS settings");
        let jwks_url = OnceCell::new_with(config.jwks_url.clone());
        Self { config, http, jwks_url, keys: RwLock::default(), fetching: Mutex::new(()) }
    }

    /// The token's subject when the token is valid.
    pub(super) async fn verify(&self, token: &str) -> Result<String, AuthError> {
        let header = decode_header(token).map_err(|_| AuthError::Invalid("The token is not a valid JWT."))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(AuthError::Invalid("The token must be signed with RS256 or ES256."));
        }
        let kid = header.kid.ok_or(AuthError::Invalid("The token has no key id (kid)."))?;
        let (alg, key) = self.key(&kid).await?;
        if alg != header.alg {
            return Err(AuthError::Invalid("The token's algorithm does not match its signing key."));
        }
        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // Checked below: Cognito access tokens carry the audience in `client_id`, not `aud`.
        validation.validate_aud = false;
        // jsonwebtoken checks `exp` by default but not `nbf`: a token not valid yet is refused.
        validation.validate_nbf = true;
        let claims = decode::<Claims>(token, &key, &validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::Invalid("The token has expired; sign in again."),
            ErrorKind::ImmatureSignature => AuthError::Invalid("The token is not valid yet."),
            ErrorKind::InvalidIssuer => AuthError::Invalid("The token is from another issuer."),
            ErrorKind::InvalidSignature => AuthError::Invalid("The token's signature is not valid."),
            _ => AuthError::Invalid("The token is not valid."),
        })?;
        let audience = &self.config.audience;
        let for_us = match &claims.claims.aud {
            Audience::One(aud) => aud == audience,
            Audience::Many(auds) => auds.contains(audience),
            Audience::None => claims.claims.client_id.as_ref() == Some(audience),
        };
        if !for_us {
            return Err(AuthError::Invalid("The token is meant for another audience."));
        }
        Ok(claims.claims.sub)
    }

    async fn key(&self, kid: &str) -> Result<(Algorithm, DecodingKey), AuthError> {
        let cached = |keys: &KeySet| keys.by_kid.get(kid).cloned();
        let (hit, fresh) = {
            let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
            (cached(&keys), keys.fetched.is_some_and(|t| t.elapsed() < MAX_AGE))
        };
        match hit {
            Some(key) if fresh => return Ok(key),
            _ => {}
        }
        match self.refetch().await {
            Ok(()) => {}
            // Stale keys still verify while the issuer is unreachable.
            Err(e) => return hit.ok_or(e),
        }
        cached(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
            .ok_or(AuthError::Invalid("The token's signing key is unknown."))
    }

    async fn refetch(&self) -> Result<(), AuthError> {
        let _fetching = self.fetching.lock().await;
        let recent = self.keys.read().unwrap_or_else(PoisonError::into_inner).attempted;
        match recent {
            Some((at, failed)) if at.elapsed() < self.config.min_refetch => {
                return if failed { Err(AuthError::Unavailable) } else { Ok(()) };
            }
            _ => {}
        }
        let fetched = self.fetch().await;
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        keys.attempted = Some((Instant::now(), fetched.is_err()));
        match fetched {
            Ok(by_kid) => {
                tracing::info!(keys = by_kid.len(), "fetched the issuer's signing keys");
                keys.by_kid = by_kid;
                keys.fetched = Some(Instant::now());
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, issuer = %self.config.issuer, "cannot fetch the issuer's signing keys");
                Err(AuthError::Unavailable)
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, (Algorithm, DecodingKey)>, FetchError> {
        let url = self.jwks_url.get_or_try_init(|| self.discover()).await?;
        #[derive(Deserialize)]
        struct RawSet {
            keys: Vec<serde_json::Value>,
        }
        let set: RawSet = self.http.get(url.clone()).send().await?.error_for_status()?.json().await?;
        // Keys of other types (encryption keys, HS*, EdDSA) are skipped, not fatal.
        Ok(set
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
            .filter_map(usable)
            .collect())
    }

    async fn discover(&self) -> Result<Url, FetchError> {
        #[derive(Deserialize)]
        struct Discovery {
            jwks_uri: String,
        }
        let mut url = Url::parse(&self.config.issuer)?;
        url.path_segments_mut()
            .expect("an http(s) URL has a path")
            .pop_if_empty()
            .extend([".well-known", "openid-configuration"]);
        let discovery: Discovery = self.http.get(url).send().await?.error_for_status()?.json().await?;
        Ok(Url::parse(&discovery.jwks_uri)?)
    }
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    #[error("not a URL: {0}")]
    BadUrl(#[from] url::ParseError),
}

/// A signing key we accept, by its id: RSA for RS256 or P-256 for ES256.
fn usable(jwk: Jwk) -> Option<(String, (Algorithm, DecodingKey))> {
    let alg = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(p), None | Some(KeyAlgorithm::ES256))
            if p.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        _ => return None,
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some((jwk.common.key_id?, (alg, key)))
}
