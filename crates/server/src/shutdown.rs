//! Graceful shutdown: on SIGTERM (ECS stopping a task) or Ctrl-C, stop accepting, let streams
//! finish for the grace period, then cut the rest off with an explicit `shutting_down` error.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// Shared by every request: `draining` refuses new chats, `cutoff` ends streams still running.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    pub(crate) draining: CancellationToken,
    pub(crate) cutoff: CancellationToken,
}

impl Shutdown {
    /// The token one answer watches: cancelled at the cut-off, and, for a stored conversation's
    /// answer, by Stop and by the loss of its record.
    pub(crate) fn answer_token(&self) -> AnswerToken {
        AnswerToken { own: self.cutoff.child_token(), why: Arc::default() }
    }

    /// Resolves once the grace period after the signal has passed, and with it the cut-off that
    /// ends the streams and answers still running.
    pub async fn cut_off(&self) {
        self.cutoff.cancelled().await;
    }

    /// Resolves when `signal` does (the accept loop then stops), and arms the cut-off timer.
    pub(crate) async fn drain_after(self, signal: impl Future<Output = ()>, grace: Duration) {
        signal.await;
        tracing::info!(
            grace_seconds = grace.as_secs_f32(),
            "shutting down: letting in-flight answers finish"
        );
        self.draining.cancel();
        // A timer, not a producer: it only flips the token that open streams watch.
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            self.cutoff.cancel();
        });
    }
}

/// What ends one answer early: the shutdown cut-off, Stop, or the loss of its record. A token of
/// the answer's own (a child of the cut-off, so the cut-off reaches it), made only by
/// [`Shutdown::answer_token`]: an answer polls it before every event, and the cut-off's own lock
/// would be shared by every open stream on every worker thread.
#[derive(Debug, Clone)]
pub(crate) struct AnswerToken {
    own: CancellationToken,
    /// Why the answer ends, Stop or the loss ([`Why`] as a number), set before `own` is
    /// cancelled, and only once; left unset, what cancelled it is the cut-off.
    why: Arc<AtomicU8>,
}

/// What ended an answer early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// The shutdown cut-off.
    CutOff = 0,
    /// Stop.
    Stopped = 1,
    /// Its record is no longer this process's to write: another replica marked it
    /// `interrupted` while this one could not renew its lease, or its conversation was deleted.
    Lost = 2,
}

impl AnswerToken {
    /// Stop: ends this answer only.
    pub(crate) fn stop(&self) {
        self.end(Why::Stopped);
    }

    /// Ends this answer, whose record is lost ([`Why::Lost`]).
    pub(crate) fn lose(&self) {
        self.end(Why::Lost);
    }

    fn end(&self, why: Why) {
        // The first of Stop and the loss stays: a Stop after the loss does not make it a Stop.
        let _ = self.why.compare_exchange(Why::CutOff as u8, why as u8, Ordering::AcqRel, Ordering::Acquire);
        self.own.cancel();
    }

    /// Resolves at Stop, the cut-off or the loss; [`AnswerToken::why`] tells which.
    pub(crate) async fn ended(&self) {
        self.own.cancelled().await;
    }

    /// One future for the whole answer: a new `ended()` per event would register with the
    /// token and leave it again every time.
    pub(crate) fn ended_owned(&self) -> WaitForCancellationFutureOwned {
        self.own.clone().cancelled_owned()
    }

    /// What ended the answer, once [`ended`](Self::ended) resolved.
    pub(crate) fn why(&self) -> Why {
        match self.why.load(Ordering::Acquire) {
            why if why == Why::Stopped as u8 => Why::Stopped,
            why if why == Why::Lost as u8 => Why::Lost,
            _ => Why::CutOff,
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
