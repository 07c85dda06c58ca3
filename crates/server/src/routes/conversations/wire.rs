//! The JSON `/api/conversations` speaks, made from the store's records. The store knows no HTTP:
//! what a field is called here, and which ones the API leaves out (the signed reasoning blocks),
//! is this module's alone.

use serde::Serialize;
use streambed_core::{Role, Usage};
use streambed_store as store;
use time::OffsetDateTime;
use uuid::Uuid;

/// A conversation without its messages, as created, renamed and listed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Conversation {
    id: Uuid,
    title: String,
    /// `null` until the conversation has one.
    model: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<store::Conversation> for Conversation {
    fn from(conversation: store::Conversation) -> Self {
        let store::Conversation { id, title, model, created_at, updated_at } = conversation;
        Self { id, title, model, created_at, updated_at }
    }
}

/// One stored message. The optional fields are left out when the message has none.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Message {
    id: Uuid,
    role: Role,
    content: String,
    /// `complete`, `streaming`, `stopped`, `error` or `interrupted`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    /// How long a complete answer took from its request, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<u64>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<store::StoredMessage> for Message {
    fn from(message: store::StoredMessage) -> Self {
        // The reasoning blocks, with their signatures, are only ever sent back to the model.
        let store::StoredMessage {
            id,
            role,
            content,
            status,
            model,
            reasoning,
            reasoning_blocks: _,
            usage,
            stop_reason,
            error_code,
            latency_ms,
            created_at,
        } = message;
        Self {
            id,
            role,
            content,
            status: status.as_str(),
            model,
            reasoning,
            usage,
            stop_reason,
            error_code,
            latency_ms,
            created_at,
        }
    }
}

/// A conversation with its messages in order: `GET /api/conversations/{id}` and the JSON export.
#[derive(Debug, Serialize)]
pub(crate) struct ConversationWithMessages {
    #[serde(flatten)]
    conversation: Conversation,
    messages: Vec<Message>,
}

impl From<store::ConversationWithMessages> for ConversationWithMessages {
    fn from(stored: store::ConversationWithMessages) -> Self {
        Self {
            conversation: stored.conversation.into(),
            messages: stored.messages.into_iter().map(Message::from).collect(),
        }
    }
}

/// One page of conversations, newest first, and the cursor for the next one.
#[derive(Debug, Serialize)]
pub(crate) struct Page {
    conversations: Vec<Conversation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

impl From<store::Page> for Page {
    fn from(page: store::Page) -> Self {
        Self {
            conversations: page.conversations.into_iter().map(Conversation::from).collect(),
            next: page.next,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use streambed_core::ReasoningBlock;
    use streambed_store::{MessageStatus, StoredMessage};

    use super::*;

    #[test]
    fn a_message_is_camel_case_with_its_status_word_and_never_its_signed_reasoning() {
        let created = OffsetDateTime::from_unix_timestamp(1_796_119_200).unwrap();
        let mut stored = StoredMessage::new(Role::Assistant, "Paris.", created);
        stored.status = MessageStatus::Stopped;
        stored.reasoning = Some("Hmm.".into());
        stored.reasoning_blocks =
            vec![ReasoningBlock::Text { text: "Hmm.".into(), signature: Some("sig".into()) }];
        stored.stop_reason = Some("end_turn".into());
        let id = stored.id;

        let json = serde_json::to_value(Message::from(stored)).unwrap();

        assert_eq!(
            json,
            json!({
                "id": id, "role": "assistant", "content": "Paris.", "status": "stopped",
                "reasoning": "Hmm.", "stopReason": "end_turn", "createdAt": "2026-12-01T10:00:00Z",
            })
        );
    }
}
