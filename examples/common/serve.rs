//! The HTTP server loop of the examples: axum's `serve` plus the limits a server facing
//! untrusted clients needs, which `axum::serve` does not expose.
//!
//! * **Header-read timeout:** a client that dribbles its request headers (one byte a second)
//!   is disconnected once the timeout passes, instead of holding a connection forever.
//! * **Graceful shutdown with a deadline:** on the signal the listener closes at once, requests
//!   in flight may finish, idle keep-alive connections close, and after the deadline the
//!   server stops whatever is still open (a stalled upload cannot keep the process alive).
//!
//! Request bodies are bounded by the auth layer itself (`McpAuthBuilder::body_read_timeout`).

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// The server's own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The time a client has to send its request headers.
    pub(crate) header_read_timeout: Duration,
    /// The time connections have to finish after the shutdown signal.
    pub(crate) shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// How the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// Every connection finished within the deadline.
    Drained,
    /// The deadline passed with connections still open; they were dropped.
    DeadlinePassed,
}

/// Serves `app` on `listener` (HTTP/1.1) until `shutdown` resolves, then drains within
/// `limits.shutdown_timeout`.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> Stopped {
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: back off a moment.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let service = TowerToHyperService::new(app.clone());
                let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    // A client gone or too slow with its headers: nothing to do.
                    let _ = connection.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    // No new connections from here on.
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => Stopped::Drained,
        () = tokio::time::sleep(limits.shutdown_timeout) => Stopped::DeadlinePassed,
    }
}
