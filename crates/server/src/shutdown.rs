//! Graceful shutdown: on SIGTERM (ECS stopping a task) or Ctrl-C, say so on `/api/ready` and go
//! on serving for `SHUTDOWN_DELAY_SECONDS` (a load balancer may still send requests for a few
//! seconds after it began to deregister the task; refused, they would be 502s), then stop
//! accepting, let streams finish until the grace period after the signal, and cut the rest off
//! with an explicit `shutting_down` error.

use axum::{
    extract::{Request, State},
    http::{HeaderValue, Version, header},
    middleware::Next,
    response::Response,
};
use tokio_util::sync::CancellationToken;

use crate::{answer_token::AnswerToken, config::ShutdownTiming};

/// Shared by every request: `stopping` turns readiness off, `draining` refuses new chats,
/// `cutoff` ends streams still running.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    pub(crate) stopping: CancellationToken,
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

    /// Resolves the timing's delay after `signal` does (the accept loop then stops), and arms
    /// the cut-off timer, its grace after the signal.
    pub(crate) async fn drain_after(self, signal: impl Future<Output = ()>, timing: ShutdownTiming) {
        let ShutdownTiming { delay, grace } = timing;
        signal.await;
        self.stopping.cancel();
        tracing::info!(
            delay_seconds = delay.as_secs_f32(),
            grace_seconds = grace.as_secs_f32(),
            "shutting down: /api/ready answers 503, new requests are served for the delay, and \
             in-flight answers may finish within the grace"
        );
        // A timer, not a producer: it only flips the token that open streams watch.
        let cutoff = self.cutoff.clone();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            cutoff.cancel();
        });
        tokio::time::sleep(delay).await;
        self.draining.cancel();
    }
}

/// Middleware: once the server was told to stop, an HTTP/1.1 response says `Connection: close`,
/// so a client or proxy does not send its next request on a connection the server is about to
/// close (one sent just as it closes would fail). HTTP/2 ends its connections with a GOAWAY.
pub(crate) async fn close_connections_when_stopping(
    State(shutdown): State<Shutdown>,
    request: Request,
    next: Next,
) -> Response {
    let http1 = request.version() == Version::HTTP_11;
    let mut response = next.run(request).await;
    if http1 && shutdown.stopping.is_cancelled() {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
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
