//! [`ConversationStore`] over either backend: each operation written once with
//! [`with_pool!`](crate::backend::with_pool) (reads) or
//! [`with_writer!`](crate::backend::with_writer) (writes) over the SQL in [`crate::sql`].

use std::{collections::HashSet, future::Future, sync::Arc, time::Duration};

use streambed_core::BoxFuture;
use uuid::Uuid;

use crate::{
    Append, Conversation, ConversationStore, ConversationWithMessages, Finish, Limit, Owner, Page, ReplicaId,
    StoreError, StoreLimits, StoredMessage, Title,
    backend::{Pools, with_pool, with_writer},
    cursor::Cursor,
    finish::{Ending, FinishQueue, Finishes},
    group_commit::Queue,
    rows::{self, ConversationRow, MessageRow},
    sql,
    timestamp::Timestamp,
    turn::{TurnQueue, Turns},
};

#[derive(Debug)]
pub(crate) struct SqlStore {
    pub(crate) pools: Pools,
    pub(crate) limits: StoreLimits,
    /// Turns waiting to be written together (see [`crate::turn`]).
    pub(crate) turns: Arc<TurnQueue>,
    /// Finished answers waiting to be written together (see [`crate::finish`]).
    pub(crate) finishes: Arc<FinishQueue>,
}

impl SqlStore {
    pub(crate) fn new(pools: Pools, limits: StoreLimits) -> Self {
        let turns = Arc::new(Queue::new(Turns::new(pools.clone(), limits)));
        let finishes = Arc::new(Queue::new(Finishes::new(pools.clone())));
        Self { pools, limits, turns, finishes }
    }
}

/// Boxes an operation. Naming its output here is what lets `?` inside the `async` blocks
/// below convert `sqlx::Error` into [`StoreError`].
pub(crate) fn boxed<'a, T>(
    operation: impl Future<Output = Result<T, StoreError>> + Send + 'a,
) -> BoxFuture<'a, Result<T, StoreError>> {
    Box::pin(operation)
}

/// The row a write's `RETURNING` gave, if any. Such a write is read with `fetch_all`, never
/// `fetch_optional`: on SQLite an autocommitted statement commits when it runs to its end, and
/// `fetch_optional` stops at the first row, so a commit that fails (a full disk) would go
/// unreported and the row be returned as written.
fn only_row<T>(rows: Vec<T>) -> Option<T> {
    rows.into_iter().next()
}

/// Limits are `u64` in configuration, counts `i64` in SQL.
pub(crate) fn sql_count(limit: u64) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl ConversationStore for SqlStore {
    fn create(
        &self,
        owner: &Owner,
        title: Option<&Title>,
    ) -> BoxFuture<'_, Result<Conversation, StoreError>> {
        let owner = owner.0.clone();
        let title = title.map_or("", Title::as_str).to_owned();
        let limit = self.limits.max_conversations_per_owner;
        boxed(async move {
            let created: Vec<ConversationRow> = with_writer!(&self.pools, |pool| {
                sqlx::query_as(sql::CREATE)
                    .bind(Uuid::now_v7())
                    .bind(&owner)
                    .bind(&title)
                    .bind(Timestamp::now())
                    .bind(sql_count(limit))
                    .fetch_all(pool)
                    .await
            })?;
            only_row(created)
                .map(Conversation::from)
                .ok_or(StoreError::Full { limit: Limit::ConversationsPerOwner, max: limit })
        })
    }

    fn list(
        &self,
        owner: &Owner,
        limit: u32,
        before: Option<&str>,
    ) -> BoxFuture<'_, Result<Page, StoreError>> {
        let owner = owner.0.clone();
        let before = before.map(Cursor::parse).transpose();
        // A page of nothing would hand back no cursor to go on with.
        let limit = limit.max(1) as usize;
        boxed(async move {
            let before = before?;
            // One row more than asked says whether there is a next page.
            let fetch = limit as i64 + 1;
            let mut rows: Vec<ConversationRow> = with_pool!(&self.pools, |pool| match before {
                None => sqlx::query_as(sql::LIST_FIRST).bind(&owner).bind(fetch).fetch_all(pool).await,
                Some(cursor) => {
                    sqlx::query_as(sql::LIST_BEFORE)
                        .bind(&owner)
                        .bind(fetch)
                        .bind(cursor.updated_at)
                        .bind(cursor.id)
                        .fetch_all(pool)
                        .await
                }
            })?;
            let more = rows.len() > limit;
            rows.truncate(limit);
            let next = rows
                .last()
                .filter(|_| more)
                .map(|last| Cursor { updated_at: last.updated_at, id: last.id }.to_string());
            Ok(Page { conversations: rows.into_iter().map(Conversation::from).collect(), next })
        })
    }

    fn get(&self, owner: &Owner, id: Uuid) -> BoxFuture<'_, Result<ConversationWithMessages, StoreError>> {
        let owner = owner.0.clone();
        boxed(async move {
            let (conversation, messages): (Option<ConversationRow>, Vec<MessageRow>) =
                with_pool!(&self.pools, |pool| {
                    let conversation =
                        sqlx::query_as(sql::GET).bind(id).bind(&owner).fetch_optional(pool).await?;
                    let messages = match conversation {
                        Some(_) => sqlx::query_as(sql::MESSAGES).bind(id).fetch_all(pool).await?,
                        None => Vec::new(),
                    };
                    (conversation, messages)
                });
            Ok(ConversationWithMessages {
                conversation: conversation.ok_or(StoreError::NotFound)?.into(),
                messages: rows::messages(messages)?,
            })
        })
    }

    fn message(
        &self,
        owner: &Owner,
        conversation: Uuid,
        message: Uuid,
    ) -> BoxFuture<'_, Result<Option<StoredMessage>, StoreError>> {
        let owner = owner.0.clone();
        boxed(async move {
            let row: Option<MessageRow> = with_pool!(&self.pools, |pool| {
                sqlx::query_as(sql::MESSAGE)
                    .bind(message)
                    .bind(conversation)
                    .bind(&owner)
                    .fetch_optional(pool)
                    .await?
            });
            Ok(row.map(StoredMessage::try_from).transpose()?)
        })
    }

    fn conversation(&self, owner: &Owner, id: Uuid) -> BoxFuture<'_, Result<Conversation, StoreError>> {
        let owner = owner.0.clone();
        boxed(async move {
            let row: Option<ConversationRow> = with_pool!(&self.pools, |pool| {
                sqlx::query_as(sql::GET).bind(id).bind(&owner).fetch_optional(pool).await?
            });
            Ok(row.ok_or(StoreError::NotFound)?.into())
        })
    }

    fn rename(
        &self,
        owner: &Owner,
        id: Uuid,
        title: &Title,
    ) -> BoxFuture<'_, Result<Conversation, StoreError>> {
        let owner = owner.0.clone();
        let title = title.as_str().to_owned();
        boxed(async move {
            let renamed: Vec<ConversationRow> = with_writer!(&self.pools, |pool| {
                sqlx::query_as(sql::RENAME)
                    .bind(id)
                    .bind(&owner)
                    .bind(&title)
                    .bind(Timestamp::now())
                    .fetch_all(pool)
                    .await
            })?;
            only_row(renamed).map(Conversation::from).ok_or(StoreError::NotFound)
        })
    }

    fn delete(&self, owner: &Owner, id: Uuid) -> BoxFuture<'_, Result<(), StoreError>> {
        let owner = owner.0.clone();
        boxed(async move {
            // Messages go with it: ON DELETE CASCADE.
            let deleted = with_writer!(&self.pools, |pool| {
                sqlx::query(sql::DELETE).bind(id).bind(&owner).execute(pool).await?.rows_affected()
            });
            if deleted == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        })
    }

    fn add_user_message(
        &self,
        owner: &Owner,
        id: Uuid,
        content: &str,
        model: Option<&str>,
    ) -> BoxFuture<'_, Result<Vec<StoredMessage>, StoreError>> {
        let turn = self.turn(owner, id, content, model, None);
        boxed(async move { turn.await.map(|(history, _)| history) })
    }

    fn begin_turn(
        &self,
        owner: &Owner,
        id: Uuid,
        content: &str,
        model: &str,
        replica: ReplicaId,
    ) -> BoxFuture<'_, Result<(Vec<StoredMessage>, Uuid), StoreError>> {
        let turn = self.turn(owner, id, content, Some(model), Some(replica));
        boxed(async move {
            let (history, answer) = turn.await?;
            Ok((history, answer.expect("a turn with a replica starts its answer")))
        })
    }

    fn append_answers<'a>(&'a self, batch: &'a [Append]) -> BoxFuture<'a, Result<Vec<Uuid>, StoreError>> {
        boxed(async move {
            if batch.is_empty() {
                return Ok(Vec::new());
            }
            // Padding rows name no message: a nil id matches none.
            let padding = Append::new(Uuid::nil(), "", "");
            // One transaction for all the statements: a batch is written whole or not at all,
            // so a failed one can be written again without doubling any answer's text.
            let mut written: HashSet<Uuid> = HashSet::with_capacity(batch.len());
            with_writer!(&self.pools, |pool| {
                let mut tx = pool.begin().await?;
                for chunk in batch.chunks(sql::APPEND_ROWS) {
                    let rows = chunk.len().next_power_of_two();
                    let mut query = sqlx::query_scalar::<_, Uuid>(sql::append(rows));
                    for row in chunk.iter().chain(std::iter::repeat_n(&padding, rows - chunk.len())) {
                        query = query.bind(row.message).bind(row.text.as_str()).bind(row.reasoning.as_str());
                    }
                    written.extend(query.fetch_all(&mut *tx).await?);
                }
                tx.commit().await?;
            });
            Ok(batch.iter().map(|append| append.message).filter(|id| !written.contains(id)).collect())
        })
    }

    fn finish_answer(
        &self,
        message: Uuid,
        text: &str,
        reasoning: &str,
        finish: Finish,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        // Written with the other finishes waiting (see `crate::finish`).
        boxed(self.finishes.write(Ending::new(message, text, reasoning, finish)))
    }

    fn heartbeat(&self, replica: ReplicaId, ttl: Duration) -> BoxFuture<'_, Result<(), StoreError>> {
        boxed(async move {
            let expires_at = self.pools.clock().await?.plus(ttl);
            with_writer!(&self.pools, |pool| {
                sqlx::query(sql::HEARTBEAT).bind(replica.0).bind(expires_at).execute(pool).await?;
            });
            Ok(())
        })
    }

    fn sweep_interrupted(&self, replica: ReplicaId) -> BoxFuture<'_, Result<u64, StoreError>> {
        boxed(async move {
            let now = self.pools.clock().await?;
            let swept = with_writer!(&self.pools, |pool| {
                let mut tx = pool.begin().await?;
                let swept = sqlx::query(sql::SWEEP)
                    .bind(replica.0)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query(sql::FORGET_EXPIRED).bind(replica.0).bind(now).execute(&mut *tx).await?;
                tx.commit().await?;
                swept
            });
            Ok(swept)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.pools.close())
    }
}
