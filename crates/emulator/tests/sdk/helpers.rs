//! A real `aws-sdk-bedrockruntime` client pointed at an emulator on an ephemeral port.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, retry::RetryConfig};
use aws_sdk_bedrockruntime::{
    Client,
    config::Credentials,
    error::SdkError,
    operation::converse_stream::ConverseStreamOutput as StreamOutput,
    types::{
        ContentBlock, ContentBlockDelta, ConversationRole, ConverseStreamOutput, Message, StopReason,
        TokenUsage, error::ConverseStreamOutputError,
    },
};
use aws_smithy_http_client::tls;
use aws_smithy_types::{Document, Number};
use serde_json::Value;
use streambed_emulator::{Emulator, RunningEmulator};

pub(crate) const MODEL: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

pub(crate) struct TestEmulator {
    pub emulator: RunningEmulator,
    pub client: Client,
}

pub(crate) async fn spawn() -> TestEmulator {
    spawn_with(Emulator::scripted()).await
}

pub(crate) async fn spawn_with(emulator: Emulator) -> TestEmulator {
    let emulator = emulator.spawn().await.expect("emulator binds a loopback port");
    let client = Client::from_conf(config_builder(&emulator).build());
    TestEmulator { emulator, client }
}

/// The emulator over HTTPS, and an SDK client whose HTTP client trusts its CA (besides the
/// platform's roots), built with the SDK's own TLS API as any SDK user would.
pub(crate) async fn spawn_tls_with(emulator: Emulator) -> TestEmulator {
    let emulator = emulator.spawn_tls().await.expect("emulator binds a loopback port");
    let ca = std::fs::read(emulator.ca_bundle().expect("a TLS emulator has a CA")).expect("the CA file");
    let trust = tls::TrustStore::default().with_pem_certificate(ca);
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(tls::TlsContext::builder().with_trust_store(trust).build().expect("a TLS context"))
        .build_https();
    let client = Client::from_conf(config_builder(&emulator).http_client(http_client).build());
    TestEmulator { emulator, client }
}

/// The SDK's configuration for `emulator`, short of its HTTP client.
pub(crate) fn config_builder(emulator: &RunningEmulator) -> aws_sdk_bedrockruntime::config::Builder {
    aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(emulator.endpoint_url())
        // The standard three attempts, without the seconds of backoff.
        .retry_config(RetryConfig::standard().with_initial_backoff(Duration::from_millis(1)))
}

pub(crate) fn user(text: &str) -> Message {
    Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text(text.into()))
        .build()
        .expect("valid")
}

/// A user turn of any blocks (tool results, cache points).
pub(crate) fn message_of(content: Vec<ContentBlock>) -> Message {
    Message::builder().role(ConversationRole::User).set_content(Some(content)).build().expect("valid")
}

pub(crate) fn assistant(content: Vec<ContentBlock>) -> Message {
    Message::builder().role(ConversationRole::Assistant).set_content(Some(content)).build().expect("valid")
}

/// A JSON value as the SDK's `Document` (tool schemas, tool input, additional model fields).
pub(crate) fn document(value: &Value) -> Document {
    match value {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Number::PosInt(u),
            (None, Some(i)) => Number::NegInt(i),
            _ => Number::Float(n.as_f64().unwrap_or_default()),
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(items) => Document::Array(items.iter().map(document).collect()),
        Value::Object(map) => Document::Object(map.iter().map(|(k, v)| (k.clone(), document(v))).collect()),
    }
}

/// Every event of a stream that must end normally.
pub(crate) async fn events(mut output: StreamOutput) -> Vec<ConverseStreamOutput> {
    let mut events = Vec::new();
    while let Some(event) = output.stream.recv().await.expect("the stream ends normally") {
        events.push(event);
    }
    events
}

/// Everything one ConverseStream call produced.
#[derive(Debug, Default)]
pub(crate) struct Streamed {
    pub deltas: Vec<String>,
    pub stop_reason: Option<StopReason>,
    pub usage: Option<TokenUsage>,
    /// The error `recv()` returned, if any, and whether `recv()` then gave `Ok(None)`.
    pub error: Option<SdkError<ConverseStreamOutputError, aws_smithy_types::event_stream::RawMessage>>,
    pub ended_cleanly_after_error: bool,
}

impl Streamed {
    pub(crate) fn text(&self) -> String {
        self.deltas.concat()
    }
}

pub(crate) async fn drain(mut output: StreamOutput) -> Streamed {
    let mut streamed = Streamed::default();
    loop {
        match output.stream.recv().await {
            Ok(Some(ConverseStreamOutput::ContentBlockDelta(d))) => {
                if let Some(ContentBlockDelta::Text(t)) = d.delta {
                    streamed.deltas.push(t);
                }
            }
            Ok(Some(ConverseStreamOutput::MessageStop(m))) => streamed.stop_reason = Some(m.stop_reason),
            Ok(Some(ConverseStreamOutput::Metadata(m))) => streamed.usage = m.usage,
            Ok(Some(_)) => {}
            Ok(None) => return streamed,
            Err(e) => {
                streamed.error = Some(e);
                streamed.ended_cleanly_after_error = matches!(output.stream.recv().await, Ok(None));
                return streamed;
            }
        }
    }
}

impl TestEmulator {
    /// Starts a ConverseStream call; the events are the caller's to read.
    pub(crate) async fn start(&self, prompt: &str) -> StreamOutput {
        let output = self.client.converse_stream().model_id(MODEL).messages(user(prompt)).send().await;
        output.expect("ConverseStream starts")
    }

    /// A whole ConverseStream call.
    pub(crate) async fn stream(&self, prompt: &str) -> Streamed {
        drain(self.start(prompt).await).await
    }
}
