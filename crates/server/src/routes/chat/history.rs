//! The part of a stored conversation that is sent upstream: every turn with text, in order,
//! consecutive turns of one role merged (a failed answer can leave two user turns in a row,
//! which Bedrock refuses), and the oldest turns left out until it fits `MAX_TURNS` and
//! `MAX_PROMPT_CHARS` (a long conversation keeps working; `done` says how many were left out).
//! A question whose answer came to nothing (stopped before a word, refused as it is, failed
//! before a word) stays in the record but is not sent again: the reader who asks something else
//! rather than Retry has moved on, and merged with the new question (turns must alternate) it
//! would be answered too, or refused with it. Nor is a question asked again right after its
//! answer broke off (Retry after a failure or a Stop mid-answer): that answer stays in the
//! record too, and the model is asked the question once.

use std::collections::VecDeque;

use streambed_core::{Content, Message, ReasoningBlock, Role};
use streambed_store::StoredMessage;

use crate::config::Limits;

/// The turns to send, ending with the newest user turn, and how many turns were left out.
///
/// `reasoning_of` names the model when the request reasons: that model's earlier answers then
/// carry their signed reasoning blocks, as Anthropic's models expect them back (another
/// model's signatures would be refused, and a merged turn's would no longer match its text).
pub(super) fn window(
    stored: &[StoredMessage],
    limits: &Limits,
    reasoning_of: Option<&str>,
) -> (Vec<Message>, usize) {
    let mut turns: VecDeque<(Role, String, Vec<ReasoningBlock>)> = VecDeque::with_capacity(stored.len());
    let withdrawn = |i: usize| stored.get(i + 1).is_some_and(came_to_nothing);
    // The question at `i`, its answer broken off, and the same question after it.
    let asked_again = |i: usize| match stored.get(i..i + 3) {
        Some([question, answer, again]) => {
            question.role == Role::User
                && answer.broke_off()
                && again.role == Role::User
                && again.content == question.content
        }
        _ => false,
    };
    let superseded = |i: usize| asked_again(i) || i.checked_sub(1).is_some_and(asked_again);
    let sent = stored
        .iter()
        .enumerate()
        .filter(|&(i, m)| !m.content.trim().is_empty() && !withdrawn(i) && !superseded(i));
    for (_, message) in sent {
        match turns.back_mut() {
            Some((role, text, blocks)) if *role == message.role => {
                text.push_str("\n\n");
                text.push_str(&message.content);
                blocks.clear();
            }
            _ => {
                let resend = reasoning_of.is_some() && message.model.as_deref() == reasoning_of;
                let blocks = if resend { message.reasoning_blocks.clone() } else { Vec::new() };
                turns.push_back((message.role, message.content.clone(), blocks));
            }
        }
    }
    let merged = turns.len();
    let mut chars: usize = turns.iter().map(|(_, text, _)| text.chars().count()).sum();
    // Never drop the last turn: it is the user's prompt, already checked against the limits.
    while turns.len() > 1
        && (turns.len() > limits.max_turns
            || chars > limits.max_prompt_chars
            || turns.front().is_some_and(|(role, ..)| *role != Role::User))
    {
        if let Some((_, first, _)) = turns.pop_front() {
            chars -= first.chars().count();
        }
    }
    let dropped = merged - turns.len();
    let turns = turns.into_iter().map(|(role, text, blocks)| {
        let content = blocks.into_iter().map(Content::Reasoning).chain([Content::Text(text)]).collect();
        Message { role, content }
    });
    (turns.collect(), dropped)
}

/// An answer that broke off before a word of text (reasoning is not sent on its own).
fn came_to_nothing(answer: &StoredMessage) -> bool {
    answer.broke_off() && answer.content.trim().is_empty()
}

#[cfg(test)]
mod tests {
    use streambed_store::MessageStatus;
    use time::OffsetDateTime;

    use super::*;

    fn stored(role: Role, content: &str) -> StoredMessage {
        StoredMessage::new(role, content, OffsetDateTime::now_utc())
    }

    fn limits(max_turns: usize, max_prompt_chars: usize) -> Limits {
        Limits { max_turns, max_prompt_chars, ..crate::config::Limits::defaults() }
    }

    #[test]
    fn a_history_that_fits_is_sent_whole() {
        let history = [stored(Role::User, "a"), stored(Role::Assistant, "b"), stored(Role::User, "c")];
        let (turns, dropped) = window(&history, &limits(100, 1000), None);
        assert_eq!(turns, [Message::user("a"), Message::assistant("b"), Message::user("c")]);
        assert_eq!(dropped, 0);
    }

    #[test]
    fn empty_answers_are_skipped_and_same_role_turns_merged() {
        let history = [stored(Role::User, "first"), stored(Role::Assistant, ""), stored(Role::User, "again")];
        let (turns, dropped) = window(&history, &limits(100, 1000), None);
        assert_eq!(turns, [Message::user("first\n\nagain")]);
        assert_eq!(dropped, 0);
    }

    #[test]
    fn a_question_the_model_refused_as_it_is_is_not_sent_again() {
        let refused = |code: &str| StoredMessage {
            status: MessageStatus::Error,
            error_code: Some(code.into()),
            ..stored(Role::Assistant, "")
        };
        let history =
            [stored(Role::User, "far too long"), refused("invalid_request"), stored(Role::User, "shorter")];
        assert_eq!(window(&history, &limits(100, 1000), None).0, [Message::user("shorter")]);
        let history = [stored(Role::User, "first"), refused("throttled"), stored(Role::User, "again")];
        assert_eq!(
            window(&history, &limits(100, 1000), None).0,
            [Message::user("again")],
            "nor one that failed"
        );
    }

    #[test]
    fn a_question_asked_again_after_its_answer_broke_off_is_sent_once_without_that_answer() {
        let failed = |content: &str| StoredMessage {
            status: MessageStatus::Error,
            ..stored(Role::Assistant, content)
        };
        let history = [
            stored(Role::User, "a"),
            stored(Role::Assistant, "b"),
            stored(Role::User, "tell me"),
            failed("Once upon"),
            stored(Role::User, "tell me"),
        ];
        let expected = [Message::user("a"), Message::assistant("b"), Message::user("tell me")];
        assert_eq!(window(&history, &limits(100, 1000), None).0, expected);
        // Followed by something else, the answer so far is the context it refers to.
        let history = [stored(Role::User, "tell me"), failed("Once upon"), stored(Role::User, "go on")];
        let expected = [Message::user("tell me"), Message::assistant("Once upon"), Message::user("go on")];
        assert_eq!(window(&history, &limits(100, 1000), None).0, expected);
        // A complete answer asked again is a question asked twice.
        let history =
            [stored(Role::User, "again"), stored(Role::Assistant, "once"), stored(Role::User, "again")];
        assert_eq!(window(&history, &limits(100, 1000), None).0.len(), 3);
    }

    #[test]
    fn a_question_stopped_before_a_word_of_its_answer_is_not_sent_again() {
        let stopped = |content: &str| StoredMessage {
            status: MessageStatus::Stopped,
            ..stored(Role::Assistant, content)
        };
        let history = [
            stored(Role::User, "a"),
            stored(Role::Assistant, "b"),
            stored(Role::User, "never mind"),
            stopped(""),
            stored(Role::User, "c"),
        ];
        let expected = [Message::user("a"), Message::assistant("b"), Message::user("c")];
        assert_eq!(window(&history, &limits(100, 1000), None).0, expected);
        // Stopped after a word, the exchange stands.
        let history = [stored(Role::User, "a"), stopped("Par"), stored(Role::User, "c")];
        let expected = [Message::user("a"), Message::assistant("Par"), Message::user("c")];
        assert_eq!(window(&history, &limits(100, 1000), None).0, expected);
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
        let (turns, dropped) = window(&history, &limits(2, 1000), None);
        assert_eq!(turns, [Message::user("5")], "a window of 2 would start with the assistant");
        assert_eq!(dropped, 4);
        let (turns, dropped) = window(&history, &limits(100, 3), None);
        assert_eq!(turns, [Message::user("3"), Message::assistant("4"), Message::user("5")]);
        assert_eq!(dropped, 2);
    }

    #[test]
    fn signed_reasoning_goes_back_only_to_the_model_that_wrote_it_when_reasoning() {
        let block = ReasoningBlock::Text { text: "hmm".into(), signature: Some("sig".into()) };
        let answer = StoredMessage {
            model: Some("sonnet".into()),
            reasoning_blocks: vec![block.clone()],
            ..stored(Role::Assistant, "b")
        };
        let history = [stored(Role::User, "a"), answer, stored(Role::User, "c")];

        let (same, _) = window(&history, &limits(100, 1000), Some("sonnet"));
        let (other, _) = window(&history, &limits(100, 1000), Some("opus"));
        let (off, _) = window(&history, &limits(100, 1000), None);

        assert_eq!(same[1].content, [Content::Reasoning(block), Content::Text("b".into())]);
        assert_eq!(other[1], Message::assistant("b"));
        assert_eq!(off[1], Message::assistant("b"));
    }
}
