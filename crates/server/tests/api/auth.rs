//! API keys and OIDC tokens: who gets in, and what everyone else is told.

use std::time::Duration;

use serde_json::{Value, json};
use streambed_emulator::Emulator;

use crate::{
    helpers::{TestApp, read_frames, spawn_app_with},
    idp::{AUDIENCE, Idp},
};

const KEY: &str = "test-key-0123456789abcdef";

async fn chat_as(app: &TestApp, credential: Option<&str>) -> reqwest::Response {
    let mut request = app.http.post(app.url("/api/chat")).json(&json!({ "prompt": "hello" }));
    if let Some(credential) = credential {
        request = request.bearer_auth(credential);
    }
    request.send().await.unwrap()
}

async fn assert_unauthorized(response: reqwest::Response, challenge: &str) -> String {
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], challenge);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(body["error"]["requestId"].is_string(), "{body}");
    body["error"]["message"].as_str().unwrap().to_owned()
}

const INVALID: &str = r#"Bearer realm="streambed", error="invalid_token""#;

#[tokio::test]
async fn api_keys_guard_the_api_but_not_health_or_the_spec() {
    let app =
        spawn_app_with(Emulator::scripted(), &[("API_KEYS", &format!("other-key-0123456789,{KEY}"))]).await;

    let missing = assert_unauthorized(chat_as(&app, None).await, r#"Bearer realm="streambed""#).await;
    assert!(missing.contains("Authorization: Bearer"), "{missing}");
    assert_unauthorized(chat_as(&app, Some("test-key-0123456789abcdeX")).await, INVALID).await;
    let basic =
        app.http.post(app.url("/api/chat")).basic_auth("u", Some(KEY)).json(&json!({})).send().await.unwrap();
    assert_unauthorized(basic, INVALID).await;
    for path in ["/api/models", "/metrics"] {
        assert_eq!(app.http.get(app.url(path)).send().await.unwrap().status(), 401, "{path}");
    }
    assert!(app.emulator.recorder.requests().is_empty(), "nothing reached Bedrock");

    let frames = read_frames(chat_as(&app, Some(KEY)).await).await;
    assert_eq!(frames.last().0, "done");
    for path in ["/api/health", "/api/openapi.json"] {
        assert_eq!(app.http.get(app.url(path)).send().await.unwrap().status(), 200, "{path}");
    }
    let models = app.http.get(app.url("/api/models")).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(models.status(), 200);
}

#[tokio::test]
async fn cors_preflight_needs_no_credentials() {
    let app = spawn_app_with(Emulator::scripted(), &[("API_KEYS", KEY)]).await;

    let preflight = app.preflight("authorization, content-type").await;

    assert!(preflight.status().is_success());
    let allowed = preflight.headers()["access-control-allow-headers"].to_str().unwrap().to_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
    // A browser script reads the request id under both its names (Anthropic's SDK: `request-id`).
    let answer = app
        .http
        .get(app.url("/api/models"))
        .header("origin", "https://chat.example")
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let exposed = answer.headers()["access-control-expose-headers"].to_str().unwrap().to_lowercase();
    let names: Vec<&str> = exposed.split(',').map(str::trim).collect();
    assert!(names.contains(&"x-request-id") && names.contains(&"request-id"), "{exposed}");
}

async fn spawn_with_idp(idp: &Idp, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![("AUTH_JWT_ISSUER", idp.issuer.as_str()), ("AUTH_JWT_AUDIENCE", AUDIENCE)];
    vars.extend_from_slice(extra);
    spawn_app_with(Emulator::scripted(), &vars).await
}

#[tokio::test]
async fn valid_tokens_stream_and_bad_ones_are_refused_with_the_reason() {
    let idp = Idp::start().await;
    let app = spawn_with_idp(&idp, &[]).await;
    let claims = idp.claims();
    let with = |changes: Value| {
        let mut c = claims.clone();
        c.as_object_mut().unwrap().extend(changes.as_object().unwrap().clone());
        c
    };

    let ok = chat_as(&app, Some(&idp.token("ES256", "ec-1", &claims))).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(read_frames(ok).await.last().0, "done");
    let mut cognito_access_token = with(json!({ "client_id": AUDIENCE }));
    cognito_access_token.as_object_mut().unwrap().remove("aud");
    assert_eq!(chat_as(&app, Some(&idp.token("ES256", "ec-1", &cognito_access_token))).await.status(), 200);

    // Another subject's claims under this token's signature.
    let genuine = idp.token("ES256", "ec-1", &claims);
    let admin = idp.token("ES256", "ec-1", &with(json!({ "sub": "admin" })));
    let forged_subject =
        format!("{}.{}", admin.rsplit_once('.').unwrap().0, genuine.rsplit_once('.').unwrap().1);
    let an_hour_ago = claims["iat"].as_u64().unwrap() - 3600;
    for (token, reason) in [
        (idp.token("ES256", "ec-1", &with(json!({ "exp": an_hour_ago }))), "expired"),
        (idp.token("ES256", "ec-1", &with(json!({ "nbf": an_hour_ago + 7200 }))), "not valid yet"),
        (idp.token("ES256", "ec-1", &with(json!({ "aud": "someone-else" }))), "audience"),
        (idp.token("ES256", "ec-1", &with(json!({ "aud": ["a", "b"] }))), "audience"),
        (idp.token("ES256", "ec-1", &with(json!({ "iss": "https://evil.example" }))), "issuer"),
        (idp.token("ES256", "unknown", &claims), "unknown"),
        (idp.token("HS256", "hs", &claims), "RS256 or ES256"),
        (idp.token("RS256", "ec-1", &claims), "algorithm"),
        (forged_subject, "signature"),
        ("not.a.jwt".to_owned(), "not a valid JWT"),
    ] {
        let message = assert_unauthorized(chat_as(&app, Some(&token)).await, INVALID).await;
        assert!(message.contains(reason), "{reason}: {message}");
    }
    assert_eq!(app.emulator.recorder.requests().len(), 2, "only the valid tokens reached Bedrock");
    assert_eq!(idp.fetches(), 1, "an unknown key id within the refetch interval does not refetch");
}

#[tokio::test]
async fn a_rotated_in_key_is_fetched_when_a_token_names_it() {
    let idp = Idp::start().await;
    let app = spawn_with_idp(&idp, &[("AUTH_JWKS_MIN_REFETCH_SECONDS", "0.1")]).await;
    let claims = idp.claims();
    assert_eq!(chat_as(&app, Some(&idp.token("ES256", "ec-1", &claims))).await.status(), 200);

    idp.publish_rsa();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let rotated = chat_as(&app, Some(&idp.token("RS256", "rsa-1", &claims))).await;

    assert_eq!(rotated.status(), 200);
    assert_eq!(idp.fetches(), 2);
    assert_eq!(
        chat_as(&app, Some(&idp.token("ES256", "ec-1", &claims))).await.status(),
        200,
        "old keys still work"
    );
    assert_eq!(idp.fetches(), 2, "known keys come from the cache");
}

#[tokio::test]
async fn an_unreachable_issuer_is_a_503_not_a_401() {
    let idp = Idp::start().await;
    let token = idp.token("ES256", "ec-1", &idp.claims());
    let app = spawn_app_with(
        Emulator::scripted(),
        &[
            ("AUTH_JWT_ISSUER", &idp.issuer),
            ("AUTH_JWT_AUDIENCE", AUDIENCE),
            ("AUTH_JWKS_URL", "http://127.0.0.1:9/jwks.json"),
        ],
    )
    .await;

    let response = chat_as(&app, Some(&token)).await;

    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "auth_unavailable");
    let again = chat_as(&app, Some(&token)).await;
    assert_eq!(again.status(), 503, "still unavailable, without a new fetch inside the refetch interval");
}

#[tokio::test]
async fn keys_and_tokens_can_be_used_together() {
    let idp = Idp::start().await;
    let app = spawn_with_idp(&idp, &[("API_KEYS", KEY)]).await;

    assert_eq!(chat_as(&app, Some(KEY)).await.status(), 200);
    assert_eq!(chat_as(&app, Some(&idp.token("ES256", "ec-1", &idp.claims()))).await.status(), 200);
    assert_eq!(chat_as(&app, Some("wrong-key-0123456789abcdef")).await.status(), 401);
}

#[tokio::test]
async fn an_address_that_sends_wrong_keys_is_locked_out_for_the_rest_of_its_minute() {
    let app = spawn_app_with(
        Emulator::scripted(),
        &[("API_KEYS", KEY), ("AUTH_MAX_FAILURES_PER_MINUTE", "3"), ("TRUSTED_PROXY_HOPS", "1")],
    )
    .await;
    let models_from = |client: &str, key: Option<&str>| {
        let mut request = app.http.get(app.url("/api/models")).header("x-forwarded-for", client);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };

    // A missing header is no guess and does not count.
    for _ in 0..5 {
        assert_eq!(models_from("192.0.2.1", None).await.unwrap().status(), 401);
    }
    for _ in 0..3 {
        assert_eq!(models_from("192.0.2.1", Some("wrong-key-0123456789abcdef")).await.unwrap().status(), 401);
    }

    // Locked out: even the right key is not checked.
    let locked = models_from("192.0.2.1", Some(KEY)).await.unwrap();
    assert_eq!(locked.status(), 429);
    let wait: u64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    assert!(locked.headers().get("www-authenticate").is_none());
    let body: Value = locked.json().await.unwrap();
    assert_eq!(body["error"]["code"], "auth_locked_out", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("AUTH_MAX_FAILURES_PER_MINUTE"), "{body}");

    // Another client is not affected.
    assert_eq!(models_from("192.0.2.2", Some(KEY)).await.unwrap().status(), 200);
}
