//! A turn: the user's message and, when the server asks for it, the `streaming` answer that
//! follows, written in one transaction (the conversation row first, so the message count and
//! the inserts cannot race another turn).
//!
//! Asking the same question again right after its answer came to nothing (refused before its
//! first token, stopped or interrupted before it wrote a word) is a retry: the question already
//! stored is the one answered, and the empty answer makes way for the new one. So a conversation
//! reads, on reload and to the model, as one question and one answer, never the question twice.
//! An answer that said anything stays, and the question asked again follows it.

use streambed_core::{BoxFuture, Role};
use uuid::Uuid;

use crate::{
    MessageStatus, Owner, ReplicaId, StoreError, StoredMessage,
    backend::with_writer,
    rows::{self, role_text},
    sql,
    store::{SqlStore, boxed},
    timestamp::Timestamp,
    title,
};

/// A turn as stored: the history ending with the user's message, and its answer's id if started.
pub(crate) type Turn = (Vec<StoredMessage>, Option<Uuid>);

impl SqlStore {
    /// Stores a user turn (or, for a retry, reuses it: see the module) and, given a `replica`,
    /// the `streaming` answer that follows it, in one transaction; returns the history ending
    /// with the user turn, and the answer's id.
    pub(crate) fn turn(
        &self,
        owner: &Owner,
        id: Uuid,
        content: &str,
        model: Option<&str>,
        replica: Option<ReplicaId>,
    ) -> BoxFuture<'_, Result<Turn, StoreError>> {
        let owner = owner.0.clone();
        let content = content.to_owned();
        let model = model.map(str::to_owned);
        let title = title::from_prompt(&content);
        let limit = self.limits.max_messages_per_conversation;
        boxed(async move {
            let answer = replica.map(|replica| (Uuid::now_v7(), replica));
            let history: Vec<StoredMessage> = with_writer!(&self.pools, |pool| {
                let mut tx = pool.begin().await?;
                let now = Timestamp::now();
                // The conversation's row is written first: that takes SQLite's write lock at
                // once (a transaction that read first could fail to upgrade) and locks the row
                // in PostgreSQL, so no other turn can slip in between the reads and the inserts.
                let found = sqlx::query(sql::TOUCH)
                    .bind(id)
                    .bind(&owner)
                    .bind(now)
                    .bind(model.as_deref())
                    .bind(&title)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if found == 0 {
                    return Err(StoreError::NotFound);
                }
                let mut history =
                    rows::messages(sqlx::query_as(sql::MESSAGES).bind(id).fetch_all(&mut *tx).await?)?;
                // Only a question that starts an answer can be a retry: one stored without
                // (`add_user_message`) is always stored.
                let retry = if answer.is_some() { retried(&history, &content) } else { Retry::Not };
                if let Retry::Replaces(empty) = retry {
                    sqlx::query(sql::DELETE_MESSAGE).bind(empty).execute(&mut *tx).await?;
                    history.pop();
                }
                // Room for this turn (unless it is stored already) and the answer that follows it.
                let adding = usize::from(retry == Retry::Not) + usize::from(answer.is_some());
                if history.len() + adding > limit_len(limit) {
                    return Err(StoreError::Full { what: "messages", limit });
                }
                // The question (unless it is stored already) and the answer, in one statement:
                // a turn always inserts one of them.
                let mut rows = Vec::with_capacity(2);
                if retry == Retry::Not {
                    let question = StoredMessage::new(Role::User, content.as_str(), now.0);
                    rows.push(NewMessage {
                        id: question.id,
                        role: Role::User,
                        content: &content,
                        status: MessageStatus::Complete,
                        model: None,
                        replica: None,
                        created_at: now,
                    });
                    history.push(question);
                }
                if let Some((message, replica)) = answer {
                    rows.push(NewMessage {
                        id: message,
                        role: Role::Assistant,
                        content: "",
                        status: MessageStatus::Streaming,
                        model: model.as_deref(),
                        replica: Some(replica.0),
                        created_at: Timestamp::now(),
                    });
                }
                let mut insert = sqlx::query(sql::insert_messages(rows.len()));
                for row in &rows {
                    insert = insert
                        .bind(row.id)
                        .bind(id)
                        .bind(role_text(row.role))
                        .bind(row.content)
                        .bind(row.status.as_str())
                        .bind(row.model)
                        .bind(row.replica)
                        .bind(row.created_at);
                }
                insert.execute(&mut *tx).await?;
                tx.commit().await?;
                history
            });
            Ok((history, answer.map(|(message, _)| message)))
        })
    }
}

/// A message row a turn inserts.
struct NewMessage<'a> {
    id: Uuid,
    role: Role,
    content: &'a str,
    status: MessageStatus,
    model: Option<&'a str>,
    replica: Option<Uuid>,
    created_at: Timestamp,
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
    use MessageStatus::*;
    answer.role == Role::Assistant
        && matches!(answer.status, Error | Stopped | Interrupted)
        && answer.content.is_empty()
        && answer.reasoning.is_none()
}

/// The message limit as a length (it is `u64` in configuration).
fn limit_len(limit: u64) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}
