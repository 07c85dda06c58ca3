//! Whether a connection is in use: its requests in flight, each until its response body has
//! been sent or dropped, and a wait for the moment it has been unused for a while.
//!
//! hyper closes an HTTP/1 keep-alive connection that sends no request within its header
//! timeout, but has no such timeout for HTTP/2, whose client may keep an unused connection
//! open for ever by answering pings: every connection with nothing in flight for
//! `HEADER_READ_TIMEOUT_SECONDS` is closed gracefully here (for HTTP/2, a GOAWAY).

use std::{
    pin::{Pin, pin},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::body::{Body, Bytes, HttpBody};
use hyper::body::{Frame, SizeHint};
use tokio::sync::Notify;

/// One connection's requests in flight.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    requests: AtomicUsize,
    changed: Notify,
}

impl InFlight {
    /// Counts a request in until the returned guard is dropped.
    pub(super) fn begin(self: &Arc<Self>) -> InUse {
        // Only a change between used and unused matters to the wait below.
        if self.requests.fetch_add(1, Ordering::Relaxed) == 0 {
            self.changed.notify_waiters();
        }
        InUse(Arc::clone(self))
    }

    /// Resolves once nothing has been in flight for `quiet` without a break.
    pub(super) async fn unused_for(&self, quiet: Duration) {
        loop {
            // Listening before looking, so a change in between is not missed.
            let mut changed = pin!(self.changed.notified());
            changed.as_mut().enable();
            if self.requests.load(Ordering::Relaxed) > 0 {
                changed.await;
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(quiet) => return,
                () = changed => {}
            }
        }
    }
}

/// A request counted in by [`InFlight::begin`].
#[derive(Debug)]
pub(super) struct InUse(Arc<InFlight>);

impl InUse {
    /// `body`, keeping the request counted in until it has been sent or dropped.
    pub(super) fn until_sent(self, body: Body) -> Counted {
        Counted { body, _in_use: self }
    }
}

impl Drop for InUse {
    fn drop(&mut self) {
        if self.0.requests.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.changed.notify_waiters();
        }
    }
}

/// A response body that holds its request's place in [`InFlight`].
pub(super) struct Counted {
    body: Body,
    _in_use: InUse,
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_unused_once_its_last_body_is_gone_for_the_whole_quiet_time() {
        let in_flight = Arc::new(InFlight::default());
        let quiet = Duration::from_secs(10);
        let body = in_flight.begin().until_sent(Body::from("answer"));
        let started = tokio::time::Instant::now();

        let waiting = tokio::spawn({
            let in_flight = Arc::clone(&in_flight);
            async move { in_flight.unused_for(quiet).await }
        });
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!waiting.is_finished(), "a body still being sent keeps the connection in use");
        drop(body);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let again = in_flight.begin();
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(again);
        waiting.await.unwrap();

        assert_eq!(started.elapsed(), Duration::from_secs(46), "10 s after the last request ended");
    }
}
