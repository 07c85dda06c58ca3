//! OpenAI's Chat Completions API (`/v1/chat/completions`, `/v1/models`) over the emulator, as
//! an OpenAI client sees it on the wire.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{Value, json};
use streambed_emulator::{Emulator, Outcome};

use crate::helpers::{MODEL, TestApp, spawn_app, spawn_app_with};

const KEY: &str = "openai-test-key-0123456789";
/// A model that takes structured outputs.
const SONNET_45: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

impl TestApp {
    async fn completions(&self, body: Value) -> reqwest::Response {
        self.http.post(self.url("/v1/chat/completions")).json(&body).send().await.expect("request sent")
    }
}

fn ask(prompt: &str, stream: bool) -> Value {
    json!({ "model": MODEL, "stream": stream, "messages": [{ "role": "user", "content": prompt }] })
}

/// The `data:` of every frame, in order: chunks as JSON, `[DONE]` as the string.
async fn frames(response: reqwest::Response) -> Vec<Value> {
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut events = response.bytes_stream().eventsource();
    let mut frames = Vec::new();
    while let Some(event) = events.next().await {
        let event = event.expect("well-formed SSE");
        assert_eq!(event.event, "message", "OpenAI's stream has no event types");
        frames.push(serde_json::from_str(&event.data).unwrap_or(Value::String(event.data)));
    }
    frames
}

fn content(frames: &[Value]) -> String {
    frames.iter().filter_map(|f| f["choices"][0]["delta"]["content"].as_str()).collect()
}

/// The tool calls of a stream, assembled as a client does: by index, arguments concatenated.
fn tool_calls(frames: &[Value]) -> Vec<(String, String, String)> {
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for delta in frames.iter().filter_map(|f| f["choices"][0]["delta"]["tool_calls"].as_array()) {
        let call = &delta[0];
        let index = usize::try_from(call["index"].as_u64().unwrap()).unwrap();
        if index == calls.len() {
            let (id, name) = (call["id"].as_str().unwrap(), call["function"]["name"].as_str().unwrap());
            calls.push((id.to_owned(), name.to_owned(), String::new()));
        }
        calls[index].2.push_str(call["function"]["arguments"].as_str().unwrap());
    }
    calls
}

fn finish_reason(frames: &[Value]) -> Option<&str> {
    frames.iter().find_map(|f| f["choices"][0]["finish_reason"].as_str())
}

#[tokio::test]
async fn a_streamed_answer_is_chunks_of_the_emulators_text_then_done() {
    let app = spawn_app().await;

    let frames = frames(app.completions(ask("hi there", true)).await).await;

    assert_eq!(content(&frames), "Hello from the Streambed emulator. You said: hi there");
    assert_eq!(frames[0]["choices"][0]["delta"], json!({ "role": "assistant", "content": "" }));
    let chunks = &frames[..frames.len() - 1];
    let id = chunks[0]["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-"), "{id}");
    for chunk in chunks {
        assert_eq!(
            (chunk["id"].as_str(), chunk["object"].as_str()),
            (Some(id), Some("chat.completion.chunk"))
        );
        assert_eq!(chunk["model"], MODEL);
        assert!(chunk["created"].is_u64() && chunk.get("usage").is_none(), "{chunk}");
    }
    assert_eq!(chunks.len(), 1 + app.emulator.recorder.requests()[0].deltas_sent + 1, "role, deltas, finish");
    assert_eq!(finish_reason(&frames), Some("stop"));
    assert_eq!(frames.last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn a_non_streamed_answer_is_one_completion_with_its_usage() {
    let app = spawn_app().await;

    let response = app.completions(ask("hi there", false)).await;

    assert_eq!(response.status(), 200);
    let completion: Value = response.json().await.unwrap();
    assert_eq!(completion["object"], "chat.completion");
    assert!(completion["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(completion["model"], MODEL);
    let choice = &completion["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Hello from the Streambed emulator. You said: hi there");
    assert_eq!(choice["finish_reason"], "stop");
    let usage = &completion["usage"];
    assert!(usage["prompt_tokens"].as_u64() > Some(0) && usage["completion_tokens"].as_u64() > Some(0));
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap())
    );
}

#[tokio::test]
async fn include_usage_ends_the_stream_with_a_chunk_of_usage_and_no_choices() {
    let app = spawn_app().await;
    let body = json!({
        "model": MODEL, "stream": true, "stream_options": { "include_usage": true },
        "messages": [{ "role": "user", "content": "hi there" }],
    });

    let frames = frames(app.completions(body).await).await;

    let usage_chunk = &frames[frames.len() - 2];
    assert_eq!(usage_chunk["choices"], json!([]));
    assert!(usage_chunk["usage"]["completion_tokens"].as_u64() > Some(0), "{usage_chunk}");
    assert!(
        frames[..frames.len() - 2].iter().all(|f| f["usage"].is_null()),
        "usage is null before the last chunk"
    );
}

#[tokio::test]
async fn messages_system_prompts_and_settings_reach_bedrock_translated() {
    let app = spawn_app().await;
    let body = json!({
        "model": MODEL,
        "messages": [
            { "role": "system", "content": "Be brief." },
            { "role": "developer", "content": [{ "type": "text", "text": "Answer in French." }] },
            { "role": "user", "content": "Hi" },
            { "role": "assistant", "content": "Hello!" },
            { "role": "user", "content": [{ "type": "text", "text": "[[scenario:echo]] More" }] },
        ],
        "max_completion_tokens": 321, "temperature": 0.25, "stop": ["END", "FIN"],
        "n": 1, "user": "someone", "seed": 7, "frequency_penalty": 0,
    });

    let completion: Value = app.completions(body).await.json().await.unwrap();

    let echoed: Value =
        serde_json::from_str(completion["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["system"], json!([{ "text": "Be brief.\n\nAnswer in French." }]));
    assert_eq!(echoed["inferenceConfig"]["maxTokens"], 321);
    assert_eq!(echoed["inferenceConfig"]["temperature"], 0.25);
    assert_eq!(echoed["inferenceConfig"]["stopSequences"], json!(["END", "FIN"]));
    let roles: Vec<&str> =
        echoed["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
}

fn weather_tool() -> Value {
    json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] },
        },
    }])
}

/// The conversation after the model called `get_weather` as `id` and the tool answered.
fn with_result(id: &str, arguments: &str, stream: bool) -> Value {
    json!({
        "model": MODEL, "stream": stream, "tools": weather_tool(),
        "messages": [
            { "role": "user", "content": "What is the weather in Paris?" },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": id, "type": "function", "function": { "name": "get_weather", "arguments": arguments } }
            ] },
            { "role": "tool", "tool_call_id": id, "content": "Sunny, 21 °C" },
        ],
    })
}

#[tokio::test]
async fn a_streamed_tool_call_round_trip() {
    let app = spawn_app().await;
    let body = json!({
        "model": MODEL, "stream": true, "tools": weather_tool(), "tool_choice": "required",
        "messages": [{ "role": "user", "content": "What is the weather in Paris?" }],
    });

    let called = frames(app.completions(body).await).await;
    let calls = tool_calls(&called);
    assert_eq!(calls.len(), 1, "{called:?}");
    let (id, name, arguments) = &calls[0];
    assert_eq!(name, "get_weather");
    assert_eq!(serde_json::from_str::<Value>(arguments).unwrap(), json!({ "city": "Paris" }));
    let fragments = called.iter().filter(|f| f["choices"][0]["delta"]["tool_calls"].is_array()).count();
    assert!(fragments >= 3, "the arguments arrive in fragments: {called:?}");
    assert_eq!(finish_reason(&called), Some("tool_calls"));

    let answered = frames(app.completions(with_result(id, arguments, true)).await).await;

    assert_eq!(content(&answered), "The tool `get_weather` returned: Sunny, 21 °C.");
    assert_eq!(finish_reason(&answered), Some("stop"));
    let sent = &app.emulator.recorder.requests()[1].body;
    assert_eq!(sent["toolConfig"]["tools"][0]["toolSpec"]["name"], "get_weather");
    let last = sent["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(last["content"][0]["toolResult"]["toolUseId"], id.as_str());
}

#[tokio::test]
async fn a_tool_that_printed_nothing_and_a_tool_without_a_description_reach_bedrock_as_it_takes_them() {
    let app = spawn_app().await;
    let mut body = with_result("call_1", r#"{"city":"Paris"}"#, false);
    body["messages"][2]["content"] = json!("");
    body["tools"][0]["function"]["description"] = json!("");

    let response = app.completions(body).await;

    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let sent = &app.emulator.recorder.requests()[0].body;
    assert!(sent["toolConfig"]["tools"][0]["toolSpec"].get("description").is_none(), "{sent}");
    let result = &sent["messages"][2]["content"][0]["toolResult"]["content"][0]["text"];
    assert_eq!(result, "(no output)", "{sent}");
}

#[tokio::test]
async fn a_json_schema_response_format_is_bedrocks_structured_output_and_json_object_is_asked_in_the_system_prompt()
 {
    let app = spawn_app_with(Emulator::scripted(), &[("BEDROCK_MODELS", SONNET_45)]).await;
    let schema = json!({
        "type": "object",
        "properties": { "name": { "type": "string" }, "population": { "type": "integer" } },
        "required": ["name", "population"],
        "additionalProperties": false,
    });
    let asking = |format: Value| {
        let messages =
            json!([{ "role": "system", "content": "Be brief." }, { "role": "user", "content": "A city?" }]);
        json!({ "model": SONNET_45, "messages": messages, "response_format": format })
    };

    let answered: Value = app
        .completions(asking(
            json!({ "type": "json_schema", "json_schema": { "name": "city", "schema": schema } }),
        ))
        .await
        .json()
        .await
        .unwrap();
    let json_object = app.completions(asking(json!({ "type": "json_object" }))).await;

    let text = answered["choices"][0]["message"]["content"].as_str().unwrap();
    let city: Value = serde_json::from_str(text).unwrap();
    assert!(city["name"].is_string() && city["population"].is_i64(), "{city}");
    let sent = &app.emulator.recorder.requests()[0].body["outputConfig"]["textFormat"];
    assert_eq!(sent["type"], "json_schema", "{sent}");
    assert_eq!(sent["structure"]["jsonSchema"]["name"], "city");
    let sent_schema: Value =
        serde_json::from_str(sent["structure"]["jsonSchema"]["schema"].as_str().unwrap()).unwrap();
    assert_eq!(sent_schema, schema);
    assert_eq!(json_object.status(), 200);
    let sent = &app.emulator.recorder.requests()[1].body;
    assert!(sent.get("outputConfig").is_none(), "no schema to enforce: {sent}");
    let system = sent["system"][0]["text"].as_str().unwrap();
    assert!(system.starts_with("Be brief.\n\n") && system.ends_with("no Markdown code fence."), "{system}");
}

/// Claude 3 Haiku takes no schema for its answer: it is made to call the schema as a tool, and
/// the call's input comes back as the answer, streamed or not, as from a model that takes one.
#[tokio::test]
async fn a_json_schema_on_a_model_without_structured_output_is_answered_by_a_forced_tool_call() {
    let app = spawn_app().await;
    let schema = json!({
        "type": "object",
        "properties": { "name": { "type": "string" }, "population": { "type": "integer" } },
        "required": ["name", "population"],
    });
    let asking = |stream: bool| {
        let mut body = ask("A city?", stream);
        body["response_format"] =
            json!({ "type": "json_schema", "json_schema": { "name": "city", "schema": schema } });
        body
    };

    let answered: Value = app.completions(asking(false)).await.json().await.unwrap();
    let streamed = frames(app.completions(asking(true)).await).await;

    let text = answered["choices"][0]["message"]["content"].as_str().unwrap();
    let city: Value = serde_json::from_str(text).unwrap();
    assert!(city["name"].is_string() && city["population"].is_i64(), "{answered}");
    assert_eq!(answered["choices"][0]["finish_reason"], "stop", "{answered}");
    assert!(answered["choices"][0]["message"].get("tool_calls").is_none(), "{answered}");
    assert_eq!(serde_json::from_str::<Value>(&content(&streamed)).unwrap(), city);
    assert_eq!(finish_reason(&streamed), Some("stop"));
    assert!(tool_calls(&streamed).is_empty(), "{streamed:?}");
    for sent in app.emulator.recorder.requests() {
        let sent = &sent.body;
        assert!(sent.get("outputConfig").is_none(), "{sent}");
        let tool = &sent["toolConfig"]["tools"][0]["toolSpec"];
        assert_eq!(tool["inputSchema"]["json"], schema, "{sent}");
        assert_eq!(sent["toolConfig"]["toolChoice"]["tool"]["name"], tool["name"], "{sent}");
    }
}

/// What zod and Pydantic write (bounds, an open object, `$schema`): rewritten as Claude's grammar
/// takes it, the bounds kept in words, as the Anthropic SDKs do; Bedrock would refuse them as sent.
#[tokio::test]
async fn a_schema_with_bounds_reaches_claude_as_its_grammar_takes_it() {
    let app = spawn_app_with(Emulator::scripted(), &[("BEDROCK_MODELS", SONNET_45)]).await;
    let zod = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": { "age": { "type": "integer", "minimum": 18 } },
        "required": ["age"],
    });
    let body = json!({
        "model": SONNET_45, "messages": [{ "role": "user", "content": "An age?" }],
        "response_format": { "type": "json_schema", "json_schema": { "name": "person", "schema": zod } },
    });

    let response = app.completions(body).await;

    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let sent =
        &app.emulator.recorder.requests()[0].body["outputConfig"]["textFormat"]["structure"]["jsonSchema"];
    let schema: Value = serde_json::from_str(sent["schema"].as_str().unwrap()).unwrap();
    assert_eq!(
        schema,
        json!({
            "type": "object",
            "properties": { "age": { "type": "integer", "description": "{minimum: 18}" } },
            "required": ["age"],
            "additionalProperties": false,
        })
    );
}

/// An agent that asks for a schema and offers tools: the answer to the tool results is the JSON.
#[tokio::test]
async fn the_answer_to_tool_results_follows_the_schema_asked_for() {
    let app = spawn_app_with(Emulator::scripted(), &[("BEDROCK_MODELS", SONNET_45)]).await;
    let mut body = with_result("call_1", r#"{"city":"Paris"}"#, false);
    body["model"] = json!(SONNET_45);
    let schema =
        json!({ "type": "object", "properties": { "sunny": { "type": "boolean" } }, "required": ["sunny"] });
    body["response_format"] =
        json!({ "type": "json_schema", "json_schema": { "name": "forecast", "schema": schema } });

    let answered: Value = app.completions(body).await.json().await.unwrap();

    let text = answered["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<Value>(text).unwrap(), json!({ "sunny": true }), "{answered}");
}

/// A chat UI's greeting shown before the first question: OpenAI takes it, Bedrock does not.
#[tokio::test]
async fn a_conversation_that_opens_with_the_assistants_greeting_is_answered() {
    let app = spawn_app().await;
    let body = json!({
        "model": MODEL,
        "messages": [
            { "role": "system", "content": "Be brief." },
            { "role": "assistant", "content": "Hi! How can I help?" },
            { "role": "user", "content": "hello" },
        ],
    });

    let response = app.completions(body).await;

    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let sent = &app.emulator.recorder.requests()[0].body;
    let roles: Vec<_> = sent["messages"].as_array().unwrap().iter().map(|m| m["role"].clone()).collect();
    assert_eq!(roles, [json!("user"), json!("assistant"), json!("user")], "{sent}");
}

#[tokio::test]
async fn a_non_streamed_tool_call_round_trip() {
    let app = spawn_app().await;
    let body = json!({
        "model": MODEL, "tools": weather_tool(),
        "tool_choice": { "type": "function", "function": { "name": "get_weather" } },
        "messages": [{ "role": "user", "content": "What is the weather in Paris?" }],
    });

    let called: Value = app.completions(body).await.json().await.unwrap();
    let choice = &called["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(
        (call["type"].as_str(), call["function"]["name"].as_str()),
        (Some("function"), Some("get_weather"))
    );
    let arguments = call["function"]["arguments"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<Value>(arguments).unwrap(), json!({ "city": "Paris" }));

    let answered: Value = app
        .completions(with_result(call["id"].as_str().unwrap(), arguments, false))
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(
        answered["choices"][0]["message"]["content"],
        "The tool `get_weather` returned: Sunny, 21 °C."
    );
}

#[tokio::test]
async fn a_reasoning_model_streams_its_reasoning_and_answers_tool_results() {
    let sonnet = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
    let app = spawn_app_with(Emulator::scripted(), &[("BEDROCK_MODELS", sonnet)]).await;
    let thinking = json!({
        "model": sonnet, "stream": true, "reasoning_effort": "low",
        "messages": [{ "role": "user", "content": "Think first." }],
    });
    let mut called = json!({
        "model": sonnet, "reasoning_effort": "low", "tools": weather_tool(),
        "messages": [{ "role": "user", "content": "What is the weather in Paris?" }],
    });

    let reasoned = frames(app.completions(thinking).await).await;
    let call: Value = app.completions(called.clone()).await.json().await.unwrap();
    let call = &call["choices"][0]["message"]["tool_calls"][0];
    let (id, arguments) = (call["id"].as_str().unwrap(), call["function"]["arguments"].as_str().unwrap());
    let answered = with_result(id, arguments, false);
    called["messages"] = answered["messages"].clone();
    let answered = app.completions(called).await;

    let reasoning: String =
        reasoned.iter().filter_map(|f| f["choices"][0]["delta"]["reasoning_content"].as_str()).collect();
    assert!(!reasoning.is_empty() && !content(&reasoned).is_empty(), "{reasoned:?}");
    assert_eq!(
        answered.status(),
        200,
        "the tool results are answered without the reasoning OpenAI cannot send back"
    );
    let answer: Value = answered.json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "The tool `get_weather` returned: Sunny, 21 °C.");
}

/// Vision as OpenAI's clients send it: `image_url` parts with a `data:` URL, beside text.
#[tokio::test]
async fn an_image_as_a_data_url_reaches_bedrock_as_an_image_block_and_a_web_url_is_refused() {
    let app = spawn_app().await;
    let ask_about = |url: &str| {
        json!({ "model": MODEL, "messages": [{ "role": "user", "content": [
            { "type": "text", "text": "What is in this picture?" },
            { "type": "image_url", "image_url": { "url": url, "detail": "low" } }
        ] }] })
    };

    let answered = app.completions(ask_about("data:image/jpeg;base64,/9j/4AAQ")).await;
    let (status, _, refused) =
        error_of(app.completions(ask_about("https://example.com/cat.jpg")).await).await;

    assert_eq!(answered.status(), 200);
    let sent = &app.emulator.recorder.requests()[0].body["messages"][0]["content"];
    assert_eq!(
        *sent,
        json!([
            { "text": "What is in this picture?" },
            { "image": { "format": "jpeg", "source": { "bytes": "/9j/4AAQ" } } }
        ])
    );
    assert_eq!((status, refused["param"].as_str()), (400, Some("messages")));
    assert!(refused["message"].as_str().unwrap().contains("`data:` URL"), "{refused}");
}

/// Files as OpenAI's clients send them: a `file` part with `file_data` as a `data:` URL (OpenAI's
/// guide) or as plain base64 with a file name that gives its format. A `file_id` is refused.
#[tokio::test]
async fn a_file_part_reaches_bedrock_as_a_document_block_and_a_file_id_is_refused() {
    let app = spawn_app().await;
    let ask_about = |file: Value| {
        json!({ "model": MODEL, "messages": [{ "role": "user", "content": [
            { "type": "file", "file": file },
            { "type": "text", "text": "What does it say?" }
        ] }] })
    };

    let pdf = app
        .completions(ask_about(
            json!({ "filename": "report.pdf", "file_data": "data:application/pdf;base64,JVBERi0=" }),
        ))
        .await;
    let markdown =
        app.completions(ask_about(json!({ "filename": "notes.md", "file_data": "IyBIaQ==" }))).await;
    let (status, _, refused) =
        error_of(app.completions(ask_about(json!({ "file_id": "file-abc" }))).await).await;
    let (unnamed_status, _, unnamed) =
        error_of(app.completions(ask_about(json!({ "file_data": "IyBIaQ==" }))).await).await;

    assert_eq!((pdf.status().as_u16(), markdown.status().as_u16()), (200, 200));
    let requests = app.emulator.recorder.requests();
    assert_eq!(
        requests[0].body["messages"][0]["content"],
        json!([
            { "document": { "format": "pdf", "name": "report", "source": { "bytes": "JVBERi0=" } } },
            { "text": "What does it say?" }
        ])
    );
    assert_eq!(
        requests[1].body["messages"][0]["content"][0],
        json!({ "document": { "format": "md", "name": "notes", "source": { "bytes": "IyBIaQ==" } } })
    );
    assert_eq!((status, refused["param"].as_str()), (400, Some("messages")));
    assert!(refused["message"].as_str().unwrap().contains("keeps no uploaded files"), "{refused}");
    assert_eq!(unnamed_status, 400);
    assert!(unnamed["message"].as_str().unwrap().contains("needs its format"), "{unnamed}");
}

async fn error_of(response: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let body: Value = response.json().await.unwrap();
    let error = &body["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty())
            && error["type"].is_string()
            && error.get("param").is_some()
            && error.get("code").is_some(),
        "OpenAI's error shape: {body}"
    );
    (status, headers, body["error"].clone())
}

#[tokio::test]
async fn refusals_before_the_stream_are_in_openai_shape() {
    let app = spawn_app().await;

    let mut two = ask("hi", false);
    two["n"] = json!(2);
    let (status, _, n) = error_of(app.completions(two).await).await;
    assert_eq!(
        (status, n["type"].as_str(), n["param"].as_str()),
        (400, Some("invalid_request_error"), Some("n"))
    );

    let (status, _, model) = error_of(
        app.completions(json!({ "model": "gpt-4o", "messages": [{ "role": "user", "content": "hi" }] }))
            .await,
    )
    .await;
    assert_eq!(
        (status, model["code"].as_str(), model["param"].as_str()),
        (404, Some("model_not_found"), Some("model"))
    );
    assert!(model["message"].as_str().unwrap().contains(MODEL), "names the models offered: {model}");

    let not_json =
        app.http.post(app.url("/v1/chat/completions")).header("content-type", "application/json").body("{");
    let (status, _, syntax) = error_of(not_json.send().await.unwrap()).await;
    assert_eq!((status, syntax["type"].as_str()), (400, Some("invalid_request_error")));

    // serde's words name the member at fault, in the API's terms rather than this server's types.
    for (messages, says) in [
        (json!([{ "role": "wizard", "content": "hi" }]), "messages[0].role: unknown variant `wizard`"),
        (json!([{ "role": "user", "content": 5 }]), "messages[0]: expected `content` to be a string or"),
    ] {
        let (status, _, error) =
            error_of(app.completions(json!({ "model": MODEL, "messages": messages })).await).await;
        let message = error["message"].as_str().unwrap();
        assert_eq!(status, 400, "{error}");
        assert!(message.starts_with(&format!("The body is not valid: {says}")), "{message}");
    }

    let (status, headers, throttled) =
        error_of(app.completions(ask("[[scenario:throttle]]", true)).await).await;
    assert_eq!(
        (status, throttled["type"].as_str(), throttled["code"].as_str()),
        (429, Some("rate_limit_error"), Some("throttled"))
    );
    assert!(headers["retry-after"].to_str().unwrap().parse::<u32>().unwrap() >= 1);
    assert!(headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn a_wrong_method_is_405_in_openai_shape_with_allow() {
    let app = spawn_app().await;
    let send = |method: reqwest::Method, path: &str| app.http.request(method, app.url(path)).send();

    for (response, allowed) in [
        (send(reqwest::Method::GET, "/v1/chat/completions").await.unwrap(), "POST"),
        (send(reqwest::Method::PUT, "/v1/chat/completions").await.unwrap(), "POST"),
        (send(reqwest::Method::POST, "/v1/models").await.unwrap(), "GET,HEAD"),
        (send(reqwest::Method::DELETE, "/v1/models").await.unwrap(), "GET,HEAD"),
    ] {
        let (status, headers, error) = error_of(response).await;
        assert_eq!(status, 405, "{error}");
        assert_eq!(headers["allow"], allowed, "{error}");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(
            (error["type"].as_str(), error["code"].as_str()),
            (Some("invalid_request_error"), Some("method_not_allowed"))
        );
    }
}

#[tokio::test]
async fn a_wrong_key_is_refused_in_openai_shape_with_the_challenge() {
    let app = spawn_app_with(Emulator::scripted(), &[("API_KEYS", KEY)]).await;
    let post = |key: &str| {
        app.http.post(app.url("/v1/chat/completions")).bearer_auth(key).json(&ask("hi", false)).send()
    };

    let (status, headers, error) = error_of(post("wrong-key-0123456789").await.unwrap()).await;
    let listed = app.http.get(app.url("/v1/models")).send().await.unwrap();
    let right = post(KEY).await.unwrap();

    assert_eq!(
        (status, error["type"].as_str(), error["code"].as_str()),
        (401, Some("authentication_error"), Some("invalid_api_key"))
    );
    assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    assert_eq!(error_of(listed).await.0, 401, "the model list needs the key too");
    assert_eq!(right.status(), 200);
    assert!(app.emulator.recorder.requests().len() == 1, "only the right key reached Bedrock");
}

#[tokio::test]
async fn a_failure_mid_stream_is_an_error_chunk_and_no_done() {
    let app = spawn_app().await;

    let frames = frames(
        app.completions(ask("[[scenario:exception type=modelStreamErrorException after=3]]", true)).await,
    )
    .await;

    assert_eq!(frames.iter().filter(|f| f["choices"][0]["delta"]["content"].is_string()).count(), 1 + 3);
    let last = frames.last().unwrap();
    assert!(last["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{last}");
    assert_eq!(last["error"]["type"], "server_error");
    assert!(!frames.iter().any(|f| f == "[DONE]") && finish_reason(&frames).is_none());
}

#[tokio::test]
async fn a_client_that_leaves_a_stream_stops_the_upstream_within_a_second() {
    let app = spawn_app().await;
    let response = app.completions(ask("[[scenario:slow delay_ms=100 n=200]]", true)).await;
    let mut events = response.bytes_stream().eventsource();
    for _ in 0..4 {
        events.next().await.unwrap().unwrap();
    }

    drop(events);

    app.assert_upstream_hung_up_within_a_second().await;
}

#[tokio::test]
async fn a_client_that_gives_up_on_a_non_streamed_answer_stops_the_upstream() {
    let app = spawn_app().await;
    let request = app
        .http
        .post(app.url("/v1/chat/completions"))
        .json(&ask("[[scenario:slow delay_ms=100 n=200]]", false))
        .timeout(Duration::from_millis(300));

    assert!(request.send().await.unwrap_err().is_timeout());

    let records = app
        .emulator
        .recorder
        .wait_for(Duration::from_secs(1), |r| r[0].outcome == Outcome::ClientHungUp)
        .await;
    assert!(records.is_ok(), "the emulator saw the upstream hang up within 1 s: {records:?}");
}

#[tokio::test]
async fn the_models_are_listed_in_openai_shape() {
    let sonnet = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
    let app = spawn_app_with(
        Emulator::scripted(),
        &[("BEDROCK_MODELS", &format!("{MODEL}=Haiku,{sonnet}=Sonnet"))],
    )
    .await;

    let listed: Value = app.http.get(app.url("/v1/models")).send().await.unwrap().json().await.unwrap();

    assert_eq!(listed["object"], "list");
    let ids: Vec<&str> =
        listed["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [MODEL, sonnet]);
    for model in listed["data"].as_array().unwrap() {
        assert_eq!((model["object"].as_str(), model["owned_by"].as_str()), (Some("model"), Some("bedrock")));
        assert!(model["created"].is_u64());
    }
}

#[tokio::test]
async fn browsers_may_send_the_openai_sdks_headers() {
    let app = spawn_app().await;
    let sdk_headers = "authorization, content-type, x-stainless-os, x-stainless-lang, x-stainless-package-version, \
                       x-stainless-runtime, x-stainless-runtime-version, x-stainless-arch, x-stainless-retry-count, \
                       x-stainless-timeout";

    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/v1/chat/completions"))
        .header("origin", "https://chat.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", sdk_headers)
        .send()
        .await
        .unwrap();

    assert!(preflight.status().is_success());
    let allowed = preflight.headers()["access-control-allow-headers"].to_str().unwrap().to_lowercase();
    for header in sdk_headers.split(", ") {
        assert!(allowed.contains(header), "{header} in {allowed}");
    }
}

#[tokio::test]
async fn a_conversation_past_the_size_limits_is_a_context_overflow_in_openais_code_and_words() {
    let app = spawn_app_with(Emulator::scripted(), &[("MAX_PROMPT_CHARS", "400"), ("MAX_TURNS", "3")]).await;
    let post = |body: Value| app.http.post(app.url("/v1/chat/completions")).json(&body).send();
    let turn = |role: &str| json!({ "role": role, "content": "hi" });

    let long = error_of(post(ask(&"x".repeat(1000), false)).await.unwrap()).await;
    let many = json!({ "model": MODEL, "messages": [turn("user"), turn("assistant"), turn("user"), turn("assistant"), turn("user")] });
    let many = error_of(post(many).await.unwrap()).await;

    // What LiteLLM and LangChain look for to trim the history (the SDK's exception carries
    // only the message), besides the code.
    for (status, _, error) in [&long, &many] {
        assert_eq!((*status, error["code"].as_str()), (400, Some("context_length_exceeded")), "{error}");
        assert!(error["message"].as_str().unwrap().contains("maximum context length"), "{error}");
    }
    let message = long.2["message"].as_str().unwrap();
    assert!(message.starts_with("This model's maximum context length is 100 tokens. However, your messages resulted in 250 tokens."), "{message}");
    assert!(message.contains("MAX_PROMPT_CHARS"), "{message}");
    assert!(app.emulator.recorder.requests().is_empty());
}
