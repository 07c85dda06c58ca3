//! Rows as the statements in [`crate::sql`] return them, and their public forms. The columns
//! decode to the same Rust types on both backends, so each row type reads both: `FromRow` by
//! hand, generic over the backend's row, as sqlx's derive would write it.

use sqlx::{ColumnIndex, Decode, FromRow, Row, Type, types::Json};
use streambed_core::{Role, Usage};
use uuid::Uuid;

use crate::{
    Conversation, MessageStatus, StoredMessage,
    reasoning::{self, ReasoningPart},
    timestamp::Timestamp,
};

#[derive(Debug)]
pub(crate) struct ConversationRow {
    pub(crate) id: Uuid,
    title: String,
    model: Option<String>,
    created_at: Timestamp,
    pub(crate) updated_at: Timestamp,
}

impl<'r, R: Row> FromRow<'r, R> for ConversationRow
where
    &'r str: ColumnIndex<R>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Timestamp: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            title: row.try_get("title")?,
            model: row.try_get("model")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

impl From<ConversationRow> for Conversation {
    fn from(row: ConversationRow) -> Self {
        Self {
            id: row.id,
            title: row.title,
            model: row.model,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        }
    }
}

#[derive(Debug)]
pub(crate) struct MessageRow {
    id: Uuid,
    role: String,
    content: String,
    status: String,
    model: Option<String>,
    reasoning: String,
    parts: Option<Json<Vec<ReasoningPart>>>,
    usage: Option<Json<Usage>>,
    stop_reason: Option<String>,
    error_code: Option<String>,
    latency_ms: Option<i64>,
    created_at: Timestamp,
    /// For a `streaming` answer: the replica writing it.
    writer: Option<Uuid>,
    /// For a `streaming` answer: until when its writer's lease holds, if it has one on record.
    lease_until: Option<Timestamp>,
}

impl<'r, R: Row> FromRow<'r, R> for MessageRow
where
    &'r str: ColumnIndex<R>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Json<Usage>: Decode<'r, R::Database> + Type<R::Database>,
    Json<Vec<ReasoningPart>>: Decode<'r, R::Database> + Type<R::Database>,
    Timestamp: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            role: row.try_get("role")?,
            content: row.try_get("content")?,
            status: row.try_get("status")?,
            model: row.try_get("model")?,
            reasoning: row.try_get("reasoning")?,
            parts: row.try_get("parts")?,
            usage: row.try_get("usage")?,
            stop_reason: row.try_get("stop_reason")?,
            error_code: row.try_get("error_code")?,
            latency_ms: row.try_get("latency_ms")?,
            created_at: row.try_get("created_at")?,
            writer: row.try_get("writer")?,
            lease_until: row.try_get("lease_until")?,
        })
    }
}

impl TryFrom<MessageRow> for StoredMessage {
    type Error = sqlx::Error;

    fn try_from(row: MessageRow) -> Result<Self, Self::Error> {
        let reasoning_blocks =
            row.parts.map(|Json(parts)| reasoning::blocks(parts, &row.reasoning)).unwrap_or_default();
        Ok(Self {
            id: row.id,
            role: parse_role(&row.role)?,
            content: row.content,
            status: parse_status(&row.status)?,
            model: row.model,
            reasoning: (!row.reasoning.is_empty()).then_some(row.reasoning),
            reasoning_blocks,
            usage: row.usage.map(|Json(usage)| usage),
            stop_reason: row.stop_reason,
            error_code: row.error_code,
            latency_ms: row.latency_ms.and_then(|ms| u64::try_from(ms).ok()),
            created_at: row.created_at.0,
        })
    }
}

/// A [`MessageRow`] with the conversation it belongs to: a batch of turns reads the messages of
/// all its conversations in one statement.
#[derive(Debug)]
pub(crate) struct ConversationMessageRow {
    pub(crate) conversation_id: Uuid,
    pub(crate) message: MessageRow,
}

impl<'r, R: Row> FromRow<'r, R> for ConversationMessageRow
where
    MessageRow: FromRow<'r, R>,
    &'r str: ColumnIndex<R>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self { conversation_id: row.try_get("conversation_id")?, message: MessageRow::from_row(row)? })
    }
}

pub(crate) fn messages(rows: Vec<MessageRow>) -> Result<Vec<StoredMessage>, sqlx::Error> {
    rows.into_iter().map(StoredMessage::try_from).collect()
}

/// A conversation's messages as a turn reads them, with what it needs to know of an answer
/// still being written at their end.
#[derive(Debug, Default)]
pub(crate) struct History {
    pub(crate) messages: Vec<StoredMessage>,
    /// The last message's writer, when it is a `streaming` answer.
    pub(crate) writer: Option<Writer>,
}

impl History {
    /// Adds the next message, in order.
    pub(crate) fn push(&mut self, row: MessageRow) -> Result<(), sqlx::Error> {
        self.writer = row.writer.map(|replica| Writer {
            replica,
            lease_until: row.lease_until,
            started: row.created_at,
        });
        self.messages.push(row.try_into()?);
        Ok(())
    }

    pub(crate) fn read(rows: Vec<MessageRow>) -> Result<Self, sqlx::Error> {
        let mut history = Self::default();
        for row in rows {
            history.push(row)?;
        }
        Ok(history)
    }
}

/// The replica writing a `streaming` answer, until when its lease holds (none when it has no
/// lease on record: it never took one, or it expired and was forgotten), and when it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Writer {
    pub(crate) replica: Uuid,
    pub(crate) lease_until: Option<Timestamp>,
    pub(crate) started: Timestamp,
}

impl Writer {
    /// Whether the answer still runs as of `clock`: its replica holds its lease, and the answer
    /// is younger than the `longest` any runs (older, its end went unrecorded, perhaps for a
    /// database error, and it holds the turn no more).
    pub(crate) fn live(self, clock: Timestamp, longest: std::time::Duration) -> bool {
        self.lease_until.is_some_and(|until| until > clock) && self.started.plus(longest) > clock
    }

    /// Whether the answer runs ([`live`](Self::live)) on a replica other than `replica`.
    pub(crate) fn live_elsewhere(
        self,
        replica: Uuid,
        clock: Timestamp,
        longest: std::time::Duration,
    ) -> bool {
        self.replica != replica && self.live(clock, longest)
    }
}

/// The `role` column's text.
pub(crate) fn role_text(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

fn parse_role(text: &str) -> Result<Role, sqlx::Error> {
    [Role::User, Role::Assistant]
        .into_iter()
        .find(|role| role_text(*role) == text)
        .ok_or_else(|| unknown("role", text))
}

fn parse_status(text: &str) -> Result<MessageStatus, sqlx::Error> {
    use MessageStatus::*;
    [Complete, Streaming, Stopped, Error, Interrupted]
        .into_iter()
        .find(|status| status.as_str() == text)
        .ok_or_else(|| unknown("status", text))
}

/// A value the migrations' CHECK constraints should have kept out.
fn unknown(column: &'static str, text: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("unknown {column} {text:?}").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_from_its_text() {
        use MessageStatus::*;
        for status in [Complete, Streaming, Stopped, Error, Interrupted] {
            assert_eq!(parse_status(status.as_str()).unwrap(), status);
        }
        assert!(parse_status("done").is_err());
    }

    #[test]
    fn every_role_reads_back_from_its_text() {
        for role in [Role::User, Role::Assistant] {
            assert_eq!(parse_role(role_text(role)).unwrap(), role);
        }
        assert!(parse_role("system").is_err());
    }
}
