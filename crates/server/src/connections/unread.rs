//! A client connection whose writes must make progress: one that the client leaves unread
//! (its receive window full) for longer than `SEND_TIMEOUT_SECONDS` fails with `TimedOut`, and
//! hyper closes it. Without this a client that stops reading holds its connection, its answer
//! and that answer's upstream stream for as long as it likes, each answer's idle timer counting
//! only Bedrock's silence; hyper has no write timeout of its own.
//!
//! Written here because no crate offers it for hyper's server: `tokio-io-timeout` times every
//! write from scratch (a slow but reading client would be cut as well), and tower's timeouts
//! bound a response's start, not its writes. The timer runs only while a write is blocked.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::Sleep,
};

/// `io`, failing a write that has been blocked for `limit`.
#[derive(Debug)]
pub(super) struct MustBeRead<T> {
    io: T,
    limit: Duration,
    /// Set when a write finds the client's window full, cleared when one goes through.
    blocked: Option<Pin<Box<Sleep>>>,
}

impl<T> MustBeRead<T> {
    pub(super) fn new(io: T, limit: Duration) -> Self {
        Self { io, limit, blocked: None }
    }

    /// What a write's result means here: through, the timer is cleared; blocked, it is started
    /// (or kept) and, once it runs out, the write fails.
    fn watch<R>(&mut self, cx: &mut Context<'_>, written: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if written.is_ready() {
            self.blocked = None;
            return written;
        }
        let limit = self.limit;
        let blocked = self.blocked.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(blocked.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the client read nothing for {limit:?} (SEND_TIMEOUT_SECONDS)"),
        )))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for MustBeRead<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for MustBeRead<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(cx, written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.io).poll_flush(cx);
        self.watch(cx, flushed)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_write_blocked_past_the_limit_fails_and_one_that_goes_through_restarts_the_clock() {
        let (ours, mut client) = duplex(8);
        let mut ours = MustBeRead::new(ours, Duration::from_secs(5));

        // Blocked for 4 s, then read: the write goes through, and the clock starts again.
        ours.write_all(b"12345678").await.unwrap();
        let reading = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(4)).await;
            let mut first = [0; 8];
            client.read_exact(&mut first).await.unwrap();
            client
        });
        ours.write_all(b"abcdefgh").await.unwrap();
        let _client = reading.await.unwrap();
        let since = tokio::time::Instant::now();
        let blocked_again = ours.write_all(b"more").await;

        assert_eq!(blocked_again.unwrap_err().kind(), io::ErrorKind::TimedOut);
        assert_eq!(since.elapsed(), Duration::from_secs(5), "a whole limit from the last write");
    }
}
