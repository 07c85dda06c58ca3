//! Parameters a Claude model refuses arrive as the SDK's ValidationException, with the text
//! Bedrock sends; the same request to a model that accepts it is answered.

use aws_sdk_bedrockruntime::{error::ProvideErrorMetadata, types::InferenceConfiguration};
use serde_json::json;

use crate::helpers::{TestEmulator, document, drain, spawn, user};

const PREFIX: &str = "The model returned the following errors: ";

async fn refusal(
    t: &TestEmulator,
    model: &str,
    config: InferenceConfiguration,
    extra: serde_json::Value,
) -> Option<String> {
    let mut call = t.client.converse_stream().model_id(model).messages(user("hi")).inference_config(config);
    if !extra.is_null() {
        call = call.additional_model_request_fields(document(&extra));
    }
    match call.send().await {
        Ok(out) => {
            assert!(drain(out).await.error.is_none());
            None
        }
        Err(err) => {
            assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
            let err = err.into_service_error();
            assert!(err.is_validation_exception(), "{err:?}");
            err.message().map(str::to_owned)
        }
    }
}

#[tokio::test]
async fn temperature_with_top_p_is_refused_from_opus_4_1_on() {
    let t = spawn().await;
    let both = || InferenceConfiguration::builder().temperature(0.5).top_p(0.9).build();
    let expected = format!(
        "{PREFIX}`temperature` and `top_p` cannot both be specified for this model. Please use only one."
    );

    for model in ["us.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-opus-4-1-20250805-v1:0"] {
        assert_eq!(
            refusal(&t, model, both(), json!(null)).await.as_deref(),
            Some(expected.as_str()),
            "{model}"
        );
    }
    for model in ["anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic.claude-sonnet-4-20250514-v1:0"] {
        assert_eq!(refusal(&t, model, both(), json!(null)).await, None, "{model}");
    }
}

#[tokio::test]
async fn opus_4_7_refuses_sampling_parameters() {
    let t = spawn().await;
    let opus = "global.anthropic.claude-opus-4-7";

    let temperature =
        refusal(&t, opus, InferenceConfiguration::builder().temperature(0.2).build(), json!(null));
    let top_k = refusal(&t, opus, InferenceConfiguration::builder().build(), json!({"top_k": 5}));

    assert_eq!(temperature.await, Some(format!("{PREFIX}temperature is deprecated for this model.")));
    assert_eq!(top_k.await, Some(format!("{PREFIX}top_k is deprecated for this model.")));
}

#[tokio::test]
async fn thinking_is_refused_where_the_model_cannot_think_that_way() {
    let t = spawn().await;
    let config = || InferenceConfiguration::builder().max_tokens(4096).build();
    let budget = json!({"thinking": {"type": "enabled", "budget_tokens": 2048}});
    let adaptive = json!({"thinking": {"type": "adaptive"}});

    let haiku = refusal(&t, "anthropic.claude-3-5-haiku-20241022-v1:0", config(), budget.clone()).await;
    let sonnet = refusal(&t, "anthropic.claude-sonnet-4-5-20250929-v1:0", config(), adaptive.clone()).await;
    let opus = refusal(&t, "us.anthropic.claude-opus-4-7", config(), budget.clone()).await;
    let small = refusal(
        &t,
        "anthropic.claude-sonnet-4-6",
        InferenceConfiguration::builder().max_tokens(2048).build(),
        budget,
    );

    assert_eq!(haiku, Some(format!("{PREFIX}'claude-3-5-haiku-20241022' does not support thinking.")));
    assert_eq!(sonnet, Some(format!("{PREFIX}adaptive thinking is not supported on this model")));
    assert_eq!(
        opus,
        Some(format!(
            "{PREFIX}\"thinking.type.enabled\" is not supported for this model. Use \"thinking.type.adaptive\" and \
             \"output_config.effort\" to control thinking behavior."
        ))
    );
    assert!(small.await.unwrap().contains("`max_tokens` must be greater than `thinking.budget_tokens`."));
    assert_eq!(refusal(&t, "anthropic.claude-opus-4-6-v1", config(), adaptive).await, None);
}

#[tokio::test]
async fn the_4_6_models_refuse_an_assistant_prefill() {
    let t = spawn().await;
    let prefilled = |model: &'static str| {
        t.client
            .converse()
            .model_id(model)
            .messages(user("Say hi"))
            .messages(crate::helpers::assistant(vec![aws_sdk_bedrockruntime::types::ContentBlock::Text(
                "Hi".into(),
            )]))
            .send()
    };

    let err = prefilled("anthropic.claude-sonnet-4-6").await.unwrap_err().into_service_error();

    assert_eq!(
        err.message(),
        Some(
            "The model returned the following errors: This model does not support assistant message prefill. The \
             conversation must end with a user message."
        )
    );
    assert!(prefilled("anthropic.claude-sonnet-4-5-20250929-v1:0").await.is_ok());
}
