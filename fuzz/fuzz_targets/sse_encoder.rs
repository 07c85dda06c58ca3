//! Any token texts through the server's SSE encoder and back through an independent parser
//! (`eventsource-stream`): every token arrives intact, in order, whatever characters it holds
//! (newlines, CR, NUL, BOM, `data:` look-alikes, lone surrogates are impossible in `String`).
#![no_main]

use std::{convert::Infallible, sync::LazyLock, time::Duration};

use eventsource_stream::Eventsource;
use futures_util::{StreamExt, stream};
use libfuzzer_sys::fuzz_target;
use streambed_server::sse;
use tokio::runtime::Runtime;

static RUNTIME: LazyLock<Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap());

fuzz_target!(|tokens: Vec<String>| {
    RUNTIME.block_on(async {
        let events: Vec<_> = tokens.iter().map(|t| Ok::<_, Infallible>(sse::token(t).into())).collect();
        let response = sse::response(stream::iter(events), Duration::from_secs(3600));
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();

        let parsed: Vec<String> = stream::once(async { Ok::<_, Infallible>(body) })
            .eventsource()
            .map(|event| {
                let event = event.expect("well-formed SSE");
                assert_eq!(event.event, "message");
                let data: serde_json::Value = serde_json::from_str(&event.data).expect("JSON data");
                data["token"].as_str().expect("a token").to_owned()
            })
            .collect()
            .await;
        assert_eq!(parsed, tokens);
    });
});
