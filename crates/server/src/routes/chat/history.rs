//! The part of a stored conversation that is sent upstream: every turn with text, in order,
//! consecutive turns of one role merged (a failed answer can leave two user turns in a row,
//! which Bedrock refuses), and the oldest turns left out until it fits `MAX_TURNS` and
//! `MAX_PROMPT_CHARS` (a long conversation keeps working; `done` says how many were left out).

use std::collections::VecDeque;

use streambed_core::{Content, Message, Role};
use streambed_store::StoredMessage;

use crate::config::Limits;

/// The turns to send, ending with the newest user turn, and how many turns were left out.
pub fn window(stored: &[StoredMessage], limits: &Limits) -> (Vec<Message>, usize) {
    let mut turns: VecDeque<(Role, String)> = VecDeque::with_capacity(stored.len());
    for message in stored.iter().filter(|m| !m.content.trim().is_empty()) {
        match turns.back_mut() {
            Some((role, text)) if *role == message.role => {
                text.push_str("\n\n");
                text.push_str(&message.content);
            }
            _ => turns.push_back((message.role, message.content.clone())),
        }
    }
    let merged = turns.len();
    let mut chars: usize = turns.iter().map(|(_, text)| text.chars().count()).sum();
    // Never drop the last turn: it is the user's prompt, already checked against the limits.
    while turns.len() > 1
        && (turns.len() > limits.max_turns
            || chars > limits.max_prompt_chars
            || turns.front().is_some_and(|(role, _)| *role != Role::User))
    {
        if let Some((_, first)) = turns.pop_front() {
            chars -= first.chars().count();
        }
    }
    let dropped = merged - turns.len();
    let turns = turns.into_iter().map(|(role, text)| Message { role, content: vec![Content::Text(text)] });
    (turns.collect(), dropped)
}

#[cfg(test)]
mod tests {
    use streambed_store::MessageStatus;
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;

    fn stored(role: Role, content: &str) -> StoredMessage {
        StoredMessage {
            id: Uuid::now_v7(),
            role,
            content: content.into(),
            status: MessageStatus::Complete,
            model: None,
            reasoning: None,
            usage: None,
            stop_reason: None,
            error_code: None,
            created_at: OffsetDateTime::now_utc(),
        }
    }

    fn limits(max_turns: usize, max_prompt_chars: usize) -> Limits {
        Limits { max_turns, max_prompt_chars, ..crate::Config::from_lookup(|_| None).unwrap().limits }
    }

    #[test]
    fn a_history_that_fits_is_sent_whole() {
        let history = [stored(Role::User, "a"), stored(Role::Assistant, "b"), stored(Role::User, "c")];
        let (turns, dropped) = window(&history, &limits(100, 1000));
        assert_eq!(turns, [Message::user("a"), Message::assistant("b"), Message::user("c")]);
        assert_eq!(dropped, 0);
    }

    #[test]
    fn empty_answers_are_skipped_and_same_role_turns_merged() {
        let history = [stored(Role::User, "first"), stored(Role::Assistant, ""), stored(Role::User, "again")];
        let (turns, dropped) = window(&history, &limits(100, 1000));
        assert_eq!(turns, [Message::user("first\n\nagain")]);
        assert_eq!(dropped, 0);
    }

    #[test]
    fn the_oldest_turns_go_first_and_the_window_starts_with_the_user() {
        let history = [
            stored(Role::User, "1"),
            stored(Role::Assistant, "2"),
            stored(Role::User, "3"),
            stored(Role::Assistant, "4"),
            stored(Role::User, "5"),
        ];
        let (turns, dropped) = window(&history, &limits(2, 1000));
        assert_eq!(turns, [Message::user("5")], "a window of 2 would start with the assistant");
        assert_eq!(dropped, 4);
        let (turns, dropped) = window(&history, &limits(100, 3));
        assert_eq!(turns, [Message::user("3"), Message::assistant("4"), Message::user("5")]);
        assert_eq!(dropped, 2);
    }
}
