//! A turn: the user's message and, when the server asks for it, the `streaming` answer that
//! follows, written in one transaction (the conversation row first, so the message count and
//! the inserts cannot race another turn).

use streambed_core::{BoxFuture, Role};
use uuid::Uuid;

use crate::{
    MessageStatus, Owner, ReplicaId, StoreError, StoredMessage,
    backend::with_pool,
    rows::{self, MessageRow, role_text},
    sql,
    store::{SqlStore, boxed, sql_count},
    timestamp::Timestamp,
    title,
};

/// A turn as stored: the history ending with the user's message, and its answer's id if started.
pub(crate) type Turn = (Vec<StoredMessage>, Option<Uuid>);

impl SqlStore {
    /// Stores a user turn and, given a `replica`, the `streaming` answer that follows it, in one
    /// transaction; returns the history ending with the user turn, and the answer's id.
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
            let history: Vec<MessageRow> = with_pool!(&self.pools, |pool| {
                let mut tx = pool.begin().await?;
                let now = Timestamp::now();
                // The conversation's row is written first: that takes SQLite's write lock at
                // once (a transaction that read first could fail to upgrade) and locks the row
                // in PostgreSQL, so no other turn can slip in between the count and the insert.
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
                let count: i64 = sqlx::query_scalar(sql::COUNT_MESSAGES).bind(id).fetch_one(&mut *tx).await?;
                // Room for this turn and the answer that follows it.
                if count + 2 > sql_count(limit) {
                    return Err(StoreError::Full { what: "messages", limit });
                }
                sqlx::query(sql::INSERT_MESSAGE)
                    .bind(Uuid::now_v7())
                    .bind(id)
                    .bind(role_text(Role::User))
                    .bind(&content)
                    .bind(MessageStatus::Complete.as_str())
                    .bind(None::<&str>)
                    .bind(None::<Uuid>)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let history = sqlx::query_as(sql::MESSAGES).bind(id).fetch_all(&mut *tx).await?;
                if let Some((message, replica)) = answer {
                    sqlx::query(sql::INSERT_MESSAGE)
                        .bind(message)
                        .bind(id)
                        .bind(role_text(Role::Assistant))
                        .bind("")
                        .bind(MessageStatus::Streaming.as_str())
                        .bind(model.as_deref())
                        .bind(replica.0)
                        .bind(Timestamp::now())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                history
            });
            Ok((rows::messages(history)?, answer.map(|(message, _)| message)))
        })
    }
}
