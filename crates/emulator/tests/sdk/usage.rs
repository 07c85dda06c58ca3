//! What Bedrock reports besides the answer: prompt-cache usage, the service tier, and CountTokens.

use aws_sdk_bedrockruntime::types::{
    CachePointBlock, CachePointType, ContentBlock, ConverseStreamOutput, ConverseTokensRequest,
    CountTokensInput, InvokeModelTokensRequest, ServiceTier, ServiceTierType, SystemContentBlock,
};
use aws_smithy_types::Blob;
use serde_json::json;
use streambed_emulator::Operation;

use crate::helpers::{MODEL, drain, events, message_of, spawn, user};

const SYSTEM: &str = "You are a careful assistant who answers in one short sentence.";

fn cache_point() -> CachePointBlock {
    CachePointBlock::builder().r#type(CachePointType::Default).build().unwrap()
}

#[tokio::test]
async fn a_cached_prefix_is_written_once_then_read() {
    let t = spawn().await;
    let ask = |question: &str| {
        t.client
            .converse_stream()
            .model_id(MODEL)
            .system(SystemContentBlock::Text(SYSTEM.into()))
            .system(SystemContentBlock::CachePoint(cache_point()))
            .messages(user(question))
            .send()
    };

    let first = drain(ask("Hi there").await.unwrap()).await.usage.unwrap();
    let second = drain(ask("Bye").await.unwrap()).await.usage.unwrap();

    assert_eq!((first.cache_write_input_tokens, first.cache_read_input_tokens), (Some(11), Some(0)));
    assert_eq!(first.input_tokens, 2, "only the uncached question counts as plain input");
    assert_eq!(first.total_tokens, first.input_tokens + first.output_tokens + 11);
    assert_eq!((second.cache_write_input_tokens, second.cache_read_input_tokens), (Some(0), Some(11)));
    assert_eq!(second.input_tokens, 1);
}

#[tokio::test]
async fn a_cache_point_in_the_conversation_extends_the_cached_prefix() {
    let t = spawn().await;
    let ask = |blocks: Vec<ContentBlock>| {
        t.client
            .converse()
            .model_id(MODEL)
            .system(SystemContentBlock::Text(SYSTEM.into()))
            .system(SystemContentBlock::CachePoint(cache_point()))
            .messages(message_of(blocks))
            .send()
    };
    ask(vec![ContentBlock::Text("First question".into())]).await.unwrap();

    let out = ask(vec![ContentBlock::Text("First question".into()), ContentBlock::CachePoint(cache_point())]);
    let usage = out.await.unwrap().usage().cloned().unwrap();

    assert_eq!(
        (usage.cache_read_input_tokens, usage.cache_write_input_tokens, usage.input_tokens),
        (Some(11), Some(2), 0)
    );
}

#[tokio::test]
async fn the_requested_service_tier_is_echoed() {
    let t = spawn().await;
    let tier = || ServiceTier::builder().r#type(ServiceTierType::Priority).build().unwrap();

    let stream = t.client.converse_stream().model_id(MODEL).messages(user("hi")).service_tier(tier()).send();
    let metadata = events(stream.await.unwrap()).await.into_iter().find_map(|e| match e {
        ConverseStreamOutput::Metadata(m) => Some(m),
        _ => None,
    });
    let converse =
        t.client.converse().model_id(MODEL).messages(user("hi")).service_tier(tier()).send().await.unwrap();
    let plain = t.client.converse().model_id(MODEL).messages(user("hi")).send().await.unwrap();

    assert_eq!(metadata.unwrap().service_tier.map(|t| t.r#type), Some(ServiceTierType::Priority));
    assert_eq!(converse.service_tier().map(|t| t.r#type()), Some(&ServiceTierType::Priority));
    assert_eq!(plain.service_tier(), None);
}

#[tokio::test]
async fn count_tokens_counts_both_input_forms_as_usage_counts_them() {
    let t = spawn().await;
    let question = "What is the capital of France?";
    let converse = ConverseTokensRequest::builder()
        .system(SystemContentBlock::Text("Be brief.".into()))
        .messages(user(question))
        .build();
    let anthropic = json!({
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": question}]
    });
    let invoke = InvokeModelTokensRequest::builder().body(Blob::new(anthropic.to_string())).build().unwrap();

    let counted =
        t.client.count_tokens().model_id(MODEL).input(CountTokensInput::Converse(converse)).send().await;
    let invoked =
        t.client.count_tokens().model_id(MODEL).input(CountTokensInput::InvokeModel(invoke)).send().await;
    let used = t
        .client
        .converse()
        .model_id(MODEL)
        .system(SystemContentBlock::Text("Be brief.".into()))
        .messages(user(question))
        .send()
        .await
        .unwrap();

    assert_eq!(counted.unwrap().input_tokens(), 8);
    assert_eq!(invoked.unwrap().input_tokens(), 8);
    assert_eq!(used.usage().unwrap().input_tokens(), 8);
    let operations: Vec<_> = t.emulator.recorder.requests().iter().map(|r| r.operation).collect();
    assert_eq!(operations, [Operation::CountTokens, Operation::CountTokens, Operation::Converse]);
}
