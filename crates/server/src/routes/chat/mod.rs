//! `POST /api/chat`: validate, start the answer (errors here are still plain HTTP), then stream.
//! Without `conversationId` this is the seed's stateless contract; with one, the history comes
//! from the store, and the answer (`live`) is written back to the store as it streams: this
//! response drives it while its client stays, and a task of the server's once it leaves.

mod history;
mod stored;

use std::{sync::Arc, time::Instant};

use axum::{
    Extension,
    extract::State,
    http::{HeaderMap, Uri},
    response::Response,
};
use serde::Deserialize;
use streambed_core::{ChatRequest, Content, InferenceParams, Message, Reasoning, Role};
use uuid::Uuid;

use stored::{StoredTurn, start_stored};

use super::{
    answer::{self, Delivery},
    turns::{Refused, Turns},
};
use crate::{
    auth::Principal, config::Limits, error::AppError, extract::ApiJson, relay, request_id, sse,
    state::AppState,
};

/// The seed's `{"prompt": …}`, the multi-turn `{"messages": […]}`, or a conversation's next
/// turn `{"conversationId": …, "prompt": …}`, with an optional `maxTokens` below the server's
/// cap, and optionally the `model` (from `/api/models`) and how hard it may `reasoning`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ChatBody {
    prompt: Option<String>,
    messages: Option<Vec<BodyMessage>>,
    max_tokens: Option<u32>,
    conversation_id: Option<Uuid>,
    model: Option<String>,
    reasoning: Option<Reasoning>,
}

/// One turn of the multi-turn form: text only.
#[derive(Debug, Deserialize)]
struct BodyMessage {
    role: Role,
    content: String,
}

/// What a valid body asks for.
#[derive(Debug, PartialEq)]
enum Ask {
    /// A whole conversation sent by the client; nothing is stored.
    Stateless(Turns),
    /// The next user turn of a stored conversation.
    Stored { conversation: Uuid, prompt: String },
}

impl ChatBody {
    fn validate(self, limits: &Limits) -> Result<(Ask, Option<u32>), AppError> {
        let bad = |m: String| Err(AppError::BadRequest(m));
        let max_tokens = self
            .max_tokens
            .map(|n| limits.cap_max_tokens("maxTokens", n))
            .transpose()
            .map_err(AppError::BadRequest)?;
        if self.conversation_id.is_some() && self.messages.is_some() {
            return bad(
                "With `conversationId` send only the new `prompt`: the server keeps the history.".into()
            );
        }
        let (conversation, turns) = (self.conversation_id, Self::turns(self.prompt, self.messages)?);
        limits.check_size(None, &turns).map_err(|e| AppError::BadRequest(e.to_string()))?;
        let ask = match conversation {
            None => Ask::Stateless(turns),
            Some(conversation) => {
                let prompt = turns.first().map(Message::text).unwrap_or_default();
                Ask::Stored { conversation, prompt }
            }
        };
        Ok((ask, max_tokens))
    }

    fn turns(prompt: Option<String>, messages: Option<Vec<BodyMessage>>) -> Result<Turns, AppError> {
        let bad = |m: &str| Err(AppError::BadRequest(m.to_owned()));
        match (prompt, messages) {
            (Some(_), Some(_)) => bad("Send either `prompt` or `messages`, not both."),
            (None, None) => {
                bad(r#"Send {"prompt": "…"} or {"messages": [{"role": "user", "content": "…"}]}."#)
            }
            (Some(prompt), None) if prompt.trim().is_empty() => bad("`prompt` must not be empty."),
            (Some(prompt), None) => Ok(Turns::prompt(prompt)),
            (None, Some(messages)) => {
                if let Some(i) = messages.iter().position(|m| m.content.trim().is_empty()) {
                    return Err(AppError::BadRequest(format!("`messages[{i}].content` must not be empty.")));
                }
                let turns = messages
                    .into_iter()
                    .map(|t| Message { role: t.role, content: vec![Content::Text(t.content)] });
                Turns::new(turns).or_else(|refused| match refused {
                    Refused::Empty => bad("`messages` must not be empty."),
                    Refused::EndsWithAssistant => bad("The last message must have the role `user`."),
                })
            }
        }
    }
}

pub(super) async fn chat(
    State(state): State<Arc<AppState>>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    uri: Uri,
    ApiJson(mut body): ApiJson<ChatBody>,
) -> Result<Response, AppError> {
    let started = Instant::now();
    let (chosen, requested_reasoning) = (body.model.take(), body.reasoning);
    let (ask, max_tokens) = body.validate(&state.limits)?;
    if state.shutdown.draining.is_cancelled() {
        return Err(relay::shutting_down().into());
    }
    let target = match ask {
        Ask::Stateless(turns) => Target::Stateless(turns),
        Ask::Stored { conversation, prompt } => {
            let owner = state.conversations.owners.owner(principal.as_ref().map(|p| &p.0), &headers, &uri)?;
            Target::Stored(StoredTurn { owner, conversation, prompt })
        }
    };
    // A conversation keeps its model while it is still offered.
    let remembered = match (&target, &chosen) {
        (Target::Stored(StoredTurn { owner, conversation, .. }), None) => {
            state.conversations.store.conversation(owner, *conversation).await?.model
        }
        _ => None,
    };
    let model = Arc::clone(match (chosen, remembered) {
        (Some(id), _) => state.models.pick(Some(&id)).map_err(|e| AppError::BadRequest(e.to_string()))?,
        (None, Some(id)) => state.models.get(&id).unwrap_or_else(|| state.models.default_model()),
        (None, None) => state.models.default_model(),
    });
    let reasoning = state
        .models
        .reasoning(model.as_ref(), requested_reasoning, state.reasoning)
        .map_err(|e| AppError::BadRequest(e.message(r#"send "reasoning": "off""#)))?;
    let request = {
        let state = Arc::clone(&state);
        move |turns: Turns| {
            let params = InferenceParams { max_tokens, ..InferenceParams::default() };
            answer::with_server_settings(&state, ChatRequest { params, reasoning, ..turns.request() })
        }
    };
    let turn = match target {
        Target::Stateless(turns) => {
            let answer = answer::open(
                &state,
                &model,
                request(turns),
                Delivery::Streamed,
                request_id::of(&headers),
                started,
            )
            .await?;
            return Ok(sse::response(relay::events(answer), state.keep_alive));
        }
        Target::Stored(turn) => turn,
    };
    // Let in before the turn is written: a busy server stores nothing.
    let admitted = answer::admit(&state, model.as_ref(), request_id::of(&headers), started)?;
    start_stored(state, model, reasoning, turn, request, admitted).await
}

/// Whose the answer is: the client's alone, or a stored conversation's.
enum Target {
    Stateless(Turns),
    Stored(StoredTurn),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with(json: &str, limits: &Limits) -> Result<Vec<Message>, String> {
        let body = serde_json::from_str::<ChatBody>(json).map_err(|e| e.to_string())?;
        match body.validate(limits).map_err(|e| e.to_string())? {
            (Ask::Stateless(turns), _) => Ok(turns.to_vec()),
            (Ask::Stored { .. }, _) => Err("stored".into()),
        }
    }

    fn parse(json: &str) -> Result<Vec<Message>, String> {
        parse_with(json, &Limits::defaults())
    }

    #[test]
    fn a_prompt_becomes_one_user_message() {
        assert_eq!(parse(r#"{"prompt":"hi"}"#), Ok(vec![Message::user("hi")]));
    }

    #[test]
    fn a_conversation_must_end_with_the_user() {
        let ok = r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}"#;
        assert_eq!(parse(ok).map(|m| m.len()), Ok(3));
        let bad = r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}"#;
        assert!(parse(bad).unwrap_err().contains("last message"));
    }

    #[test]
    fn blank_missing_mixed_and_mistyped_inputs_are_rejected() {
        for json in [
            r#"{"prompt":"  "}"#,
            r#"{}"#,
            r#"{"prompt":"a","messages":[]}"#,
            r#"{"messages":[]}"#,
            r#"{"messages":[{"role":"user","content":""}]}"#,
            r#"{"messages":[{"role":"system","content":"x"}]}"#,
            r#"{"prompt":42}"#,
        ] {
            assert!(parse(json).is_err(), "{json} should be rejected");
        }
    }

    #[test]
    fn a_conversation_turn_is_a_prompt_alone() {
        let id = "0190a0a0-0000-7000-8000-000000000001";
        let body = format!(r#"{{"conversationId":"{id}","prompt":"next"}}"#);
        let (ask, _) =
            serde_json::from_str::<ChatBody>(&body).unwrap().validate(&Limits::defaults()).unwrap();
        assert_eq!(ask, Ask::Stored { conversation: id.parse().unwrap(), prompt: "next".into() });
        for json in [
            format!(r#"{{"conversationId":"{id}","messages":[{{"role":"user","content":"a"}}]}}"#),
            format!(r#"{{"conversationId":"{id}","prompt":" "}}"#),
            format!(r#"{{"conversationId":"{id}"}}"#),
            r#"{"conversationId":"not-a-uuid","prompt":"a"}"#.to_owned(),
        ] {
            assert!(parse(&json).is_err(), "{json} should be rejected");
        }
    }

    #[test]
    fn size_limits_name_their_variable_and_max_tokens_is_capped() {
        let tight = Limits { max_turns: 2, max_prompt_chars: 10, max_tokens: 100, ..Limits::defaults() };
        let three = r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}"#;
        assert!(parse_with(three, &tight).unwrap_err().contains("MAX_TURNS"));
        assert!(parse_with(r#"{"prompt":"ééééééééééé"}"#, &tight).unwrap_err().contains("MAX_PROMPT_CHARS"));
        assert!(parse_with(r#"{"prompt":"éééééééééé"}"#, &tight).is_ok(), "characters, not bytes");
        let max_tokens = |json: &str| {
            let body = serde_json::from_str::<ChatBody>(json).unwrap();
            body.validate(&tight).map(|(_, max_tokens)| max_tokens).map_err(|e| e.to_string())
        };
        assert_eq!(max_tokens(r#"{"prompt":"a","maxTokens":101}"#), Ok(Some(100)), "capped");
        assert_eq!(max_tokens(r#"{"prompt":"a","maxTokens":100}"#), Ok(Some(100)));
        assert!(max_tokens(r#"{"prompt":"a","maxTokens":0}"#).is_err());
    }
}
