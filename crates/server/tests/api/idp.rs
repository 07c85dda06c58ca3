//! An OIDC identity provider on loopback, as Cognito would be: a discovery document and a JWKS
//! with keys generated for the test, and tokens signed with them (by aws-lc-rs directly, so
//! the tokens are built independently of the server's verifier).

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use aws_lc_rs::{
    rand::SystemRandom,
    rsa::{self, KeySize},
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256},
};
use axum::{Json, Router, extract::State, routing::get};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub(crate) const AUDIENCE: &str = "streambed-web";

pub(crate) struct Idp {
    pub issuer: String,
    ec: EcdsaKeyPair,
    rsa: rsa::KeyPair,
    published: Arc<Mutex<Vec<Value>>>,
    pub fetches: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Served {
    issuer: String,
    published: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

impl Idp {
    /// Publishes the ES256 key `ec-1`; the RS256 key `rsa-1` only after [`Idp::publish_rsa`].
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}/pool");
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let ec = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let rsa = rsa::KeyPair::generate(KeySize::Rsa2048).unwrap();
        let point = ec.public_key().as_ref(); // 0x04 || x || y
        let ec_jwk = json!({
            "kty": "EC", "crv": "P-256", "kid": "ec-1", "use": "sig", "alg": "ES256",
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
        });
        // Keys the server must skip without failing: a symmetric key and an encryption key.
        let others = [
            json!({"kty": "oct", "kid": "hs", "k": "c2VjcmV0"}),
            json!({"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"}),
        ];
        let published = Arc::new(Mutex::new([vec![ec_jwk], others.to_vec()].concat()));
        let fetches = Arc::new(AtomicUsize::new(0));
        let served =
            Served { issuer: issuer.clone(), published: published.clone(), fetches: fetches.clone() };
        let app = Router::new()
            .route("/pool/.well-known/openid-configuration", get(discovery))
            .route("/pool/jwks.json", get(jwks))
            .with_state(served);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { issuer, ec, rsa, published, fetches }
    }

    /// Rotates in the RS256 key, as an issuer does before signing with a new key.
    pub(crate) fn publish_rsa(&self) {
        let public = self.rsa.public_key();
        let jwk = json!({
            "kty": "RSA", "kid": "rsa-1", "use": "sig",
            "n": B64.encode(public.modulus().big_endian_without_leading_zero()),
            "e": B64.encode(public.exponent().big_endian_without_leading_zero()),
        });
        self.published.lock().unwrap().push(jwk);
    }

    /// Claims the server accepts: this issuer, our audience, an hour to live.
    pub(crate) fn claims(&self) -> Value {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        json!({ "iss": self.issuer, "aud": AUDIENCE, "sub": "user-1", "iat": now, "exp": now + 3600 })
    }

    pub(crate) fn token(&self, alg: &str, kid: &str, claims: &Value) -> String {
        let header = json!({ "alg": alg, "typ": "JWT", "kid": kid });
        let signing_input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let rng = SystemRandom::new();
        let signature = match alg {
            "ES256" => self.ec.sign(&rng, signing_input.as_bytes()).unwrap().as_ref().to_vec(),
            _ => {
                let mut signature = vec![0; self.rsa.public_modulus_len()];
                self.rsa.sign(&RSA_PKCS1_SHA256, &rng, signing_input.as_bytes(), &mut signature).unwrap();
                signature
            }
        };
        format!("{signing_input}.{}", B64.encode(signature))
    }

    pub(crate) fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn discovery(State(s): State<Served>) -> Json<Value> {
    Json(json!({ "issuer": s.issuer, "jwks_uri": format!("{}/jwks.json", s.issuer) }))
}

async fn jwks(State(s): State<Served>) -> Json<Value> {
    s.fetches.fetch_add(1, Ordering::SeqCst);
    Json(json!({ "keys": *s.published.lock().unwrap() }))
}
