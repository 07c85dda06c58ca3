//! The accept loop: each connection, plain or TLS, is counted (see [`Recorder::connections`])
//! and served by hyper-util's auto builder, which speaks HTTP/1.1 or HTTP/2 (h2c with prior
//! knowledge on plain TCP, ALPN `h2` over TLS) on the same port.

use std::{io, time::Duration};

use axum::Router;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpListener,
};

use crate::{record::Recorder, tls::TlsIdentity};

/// A client that connects and never finishes its handshake is dropped after this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// HTTP/2 settings for every connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Http2 {
    /// SETTINGS_MAX_CONCURRENT_STREAMS; hyper's default is 200.
    pub max_streams: u32,
}

/// Serves `router` on `listener` until the task is dropped (connections already accepted finish
/// on their own tasks, as with `axum::serve`).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    recorder: Recorder,
    tls: Option<TlsIdentity>,
    http2: Http2,
) -> io::Result<()> {
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors, say: wait for some to close instead of spinning, as axum does.
                tracing::warn!(error = %e, "accept failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        // Like Bedrock, send each event frame as soon as it is written.
        let _ = tcp.set_nodelay(true);
        let open = recorder.connection_opened();
        let router = router.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            // Counted as open until this task ends.
            let _open = open;
            match tls {
                None => serve_connection(tcp, router, http2).await,
                Some(tls) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor().accept(tcp)).await {
                        Ok(Ok(stream)) => serve_connection(stream, router, http2).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

async fn serve_connection<I>(io: I, router: Router, http2: Http2)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http2().max_concurrent_streams(http2.max_streams);
    let service = TowerToHyperService::new(router);
    if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(io), service).await {
        tracing::trace!(error = %e, "connection ended with an error");
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}
