//! Our request in the SDK's types.

use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseOutput, InferenceConfiguration, Message, SystemContentBlock,
};
use streambed_core::{ChatRequest, ErrorKind, ProviderError, Role};

/// The pieces both ConverseStream and Converse take, built once so the fallback reuses them.
#[derive(Debug)]
pub(crate) struct Parts {
    pub messages: Vec<Message>,
    pub system: Option<Vec<SystemContentBlock>>,
    pub inference: Option<InferenceConfiguration>,
}

impl TryFrom<&ChatRequest> for Parts {
    type Error = ProviderError;

    fn try_from(request: &ChatRequest) -> Result<Self, Self::Error> {
        let messages = request
            .messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::User => ConversationRole::User,
                    Role::Assistant => ConversationRole::Assistant,
                };
                Message::builder()
                    .role(role)
                    .content(ContentBlock::Text(m.text()))
                    .build()
                    .map_err(|e| ProviderError::new(ErrorKind::InvalidRequest, e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let p = request.params;
        let inference = (p.max_tokens.is_some() || p.temperature.is_some() || p.top_p.is_some()).then(|| {
            InferenceConfiguration::builder()
                .set_max_tokens(p.max_tokens.map(|t| i32::try_from(t).unwrap_or(i32::MAX)))
                .set_temperature(p.temperature)
                .set_top_p(p.top_p)
                .build()
        });
        Ok(Self {
            messages,
            system: request.system.clone().map(|s| vec![SystemContentBlock::Text(s)]),
            inference,
        })
    }
}

/// The text blocks of a Converse answer, joined.
pub(crate) fn answer_text(output: Option<&ConverseOutput>) -> String {
    let Some(ConverseOutput::Message(message)) = output else { return String::new() };
    message
        .content()
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}
