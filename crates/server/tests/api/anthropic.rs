//! The Anthropic Messages API (`/v1/messages`, `/v1/messages/count_tokens`) over the real server
//! and the emulator: the event sequence, tool use, thinking, token counts, `x-api-key`, errors in
//! Anthropic's shape, and cancellation.

use serde_json::{Value, json};
use streambed_emulator::Emulator;

use crate::helpers::{Frames, MODEL, TestApp, events, read_frames, spawn_app, spawn_app_with};

const SONNET_45: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const KEY: &str = "anthropic-test-key-0123456789";

impl TestApp {
    async fn post_messages(&self, body: Value) -> reqwest::Response {
        self.http.post(self.url("/v1/messages")).json(&body).send().await.expect("request sent")
    }
}

fn ask(prompt: &str) -> Value {
    json!({ "model": MODEL, "max_tokens": 256, "messages": [{ "role": "user", "content": prompt }] })
}

fn streamed(mut body: Value) -> Value {
    body["stream"] = json!(true);
    body
}

fn weather_tool() -> Value {
    json!([{
        "name": "get_weather",
        "description": "The weather in a city.",
        "input_schema": {
            "type": "object",
            "properties": { "city": { "type": "string" } },
            "required": ["city"]
        }
    }])
}

/// Each frame's data, parsed; the event name must equal the data's `type`.
fn parsed(frames: &Frames) -> Vec<Value> {
    frames
        .all
        .iter()
        .map(|(event, data)| {
            let data: Value = serde_json::from_str(data).unwrap();
            assert_eq!(data["type"], event.as_str(), "{data}");
            data
        })
        .collect()
}

fn names(frames: &Frames) -> Vec<&str> {
    frames.all.iter().map(|(event, _)| event.as_str()).collect()
}

/// The deltas of one kind (`text_delta` → `text`, …), joined.
fn joined(events: &[Value], delta: &str, field: &str) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "content_block_delta" && e["delta"]["type"] == delta)
        .map(|e| e["delta"][field].as_str().unwrap())
        .collect()
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    (response.status().as_u16(), response.json().await.unwrap())
}

fn assert_anthropic_error(body: &Value, kind: &str) {
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

#[tokio::test]
async fn a_streamed_answer_follows_the_documented_event_sequence() {
    let app = spawn_app().await;

    let response = app.post_messages(streamed(ask("hello"))).await;

    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let frames = read_frames(response).await;
    let events = parsed(&frames);
    let names = names(&frames);
    let deltas = names.iter().filter(|n| **n == "content_block_delta").count();
    assert!(deltas > 1, "{names:?}");
    let mut expected = vec!["message_start", "ping", "content_block_start"];
    expected.extend(std::iter::repeat_n("content_block_delta", deltas));
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected);
    let message = &events[0]["message"];
    assert!(message["id"].as_str().unwrap().starts_with("msg_"), "{message}");
    assert_eq!(
        (&message["model"], &message["role"], &message["content"]),
        (&json!(MODEL), &json!("assistant"), &json!([]))
    );
    assert_eq!(events[2]["content_block"], json!({ "type": "text", "text": "" }));
    assert_eq!(joined(&events, "text_delta", "text"), "Hello from the Streambed emulator. You said: hello");
    let delta = &events[events.len() - 2];
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert!(
        delta["usage"]["output_tokens"].as_u64() > Some(0)
            && delta["usage"]["input_tokens"].as_u64() > Some(0)
    );
}

#[tokio::test]
async fn a_non_streamed_answer_is_one_message_object() {
    let app = spawn_app().await;

    let (status, message) = json_of(app.post_messages(ask("hello")).await).await;

    assert_eq!(status, 200, "{message}");
    assert_eq!(
        (&message["type"], &message["role"], &message["model"]),
        (&json!("message"), &json!("assistant"), &json!(MODEL))
    );
    assert_eq!(
        message["content"],
        json!([{ "type": "text", "text": "Hello from the Streambed emulator. You said: hello" }])
    );
    assert_eq!((&message["stop_reason"], &message["stop_sequence"]), (&json!("end_turn"), &Value::Null));
    assert!(
        message["usage"]["input_tokens"].as_u64() > Some(0)
            && message["usage"]["output_tokens"].as_u64() > Some(0)
    );
}

#[tokio::test]
async fn the_system_prompt_sampling_and_stop_sequences_reach_bedrock() {
    let app = spawn_app_with(Emulator::scripted(), &[("BEDROCK_SYSTEM_PROMPT", "Be kind.")]).await;

    let response = app
        .post_messages(json!({
            "model": MODEL, "max_tokens": 100, "temperature": 0.25, "stop_sequences": ["", "END"],
            "system": [{ "type": "text", "text": "Be brief.", "cache_control": { "type": "ephemeral" } }],
            "metadata": { "user_id": "u-1" }, "service_tier": "auto",
            "messages": [{ "role": "user", "content": "hello" }]
        }))
        .await;

    assert_eq!(response.status(), 200);
    let sent = app.emulator.recorder.requests()[0].body.clone();
    assert_eq!(sent["system"][0]["text"], "Be kind.\n\nBe brief.", "the operator's prompt first: {sent}");
    let config = &sent["inferenceConfig"];
    assert_eq!((&config["maxTokens"], &config["temperature"]), (&json!(100), &json!(0.25)), "{sent}");
    assert_eq!(config["stopSequences"], json!(["END"]), "an empty one would end the answer at once: {sent}");
}

#[tokio::test]
async fn a_message_without_content_is_refused_in_anthropics_words() {
    let app = spawn_app().await;
    let with = |content: Value| {
        json!({ "model": MODEL, "max_tokens": 10, "messages": [
            { "role": "user", "content": "hi" }, { "role": "assistant", "content": content }, { "role": "user", "content": "again" }
        ] })
    };

    for empty in [json!([]), json!(" "), json!([{ "type": "text", "text": "" }])] {
        let (status, body) = json_of(app.post_messages(with(empty.clone())).await).await;
        assert_eq!(status, 400, "{empty}");
        assert_anthropic_error(&body, "invalid_request_error");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("messages.1: all messages must have non-empty content"), "{body}");
    }
    assert!(app.emulator.recorder.requests().is_empty());
    // Blank text beside something said is left out, as Bedrock refuses it.
    let blank_and_said = json!([{ "type": "text", "text": "" }, { "type": "text", "text": "Hello." }]);
    assert_eq!(app.post_messages(with(blank_and_said)).await.status(), 200);
    let sent = app.emulator.recorder.requests()[0].body.clone();
    assert_eq!(sent["messages"][1]["content"], json!([{ "text": "Hello." }]), "{sent}");
}

#[tokio::test]
async fn a_tool_is_called_streamed_and_not_and_its_result_answered() {
    let app = spawn_app().await;
    let question = json!({
        "model": MODEL, "max_tokens": 256, "tools": weather_tool(),
        "messages": [{ "role": "user", "content": "What is the weather in Paris?" }]
    });

    let frames = read_frames(app.post_messages(streamed(question.clone())).await).await;
    let (status, called) = json_of(app.post_messages(question.clone()).await).await;

    let events = parsed(&frames);
    let start = events.iter().find(|e| e["content_block"]["type"] == "tool_use").expect("a tool_use block");
    assert_eq!(start["content_block"]["name"], "get_weather");
    assert_eq!(start["content_block"]["input"], json!({}));
    let input: Value = serde_json::from_str(&joined(&events, "input_json_delta", "partial_json")).unwrap();
    assert!(input["city"].is_string(), "{input}");
    assert_eq!(events[events.len() - 2]["delta"]["stop_reason"], "tool_use");
    assert_eq!((status, &called["stop_reason"]), (200, &json!("tool_use")), "{called}");
    let call =
        called["content"].as_array().unwrap().iter().find(|b| b["type"] == "tool_use").unwrap().clone();
    assert_eq!(call["name"], "get_weather");
    assert!(call["input"]["city"].is_string(), "{call}");

    let mut answer = question;
    answer["messages"].as_array_mut().unwrap().extend([
        json!({ "role": "assistant", "content": called["content"] }),
        json!({ "role": "user", "content": [{
            "type": "tool_result", "tool_use_id": call["id"], "content": [{ "type": "text", "text": "18 C and sunny" }]
        }] }),
    ]);
    let (status, answered) = json_of(app.post_messages(answer.clone()).await).await;
    let frames = read_frames(app.post_messages(streamed(answer)).await).await;

    assert_eq!((status, &answered["stop_reason"]), (200, &json!("end_turn")), "{answered}");
    let text = answered["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("18 C and sunny"), "{text}");
    assert!(joined(&parsed(&frames), "text_delta", "text").contains("18 C and sunny"));
    let sent = app.emulator.recorder.requests()[2].body.clone();
    assert_eq!(sent["toolConfig"]["tools"][0]["toolSpec"]["name"], "get_weather", "{sent}");
}

#[tokio::test]
async fn thinking_on_sonnet_4_5_streams_a_signed_thinking_block_first() {
    let app = spawn_app_with(Emulator::scripted(), &[("BEDROCK_MODELS", SONNET_45)]).await;
    let body = json!({
        "model": SONNET_45, "max_tokens": 2048, "thinking": { "type": "enabled", "budget_tokens": 1024 },
        "messages": [{ "role": "user", "content": "hello" }]
    });

    let frames = read_frames(app.post_messages(streamed(body.clone())).await).await;
    let (status, message) = json_of(app.post_messages(body).await).await;
    let on_haiku = app
        .post_messages(json!({
            "model": MODEL, "max_tokens": 2048, "thinking": { "type": "enabled", "budget_tokens": 1024 },
            "messages": [{ "role": "user", "content": "hello" }]
        }))
        .await;

    let events = parsed(&frames);
    assert_eq!(events[2]["content_block"], json!({ "type": "thinking", "thinking": "", "signature": "" }));
    assert!(!joined(&events, "thinking_delta", "thinking").is_empty());
    assert!(!joined(&events, "signature_delta", "signature").is_empty());
    assert!(!joined(&events, "text_delta", "text").is_empty());
    assert_eq!(status, 200, "{message}");
    let blocks = message["content"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "thinking", "{message}");
    assert!(blocks[0]["signature"].as_str().is_some_and(|s| !s.is_empty()), "{message}");
    assert!(blocks.iter().any(|b| b["type"] == "text"), "{message}");
    let (status, refused) = json_of(on_haiku).await;
    assert_eq!(status, 400);
    assert_anthropic_error(&refused, "invalid_request_error");
    assert!(refused["error"]["message"].as_str().unwrap().contains(SONNET_45), "{refused}");
}

/// What Claude Code sends: Anthropic's model ids (named back as asked), system messages in the
/// conversation (the `mid-conversation-system` beta), `cache_control` marks (the prompt is
/// cached), and histories that outgrow the server's limits, refused in the words it compacts on.
#[tokio::test]
async fn claude_code_s_model_names_system_messages_and_long_prompts_are_understood() {
    let vars = [("BEDROCK_MODELS", SONNET_45), ("MAX_PROMPT_CHARS", "1000")];
    let app = spawn_app_with(Emulator::scripted(), &vars).await;
    let body = json!({
        "model": "claude-sonnet-4-5", "max_tokens": 256,
        "system": [{ "type": "text", "text": "You are an agent.", "cache_control": { "type": "ephemeral" } }],
        "messages": [
            { "role": "user", "content": "hello" },
            { "role": "system", "content": "Available agent types: none." }
        ]
    });
    let mut unmarked = body.clone();
    unmarked["system"] = json!("You are an agent.");

    let (status, message) = json_of(app.post_messages(body).await).await;
    let frames = parsed(&read_frames(app.post_messages(streamed(unmarked)).await).await);
    let (too_long_status, too_long) = json_of(app.post_messages(ask(&"x".repeat(1200))).await).await;

    assert_eq!(status, 200, "{message}");
    assert_eq!(message["model"], "claude-sonnet-4-5", "named back as asked");
    assert_eq!(frames[0]["message"]["model"], "claude-sonnet-4-5");
    let [sent, sent_unmarked] = [0, 1].map(|i| app.emulator.recorder.requests()[i].body.clone());
    assert_eq!(app.emulator.recorder.requests()[0].model_id, SONNET_45);
    assert_eq!(sent["system"][0]["text"], "You are an agent.\n\nAvailable agent types: none.");
    let cached = |sent: &Value| sent.to_string().contains("cachePoint");
    assert!(cached(&sent) && !cached(&sent_unmarked), "marked: {sent}\nunmarked: {sent_unmarked}");
    assert_eq!(too_long_status, 400);
    assert_anthropic_error(&too_long, "invalid_request_error");
    let said = too_long["error"]["message"].as_str().unwrap();
    assert!(said.starts_with("prompt is too long: 300 tokens > 250 maximum."), "{said}");
}

/// Images inline: in a user message, and in a tool's result (Claude Code's Read of a PNG), where
/// they stay, as Converse's tool results carry them. A model that does not take images is
/// refused before the call.
#[tokio::test]
async fn images_reach_bedrock_as_image_blocks_and_a_model_without_sight_refuses_them() {
    const HAIKU_35: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";
    let app = spawn_app_with(Emulator::scripted(), &[("BEDROCK_MODELS", HAIKU_35)]).await;
    let png = "iVBORw0KGgo=";
    let image =
        json!({ "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": png } });
    let messages = json!([
        { "role": "user", "content": [image, { "type": "text", "text": "What is this?" }] },
        { "role": "assistant", "content": [{ "type": "tool_use", "id": "t1", "name": "read", "input": {} }] },
        { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "t1", "content": [image] }] }
    ]);
    let tools = json!([{ "name": "read", "input_schema": { "type": "object" } }]);

    let (status, message) = json_of(
        app.post_messages(json!({ "model": MODEL, "max_tokens": 64, "tools": tools, "messages": messages }))
            .await,
    )
    .await;
    let (blind_status, blind) = json_of(
        app.post_messages(json!({ "model": HAIKU_35, "max_tokens": 64, "messages": [{ "role": "user", "content": [image] }] }))
            .await,
    )
    .await;

    assert_eq!(status, 200, "{message}");
    let sent = &app.emulator.recorder.requests()[0].body["messages"];
    let image_block = json!({ "image": { "format": "png", "source": { "bytes": png } } });
    assert_eq!(sent[0]["content"][0], image_block, "{sent}");
    assert_eq!(sent[2]["content"][0]["toolResult"]["content"], json!([image_block]), "{sent}");
    assert_eq!(sent[2]["content"].as_array().unwrap().len(), 1, "the result holds its image");
    assert_eq!(blind_status, 400, "{blind}");
    assert!(blind["error"]["message"].as_str().unwrap().contains("does not take images"), "{blind}");
    assert_eq!(app.emulator.recorder.requests().len(), 1, "refused before the call");
}

/// Documents inline: a PDF in base64 beside a question, and plain text in a tool's result (as
/// Claude Code's Read returns a PDF), inside the result. Their names are Bedrock's, and
/// the emulator checks them and the text Converse wants beside a document. One by URL, or with
/// citations on, is refused by name.
#[tokio::test]
async fn documents_reach_bedrock_as_document_blocks_named_as_bedrock_takes_names() {
    let app = spawn_app().await;
    let pdf = "JVBERi0xLjQ=";
    let report = json!({
        "type": "document",
        "title": "Q3 report_final.pdf",
        "context": "From finance",
        "source": { "type": "base64", "media_type": "application/pdf", "data": pdf }
    });
    let notes = json!({ "type": "document", "source": { "type": "text", "media_type": "text/plain", "data": "Hello" } });
    let messages = json!([
        { "role": "user", "content": [report, { "type": "text", "text": "Summarise it." }] },
        { "role": "assistant", "content": [{ "type": "tool_use", "id": "t1", "name": "read", "input": {} }] },
        { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "t1", "content": [notes] }] }
    ]);
    let tools = json!([{ "name": "read", "input_schema": { "type": "object" } }]);
    let ask = |document: Value| json!({ "model": MODEL, "max_tokens": 64, "messages": [{ "role": "user", "content": [document, { "type": "text", "text": "?" }] }] });

    let (status, message) = json_of(
        app.post_messages(json!({ "model": MODEL, "max_tokens": 64, "tools": tools, "messages": messages }))
            .await,
    )
    .await;
    let by_url =
        json!({ "type": "document", "source": { "type": "url", "url": "https://example.com/a.pdf" } });
    let (url_status, url) = json_of(app.post_messages(ask(by_url)).await).await;
    let mut cited = report.clone();
    cited["citations"] = json!({ "enabled": true });
    let (cited_status, cited) = json_of(app.post_messages(ask(cited)).await).await;

    assert_eq!(status, 200, "{message}");
    let sent = &app.emulator.recorder.requests()[0].body["messages"];
    assert_eq!(
        sent[0]["content"][0],
        json!({ "document": { "format": "pdf", "name": "Q3 report final", "context": "From finance", "source": { "bytes": pdf } } }),
        "{sent}"
    );
    let result = &sent[2]["content"];
    assert_eq!(
        result[0]["toolResult"]["content"],
        json!([{ "document": { "format": "txt", "name": "Document", "source": { "bytes": "SGVsbG8=" } } }]),
        "{sent}"
    );
    assert_eq!(
        result[1],
        json!({ "text": "(Attached: Document.)" }),
        "the result holds its document, a line names it"
    );
    assert_eq!(url_status, 400, "{url}");
    assert!(url["error"]["message"].as_str().unwrap().contains("fetches no URL"), "{url}");
    assert_eq!(cited_status, 400, "{cited}");
    assert!(cited["error"]["message"].as_str().unwrap().contains("Citations are not supported"), "{cited}");
    assert_eq!(app.emulator.recorder.requests().len(), 1, "refused before the call");
}

/// What LiteLLM and the Vercel AI SDK send by default: a model's whole output (64,000 for Sonnet
/// 4.5), far above the default `MAX_TOKENS_LIMIT` (4,096), with a thinking budget that fitted
/// under it; and Anthropic's own example, 10,000 of 16,000, whose budget the cap leaves no room.
/// Under a tiny cap, no budget fits at all.
#[tokio::test]
async fn max_tokens_past_the_limit_is_capped_and_the_thinking_budget_kept_within_it() {
    let app = spawn_app_with(Emulator::scripted(), &[("BEDROCK_MODELS", SONNET_45)]).await;
    let tiny =
        spawn_app_with(Emulator::scripted(), &[("BEDROCK_MODELS", SONNET_45), ("MAX_TOKENS_LIMIT", "2000")])
            .await;
    let asking = |max_tokens: u32, budget: u32| {
        json!({
            "model": SONNET_45, "max_tokens": max_tokens,
            "thinking": { "type": "enabled", "budget_tokens": budget },
            "messages": [{ "role": "user", "content": "hello" }]
        })
    };

    let fitted = json_of(app.post_messages(asking(64_000, 2_048)).await).await;
    let halved = json_of(app.post_messages(asking(16_000, 10_000)).await).await;
    let (refused_status, refused) = json_of(tiny.post_messages(asking(16_000, 10_000)).await).await;

    for (status, answered) in [fitted, halved] {
        assert_eq!(status, 200, "{answered}");
    }
    let sent: Vec<_> = app.emulator.recorder.requests().into_iter().map(|r| r.body).collect();
    let thinking = |body: &Value| {
        (
            body["inferenceConfig"]["maxTokens"].clone(),
            body["additionalModelRequestFields"]["thinking"]["budget_tokens"].clone(),
        )
    };
    assert_eq!(thinking(&sent[0]), (json!(4_096), json!(2_048)), "the budget as asked");
    assert_eq!(thinking(&sent[1]), (json!(4_096), json!(2_048)), "half the cap, the answer the other half");
    assert_eq!(refused_status, 400);
    assert_anthropic_error(&refused, "invalid_request_error");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("MAX_TOKENS_LIMIT (2000)") && message.contains("(16000)"), "{message}");
    assert!(tiny.emulator.recorder.requests().is_empty(), "the refused one never reached Bedrock");
}

#[tokio::test]
async fn output_config_format_and_the_betas_output_format_are_bedrocks_structured_output() {
    let app = spawn_app_with(Emulator::scripted(), &[("BEDROCK_MODELS", SONNET_45)]).await;
    let schema = json!({
        "type": "object", "properties": { "ok": { "type": "boolean" } }, "required": ["ok"],
        "additionalProperties": false,
    });
    let format = json!({ "type": "json_schema", "schema": schema });
    let ask = || json!({ "model": SONNET_45, "max_tokens": 256, "messages": [{ "role": "user", "content": "Fine?" }] });
    let mut as_ga = ask();
    as_ga["output_config"] = json!({ "format": format });
    let mut as_beta = ask();
    as_beta["output_format"] = format;

    for body in [as_ga, as_beta] {
        let (status, message) = json_of(app.post_messages(body).await).await;

        assert_eq!(status, 200, "{message}");
        let answer: Value = serde_json::from_str(message["content"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(answer, json!({ "ok": true }));
        let sent = app.emulator.recorder.requests().last().unwrap().body.clone();
        let sent_schema =
            sent["outputConfig"]["textFormat"]["structure"]["jsonSchema"]["schema"].as_str().unwrap();
        assert_eq!(serde_json::from_str::<Value>(sent_schema).unwrap(), schema, "{sent}");
    }
}

#[tokio::test]
async fn output_config_format_on_a_model_without_structured_output_is_answered_as_text_all_the_same() {
    let app = spawn_app().await;
    let schema =
        json!({ "type": "object", "properties": { "ok": { "type": "boolean" } }, "required": ["ok"] });
    let body = json!({
        "model": MODEL, "max_tokens": 256, "messages": [{ "role": "user", "content": "Fine?" }],
        "output_config": { "format": { "type": "json_schema", "schema": schema } },
    });

    let (status, message) = json_of(app.post_messages(body).await).await;

    assert_eq!(status, 200, "{message}");
    assert_eq!(message["content"].as_array().unwrap().len(), 1, "{message}");
    assert_eq!(message["content"][0]["type"], "text", "{message}");
    let answer: Value = serde_json::from_str(message["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(answer, json!({ "ok": true }));
    assert_eq!(message["stop_reason"], "end_turn");
    let sent = &app.emulator.recorder.requests()[0].body;
    assert!(sent.get("outputConfig").is_none(), "{sent}");
    assert_eq!(sent["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"], schema, "{sent}");
}

#[tokio::test]
async fn count_tokens_answers_the_input_tokens() {
    let app = spawn_app().await;
    let body =
        json!({ "model": MODEL, "messages": [{ "role": "user", "content": "How many tokens is this?" }] });

    let (status, counted) =
        json_of(app.http.post(app.url("/v1/messages/count_tokens")).json(&body).send().await.unwrap()).await;

    assert_eq!(status, 200, "{counted}");
    assert!(counted["input_tokens"].as_u64() > Some(0), "{counted}");
}

#[tokio::test]
async fn an_x_api_key_is_accepted_like_a_bearer_token_everywhere() {
    let app = spawn_app_with(Emulator::scripted(), &[("API_KEYS", KEY)]).await;
    let post = |key: Option<&str>| {
        let mut request = app
            .http
            .post(app.url("/v1/messages"))
            .header("anthropic-version", "2023-06-01")
            .header("anthropic-beta", "interleaved-thinking-2025-05-14")
            .json(&ask("hello"));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        request.send()
    };

    let accepted = post(Some(KEY)).await.unwrap();
    let (wrong, wrong_body) = json_of(post(Some("anthropic-test-key-012345678X")).await.unwrap()).await;
    let (missing, missing_body) = json_of(post(None).await.unwrap()).await;
    let models = app.http.get(app.url("/api/models")).header("x-api-key", KEY).send().await.unwrap();
    let bearer =
        app.http.post(app.url("/v1/messages")).bearer_auth(KEY).json(&ask("hello")).send().await.unwrap();
    let list = app.http.get(app.url("/v1/models")).header("anthropic-version", "2023-06-01");
    let (unlisted, unlisted_body) = json_of(list.send().await.unwrap()).await;

    assert_eq!(accepted.status(), 200);
    assert_eq!((wrong, missing), (401, 401));
    assert_anthropic_error(&wrong_body, "authentication_error");
    assert_anthropic_error(&missing_body, "authentication_error");
    assert!(missing_body["error"]["message"].as_str().unwrap().contains("x-api-key"), "{missing_body}");
    assert!(wrong_body["request_id"].is_string(), "{wrong_body}");
    assert_eq!((models.status().as_u16(), bearer.status().as_u16()), (200, 200));
    assert_eq!(unlisted, 401);
    assert_anthropic_error(&unlisted_body, "authentication_error");
}

#[tokio::test]
async fn errors_before_the_stream_are_anthropic_error_objects() {
    let app = spawn_app_with(Emulator::scripted(), &[("MAX_BODY_BYTES", "4096")]).await;
    let image = json!({ "type": "image", "source": { "type": "url", "url": "https://example.com/cat.png" } });

    let unknown_model = app.post_messages(json!({ "model": "claude-x", "max_tokens": 10, "messages": [{ "role": "user", "content": "hi" }] })).await;
    let no_max_tokens =
        app.post_messages(json!({ "model": MODEL, "messages": [{ "role": "user", "content": "hi" }] })).await;
    let with_image = app
        .post_messages(
            json!({ "model": MODEL, "max_tokens": 10, "messages": [{ "role": "user", "content": [image] }] }),
        )
        .await;
    let not_json = app
        .http
        .post(app.url("/v1/messages"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    let too_large = app.post_messages(ask(&"x".repeat(5000))).await;
    let throttled = app.post_messages(ask("[[scenario:throttle]]")).await;
    let wrong_method = app.http.get(app.url("/v1/messages")).send().await.unwrap();

    let retry_after = throttled.headers().get("retry-after").cloned();
    assert_eq!(wrong_method.headers()["allow"], "POST");
    for (response, status, kind, says) in [
        (unknown_model, 404, "not_found_error", MODEL),
        (no_max_tokens, 400, "invalid_request_error", "max_tokens"),
        (with_image, 400, "invalid_request_error", "inline only"),
        (not_json, 400, "invalid_request_error", "not JSON"),
        (too_large, 413, "request_too_large", "MAX_BODY_BYTES"),
        (throttled, 429, "rate_limit_error", ""),
        (wrong_method, 405, "invalid_request_error", ""),
    ] {
        let (got, body) = json_of(response).await;
        assert_eq!(got, status, "{kind}: {body}");
        assert_anthropic_error(&body, kind);
        assert!(body["error"]["message"].as_str().unwrap().contains(says), "{body}");
    }
    assert!(retry_after.is_some_and(|v| v.to_str().unwrap().parse::<u32>().unwrap() >= 1));
}

#[tokio::test]
async fn a_message_thread_is_refused_as_the_sdks_expect_and_every_answer_names_its_request_id() {
    let app = spawn_app().await;
    let hi = json!([{ "role": "user", "content": "hi" }]);
    let turn = |thread: Value| json!({ "model": MODEL, "max_tokens": 10, "messages": hi, "thread": thread });

    let created = app.post_messages(turn(json!({ "type": "create" }))).await;
    let continued =
        app.post_messages(turn(json!({ "type": "continue", "previous_message_id": "msg_1" }))).await;
    let unthreaded = app.post_messages(turn(json!(false))).await;

    for response in [created, continued] {
        let request_id = response.headers().get("request-id").cloned();
        let (status, body) = json_of(response).await;
        assert_eq!(status, 400, "{body}");
        assert_anthropic_error(&body, "invalid_request_error");
        // What the SDKs' threads and tool runners read to send the whole conversation instead.
        assert_eq!(body["error"]["details"]["error_code"], "thread_unsupported_request", "{body}");
        assert_eq!(request_id.unwrap().to_str().unwrap(), body["request_id"].as_str().unwrap());
    }
    assert_eq!(unthreaded.status(), 200);
    assert!(unthreaded.headers().contains_key("request-id"), "Anthropic's SDKs read `request-id`");
}

#[tokio::test]
async fn a_wrong_method_is_405_in_anthropic_shape_with_allow() {
    let app = spawn_app().await;
    let anthropic = |method: reqwest::Method, path: &str| {
        app.http.request(method, app.url(path)).header("anthropic-version", "2023-06-01").send()
    };

    for (response, allowed) in [
        (anthropic(reqwest::Method::GET, "/v1/messages").await.unwrap(), "POST"),
        (anthropic(reqwest::Method::DELETE, "/v1/messages/count_tokens").await.unwrap(), "POST"),
        (anthropic(reqwest::Method::POST, "/v1/models").await.unwrap(), "GET,HEAD"),
    ] {
        let allow = response.headers().get("allow").cloned();
        let (status, body) = json_of(response).await;
        assert_eq!(status, 405, "{body}");
        assert_eq!(allow.as_ref().and_then(|v| v.to_str().ok()), Some(allowed), "{body}");
        assert_anthropic_error(&body, "invalid_request_error");
    }
}

#[tokio::test]
async fn the_rate_limit_of_api_chat_applies_with_retry_after() {
    let vars = [("RATE_LIMIT_PER_MINUTE", "60"), ("RATE_LIMIT_BURST", "1")];
    let app = spawn_app_with(Emulator::scripted(), &vars).await;

    let first = app.post_messages(ask("one")).await;
    let second = app.post_messages(ask("two")).await;

    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 429);
    assert!(second.headers().contains_key("retry-after"));
    assert_anthropic_error(&second.json().await.unwrap(), "rate_limit_error");
}

#[tokio::test]
async fn a_mid_stream_exception_ends_with_an_error_event() {
    let app = spawn_app().await;

    let frames = read_frames(
        app.post_messages(streamed(ask("[[scenario:exception type=serviceUnavailableException after=2]]")))
            .await,
    )
    .await;

    let names = names(&frames);
    assert!(!names.contains(&"message_stop"), "{names:?}");
    let (event, data) = frames.last();
    assert_eq!(event, "error");
    assert_anthropic_error(&data, "overloaded_error");
}

#[tokio::test]
async fn an_overloaded_upstream_is_529_overloaded_error_before_the_stream_and_an_error_event_after() {
    let app = spawn_app().await;
    let refused = "[[scenario:unavailable]]";
    let after_opening = "[[scenario:exception type=serviceUnavailableException after=0]]";

    let streamed_refusal = app.post_messages(streamed(ask(refused))).await;
    let refusal = app.post_messages(ask(refused)).await;
    let failed_before_any_text = app.post_messages(ask(after_opening)).await;
    let frames = read_frames(app.post_messages(streamed(ask(after_opening))).await).await;

    for response in [streamed_refusal, refusal, failed_before_any_text] {
        let (status, body) = json_of(response).await;
        assert_eq!(status, 529, "{body}");
        assert_anthropic_error(&body, "overloaded_error");
    }
    let (event, data) = frames.last();
    assert_eq!(event, "error");
    assert_anthropic_error(&data, "overloaded_error");
}

#[tokio::test]
async fn a_server_at_its_stream_cap_is_529_overloaded_error_with_retry_after() {
    let app = spawn_app_with(Emulator::scripted(), &[("MAX_CONCURRENT_STREAMS", "1")]).await;
    let first = app.post_messages(streamed(ask("[[scenario:slow delay_ms=20 n=10]]"))).await;
    assert_eq!(first.status(), 200);

    let refused = app.post_messages(ask("me too")).await;

    let retry_after = refused.headers().get("retry-after").cloned();
    let (status, body) = json_of(refused).await;
    assert_eq!(status, 529, "{body}");
    assert_anthropic_error(&body, "overloaded_error");
    assert!(retry_after.is_some_and(|v| v.to_str().unwrap().parse::<u32>().unwrap() >= 1));
    let first = read_frames(first).await;
    assert_eq!(names(&first).last(), Some(&"message_stop"), "the stream that held the place ends well");
}

#[tokio::test]
async fn a_client_that_hangs_up_cancels_the_upstream_within_a_second() {
    let app = spawn_app().await;
    let response = app.post_messages(streamed(ask("[[scenario:slow delay_ms=100 n=200]]"))).await;
    let mut events = events(response);
    let mut deltas = 0;
    while deltas < 3 {
        let event = futures_util::StreamExt::next(&mut events).await.unwrap().unwrap();
        deltas += usize::from(event.event == "content_block_delta");
    }

    drop(events);

    app.assert_upstream_hung_up_within_a_second().await;
}

#[tokio::test]
async fn the_model_list_takes_the_shape_of_the_sdk_that_asks() {
    let app = spawn_app().await;

    let anthropic =
        app.http.get(app.url("/v1/models")).header("anthropic-version", "2023-06-01").send().await;
    let openai = app.http.get(app.url("/v1/models")).send().await;

    let (status, anthropic) = json_of(anthropic.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(anthropic["data"][0]["type"], "model");
    assert_eq!(anthropic["data"][0]["id"], MODEL);
    assert!(anthropic["data"][0]["display_name"].is_string() && anthropic["has_more"] == false);
    let (_, openai) = json_of(openai.unwrap()).await;
    assert_eq!(
        (openai["object"].as_str(), openai["data"][0]["object"].as_str()),
        (Some("list"), Some("model"))
    );
}

#[tokio::test]
async fn one_model_is_retrieved_and_an_unknown_one_or_path_is_a_404_in_the_sdks_shape() {
    let app = spawn_app().await;
    let get = |path: String, anthropic: bool| {
        let request = app.http.get(app.url(&path));
        let request = if anthropic { request.header("anthropic-version", "2023-06-01") } else { request };
        async move { json_of(request.send().await.unwrap()).await }
    };

    let (status, model) = get(format!("/v1/models/{MODEL}"), true).await;
    assert_eq!((status, model["type"].as_str(), model["id"].as_str()), (200, Some("model"), Some(MODEL)));
    let (status, model) = get(format!("/v1/models/{MODEL}"), false).await;
    assert_eq!((status, model["object"].as_str(), model["id"].as_str()), (200, Some("model"), Some(MODEL)));

    let (status, missing) = get("/v1/models/no-such-model".into(), true).await;
    assert_eq!((status, missing["error"]["type"].as_str()), (404, Some("not_found_error")), "{missing}");
    let (status, missing) = get("/v1/models/no-such-model".into(), false).await;
    assert_eq!((status, missing["error"]["code"].as_str()), (404, Some("model_not_found")), "{missing}");
    let arn = "arn:aws:bedrock:us-east-1:1:application-inference-profile/abc";
    let (status, missing) = get(format!("/v1/models/{arn}"), false).await;
    assert_eq!((status, missing["error"]["code"].as_str()), (404, Some("model_not_found")), "{missing}");
    assert!(missing["error"]["message"].as_str().unwrap().contains(arn), "the whole id: {missing}");

    let (status, route) = get("/v1/embeddings".into(), true).await;
    assert_eq!((status, route["error"]["type"].as_str()), (404, Some("not_found_error")), "{route}");
    let (status, route) = get("/v1/embeddings".into(), false).await;
    assert_eq!((status, route["error"]["type"].as_str()), (404, Some("invalid_request_error")), "{route}");
    assert!(route["error"]["message"].as_str().unwrap().contains("/v1/embeddings"), "{route}");
}
