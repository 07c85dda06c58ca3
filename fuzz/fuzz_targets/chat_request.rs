//! Any bytes as the body of `POST /api/chat`, through the real router with every layer: the
//! answer is never a 5xx and nothing panics. The scripted model answers instantly, so bodies
//! that pass validation stream a whole answer, which is read to the end.
#![no_main]

use std::sync::{Arc, LazyLock};

use axum::{Router, body::Body, http::Request};
use libfuzzer_sys::fuzz_target;
use streambed_emulator::Scripted;
use streambed_server::{Config, Conversations, Models, Shutdown};
use tokio::runtime::Runtime;
use tower::ServiceExt;

static RUNTIME: LazyLock<Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap());

static APP: LazyLock<Router> = LazyLock::new(|| {
    // Small limits so the fuzzer reaches them; no rate limit (every input is one client).
    // A throwaway store: bodies with a `conversationId` reach the conversation routes' checks.
    let vars = [
        ("RATE_LIMIT_PER_MINUTE", "0"),
        ("MAX_PROMPT_CHARS", "200"),
        ("MAX_TURNS", "4"),
        ("MAX_BODY_BYTES", "4096"),
        ("DATABASE_URL", "sqlite::memory:"),
    ];
    let config =
        Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
            .expect("valid configuration");
    let conversations = RUNTIME.block_on(Conversations::open(&config)).expect("an in-memory store opens");
    let models = Models::new(Arc::new(Scripted::default()), []);
    // The upkeep (histogram buckets, idle rate-limit clients) is not needed for a fuzz run.
    let (router, _upkeep) = streambed_server::app(&config, models, conversations, Shutdown::default());
    router
});

fuzz_target!(|body: &[u8]| {
    RUNTIME.block_on(async {
        let request = Request::post("/api/chat")
            .header("content-type", "application/json")
            .body(Body::from(body.to_vec()))
            .unwrap();
        let response = APP.clone().oneshot(request).await.unwrap();
        let status = response.status();
        assert!(!status.is_server_error(), "{status} for {:?}", String::from_utf8_lossy(body));
        axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    });
});
