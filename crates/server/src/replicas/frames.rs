//! A running answer's frames in a Redis Stream, `streambed:answer:{messageId}`: entry `n-0` is
//! the answer's n-th frame (content frames in order, then the terminal one), with the fields
//! `id` (the cursor where it ends), `event` and `data`: what the answer said in one of the
//! mirror's writes, with the same cursors the replica running it sends its own clients.
//! Numbering the entries lets a writer that lost track after a failure carry on where Redis
//! stopped (Redis refuses an entry twice), and a reader see at once when entries are missing.
//! The stream is capped ([`MAX_FRAMES`]) and expires: [`Redis::connect`]'s answer TTL
//! while the answer runs, [`ENDED_TTL`] after it ended (by then the store has it all).

use std::time::Duration;

use redis::{
    AsyncConnectionConfig,
    aio::MultiplexedConnection,
    streams::{StreamId, StreamRangeReply, StreamReadReply},
};
use tokio::sync::OwnedSemaphorePermit;
use uuid::Uuid;

use super::{COMMAND_TIMEOUT, CONNECT_TIMEOUT, Failure, Redis, Use};
use crate::{
    frame::{Cursor, CursoredFrame},
    sse,
};

/// Entries kept per answer (Redis trims the oldest past about this many). A frame holds what the
/// answer said in one write's interval, a token or more, so `MAX_TOKENS_LIMIT`'s default of
/// 4,096 fits with room to spare; a follower that finds the start trimmed reads the store instead.
const MAX_FRAMES: usize = 10_000;
/// How long an ended answer's stream stays, for followers that read it just as it ended.
const ENDED_TTL: Duration = Duration::from_secs(60);
/// Entries one read returns at most.
const READ_BATCH: usize = 512;

fn key(message: Uuid) -> String {
    format!("streambed:answer:{message}")
}

impl Redis {
    /// Appends `frames` as entries `after + 1`, `after + 2`, …, and renews the stream's expiry
    /// (short once `ended`), in one round trip.
    pub(crate) async fn append_frames(
        &self,
        message: Uuid,
        after: usize,
        frames: &[CursoredFrame],
        ended: bool,
    ) -> Result<(), Failure> {
        let key = key(message);
        let mut pipe = redis::pipe();
        for (n, frame) in (after + 1..).zip(frames) {
            pipe.cmd("XADD")
                .arg(&key)
                .arg("MAXLEN")
                .arg("~")
                .arg(MAX_FRAMES)
                .arg(format!("{n}-0"))
                .arg("id")
                .arg(frame.cursor.to_string())
                .arg("event")
                .arg(frame.sse.kind.as_str())
                .arg("data")
                .arg(&frame.sse.data)
                .ignore();
        }
        let ttl = if ended { ENDED_TTL } else { self.inner.answer_ttl };
        pipe.cmd("PEXPIRE").arg(&key).arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)).ignore();
        let mut connection = self.manager();
        self.call(Use::Frames, COMMAND_TIMEOUT, pipe.exec_async(&mut connection)).await
    }

    /// The last frame of `message` Redis holds, with its number (how many it holds); `None`
    /// for none.
    pub(crate) async fn last_frame(&self, message: Uuid) -> Result<Option<(usize, CursoredFrame)>, Failure> {
        let mut connection = self.manager();
        let mut last = redis::cmd("XREVRANGE");
        last.arg(key(message)).arg("+").arg("-").arg("COUNT").arg(1);
        let last = self
            .call(Use::Frames, COMMAND_TIMEOUT, last.query_async::<StreamRangeReply>(&mut connection))
            .await?;
        match last.ids.first() {
            None => Ok(None),
            Some(entry) => match (number(entry), frame(entry)) {
                (Some(n), Some(frame)) => Ok(Some((n, frame))),
                _ => Err(self.malformed(Use::Frames)),
            },
        }
    }

    /// A reader of `message`'s frames on a connection of its own (a blocking read would hold up
    /// everyone sharing a connection); `None` when too many are open already.
    pub(crate) async fn frame_reader(
        &self,
        message: Uuid,
        block: Duration,
    ) -> Result<Option<FrameReader>, Failure> {
        let Ok(permit) = self.inner.readers.clone().try_acquire_owned() else {
            return Ok(None);
        };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(block + COMMAND_TIMEOUT));
        let connect = self.inner.client.get_multiplexed_async_connection_with_config(&config);
        let connection = self.call(Use::Follow, CONNECT_TIMEOUT + COMMAND_TIMEOUT, connect).await?;
        Ok(Some(FrameReader { redis: self.clone(), connection, key: key(message), block, _permit: permit }))
    }

    fn malformed(&self, purpose: Use) -> Failure {
        let failure = Failure::Reply("an answer's stream entry is not one this server writes");
        self.failed(purpose, &failure);
        failure
    }
}

/// Reads one answer's frames in order, waiting for new ones.
#[derive(Debug)]
pub(crate) struct FrameReader {
    redis: Redis,
    connection: MultiplexedConnection,
    key: String,
    block: Duration,
    _permit: OwnedSemaphorePermit,
}

impl FrameReader {
    /// The entries after the `after`-th, with their numbers; waits up to the reader's block time
    /// for one to arrive, and returns none if none did.
    pub(crate) async fn read(&mut self, after: usize) -> Result<Vec<(usize, CursoredFrame)>, Failure> {
        let block_ms = u64::try_from(self.block.as_millis()).unwrap_or(u64::MAX);
        let mut read = redis::cmd("XREAD");
        read.arg("COUNT").arg(READ_BATCH).arg("BLOCK").arg(block_ms);
        read.arg("STREAMS").arg(&self.key).arg(format!("{after}-0"));
        let query = read.query_async::<Option<StreamReadReply>>(&mut self.connection);
        let reply = self.redis.call(Use::Follow, self.block + COMMAND_TIMEOUT, query).await?;
        let entries = reply.into_iter().flat_map(|reply| reply.keys).flat_map(|stream| stream.ids);
        entries
            .map(|entry| Some((number(&entry)?, frame(&entry)?)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| self.redis.malformed(Use::Follow))
    }
}

/// `n` of an entry id `n-0`.
fn number(entry: &StreamId) -> Option<usize> {
    entry.id.strip_suffix("-0")?.parse().ok()
}

fn frame(entry: &StreamId) -> Option<CursoredFrame> {
    let cursor: Cursor = entry.get::<String>("id")?.parse().ok()?;
    let kind = sse::Kind::parse(&entry.get::<String>("event")?)?;
    Some(CursoredFrame { cursor, sse: sse::Frame { kind, data: entry.get("data")? } })
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;
    use streambed_testkit::Redis as RedisServer;

    use super::*;

    fn frame(text: usize, data: &str) -> CursoredFrame {
        CursoredFrame { cursor: Cursor { text, reasoning: 0 }, sse: sse::token(data) }
    }

    #[tokio::test]
    async fn frames_come_back_in_order_and_a_writer_that_lost_track_learns_where_redis_stopped() {
        let server = RedisServer::start();
        let redis = Redis::connect(&SecretString::from(server.url()), Duration::from_secs(60)).await.unwrap();
        let message = Uuid::now_v7();
        let first = [frame(2, "ab"), frame(3, "c")];
        let end = CursoredFrame { cursor: Cursor { text: 3, reasoning: 0 }, sse: sse::stopped(message) };

        redis.append_frames(message, 0, &first, false).await.unwrap();
        let (written, last) = redis.last_frame(message).await.unwrap().unwrap();
        let again = redis.append_frames(message, 1, &first[1..], false).await;
        redis.append_frames(message, written, std::slice::from_ref(&end), true).await.unwrap();
        let mut reader = redis.frame_reader(message, Duration::from_millis(50)).await.unwrap().unwrap();
        let all = reader.read(0).await.unwrap();
        let rest = reader.read(1).await.unwrap();
        let none = reader.read(3).await.unwrap();

        assert_eq!((written, last), (2, first[1].clone()));
        assert!(again.is_err(), "an entry is never written twice");
        assert_eq!(all, vec![(1, first[0].clone()), (2, first[1].clone()), (3, end.clone())]);
        assert_eq!(rest.len(), 2);
        assert!(none.is_empty(), "nothing past the end, after waiting the block time");
        assert_eq!(redis.last_frame(Uuid::now_v7()).await.unwrap(), None);
    }
}
