//! What a turn writes, decided from its conversation's history as read inside its transaction:
//! the retry rule, the message limit and one answer at a time, in one place for a batch and for
//! a turn written alone.

use std::time::Duration;

use streambed_core::Role;
use uuid::Uuid;

use super::Request;
use crate::{
    Limit, MessageStatus, StoreError, StoreLimits, StoredMessage, rows::History, timestamp::Timestamp,
};

/// A turn's writes, once its conversation's history is known.
#[derive(Debug)]
pub(super) struct Plan<'a> {
    /// The history the turn returns: without the answer it replaces, ending with its question.
    pub(super) history: Vec<StoredMessage>,
    /// The empty answer a retry replaces: deleted.
    pub(super) replaces: Option<Uuid>,
    /// The question (unless a retry reuses it) and the answer: at least one of them.
    pub(super) rows: Vec<NewMessage<'a>>,
}

/// A message row a turn inserts.
#[derive(Debug)]
pub(super) struct NewMessage<'a> {
    pub(super) id: Uuid,
    pub(super) conversation: Uuid,
    pub(super) role: Role,
    pub(super) content: &'a str,
    pub(super) status: MessageStatus,
    pub(super) model: Option<&'a str>,
    pub(super) replica: Option<Uuid>,
    pub(super) created_at: Timestamp,
}

/// Plans `request` on its conversation's `history` (oldest first), as of `now`: the turn's
/// rows; [`StoreError::Full`] when they would take the conversation past its message limit;
/// [`StoreError::AnswerRunning`] when an answer still runs there (as of `clock`, the leases'
/// clock): on another replica, for a turn that starts an answer; anywhere, for a question alone.
pub(super) fn plan<'r>(
    request: &'r Request,
    history: History,
    limits: &StoreLimits,
    now: Timestamp,
    clock: Timestamp,
) -> Result<Plan<'r>, StoreError> {
    let limit = limits.max_messages_per_conversation;
    let longest = limits.longest_answer;
    let running = history.writer.is_some_and(|writer| match request.answer {
        // A replica keeps to one answer per conversation itself, in memory.
        Some((_, replica)) => writer.live_elsewhere(replica.0, clock, longest),
        // A question alone would come between a running answer and the question it answers.
        None => writer.live(clock, longest),
    });
    if running {
        return Err(StoreError::AnswerRunning);
    }
    let mut history = history.messages;
    // After the conversation's last message, whatever the clocks say: `now` was read before the
    // transaction waited for its locks (perhaps for another replica's turn), and replicas'
    // clocks differ, and the history reads back by time.
    let now =
        history.last().map_or(now, |last| now.max(Timestamp(last.created_at).plus(Duration::from_micros(1))));
    // Only a question that starts an answer can be a retry: one stored without
    // (`add_user_message`) is always stored.
    let retry = if request.answer.is_some() { retried(&history, &request.content) } else { Retry::Not };
    let replaces = match retry {
        Retry::Replaces(empty) => {
            history.pop();
            Some(empty)
        }
        Retry::Not | Retry::Reuses => None,
    };
    // Room for this turn (unless it is stored already) and the answer that follows it.
    let adding = usize::from(retry == Retry::Not) + usize::from(request.answer.is_some());
    if history.len() + adding > limit_len(limit) {
        return Err(StoreError::Full { limit: Limit::MessagesPerConversation, max: limit });
    }
    let mut rows = Vec::with_capacity(2);
    if retry == Retry::Not {
        let question = StoredMessage::new(Role::User, request.content.as_str(), now.0);
        rows.push(NewMessage {
            id: question.id,
            conversation: request.conversation,
            role: Role::User,
            content: &request.content,
            status: MessageStatus::Complete,
            model: None,
            replica: None,
            created_at: now,
        });
        history.push(question);
    }
    if let Some((message, replica)) = request.answer {
        rows.push(NewMessage {
            id: message,
            conversation: request.conversation,
            role: Role::Assistant,
            content: "",
            status: MessageStatus::Streaming,
            model: request.model.as_deref(),
            replica: Some(replica.0),
            // A microsecond after its question, so the two read back in order (by time, then
            // id) even when planned within one microsecond: the answer's id was drawn first.
            created_at: now.plus(Duration::from_micros(1)),
        });
    }
    Ok(Plan { history, replaces, rows })
}

/// Whether a question asked now repeats the conversation's last, unanswered one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// A new question.
    Not,
    /// The last question, with no answer after it: it is answered now.
    Reuses,
    /// The last question, after this answer that ended without a word: the answer goes.
    Replaces(Uuid),
}

fn retried(history: &[StoredMessage], content: &str) -> Retry {
    let asked = |m: &StoredMessage| m.role == Role::User && m.content == content;
    match history {
        [.., question] if asked(question) => Retry::Reuses,
        [.., question, answer] if asked(question) && came_to_nothing(answer) => Retry::Replaces(answer.id),
        _ => Retry::Not,
    }
}

/// An answer that ended (never a running one) without text or reasoning.
fn came_to_nothing(answer: &StoredMessage) -> bool {
    answer.broke_off() && answer.content.is_empty() && answer.reasoning.is_none()
}

/// The message limit as a length (it is `u64` in configuration).
fn limit_len(limit: u64) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ReplicaId, rows::Writer};

    fn request(content: &str, answer: bool) -> Request {
        Request {
            owner: "alice".into(),
            conversation: Uuid::now_v7(),
            content: content.into(),
            model: Some("m".into()),
            title: content.into(),
            answer: answer.then(|| (Uuid::now_v7(), ReplicaId::new())),
        }
    }

    fn history(messages: Vec<StoredMessage>) -> History {
        History { messages, writer: None }
    }

    fn limits(messages: u64) -> StoreLimits {
        StoreLimits {
            max_conversations_per_owner: 10,
            max_messages_per_conversation: messages,
            longest_answer: Duration::from_secs(600),
        }
    }

    #[test]
    fn a_turn_waits_for_another_replicas_live_answer_and_not_for_a_dead_or_stuck_one() {
        let now = Timestamp::now();
        let later = now.plus(Duration::from_secs(10));
        let long_ago = Timestamp(now.0 - time::Duration::seconds(601));
        let running = |replica: Uuid, lease_until: Option<Timestamp>, started: Timestamp| History {
            messages: vec![
                StoredMessage::new(Role::User, "one", now.0),
                StoredMessage {
                    status: MessageStatus::Streaming,
                    ..StoredMessage::new(Role::Assistant, "On", now.0)
                },
            ],
            writer: Some(Writer { replica, lease_until, started }),
        };
        let (asking, storing) = (request("two", true), request("two", false));
        let ours = asking.answer.unwrap().1.0;
        let other = Uuid::now_v7();
        let limits = limits(10);

        let live_elsewhere = plan(&asking, running(other, Some(later), now), &limits, now, now);
        let expired = plan(&asking, running(other, Some(now), now), &limits, now, now);
        let forgotten = plan(&asking, running(other, None, now), &limits, now, now);
        let stuck = plan(&asking, running(other, Some(later), long_ago), &limits, now, now);
        let our_own = plan(&asking, running(ours, Some(later), now), &limits, now, now);
        let alone = plan(&storing, running(other, Some(later), now), &limits, now, now);
        let alone_after = plan(&storing, running(other, Some(now), now), &limits, now, now);

        assert!(matches!(live_elsewhere, Err(StoreError::AnswerRunning)), "{live_elsewhere:?}");
        assert!(expired.is_ok() && forgotten.is_ok(), "a replica whose lease ran out has died");
        assert!(stuck.is_ok(), "older than any answer runs: its end went unrecorded");
        assert!(our_own.is_ok(), "this replica knows its own answers without the store");
        assert!(
            matches!(alone, Err(StoreError::AnswerRunning)),
            "a question alone would come between the answer and its question: {alone:?}"
        );
        assert!(alone_after.is_ok(), "{alone_after:?}");
    }

    #[test]
    fn a_new_question_and_its_answer_are_planned_in_order() {
        let request = request("Hi", true);
        let now = Timestamp::now();

        let plan = plan(&request, History::default(), &limits(2), now, now).unwrap();

        let [question, answer] = plan.rows.as_slice() else { panic!("{:?}", plan.rows) };
        assert_eq!((question.role, question.content), (Role::User, "Hi"));
        assert_eq!(
            (answer.role, answer.status, answer.model),
            (Role::Assistant, MessageStatus::Streaming, Some("m"))
        );
        assert!(answer.created_at > question.created_at, "the answer reads back after its question");
        assert_eq!(plan.history.iter().map(|m| m.id).collect::<Vec<_>>(), [question.id]);
        assert_eq!(plan.replaces, None);
    }

    #[test]
    fn a_question_goes_after_the_last_message_even_when_the_clock_reads_earlier() {
        let request = request("Next", true);
        let now = Timestamp::now();
        // Another replica, whose clock runs a second ahead, wrote the last answer.
        let ahead = now.plus(Duration::from_secs(1));
        let earlier = vec![
            StoredMessage::new(Role::User, "First", ahead.0),
            StoredMessage::new(Role::Assistant, "One.", ahead.0),
        ];

        let plan = plan(&request, history(earlier), &limits(10), now, now).unwrap();

        let [question, answer] = plan.rows.as_slice() else { panic!("{:?}", plan.rows) };
        assert!(question.created_at > ahead && answer.created_at > question.created_at);
    }

    #[test]
    fn a_retry_replaces_the_empty_answer_and_needs_room_only_for_the_new_one() {
        let request = request("Hi", true);
        let now = Timestamp::now();
        let question = StoredMessage::new(Role::User, "Hi", now.0);
        let empty =
            StoredMessage { status: MessageStatus::Error, ..StoredMessage::new(Role::Assistant, "", now.0) };

        let plan =
            plan(&request, history(vec![question.clone(), empty.clone()]), &limits(2), now, now).unwrap();

        assert_eq!(plan.replaces, Some(empty.id));
        assert_eq!(plan.history, [question]);
        assert_eq!(plan.rows.iter().map(|row| row.role).collect::<Vec<_>>(), [Role::Assistant]);
    }

    #[test]
    fn a_turn_past_the_limit_is_full() {
        let now = Timestamp::now();
        let messages = vec![StoredMessage::new(Role::User, "one", now.0)];
        let (with_answer, without) = (request("two", true), request("two", false));

        let refused = plan(&with_answer, history(messages.clone()), &limits(2), now, now);
        let stored = plan(&without, history(messages), &limits(2), now, now);

        assert!(
            matches!(refused, Err(StoreError::Full { limit: Limit::MessagesPerConversation, max: 2 })),
            "{refused:?}"
        );
        assert!(stored.is_ok(), "a question alone still fits");
    }
}
