use aws_sdk_bedrockruntime::{
    operation::RequestId,
    types::{
        ContentBlockDelta, ConverseOutput, ConverseStreamOutput, InferenceConfiguration, StopReason,
        SystemContentBlock,
    },
};
use serde_json::Value;
use streambed_emulator::{AuthStyle, Operation, Outcome, UNICODE_DELTAS, long_text};

use crate::helpers::{MODEL, drain, spawn, user};

#[tokio::test]
async fn streams_the_scripted_answer_with_stop_reason_and_usage() {
    let t = spawn().await;

    let streamed = t.stream("hi there").await;

    assert_eq!(streamed.text(), "Hello from the Streambed emulator. You said: hi there");
    assert_eq!(streamed.deltas.len(), 9);
    assert_eq!(streamed.stop_reason, Some(StopReason::EndTurn));
    let usage = streamed.usage.expect("metadata carries usage");
    assert_eq!((usage.input_tokens, usage.output_tokens, usage.total_tokens), (2, 9, 11));
    let record = &t.emulator.recorder.requests()[0];
    assert_eq!((record.operation, record.model_id.as_str()), (Operation::ConverseStream, MODEL));
    assert_eq!((record.attempt, record.auth, record.outcome), (1, AuthStyle::Sigv4, Outcome::Complete));
    assert_eq!(record.deltas_sent, 9);
    // The Rust SDK negotiates HTTP/2 only through TLS ALPN; to an http:// endpoint it uses
    // HTTP/1.1, one connection per concurrent stream (what the benchmark's fd budget counts).
    assert_eq!(record.http_version, "HTTP/1.1");
}

#[tokio::test]
async fn model_ids_with_colons_slashes_and_profiles_arrive_decoded() {
    let t = spawn().await;
    let ids = [
        "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0",
    ];
    for id in ids {
        let out = t.client.converse_stream().model_id(id).messages(user("x")).send().await.unwrap();
        assert!(out.request_id().is_some_and(|r| !r.is_empty()), "x-amzn-RequestId reaches the SDK");
    }

    let seen: Vec<_> = t.emulator.recorder.requests().into_iter().map(|r| r.model_id).collect();
    assert_eq!(seen, ids);
}

#[tokio::test]
async fn long_answers_reassemble_exactly() {
    let t = spawn().await;

    let streamed = t.stream("[[scenario:long n=1500]]").await;

    assert_eq!(streamed.deltas.len(), 1500);
    assert_eq!(streamed.text(), long_text(1500));
}

#[tokio::test]
async fn a_long_answer_stops_at_max_tokens_as_claude_does() {
    let t = spawn().await;
    let capped = InferenceConfiguration::builder().max_tokens(3).build();

    let output = t
        .client
        .converse_stream()
        .model_id(MODEL)
        .messages(user("[[scenario:long n=50]]"))
        .inference_config(capped)
        .send()
        .await
        .unwrap();
    let streamed = drain(output).await;

    assert_eq!(streamed.deltas.len(), 3);
    assert_eq!(streamed.stop_reason, Some(StopReason::MaxTokens));
    assert_eq!(streamed.usage.map(|u| u.output_tokens), Some(3));
}

#[tokio::test]
async fn awkward_unicode_survives_the_wire() {
    let t = spawn().await;

    let streamed = t.stream("[[scenario:unicode]]").await;

    assert_eq!(streamed.deltas, UNICODE_DELTAS);
}

#[tokio::test]
async fn converse_answers_in_one_json_body() {
    let t = spawn().await;

    let out = t.client.converse().model_id(MODEL).messages(user("hello")).send().await.unwrap();

    let Some(ConverseOutput::Message(message)) = out.output() else { panic!("no message") };
    assert_eq!(message.content()[0].as_text().unwrap(), "Hello from the Streambed emulator. You said: hello");
    assert_eq!(out.stop_reason(), &StopReason::EndTurn);
    assert_eq!(out.usage().unwrap().output_tokens(), 8);
    assert_eq!(t.emulator.recorder.requests()[0].operation, Operation::Converse);
}

#[tokio::test]
async fn echo_returns_the_request_as_received() {
    let t = spawn().await;

    let out = t
        .client
        .converse_stream()
        .model_id(MODEL)
        .system(SystemContentBlock::Text("Be brief.".into()))
        .messages(user("[[scenario:echo]] hi"))
        .inference_config(
            InferenceConfiguration::builder().max_tokens(64).temperature(0.25).top_p(0.5).build(),
        )
        .send()
        .await
        .unwrap();
    let echoed: Value = serde_json::from_str(&crate::helpers::drain(out).await.text()).unwrap();

    assert_eq!(echoed["system"][0]["text"], "Be brief.");
    assert_eq!(echoed["inferenceConfig"]["maxTokens"], 64);
    assert_eq!(echoed["inferenceConfig"]["temperature"], 0.25);
    assert_eq!(echoed["messages"][0]["content"][0]["text"], "[[scenario:echo]] hi");
    assert_eq!(echoed, t.emulator.recorder.requests()[0].body);
}

#[tokio::test]
async fn reasoning_arrives_in_its_own_block_before_the_text() {
    let t = spawn().await;
    let mut out = t.start("[[scenario:reasoning]]").await;

    let mut seen = Vec::new();
    while let Some(event) = out.stream.recv().await.unwrap() {
        if let ConverseStreamOutput::ContentBlockDelta(d) = event {
            match d.delta.unwrap() {
                ContentBlockDelta::ReasoningContent(r) => {
                    seen.push((d.content_block_index, format!("r:{}", r.as_text().unwrap())))
                }
                ContentBlockDelta::Text(text) => seen.push((d.content_block_index, text)),
                other => panic!("unexpected delta {other:?}"),
            }
        }
    }

    assert_eq!(seen[0], (0, "r:The user ".to_owned()));
    assert_eq!(seen.last().unwrap(), &(1, " there!".to_owned()));
}

#[test]
fn the_sdk_compatibility_fixture_matches_the_unicode_scenario() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/sdk-compat/unicode-deltas.json");
    let fixture: Vec<String> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(fixture, UNICODE_DELTAS);
}

#[tokio::test]
async fn an_answer_ends_before_its_first_stop_sequence() {
    let t = spawn().await;

    let out = t
        .client
        .converse_stream()
        .model_id(MODEL)
        .messages(user("hi"))
        .inference_config(InferenceConfiguration::builder().stop_sequences("emulator").build())
        .send()
        .await
        .unwrap();
    let streamed = crate::helpers::drain(out).await;

    assert_eq!(streamed.text(), "Hello from the Streambed ");
    assert_eq!(streamed.stop_reason, Some(StopReason::StopSequence));
}
