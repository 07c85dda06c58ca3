//! `POST /api/chat`: validate, start the answer (errors here are still plain HTTP), then stream.

use std::time::Instant;

use axum::{extract::State, http::HeaderMap, response::Response};
use serde::Deserialize;
use streambed_core::{ChatRequest, ErrorKind, Message, ProviderError, Role};

use crate::{
    AppState,
    error::{ApiJson, AppError},
    relay::{self, ChatLog},
    sse,
};

/// The seed's `{"prompt": …}` or the multi-turn `{"messages": […]}`.
#[derive(Debug, Deserialize)]
pub struct ChatBody {
    prompt: Option<String>,
    messages: Option<Vec<Message>>,
}

impl ChatBody {
    fn into_messages(self) -> Result<Vec<Message>, AppError> {
        let bad = |m: &str| Err(AppError::BadRequest(m.to_owned()));
        match (self.prompt, self.messages) {
            (Some(_), Some(_)) => bad("Send either `prompt` or `messages`, not both."),
            (None, None) => {
                bad(r#"Send {"prompt": "…"} or {"messages": [{"role": "user", "content": "…"}]}."#)
            }
            (Some(prompt), None) if prompt.trim().is_empty() => bad("`prompt` must not be empty."),
            (Some(prompt), None) => Ok(vec![Message::user(prompt)]),
            (None, Some(messages)) => {
                if messages.is_empty() {
                    return bad("`messages` must not be empty.");
                }
                if let Some(i) = messages.iter().position(|m| m.content.trim().is_empty()) {
                    return Err(AppError::BadRequest(format!("`messages[{i}].content` must not be empty.")));
                }
                if messages.last().is_some_and(|m| m.role != Role::User) {
                    return bad("The last message must have the role `user`.");
                }
                Ok(messages)
            }
        }
    }
}

pub async fn chat(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ChatBody>,
) -> Result<Response, AppError> {
    let started = Instant::now();
    let messages = body.into_messages()?;
    if state.shutdown.draining.is_cancelled() {
        return Err(ProviderError::new(
            ErrorKind::ShuttingDown,
            "The server is restarting. Try again in a moment.",
        )
        .into());
    }
    let request = ChatRequest { system: state.system_prompt.clone(), messages, params: state.params };
    let upstream = state.model.stream(request).await?;
    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let log = ChatLog::new(request_id, state.model.info().id.clone(), started);
    let events = relay::events(upstream, log, state.shutdown.cutoff.clone());
    Ok(sse::response(events, state.keep_alive))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Vec<Message>, String> {
        serde_json::from_str::<ChatBody>(json)
            .map_err(|e| e.to_string())?
            .into_messages()
            .map_err(|e| e.to_string())
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
}
