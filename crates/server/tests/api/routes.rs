use serde_json::{Value, json};

use streambed_emulator::Emulator;

use crate::helpers::{MODEL, TestApp, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_and_models_describe_the_service() {
    let app = spawn_app().await;

    let health: Value = app.http.get(app.url("/api/health")).send().await.unwrap().json().await.unwrap();
    let ready = app.http.get(app.url("/api/ready")).send().await.unwrap();
    let models: Value = app.http.get(app.url("/api/models")).send().await.unwrap().json().await.unwrap();

    assert_eq!(health, json!({ "status": "ok" }));
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready, json!({ "status": "ready", "database": "ok", "redis": "off" }));
    assert_eq!(models["provider"], "bedrock");
    assert_eq!(models["default"], MODEL);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_json() {
    let app = spawn_app().await;

    let missing = app.http.get(app.url("/api/nope")).send().await.unwrap();
    let wrong_method = app.http.get(app.url("/api/chat")).send().await.unwrap();

    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<Value>().await.unwrap()["error"]["code"], "not_found");
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.headers()["allow"], "POST");
    assert_eq!(wrong_method.json::<Value>().await.unwrap()["error"]["code"], "method_not_allowed");
}

/// Any origin is allowed, as the seed's `*` did; by name (the origin echoed), since whether it is
/// depends on the path (below).
#[tokio::test]
async fn cors_preflight_is_answered_for_any_origin_by_default() {
    let app = spawn_app().await;

    let response = app.preflight("content-type").await;

    assert!(response.status().is_success());
    assert_eq!(response.headers()["access-control-allow-origin"], "https://chat.example");
    assert!(response.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
}

/// By default any origin may use the stateless API, as the seed allowed; without authentication,
/// not the conversation routes, whose one local history only the server's own pages may see.
/// `CORS_ORIGIN=*` or authentication opens them too (a key is what another site lacks then).
#[tokio::test]
async fn by_default_other_origins_reach_the_conversations_only_with_authentication_or_cors_origin() {
    let allowed = |app: &TestApp, path: &'static str| {
        let request = app.http.request(reqwest::Method::OPTIONS, app.url(path));
        let request = request.header("origin", "https://other.example");
        let request = request.header("access-control-request-method", "DELETE");
        async move { request.send().await.unwrap().headers().get("access-control-allow-origin").cloned() }
    };
    let local = spawn_app().await;
    let keyed = spawn_app_with(Emulator::scripted(), &[("API_KEYS", "key-a-0123456789abcdef")]).await;
    let star = spawn_app_with(Emulator::scripted(), &[("CORS_ORIGIN", "*")]).await;

    assert!(allowed(&local, "/api/chat").await.is_some());
    assert_eq!(allowed(&local, "/api/conversations").await, None);
    assert_eq!(allowed(&local, "/api/conversations/0190a0a0-0000-7000-8000-000000000001").await, None);
    assert!(allowed(&keyed, "/api/conversations").await.is_some());
    assert_eq!(allowed(&star, "/api/conversations").await.unwrap(), "*");
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let vars = [("CORS_ORIGIN", "https://a.example,https://b.example")];
    let app = spawn_app_with(streambed_emulator::Emulator::scripted(), &vars).await;
    let from = |origin: &'static str| app.http.get(app.url("/api/health")).header("origin", origin).send();

    let allowed = from("https://b.example").await.unwrap();
    let other = from("https://evil.example").await.unwrap();

    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://b.example");
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn the_built_spa_is_served_with_a_fallback_to_index() {
    let dir = std::env::temp_dir().join(format!("streambed-spa-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>Streambed</title>").unwrap();
    std::fs::write(dir.join("assets/app.js"), "console.log(1)").unwrap();
    let app =
        spawn_app_with(streambed_emulator::Emulator::scripted(), &[("STATIC_DIR", dir.to_str().unwrap())])
            .await;
    let get = |path: &str| app.http.get(app.url(path)).send();

    let index = get("/").await.unwrap().text().await.unwrap();
    let deep_link = get("/chat/123").await.unwrap().text().await.unwrap();
    let asset = get("/assets/app.js").await.unwrap().text().await.unwrap();
    let api_miss = get("/api/nope").await.unwrap();
    // Names no file system takes: still the app, not a 500.
    let long_name = get(&format!("/{}.js", "a".repeat(300))).await.unwrap();
    let long_link = get(&format!("/c/{}", "b".repeat(5000))).await.unwrap();
    // Short names, the path just short of PATH_MAX: too long once the folder is in front.
    let deep = get(&"/abc".repeat(1022)).await.unwrap();

    assert!(index.contains("<title>Streambed</title>"));
    assert_eq!(deep_link, index);
    for long in [long_name, long_link, deep] {
        assert_eq!(long.status(), 200);
        assert_eq!(long.text().await.unwrap(), index);
    }
    assert_eq!(asset, "console.log(1)");
    assert_eq!(api_miss.status(), 404, "API paths never fall back to the SPA");

    // Only read there: another method is a 404 in JSON (it was the files' empty 405), and the
    // compatible APIs' paths without `/v1` say where they are, in the asking SDK's shape.
    let post = |path: &str| app.http.post(app.url(path)).json(&serde_json::json!({})).send();
    let posted = post("/chat/123").await.unwrap();
    let openai = post("/chat/completions").await.unwrap();
    let anthropic =
        app.http.post(app.url("/messages")).header("anthropic-version", "2023-06-01").send().await.unwrap();
    assert_eq!(posted.status(), 404);
    let posted: serde_json::Value = posted.json().await.unwrap();
    assert_eq!(posted["error"]["code"], "not_found");
    assert_eq!(openai.status(), 404);
    let openai: serde_json::Value = openai.json().await.unwrap();
    assert!(
        openai["error"]["message"].as_str().unwrap().contains("add /v1 to the client's base URL"),
        "{openai}"
    );
    assert_eq!(openai["error"]["type"], "invalid_request_error", "{openai}");
    assert_eq!(anthropic.status(), 404);
    let anthropic: serde_json::Value = anthropic.json().await.unwrap();
    assert_eq!(
        (anthropic["type"].as_str(), anthropic["error"]["type"].as_str()),
        (Some("error"), Some("not_found_error"))
    );
    assert!(anthropic["error"]["message"].as_str().unwrap().contains("POST /v1/messages"), "{anthropic}");
    // OpenAI APIs not served, which some clients use by default: the way to Chat Completions.
    for (path, advice) in [
        ("/v1/responses", "set_default_openai_api(\"chat_completions\")"),
        ("/v1/completions", "use POST /v1/chat/completions"),
        ("/v1/embeddings", "no embeddings"),
    ] {
        let refused = post(path).await.unwrap();
        assert_eq!(refused.status(), 404, "{path}");
        let refused: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(refused["error"]["type"], "invalid_request_error", "{path}: {refused}");
        assert!(refused["error"]["message"].as_str().unwrap().contains(advice), "{path}: {refused}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let app = spawn_app().await;

    let response = app.http.get(app.url("/api/health")).send().await.unwrap();

    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    let csp = header("content-security-policy");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "no-referrer");
}

#[tokio::test]
async fn the_request_id_is_echoed_and_named_in_error_bodies() {
    let app = spawn_app().await;

    let given =
        app.http.get(app.url("/api/nope")).header("x-request-id", "trace-abc-123").send().await.unwrap();
    let generated = app.post_chat(json!({ "prompt": "" })).await;

    assert_eq!(given.headers()["x-request-id"], "trace-abc-123");
    assert_eq!(given.json::<Value>().await.unwrap()["error"]["requestId"], "trace-abc-123");
    let id = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(generated.json::<Value>().await.unwrap()["error"]["requestId"], id.as_str());
}

#[tokio::test]
async fn request_ids_that_do_not_look_like_one_are_replaced_by_a_generated_one() {
    let app = spawn_app().await;
    let kept = "x".repeat(128);

    // Too long, a control character (tab), a space, one over 128, and not ASCII.
    let refused =
        ["x".repeat(5000), "tab\tinside".into(), "has space".into(), "x".repeat(129), "café".into()];
    for sent in refused {
        let value = reqwest::header::HeaderValue::from_bytes(sent.as_bytes()).unwrap();
        let response = app.http.get(app.url("/api/nope")).header("x-request-id", value).send().await.unwrap();

        let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(id.len(), 36, "a generated UUID instead of {sent:?}: {id}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["requestId"], id.as_str());
    }
    let response =
        app.http.get(app.url("/api/health")).header("x-request-id", kept.as_str()).send().await.unwrap();
    assert_eq!(response.headers()["x-request-id"], kept.as_str(), "128 visible characters are kept");
}
