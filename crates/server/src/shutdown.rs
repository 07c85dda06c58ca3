//! Graceful shutdown: on SIGTERM (ECS stopping a task) or Ctrl-C, stop accepting, let streams
//! finish for the grace period, then cut the rest off with an explicit `shutting_down` error.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::answer_token::AnswerToken;

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
        AnswerToken::new(self.cutoff.child_token())
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
