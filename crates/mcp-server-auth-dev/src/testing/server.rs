//! The loopback HTTP/1.1 server of a started [`TestIssuer`](super::TestIssuer): discovery
//! documents and the JWKS, with the faults the test asked for.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::Shared;
use mcp_server_auth::body::FullBody;

/// Spawns the accept loop on the current Tokio runtime. Dropping the returned sender stops the
/// loop and closes every open connection.
pub(super) fn spawn(listener: TcpListener, shared: Arc<Shared>) -> watch::Sender<()> {
    spawn_service(listener, move |request| {
        respond(Arc::clone(&shared), request)
    })
}

/// Spawns an accept loop serving HTTP/1.1 with `handler` on the current Tokio runtime.
/// Dropping the returned sender stops the loop and closes every open connection.
pub(crate) fn spawn_service<H, F>(listener: TcpListener, handler: H) -> watch::Sender<()>
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<FullBody>, Infallible>> + Send + 'static,
{
    let (stop, stopped) = watch::channel(());
    tokio::spawn(accept_loop(listener, handler, stopped));
    stop
}

async fn accept_loop<H, F>(listener: TcpListener, handler: H, stopped: watch::Receiver<()>)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<FullBody>, Infallible>> + Send + 'static,
{
    let accept = async {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(stream, handler.clone(), stopped.clone()));
                }
                // Out of file descriptors or similar: try again shortly rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    };
    first(accept, until_stopped(stopped.clone())).await;
}

async fn serve_connection<H, F>(stream: TcpStream, handler: H, stopped: watch::Receiver<()>)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<FullBody>, Infallible>> + Send + 'static,
{
    let service = service_fn(handler);
    // No timer: hyper then skips its header-read timeout, and idle connections simply last
    // until the client or the issuer goes.
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    first(
        async {
            // Connection errors (a client hanging up mid-request) end the connection only.
            let _ = connection.await;
        },
        until_stopped(stopped),
    )
    .await;
}

/// Resolves once the issuer is dropped: nothing is ever sent, so `changed` only returns
/// when the sender is gone.
async fn until_stopped(mut stopped: watch::Receiver<()>) {
    while stopped.changed().await.is_ok() {}
}

/// Runs both futures and finishes with the first that does, dropping the other.
async fn first(a: impl Future<Output = ()>, b: impl Future<Output = ()>) {
    let mut a = pin!(a);
    let mut b = pin!(b);
    poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

/// What a request path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// RFC 8414 metadata, at the path-inserted well-known URL.
    Rfc8414,
    /// OpenID Connect discovery, at the issuer path plus the well-known suffix.
    OpenId,
    /// The key set.
    Jwks,
}

async fn respond<B>(
    shared: Arc<Shared>,
    request: Request<B>,
) -> Result<Response<FullBody>, Infallible> {
    let route = if request.uri().path() == shared.routes.rfc8414 {
        Some(Route::Rfc8414)
    } else if request.uri().path() == shared.routes.openid {
        Some(Route::OpenId)
    } else if request.uri().path() == shared.routes.jwks {
        Some(Route::Jwks)
    } else {
        None
    };
    match route {
        Some(Route::Jwks) => shared.jwks_fetches.fetch_add(1, Ordering::SeqCst),
        Some(Route::Rfc8414 | Route::OpenId) => {
            shared.metadata_fetches.fetch_add(1, Ordering::SeqCst)
        }
        None => 0,
    };
    let delay = shared.faults().delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    // Everything else is read after the delay: the answer reflects the issuer as it is now.
    let faults = shared.faults();
    let Some(route) = route else {
        return Ok(json(StatusCode::NOT_FOUND, "{}"));
    };
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = json(StatusCode::METHOD_NOT_ALLOWED, "{}");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(response);
    }
    if let Some(status) = faults.status {
        return Ok(json(status, "{}"));
    }
    let response = match route {
        Route::Jwks => {
            let body = faults
                .jwks_body
                .unwrap_or_else(|| Bytes::from(shared.jwks()));
            let mut response = json(StatusCode::OK, body);
            if let Some(value) = faults.cache_control {
                response.headers_mut().insert(header::CACHE_CONTROL, value);
            }
            response
        }
        Route::Rfc8414 if !faults.rfc8414 => json(StatusCode::NOT_FOUND, "{}"),
        Route::OpenId if !faults.openid => json(StatusCode::NOT_FOUND, "{}"),
        Route::Rfc8414 | Route::OpenId => {
            let issuer = faults
                .advertised_issuer
                .as_deref()
                .unwrap_or(&shared.issuer);
            let document = shared.metadata(issuer, route == Route::OpenId);
            json(StatusCode::OK, document.to_string())
        }
    };
    Ok(response)
}

fn json(status: StatusCode, body: impl Into<Bytes>) -> Response<FullBody> {
    let mut response = Response::new(FullBody::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
