//! Accepting and serving connections, with hyper's own settings bounding what a client that
//! never finishes a request can hold: each request's headers must arrive within
//! `HEADER_READ_TIMEOUT_SECONDS` (an idle HTTP/1 keep-alive connection is waiting for headers,
//! so it is closed then too), HTTP/2 connections have a cap on streams and header size, and past
//! `MAX_CONNECTIONS` a new connection is closed as soon as it is accepted, and a client that
//! leaves what the server sends unread for `SEND_TIMEOUT_SECONDS` is let go ([`unread`]).
//! Nothing here times a response otherwise: an answer streams for as long as the relay allows.
//!
//! `axum::serve` has none of these settings, so this is its loop with them added: one task per
//! connection, `ConnectInfo` for the rate limiter, and graceful shutdown, of a connection unused
//! for the header timeout too ([`in_flight`]). It also tells HTTP/1 from HTTP/2 itself, without
//! reading (see [`speaks_http1`]).

use std::{convert::Infallible, io, net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, extract::ConnectInfo, http::Request};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use tokio::{
    net::{TcpListener, TcpSocket, TcpStream},
    sync::Semaphore,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

use crate::{
    Shutdown,
    config::{Connections, ShutdownTiming},
};

mod in_flight;
mod unread;

use in_flight::InFlight;

/// HTTP/2 streams one connection may have open at once. Browsers open at most 100; a proxy
/// (an ALB speaking HTTP/2 to its targets) opens more connections when it needs more.
const HTTP2_MAX_STREAMS: u32 = 100;
/// The largest header block an HTTP/2 request may carry (a long JWT is a few KiB).
const HTTP2_MAX_HEADER_LIST_BYTES: u32 = 64 * 1024;
/// How often an HTTP/2 connection is pinged, and how long the answer may take, so connections
/// to peers that vanished are closed.
const HTTP2_PING: Duration = Duration::from_secs(20);
/// How long connections may take to close after the shutdown's cut-off (their answers have
/// ended by then) before the server stops regardless.
const AFTER_CUT_OFF: Duration = Duration::from_secs(3);
/// How long to wait before accepting again when the process is out of descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);
/// A cleartext HTTP/2 client's first bytes (RFC 9113, section 3.4).
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Binds `addr` with a deep accept queue. Tokio's `bind` asks for 1,024 pending connections; a
/// burst of more clients than the accept loop drains at once overflows it, the kernel drops
/// their SYNs, and each retries only after a 1 s timeout. The kernel caps this at somaxconn.
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(65_535)
}

/// Serves until `signal` resolves, then drains: no new connections, in-flight streams get
/// the configured grace period, and whatever is still streaming then ends with `shutting_down`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    connections: Connections,
    shutdown: Shutdown,
    timing: ShutdownTiming,
    signal: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let http = Arc::new(Http::new(&connections));
    let open = Arc::new(Semaphore::new(connections.max.min(Semaphore::MAX_PERMITS)));
    let tasks = TaskTracker::new();
    let draining = shutdown.draining.clone();
    let drain = shutdown.clone().drain_after(signal, timing);
    tokio::pin!(drain);
    let mut refused: u64 = 0;
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut drain => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Most likely out of descriptors (EMFILE): wait for some to be closed.
                    tracing::error!(error = %e, "cannot accept connections");
                    tokio::select! {
                        () = &mut drain => break,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    }
                }
            },
        };
        // At the cap, closing the connection at once tells the client now, where not accepting
        // would leave it waiting in the backlog; the connections already open are not touched.
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            if refused == 0 {
                tracing::warn!(
                    max_connections = connections.max,
                    "at MAX_CONNECTIONS: closing new connections"
                );
            }
            refused += 1;
            drop(tcp);
            continue;
        };
        if refused > 0 {
            tracing::info!(refused, "below MAX_CONNECTIONS again: accepting connections");
            refused = 0;
        }
        // Frames are small and latency is the product: send each one now, not when Nagle allows.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let connection = Connection {
            http: Arc::clone(&http),
            app: app.clone(),
            peer,
            header_read_timeout: connections.header_read_timeout,
            send_timeout: connections.send_timeout,
            draining: draining.clone(),
        };
        tasks.spawn(async move {
            connection.serve(tcp).await;
            drop(permit);
        });
    }
    drop(listener);
    tasks.close();
    // Every connection ends by the cut-off, but one whose client stopped reading waits for
    // SEND_TIMEOUT_SECONDS, which may outlast the orchestrator's stop timeout: a few seconds
    // after the cut-off, the server stops without it.
    tokio::select! {
        () = tasks.wait() => {}
        () = async {
            shutdown.cut_off().await;
            tokio::time::sleep(AFTER_CUT_OFF).await;
        } => tracing::warn!(connections = tasks.len(), "connections still open after the cut-off: closing them"),
    }
    Ok(())
}

/// HTTP/1 and HTTP/2 (cleartext), with their bounds: one set of settings, served two ways.
struct Http {
    /// For a connection already known to speak HTTP/1.
    http1: auto::Builder<TokioExecutor>,
    /// For any other: hyper-util tells the two apart by the HTTP/2 preface.
    either: auto::Builder<TokioExecutor>,
}

impl Http {
    fn new(connections: &Connections) -> Self {
        let mut either = auto::Builder::new(TokioExecutor::new());
        either.http1().timer(TokioTimer::new()).header_read_timeout(connections.header_read_timeout);
        either
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(HTTP2_MAX_STREAMS)
            .max_header_list_size(HTTP2_MAX_HEADER_LIST_BYTES)
            .keep_alive_interval(HTTP2_PING)
            .keep_alive_timeout(HTTP2_PING);
        Self { http1: either.clone().http1_only(), either }
    }
}

/// Whether the client's first bytes, looked at without taking them, are not the HTTP/2 preface:
/// an HTTP/1 request differs from it by its first or second byte. False while they may still be
/// the preface (and at end of file), which hyper-util then reads and decides itself.
///
/// Why not always let hyper-util decide: it reads up to the preface's 24 bytes and hands them to
/// hyper as a read of their own, so hyper reserves its 8 KiB read buffer a second time beside
/// them and the buffer doubles to 16 KiB, kept for the connection's life (BENCHMARKS.md,
/// twentieth sitting). Served as HTTP/1 from the start, the request lands in the first 8 KiB.
async fn speaks_http1(tcp: &TcpStream) -> io::Result<bool> {
    let mut first = [0; HTTP2_PREFACE.len()];
    let read = tcp.peek(&mut first).await?;
    Ok(read > 0 && !HTTP2_PREFACE.starts_with(&first[..read]))
}

/// One accepted connection, before it is served.
struct Connection {
    http: Arc<Http>,
    app: Router,
    peer: SocketAddr,
    header_read_timeout: Duration,
    send_timeout: Duration,
    /// Closes the connection gracefully when the server begins to drain.
    draining: CancellationToken,
}

impl Connection {
    async fn serve(self, tcp: TcpStream) {
        let Self { http, app, peer, header_read_timeout, send_timeout, draining } = self;
        // Looked at before anything is read: a client silent for the header timeout, or still
        // silent when the server begins to drain, is let go here.
        let builder = tokio::select! {
            http1 = speaks_http1(&tcp) => match http1 {
                Ok(true) => &http.http1,
                Ok(false) => &http.either,
                Err(e) => return log_end(Err(e.into())),
            },
            () = draining.cancelled() => return,
            () = tokio::time::sleep(header_read_timeout) => {
                tracing::debug!(%peer, "nothing sent within HEADER_READ_TIMEOUT_SECONDS: closing the connection");
                return;
            }
        };
        let in_flight = Arc::new(InFlight::default());
        let requests = Arc::clone(&in_flight);
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            let in_use = requests.begin();
            // The peer address is the rate limiter's client key when no identity or proxy is in front.
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = app.clone().oneshot(request);
            async move { Ok::<_, Infallible>(response.await?.map(|body| in_use.until_sent(body))) }
        });
        let io = TokioIo::new(unread::MustBeRead::new(tcp, send_timeout));
        let connection = builder.serve_connection(io, service);
        tokio::pin!(connection);
        // Gracefully (requests in flight finish; HTTP/2 is told with a GOAWAY) when the server
        // drains, or when nothing has been asked of the connection for the header timeout: this
        // also times a client that sent the start of the HTTP/2 preface and no more.
        tokio::select! {
            result = &mut connection => return log_end(result),
            () = draining.cancelled() => {}
            () = in_flight.unused_for(header_read_timeout) => {
                tracing::debug!(%peer, "unused for HEADER_READ_TIMEOUT_SECONDS: closing the connection");
            }
        }
        connection.as_mut().graceful_shutdown();
        log_end(connection.await);
    }
}

fn log_end(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    // Timeouts, resets and malformed requests all end here; none is the server's fault.
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}
