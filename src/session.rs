//! Legacy session binding: a `Mcp-Session-Id` minted for one principal is refused to every
//! other one.
//!
//! Up to protocol revision `2025-11-25`, an MCP server may assign a session on the response to
//! `initialize` (the `Mcp-Session-Id` header), and the client sends it back on every later
//! request. A session id is not a credential: the specification requires servers to
//! authenticate every request and not to rely on sessions for authentication, and asks them to
//! bind sessions to the user taken from the verified token. An MCP server that does not (`rmcp`
//! does not) hands a session's state to anyone who presents its id together with a valid token
//! of their own: session hijacking.
//!
//! [`SessionBindingLayer`] adds that binding in front of the MCP server. It remembers which
//! principal each minted session belongs to, and answers a request that presents a session of
//! someone else exactly as the Python SDK answers a session that does not exist:
//!
//! | request | outcome |
//! |---|---|
//! | `MCP-Protocol-Version` `2026-07-28` or later | passed on untouched: the modern protocol has no sessions |
//! | no `Mcp-Session-Id` | passed on; a session id its response carries is bound to the request's principal |
//! | a session bound to the request's principal | passed on |
//! | a session bound to another principal | 404, JSON-RPC error `-32600` `Session not found`; the MCP server never sees the request |
//! | a bound session, and no [`VerifiedToken`] (an anonymous request) | 404, as above |
//! | a session id the layer does not know (never minted here, forgotten, malformed) | passed on: the MCP server answers it (404 for a session it does not have) |
//! | `DELETE` of a session bound to the request's principal, answered 2xx | passed on; the binding is forgotten |
//!
//! The principal is the `iss`, `sub` and `client_id` of the request's [`VerifiedToken`],
//! compared byte for byte (an absent `sub` or `client_id` is a value too): the same user
//! through another client application is another principal. The refusal body is
//! `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Session not found"}}`; it
//! carries a [`SessionError`] in its response extensions.
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! use http::{Request, Response, StatusCode};
//! use http_body_util::BodyExt;
//! use mcp_server_auth::session::{SessionBindingLayer, SessionError, SessionErrorKind};
//! use mcp_server_auth_dev::testing::{TestIssuer, unix_now};
//! use mcp_server_auth::{McpAuth, VerifiedToken};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // An MCP server that mints the session `s1` on its first response.
//! let calls = Arc::new(AtomicUsize::new(0));
//! let counter = Arc::clone(&calls);
//! let server = service_fn(move |_req: Request<String>| {
//!     let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
//!     async move {
//!         let mut response = Response::builder();
//!         if first {
//!             response = response.header("mcp-session-id", "s1");
//!         }
//!         Ok::<_, Infallible>(response.body(String::from("ok")).unwrap())
//!     }
//! });
//! let app = ServiceBuilder::new()
//!     .layer(SessionBindingLayer::new())
//!     .service(server);
//!
//! // Two users' tokens, verified as the bearer layer in front would verify them.
//! # let issuer = TestIssuer::new("https://auth.example.com");
//! # let resource = "https://mcp.example.com/mcp";
//! # let auth = McpAuth::builder(resource).issuer(issuer.issuer(), issuer.keys()).build()?;
//! # let verify = |subject: &str| {
//! #     let token = issuer.token().audience(resource).subject(subject).sign();
//! #     auth.validator().validate(&token, unix_now())
//! # };
//! let alice: VerifiedToken = verify("alice")?;
//! let bob: VerifiedToken = verify("bob")?;
//! let request = |token: &VerifiedToken, session: Option<&str>| {
//!     let mut request = Request::post("/mcp");
//!     if let Some(session) = session {
//!         request = request.header("mcp-session-id", session);
//!     }
//!     let mut request = request.body(String::new())?;
//!     request.extensions_mut().insert(token.clone());
//!     Ok::<_, http::Error>(request)
//! };
//!
//! // Alice initializes: the session the server mints is bound to her, and she may use it.
//! let response = app.clone().oneshot(request(&alice, None)?).await?;
//! assert_eq!(response.headers()["mcp-session-id"], "s1");
//! let response = app.clone().oneshot(request(&alice, Some("s1"))?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! // Bob, with a valid token of his own, presents her session: 404, as if it did not exist.
//! let response = app.clone().oneshot(request(&bob, Some("s1"))?).await?;
//! assert_eq!(response.status(), StatusCode::NOT_FOUND);
//! let error = response.extensions().get::<SessionError>().unwrap();
//! assert_eq!(error.kind(), SessionErrorKind::OtherPrincipal);
//! let body = response.into_body().collect().await?.to_bytes();
//! assert_eq!(
//!     serde_json::from_slice::<serde_json::Value>(&body)?,
//!     serde_json::json!({
//!         "jsonrpc": "2.0",
//!         "id": null,
//!         "error": { "code": -32600, "message": "Session not found" }
//!     })
//! );
//! // The server saw only Alice's two requests.
//! assert_eq!(calls.load(Ordering::SeqCst), 2);
//!
//! // A session id the layer never saw minted is the MCP server's to answer.
//! let response = app.oneshot(request(&bob, Some("s2"))?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Where it goes
//!
//! Inside bearer authentication, which puts the [`VerifiedToken`] in the request extensions,
//! and inside the `MCP-Protocol-Version` gate, right in front of the MCP server: step 9 of the
//! request pipeline, the order [`McpAuth::layer`](crate::McpAuth::layer) uses.
//!
//! The bindings live in the layer: every service it makes, and every clone of those, shares one
//! table (axum's `Router::layer` makes one service per route; they still share it). Two layers
//! built separately keep two tables, so build the layer once.
//!
//! # Limits
//!
//! The table is bounded. It holds at most [`max_sessions`](SessionBindingLayer::max_sessions)
//! bindings (10 000 by default) and, when full, forgets the least recently used one to make
//! room; a binding unused for [`idle_timeout`](SessionBindingLayer::idle_timeout) (24 hours by
//! default) is forgotten too. A request costs a few hash-map operations (amortized constant
//! time, never a scan of the table) under a lock held only for them, and response bodies are
//! never touched: event streams flow through as they come.
//!
//! # Security
//!
//! The binding fails open where it cannot know better: a session id the layer does not hold is
//! passed to the MCP server, which decides. That covers:
//!
//! - bindings forgotten for room or idleness: size `max_sessions` above the number of live
//!   sessions, and `idle_timeout` at least as long as the MCP server keeps an idle session
//!   (an authenticated client that opens many sessions pushes older bindings out; limit the
//!   rate of `initialize` if that matters to you);
//! - sessions minted for anonymous requests (no [`VerifiedToken`]), which have no principal to
//!   bind to, and minted ids that are not visible ASCII or are longer than 256 bytes, which the
//!   specification does not allow;
//! - several server instances: the table belongs to one process. If the MCP server shares
//!   sessions between instances (`rmcp` can restore a session from an external store), route
//!   each session to the instance that minted it, or a request reaching another instance is
//!   not checked.
//!
//! A bound session is never handed to another principal, even when the MCP server announces
//! it again on someone else's response. Session ids are never logged. The refusal matches the
//! Python SDK's answer to an unknown session; `rmcp` answers one with a plain-text 404, so a
//! client can tell "bound to someone else" from "unknown" there, which tells it only that an id
//! it already holds exists. None of this replaces authentication: every request still needs its
//! token.
//!
//! # Application state handles
//!
//! The modern protocol has no sessions, but applications keep state behind handles of their
//! own (a cart, a workflow, an upload), and possessing a handle must not grant access to the
//! state either. [`bind_handle`] makes the storage key that ties a handle to the principal.
//!
//! Specifications: [2025-11-25 transports, "Session Management"][s25], [Security Best
//! Practices, "Session Hijacking"][sbp].
//!
//! [s25]: https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#session-management
//! [sbp]: https://modelcontextprotocol.io/specification/2025-11-25/basic/security_best_practices#session-hijacking

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::body::{FullBody, ResponseBody, jsonrpc_error};
use crate::protocol_version::ProtocolVersion;
use crate::token::VerifiedToken;

/// The `Mcp-Session-Id` header (`MCP-Session-Id` in `2025-11-25`; header names are
/// case-insensitive).
pub const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");

/// The longest session id the layer binds, in bytes. Longer ids are treated as unknown.
const MAX_SESSION_ID_LEN: usize = 256;

/// The JSON-RPC error code of the refusal (`Invalid Request`), as the Python SDK sends it.
const JSONRPC_CODE: i64 = -32600;

/// The JSON-RPC error message of the refusal: the same as for a session that does not exist.
const JSONRPC_MESSAGE: &str = "Session not found";

/// How many stale records the order queue may hold beyond twice the bindings before it is
/// compacted.
const COMPACT_SLACK: usize = 32;

/// How much the table holds, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limits {
    /// At least 1.
    max_sessions: usize,
    /// At least [`Limits::MIN_IDLE_TIMEOUT`].
    idle_timeout: Duration,
}

impl Limits {
    const DEFAULT: Limits = Limits {
        max_sessions: 10_000,
        idle_timeout: Duration::from_secs(24 * 60 * 60),
    };

    const MIN_IDLE_TIMEOUT: Duration = Duration::from_secs(1);
}

/// Binds legacy MCP sessions to the principal they were minted for. See the
/// [module docs](self).
///
/// Cloning is cheap, and clones share one table of bindings.
#[derive(Debug, Clone)]
#[must_use]
pub struct SessionBindingLayer {
    store: Arc<Store>,
}

impl SessionBindingLayer {
    /// A layer with an empty table and the default limits: 10 000 bindings, forgotten after
    /// 24 hours without use.
    pub fn new() -> Self {
        Self::with_limits(Limits::DEFAULT)
    }

    /// The most bindings the table holds; when it is full, the least recently used binding is
    /// forgotten to make room. Defaults to 10 000; 0 counts as 1.
    ///
    /// The layer gets a new, empty table: set limits before it wraps a service.
    ///
    /// # Security
    /// A forgotten binding makes its session id unknown, and unknown ids are passed to the MCP
    /// server. Allow for more sessions than are ever alive at once.
    pub fn max_sessions(self, max: usize) -> Self {
        Self::with_limits(Limits {
            max_sessions: max.max(1),
            ..self.store.limits
        })
    }

    /// How long a binding lasts without being used (a request presenting its session, or a
    /// response announcing it) before it is forgotten. Defaults to 24 hours; values under one
    /// second count as one second.
    ///
    /// The layer gets a new, empty table: set limits before it wraps a service.
    ///
    /// # Security
    /// Make it at least as long as the MCP server keeps an idle session: once the binding is
    /// gone, the session id is unknown and passed to the MCP server.
    pub fn idle_timeout(self, timeout: Duration) -> Self {
        Self::with_limits(Limits {
            idle_timeout: timeout.max(Limits::MIN_IDLE_TIMEOUT),
            ..self.store.limits
        })
    }

    fn with_limits(limits: Limits) -> Self {
        SessionBindingLayer {
            store: Arc::new(Store::new(limits)),
        }
    }
}

impl Default for SessionBindingLayer {
    /// [`SessionBindingLayer::new`].
    fn default() -> Self {
        SessionBindingLayer::new()
    }
}

impl<S> Layer<S> for SessionBindingLayer {
    type Service = SessionBinding<S>;

    fn layer(&self, inner: S) -> SessionBinding<S> {
        SessionBinding {
            inner,
            store: Arc::clone(&self.store),
        }
    }
}

/// Middleware refusing legacy sessions presented by a principal other than the one they were
/// minted for, and passing every other request on untouched. See the [module docs](self).
///
/// Clones share one table of bindings.
#[derive(Debug, Clone)]
pub struct SessionBinding<S> {
    inner: S,
    store: Arc<Store>,
}

impl<S> SessionBinding<S> {
    /// Wraps `inner`, with a table of its own and the default limits.
    pub fn new(inner: S) -> Self {
        SessionBindingLayer::new().layer(inner)
    }

    /// A layer with the default limits; see [`SessionBindingLayer::new`].
    pub fn layer() -> SessionBindingLayer {
        SessionBindingLayer::new()
    }

    crate::macros::inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionBinding<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let token = request.extensions().get::<VerifiedToken>();
        match admit(
            &self.store,
            request.method(),
            request.headers(),
            token,
            Instant::now(),
        ) {
            Ok(after) => ResponseFuture::inner(self.inner.call(request), after),
            Err(error) => {
                tracing::debug!(
                    target: crate::observe::TRACE_TARGET,
                    %error,
                    method = request.method().as_str(),
                    path = request.uri().path(),
                    "session refused"
                );
                let id = crate::body::request_id(request.extensions());
                let mut response =
                    jsonrpc_error(error.status(), JSONRPC_CODE, JSONRPC_MESSAGE, None, id);
                response.extensions_mut().insert(error);
                crate::body::close_if_body_pending(&request, &mut response);
                ResponseFuture::refused(response)
            }
        }
    }
}

pin_project! {
    /// Response future of [`SessionBinding`]: the MCP server's response, once its headers have
    /// been read for a minted session, or the layer's refusal.
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Inner { #[pin] future: F, after: Option<After> },
        Refused { response: Option<Response<FullBody>> },
    }
}

impl<F> ResponseFuture<F> {
    fn inner(future: F, after: Option<After>) -> Self {
        ResponseFuture {
            state: State::Inner { future, after },
        }
    }

    fn refused(response: Response<FullBody>) -> Self {
        ResponseFuture {
            state: State::Refused {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future, after } => {
                let response = ready!(future.poll(cx))?;
                if let Some(after) = after.take() {
                    after.complete(response.status(), response.headers(), Instant::now());
                }
                Poll::Ready(Ok(response.map(ResponseBody::inner)))
            }
            StateProj::Refused { response } => {
                let response = response
                    .take()
                    .unwrap_or_else(crate::body::polled_after_completion);
                Poll::Ready(Ok(response.map(ResponseBody::full)))
            }
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

/// Why the layer refused a request: it presented a session bound to another principal. The
/// refusal is always 404 Not Found, the answer to a session that does not exist. Found in the
/// response extensions of the refusal, which never reach the client.
///
/// Its `Display` text is short and never repeats the session id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionError {
    kind: SessionErrorKind,
}

/// The class of a [`SessionError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionErrorKind {
    /// The session is bound to a principal other than the request's.
    OtherPrincipal,
    /// The session is bound to a principal, and the request carries no [`VerifiedToken`].
    Unauthenticated,
}

impl SessionError {
    fn new(kind: SessionErrorKind) -> Self {
        SessionError { kind }
    }

    /// What was wrong.
    pub fn kind(&self) -> SessionErrorKind {
        self.kind
    }

    /// The status code of the refusal: always 404 Not Found.
    pub fn status(&self) -> StatusCode {
        StatusCode::NOT_FOUND
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            SessionErrorKind::OtherPrincipal => "session bound to another principal",
            SessionErrorKind::Unauthenticated => "session bound to a principal, request anonymous",
        })
    }
}

impl std::error::Error for SessionError {}

/// The key under which to store application state named by `handle` (a cart id, a workflow id,
/// an upload id) for the principal of `token`.
///
/// Look state up under this key, never under the bare handle: a handle that leaks to another
/// user, or that another user guesses, then names nothing for them. The key is
/// `<issuer>\u{1f}<user>\u{1f}<handle>`, where the user is the token's `sub`, or its
/// `client_id` when there is no `sub`, and the issuer and user are length-prefixed and the user
/// tagged with its claim, so that no two (principal, handle) pairs share a key whatever bytes
/// they contain:
///
/// ```
/// use mcp_server_auth::session::bind_handle;
/// # use mcp_server_auth::McpAuth;
/// # use mcp_server_auth_dev::testing::{TestIssuer, unix_now};
/// # let issuer = TestIssuer::new("https://auth.example.com");
/// # let resource = "https://mcp.example.com/mcp";
/// # let auth = McpAuth::builder(resource).issuer(issuer.issuer(), issuer.keys()).build()?;
/// # let verify = |subject: &str| {
/// #     let token = issuer.token().audience(resource).subject(subject).sign();
/// #     auth.validator().validate(&token, unix_now())
/// # };
/// let alice = verify("alice")?; // iss https://auth.example.com, sub alice
/// let bob = verify("bob")?;
///
/// let key = bind_handle(&alice, "cart-42");
/// assert_eq!(key, "24:https://auth.example.com\u{1f}sub:5:alice\u{1f}cart-42");
/// assert_ne!(bind_handle(&bob, "cart-42"), key);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The key is a stable encoding: store it. For a legacy session's state, pass the session id
/// as the handle.
///
/// # Security
/// This is the binding the MCP security best practices ask for ("State Handle Hijacking",
/// 2026-07-28; "Session Hijacking" before): handles still need to be random and unguessable,
/// and possessing one still grants nothing without a valid token. The user is the `sub` claim,
/// so one user's clients share state; tokens carrying neither `sub` nor `client_id` all share
/// one user per issuer.
pub fn bind_handle(token: &VerifiedToken, handle: &str) -> String {
    let issuer = token.issuer();
    let (claim, user) = match (token.subject(), token.client_id()) {
        (Some(subject), _) => ("sub", subject),
        (None, Some(client_id)) => ("client_id", client_id),
        (None, None) => ("none", ""),
    };
    format!(
        "{}:{issuer}\u{1f}{claim}:{}:{user}\u{1f}{handle}",
        issuer.len(),
        user.len()
    )
}

/// The session id in `value`, if it is one the layer binds: 1 to [`MAX_SESSION_ID_LEN`] bytes
/// of visible ASCII (0x21 to 0x7E), as the specification requires.
fn session_id(value: &HeaderValue) -> Option<&str> {
    let bytes = value.as_bytes();
    if bytes.is_empty()
        || bytes.len() > MAX_SESSION_ID_LEN
        || !bytes.iter().all(|b| matches!(b, 0x21..=0x7e))
    {
        return None;
    }
    std::str::from_utf8(bytes).ok()
}

/// Decides whether a request may proceed: an error when it presents a session bound to a
/// principal other than its own (every `Mcp-Session-Id` value is checked, since servers may
/// read any of them). When it may, what to do with the response, if anything.
fn admit(
    store: &Arc<Store>,
    method: &Method,
    headers: &HeaderMap,
    token: Option<&VerifiedToken>,
    now: Instant,
) -> Result<Option<After>, SessionError> {
    if ProtocolVersion::from_headers(headers)
        .version()
        .is_some_and(ProtocolVersion::is_modern)
    {
        return Ok(None);
    }
    let mut presented = headers.get_all(MCP_SESSION_ID).iter();
    let first = presented.next();
    let repeated = presented.next().is_some();
    if first.is_some() {
        let mut table = store.lock();
        for value in headers.get_all(MCP_SESSION_ID) {
            let Some(id) = session_id(value) else {
                continue;
            };
            if table.check(id, token, now) == Holder::Other {
                return Err(SessionError::new(match token {
                    Some(_) => SessionErrorKind::OtherPrincipal,
                    None => SessionErrorKind::Unauthenticated,
                }));
            }
        }
    }
    // Without a principal there is nothing to bind the response's session to.
    let Some(token) = token else {
        return Ok(None);
    };
    let delete = match first.and_then(session_id) {
        Some(id) if method == Method::DELETE && !repeated => Some(Box::from(id)),
        _ => None,
    };
    Ok(Some(After {
        store: Arc::clone(store),
        token: token.clone(),
        delete,
    }))
}

/// What to do with the MCP server's response to a request that passed.
struct After {
    store: Arc<Store>,
    /// The request's principal.
    token: VerifiedToken,
    /// The session a `DELETE` request names.
    delete: Option<Box<str>>,
}

impl After {
    /// Forgets the session a successful `DELETE` ended; otherwise binds every session id the
    /// response carries to the request's principal.
    fn complete(self, status: StatusCode, headers: &HeaderMap, now: Instant) {
        if let Some(id) = &self.delete
            && status.is_success()
        {
            // Nothing else is bound: servers may echo the ended session's id on this response.
            self.store.lock().forget(id, &self.token);
            return;
        }
        if !headers.contains_key(MCP_SESSION_ID) {
            return;
        }
        let mut table = self.store.lock();
        for value in headers.get_all(MCP_SESSION_ID) {
            let Some(id) = session_id(value) else {
                tracing::debug!(
                    target: crate::observe::TRACE_TARGET,
                    "malformed session id in response, not bound"
                );
                continue;
            };
            if table.bind(id, &self.token, now) == Bind::Conflict {
                tracing::debug!(
                    target: crate::observe::TRACE_TARGET,
                    "response announces a session bound to another principal, binding kept"
                );
            }
        }
    }
}

/// The bindings shared by a layer and its services.
struct Store {
    limits: Limits,
    table: Mutex<Table>,
}

impl Store {
    fn new(limits: Limits) -> Self {
        Store {
            limits,
            table: Mutex::new(Table::new(limits)),
        }
    }

    /// The table. Nothing panics while holding the lock, but a poisoned table is still a
    /// consistent one, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the session ids: they are secrets of their clients.
        f.debug_struct("SessionBindings")
            .field("max_sessions", &self.limits.max_sessions)
            .field("idle_timeout", &self.limits.idle_timeout)
            .finish_non_exhaustive()
    }
}

/// Whom a session is bound to, as seen by a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    /// No binding: never minted here, or forgotten.
    Unknown,
    /// Bound to the request's principal.
    Caller,
    /// Bound to another principal (or the request has none).
    Other,
}

/// The outcome of [`Table::bind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bind {
    /// A new binding.
    New,
    /// Already bound to the same principal; its last use is now.
    Refreshed,
    /// Bound to another principal, and left so.
    Conflict,
}

/// Who a token belongs to: its `iss`, `sub` and `client_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Principal {
    issuer: Box<str>,
    subject: Option<Box<str>>,
    client_id: Option<Box<str>>,
}

impl Principal {
    fn of(token: &VerifiedToken) -> Self {
        Principal {
            issuer: token.issuer().into(),
            subject: token.subject().map(Box::from),
            client_id: token.client_id().map(Box::from),
        }
    }

    fn is(&self, token: &VerifiedToken) -> bool {
        *self.issuer == *token.issuer()
            && self.subject.as_deref() == token.subject()
            && self.client_id.as_deref() == token.client_id()
    }
}

/// One binding.
struct Entry {
    /// The session id, shared with the map key and the order queue.
    id: Arc<str>,
    principal: Principal,
    last_used: Instant,
    /// The sequence number of this binding's current record in [`Table::order`].
    seq: u64,
}

/// Session id → principal, bounded in size and idle time.
///
/// `order` lists the bindings by last use, oldest first, so that both the least recently used
/// binding (evicted when the table is full) and the idle ones (expired) sit at its front. Each
/// use pushes a new record and leaves the older one stale: a record is current only while its
/// sequence number is its entry's. Stale records are skipped at the front and compacted away
/// once they outnumber the bindings, so every operation costs amortized O(1).
struct Table {
    limits: Limits,
    entries: HashMap<Arc<str>, Entry>,
    order: VecDeque<(Arc<str>, u64)>,
    next_seq: u64,
}

impl Table {
    fn new(limits: Limits) -> Self {
        Table {
            limits,
            entries: HashMap::new(),
            order: VecDeque::new(),
            next_seq: 0,
        }
    }

    /// Whom `id` is bound to, as seen by the holder of `token`. A use by its principal makes
    /// the binding the most recently used.
    fn check(&mut self, id: &str, token: Option<&VerifiedToken>, now: Instant) -> Holder {
        self.expire(now);
        let (expired, caller) = match self.entries.get(id) {
            None => return Holder::Unknown,
            Some(entry) => (
                self.is_expired(entry, now),
                token.is_some_and(|token| entry.principal.is(token)),
            ),
        };
        if expired {
            // Records pushed slightly out of time order can leave an expired binding behind a
            // live one; it expires when found.
            self.entries.remove(id);
            return Holder::Unknown;
        }
        if !caller {
            return Holder::Other;
        }
        self.touch(id, now);
        Holder::Caller
    }

    /// Binds `id` to the principal of `token`, unless another principal holds it: a binding
    /// never moves.
    fn bind(&mut self, id: &str, token: &VerifiedToken, now: Instant) -> Bind {
        match self.check(id, Some(token), now) {
            Holder::Caller => Bind::Refreshed,
            Holder::Other => Bind::Conflict,
            Holder::Unknown => {
                while self.entries.len() >= self.limits.max_sessions && self.evict_oldest() {}
                let id: Arc<str> = id.into();
                let seq = self.push(&id);
                let entry = Entry {
                    id: Arc::clone(&id),
                    principal: Principal::of(token),
                    last_used: now,
                    seq,
                };
                self.entries.insert(id, entry);
                self.compact();
                Bind::New
            }
        }
    }

    /// Forgets `id` if it is bound to the principal of `token`.
    fn forget(&mut self, id: &str, token: &VerifiedToken) {
        if self
            .entries
            .get(id)
            .is_some_and(|entry| entry.principal.is(token))
        {
            self.entries.remove(id);
            self.compact();
        }
    }

    fn is_expired(&self, entry: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(entry.last_used) >= self.limits.idle_timeout
    }

    /// Marks the binding of `id` as used `now`.
    fn touch(&mut self, id: &str, now: Instant) {
        let Some(shared) = self.entries.get(id).map(|entry| Arc::clone(&entry.id)) else {
            return;
        };
        let seq = self.push(&shared);
        if let Some(entry) = self.entries.get_mut(id) {
            entry.last_used = now;
            entry.seq = seq;
        }
        self.compact();
    }

    /// Appends a record for `id` to the order queue and returns its sequence number.
    fn push(&mut self, id: &Arc<str>) -> u64 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.order.push_back((Arc::clone(id), seq));
        seq
    }

    /// Forgets the idle bindings at the front of the order queue, up to the first binding
    /// still in use.
    fn expire(&mut self, now: Instant) {
        while let Some((id, seq)) = self.order.front() {
            if let Some(entry) = self.entries.get(&**id).filter(|e| e.seq == *seq) {
                if !self.is_expired(entry, now) {
                    break;
                }
                self.entries.remove(&**id);
            }
            self.order.pop_front();
        }
    }

    /// Forgets the least recently used binding; `false` if there is none.
    fn evict_oldest(&mut self) -> bool {
        while let Some((id, seq)) = self.order.pop_front() {
            if self.entries.get(&*id).is_some_and(|e| e.seq == seq) {
                self.entries.remove(&*id);
                return true;
            }
        }
        false
    }

    /// Drops the stale records once they outnumber the current ones (plus some slack): each
    /// compaction costs at most twice the stale records it removes.
    fn compact(&mut self) {
        if self.order.len() > 2 * self.entries.len() + COMPACT_SLACK {
            let entries = &self.entries;
            self.order
                .retain(|(id, seq)| entries.get(&**id).is_some_and(|e| e.seq == *seq));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use std::collections::HashSet;
    use std::convert::Infallible;
    use std::future::{Ready, ready};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;
    use http_body_util::BodyExt;
    use serde_json::Map;
    use tower::ServiceExt;

    use super::*;

    fn token(issuer: &str, subject: Option<&str>, client_id: Option<&str>) -> VerifiedToken {
        VerifiedToken::new(
            issuer.to_owned(),
            subject.map(str::to_owned),
            client_id.map(str::to_owned),
            vec!["https://mcp.example.com/mcp".to_owned()],
            vec!["mcp:tools".to_owned()],
            0,
            Map::new(),
        )
    }

    const ISSUER: &str = "https://auth.example.com";

    fn alice() -> VerifiedToken {
        token(ISSUER, Some("alice"), Some("app"))
    }

    fn bob() -> VerifiedToken {
        token(ISSUER, Some("bob"), Some("app"))
    }

    /// A stand-in MCP server: counts its calls, answers each `x-mint` request header with an
    /// `Mcp-Session-Id` response header and takes its status from `x-status`.
    #[derive(Clone, Default)]
    struct Server {
        calls: Arc<AtomicUsize>,
    }

    impl Server {
        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl Service<Request<()>> for Server {
        type Response = Response<String>;
        type Error = Infallible;
        type Future = Ready<Result<Response<String>, Infallible>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<()>) -> Self::Future {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut response = Response::new(String::from("inner"));
            for value in request.headers().get_all("x-mint") {
                response.headers_mut().append(MCP_SESSION_ID, value.clone());
            }
            if let Some(status) = request.headers().get("x-status") {
                *response.status_mut() = StatusCode::from_bytes(status.as_bytes()).unwrap();
            }
            ready(Ok(response))
        }
    }

    /// A request builder: method POST, path `/mcp`.
    #[derive(Clone, Default)]
    struct Req {
        method: Option<Method>,
        token: Option<VerifiedToken>,
        headers: Vec<(&'static str, Vec<u8>)>,
    }

    fn req(token: Option<VerifiedToken>) -> Req {
        Req {
            token,
            ..Req::default()
        }
    }

    impl Req {
        fn method(mut self, method: Method) -> Self {
            self.method = Some(method);
            self
        }

        fn header(mut self, name: &'static str, value: impl AsRef<[u8]>) -> Self {
            self.headers.push((name, value.as_ref().to_vec()));
            self
        }

        fn session(self, id: impl AsRef<[u8]>) -> Self {
            self.header("mcp-session-id", id)
        }

        fn mint(self, id: impl AsRef<[u8]>) -> Self {
            self.header("x-mint", id)
        }

        fn build(self) -> Request<()> {
            let mut request = Request::builder()
                .method(self.method.unwrap_or(Method::POST))
                .uri("/mcp");
            for (name, value) in self.headers {
                request = request.header(name, HeaderValue::from_bytes(&value).unwrap());
            }
            let mut request = request.body(()).unwrap();
            if let Some(token) = self.token {
                request.extensions_mut().insert(token);
            }
            request
        }
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// Sends `request` through `service`; the response without its body, and the body.
    fn send(service: &SessionBinding<Server>, request: Req) -> (Response<()>, Bytes) {
        block_on(async {
            let response = service.clone().oneshot(request.build()).await.unwrap();
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await.unwrap().to_bytes();
            (Response::from_parts(parts, ()), bytes)
        })
    }

    fn status(service: &SessionBinding<Server>, request: Req) -> StatusCode {
        send(service, request).0.status()
    }

    fn bound(service: &SessionBinding<Server>) -> usize {
        service.store.lock().entries.len()
    }

    fn service(layer: &SessionBindingLayer) -> SessionBinding<Server> {
        layer.layer(Server::default())
    }

    /// A service where Alice holds the session `s1`.
    fn with_alice_session() -> SessionBinding<Server> {
        let service = service(&SessionBindingLayer::new());
        let (response, _) = send(&service, req(Some(alice())).mint("s1"));
        assert_eq!(response.headers()["mcp-session-id"], "s1");
        assert_eq!(bound(&service), 1);
        service
    }

    fn assert_session_not_found(response: &Response<()>, body: &Bytes, kind: SessionErrorKind) {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert!(response.headers().get(MCP_SESSION_ID).is_none());
        let json: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": { "code": -32600, "message": "Session not found" }
            })
        );
        let error = response.extensions().get::<SessionError>().unwrap();
        assert_eq!(error.kind(), kind);
        assert_eq!(error.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn minted_session_is_served_to_its_principal() {
        let service = with_alice_session();
        for method in [Method::POST, Method::GET] {
            let (response, body) = send(&service, req(Some(alice())).method(method).session("s1"));
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(body, "inner");
            assert!(response.extensions().get::<SessionError>().is_none());
        }
        // A token of the same principal, issued later, is the same principal.
        assert_eq!(
            status(&service, req(Some(alice())).session("s1")),
            StatusCode::OK
        );
        assert_eq!(service.get_ref().calls(), 4);
    }

    #[test]
    fn session_of_another_principal_gets_404_and_never_reaches_the_server() {
        let service = with_alice_session();
        for method in [Method::POST, Method::GET, Method::DELETE] {
            let (response, body) = send(
                &service,
                req(Some(bob())).method(method.clone()).session("s1"),
            );
            assert_session_not_found(&response, &body, SessionErrorKind::OtherPrincipal);
        }
        assert_eq!(service.get_ref().calls(), 1);
        // Bob's DELETE did not end Alice's binding.
        assert_eq!(bound(&service), 1);
        assert_eq!(
            status(&service, req(Some(alice())).session("s1")),
            StatusCode::OK
        );
    }

    #[test]
    fn principal_is_issuer_subject_and_client_id() {
        let others = [
            (
                "another issuer",
                token("https://other.example.com", Some("alice"), Some("app")),
            ),
            (
                "another client",
                token(ISSUER, Some("alice"), Some("other-app")),
            ),
            ("no client id", token(ISSUER, Some("alice"), None)),
            ("no subject", token(ISSUER, None, Some("app"))),
            (
                "subject case differs",
                token(ISSUER, Some("Alice"), Some("app")),
            ),
            (
                "client id as subject",
                token(ISSUER, Some("app"), Some("alice")),
            ),
        ];
        let service = with_alice_session();
        for (name, other) in others {
            let (response, body) = send(&service, req(Some(other)).session("s1"));
            assert_session_not_found(&response, &body, SessionErrorKind::OtherPrincipal);
            assert_eq!(service.get_ref().calls(), 1, "{name}");
        }
    }

    #[test]
    fn unknown_session_passes_to_the_server() {
        let service = with_alice_session();
        for token in [Some(alice()), Some(bob()), None] {
            let (response, body) = send(&service, req(token).session("s2"));
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(body, "inner");
        }
        assert_eq!(service.get_ref().calls(), 4);
        assert_eq!(bound(&service), 1);
    }

    #[test]
    fn bound_session_without_a_token_gets_404() {
        let service = with_alice_session();
        let (response, body) = send(&service, req(None).session("s1"));
        assert_session_not_found(&response, &body, SessionErrorKind::Unauthenticated);
        assert_eq!(service.get_ref().calls(), 1);
    }

    #[test]
    fn anonymous_sessions_are_not_bound() {
        let service = service(&SessionBindingLayer::new());
        let (response, _) = send(&service, req(None).mint("anon"));
        assert_eq!(response.headers()["mcp-session-id"], "anon");
        assert_eq!(bound(&service), 0);
        assert_eq!(
            status(&service, req(Some(bob())).session("anon")),
            StatusCode::OK
        );
    }

    #[test]
    fn delete_answered_2xx_forgets_the_binding() {
        for code in ["200", "202", "204"] {
            let service = with_alice_session();
            let delete = req(Some(alice()))
                .method(Method::DELETE)
                .session("s1")
                .header("x-status", code);
            assert_eq!(status(&service, delete).as_str(), code);
            assert_eq!(bound(&service), 0, "{code}");
            // The id is unknown now: the MCP server answers for it.
            assert_eq!(
                status(&service, req(Some(bob())).session("s1")),
                StatusCode::OK
            );
        }
    }

    #[test]
    fn delete_the_server_refuses_keeps_the_binding() {
        for code in ["405", "404", "500"] {
            let service = with_alice_session();
            let delete = req(Some(alice()))
                .method(Method::DELETE)
                .session("s1")
                .header("x-status", code);
            assert_eq!(status(&service, delete).as_str(), code);
            assert_eq!(bound(&service), 1, "{code}");
            let (response, body) = send(&service, req(Some(bob())).session("s1"));
            assert_session_not_found(&response, &body, SessionErrorKind::OtherPrincipal);
        }
    }

    #[test]
    fn only_delete_forgets() {
        let service = with_alice_session();
        for method in [Method::POST, Method::GET, Method::PUT] {
            let request = req(Some(alice())).method(method).session("s1");
            assert_eq!(status(&service, request), StatusCode::OK);
        }
        assert_eq!(bound(&service), 1);
    }

    #[test]
    fn bound_session_is_never_rebound_to_another_principal() {
        let service = with_alice_session();
        // The server announces Alice's session on a response to Bob (a server bug, or Bob
        // asked it to): the binding stays hers.
        let (response, _) = send(&service, req(Some(bob())).mint("s1"));
        assert_eq!(response.status(), StatusCode::OK);
        let (response, body) = send(&service, req(Some(bob())).session("s1"));
        assert_session_not_found(&response, &body, SessionErrorKind::OtherPrincipal);
        assert_eq!(
            status(&service, req(Some(alice())).session("s1")),
            StatusCode::OK
        );
    }

    #[test]
    fn session_minted_on_any_response_is_bound_to_the_caller() {
        let service = with_alice_session();
        // Alice presents her session and the server answers with a new one: hers too.
        assert_eq!(
            status(&service, req(Some(alice())).session("s1").mint("s2")),
            StatusCode::OK
        );
        // An error response that mints a session still binds it.
        let request = req(Some(alice())).mint("s3").header("x-status", "400");
        assert_eq!(status(&service, request), StatusCode::BAD_REQUEST);
        assert_eq!(bound(&service), 3);
        for id in ["s1", "s2", "s3"] {
            assert_eq!(
                status(&service, req(Some(bob())).session(id)),
                StatusCode::NOT_FOUND,
                "{id}"
            );
        }
    }

    #[test]
    fn every_repeated_session_header_is_checked() {
        let service = with_alice_session();
        // Servers may read either value (`rmcp` reads the first).
        for values in [["s1", "s2"], ["s2", "s1"], ["s1", "s1"], ["bad id", "s1"]] {
            let request = req(Some(bob())).session(values[0]).session(values[1]);
            let (response, body) = send(&service, request);
            assert_session_not_found(&response, &body, SessionErrorKind::OtherPrincipal);
        }
        let request = req(Some(alice())).session("s1").session("s2");
        assert_eq!(status(&service, request), StatusCode::OK);
        assert_eq!(service.get_ref().calls(), 2);
    }

    #[test]
    fn repeated_session_headers_on_delete_forget_nothing() {
        let service = with_alice_session();
        let delete = req(Some(alice()))
            .method(Method::DELETE)
            .session("s1")
            .session("s1");
        assert_eq!(status(&service, delete), StatusCode::OK);
        assert_eq!(bound(&service), 1);
    }

    #[test]
    fn modern_requests_are_not_touched() {
        let service = with_alice_session();
        let version = "2026-07-28";
        // Bob's modern request carrying Alice's session id passes: no sessions there.
        let request = req(Some(bob()))
            .header("mcp-protocol-version", version)
            .session("s1");
        assert_eq!(status(&service, request), StatusCode::OK);
        // A modern response's session header is not bound.
        let request = req(Some(bob()))
            .header("mcp-protocol-version", version)
            .mint("m1");
        assert_eq!(status(&service, request), StatusCode::OK);
        assert_eq!(bound(&service), 1);
        // Nor does a modern DELETE forget anything.
        let request = req(Some(alice()))
            .method(Method::DELETE)
            .header("mcp-protocol-version", version)
            .session("s1");
        assert_eq!(status(&service, request), StatusCode::OK);
        assert_eq!(bound(&service), 1);
        // Legacy, absent, unknown and repeated versions are all checked.
        let legacy: [&[&str]; 5] = [
            &["2025-11-25"],
            &["2025-03-26"],
            &[],
            &["2099-01-01"],
            &["2026-07-28", "2026-07-28"],
        ];
        for versions in legacy {
            let mut request = req(Some(bob())).session("s1");
            for version in versions {
                request = request.header("mcp-protocol-version", version);
            }
            assert_eq!(
                status(&service, request),
                StatusCode::NOT_FOUND,
                "{versions:?}"
            );
        }
    }

    #[test]
    fn malformed_session_ids_are_unknown() {
        let longest = "a".repeat(256);
        let too_long = "a".repeat(257);
        let cases: [(&str, &[u8], bool); 8] = [
            ("visible ascii", b"a-Z_0.9~!", true),
            ("256 bytes", longest.as_bytes(), true),
            ("257 bytes", too_long.as_bytes(), false),
            ("inner space", b"s 1", false),
            ("tab", b"s\t1", false),
            ("non-ascii", "s\u{e9}".as_bytes(), false),
            ("non-utf-8", b"s\xff", false),
            ("empty", b"", false),
        ];
        for (name, id, valid) in cases {
            let service = service(&SessionBindingLayer::new());
            let (response, _) = send(&service, req(Some(alice())).mint(id));
            assert_eq!(
                response.headers()["mcp-session-id"].as_bytes(),
                id,
                "{name}"
            );
            assert_eq!(bound(&service), usize::from(valid), "{name}");
            let expected = if valid {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            assert_eq!(
                status(&service, req(Some(bob())).session(id)),
                expected,
                "{name}"
            );
            assert_eq!(
                session_id(&HeaderValue::from_bytes(id).unwrap()).is_some(),
                valid,
                "{name}"
            );
        }
    }

    #[test]
    fn full_table_forgets_the_least_recently_used_binding() {
        let layer = SessionBindingLayer::new().max_sessions(2);
        let service = service(&layer);
        for id in ["s1", "s2"] {
            assert_eq!(
                status(&service, req(Some(alice())).mint(id)),
                StatusCode::OK
            );
        }
        // Using s1 makes s2 the least recently used.
        assert_eq!(
            status(&service, req(Some(alice())).session("s1")),
            StatusCode::OK
        );
        assert_eq!(
            status(&service, req(Some(alice())).mint("s3")),
            StatusCode::OK
        );
        assert_eq!(bound(&service), 2);
        assert_eq!(
            status(&service, req(Some(bob())).session("s2")),
            StatusCode::OK,
            "s2 was forgotten"
        );
        for id in ["s1", "s3"] {
            assert_eq!(
                status(&service, req(Some(bob())).session(id)),
                StatusCode::NOT_FOUND,
                "{id}"
            );
        }
    }

    fn limits(max_sessions: usize, idle_secs: u64) -> Limits {
        Limits {
            max_sessions,
            idle_timeout: Duration::from_secs(idle_secs),
        }
    }

    #[test]
    fn table_evicts_in_order_of_last_use() {
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let mut table = Table::new(limits(3, 3600));
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            assert_eq!(table.bind(id, &alice(), at(i as u64)), Bind::New);
        }
        assert_eq!(table.check("a", Some(&alice()), at(3)), Holder::Caller);
        assert_eq!(table.bind("b", &alice(), at(4)), Bind::Refreshed);
        // Least recently used: c, then a.
        assert_eq!(table.bind("d", &bob(), at(5)), Bind::New);
        assert_eq!(table.check("c", Some(&alice()), at(5)), Holder::Unknown);
        assert_eq!(table.bind("e", &bob(), at(6)), Bind::New);
        assert_eq!(table.check("a", Some(&alice()), at(6)), Holder::Unknown);
        assert_eq!(table.check("b", Some(&alice()), at(6)), Holder::Caller);
        assert_eq!(table.check("d", Some(&bob()), at(6)), Holder::Caller);
        assert_eq!(table.check("e", Some(&alice()), at(6)), Holder::Other);
        assert_eq!(table.entries.len(), 3);
    }

    #[test]
    fn idle_bindings_expire_and_use_keeps_them() {
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let mut table = Table::new(limits(10, 100));
        assert_eq!(table.bind("a", &alice(), at(0)), Bind::New);
        assert_eq!(table.bind("b", &alice(), at(0)), Bind::New);
        // A use at 60 s keeps `a` until 160 s; `b`, unused, goes at 100 s.
        assert_eq!(table.check("a", Some(&alice()), at(60)), Holder::Caller);
        assert_eq!(table.check("b", Some(&bob()), at(99)), Holder::Other);
        assert_eq!(table.check("b", Some(&bob()), at(100)), Holder::Unknown);
        assert_eq!(table.entries.len(), 1, "expired from the front");
        assert_eq!(table.check("a", Some(&bob()), at(159)), Holder::Other);
        // A refused use is not a use.
        assert_eq!(table.check("a", Some(&alice()), at(160)), Holder::Unknown);
        assert!(table.entries.is_empty());
        // Once expired, the id can be bound afresh.
        assert_eq!(table.bind("a", &bob(), at(161)), Bind::New);
        assert_eq!(table.check("a", Some(&bob()), at(161)), Holder::Caller);
    }

    #[test]
    fn expired_binding_behind_a_live_one_is_dropped_when_found() {
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let mut table = Table::new(limits(10, 100));
        // Records pushed out of time order (two threads read the clock, the later one locks
        // first): `late` sits behind `early` but was used earlier.
        assert_eq!(table.bind("early", &alice(), at(50)), Bind::New);
        assert_eq!(table.bind("late", &alice(), at(0)), Bind::New);
        assert_eq!(table.check("late", Some(&bob()), at(120)), Holder::Unknown);
        assert_eq!(table.check("early", Some(&bob()), at(120)), Holder::Other);
    }

    #[test]
    fn table_stays_bounded_under_churn() {
        let start = Instant::now();
        let mut table = Table::new(limits(100, 3600));
        let token = alice();
        for i in 0..10_000u64 {
            let now = start + Duration::from_millis(i);
            let id = format!("s{}", i % 150);
            match i % 3 {
                0 => {
                    table.bind(&id, &token, now);
                }
                1 => {
                    table.check(&id, Some(&token), now);
                }
                _ => table.forget(&id, &token),
            }
            assert!(table.entries.len() <= 100);
            assert!(table.order.len() <= 2 * table.entries.len() + COMPACT_SLACK + 1);
        }
    }

    #[test]
    fn forget_needs_the_principal() {
        let now = Instant::now();
        let mut table = Table::new(Limits::DEFAULT);
        table.bind("a", &alice(), now);
        table.forget("a", &bob());
        assert_eq!(table.check("a", Some(&alice()), now), Holder::Caller);
        table.forget("a", &alice());
        assert_eq!(table.check("a", Some(&alice()), now), Holder::Unknown);
    }

    #[test]
    fn limits_have_secure_floors() {
        let layer = SessionBindingLayer::new()
            .max_sessions(0)
            .idle_timeout(Duration::ZERO);
        assert_eq!(layer.store.limits, limits(1, 1));
        let layer = SessionBindingLayer::default()
            .idle_timeout(Duration::from_secs(60))
            .max_sessions(5);
        assert_eq!(layer.store.limits, limits(5, 60));
        assert_eq!(
            SessionBindingLayer::new().store.limits,
            limits(10_000, 86_400)
        );
        // With one binding allowed, a new session pushes the old one out.
        let service = service(&SessionBindingLayer::new().max_sessions(0));
        send(&service, req(Some(alice())).mint("s1"));
        send(&service, req(Some(alice())).mint("s2"));
        assert_eq!(bound(&service), 1);
    }

    #[test]
    fn services_of_one_layer_share_the_table() {
        let layer = SessionBindingLayer::new();
        let first = service(&layer);
        let cloned = layer.clone();
        drop(layer);
        let second = service(&cloned);
        send(&first, req(Some(alice())).mint("s1"));
        assert_eq!(
            status(&second, req(Some(bob())).session("s1")),
            StatusCode::NOT_FOUND
        );
        // Another layer has its own table.
        let other = service(&SessionBindingLayer::new());
        assert_eq!(
            status(&other, req(Some(bob())).session("s1")),
            StatusCode::OK
        );
    }

    #[test]
    fn bind_handle_spells_out_the_principal() {
        let cases = [
            (
                alice(),
                "cart-42",
                "24:https://auth.example.com\u{1f}sub:5:alice\u{1f}cart-42",
            ),
            (
                token(ISSUER, None, Some("app")),
                "h",
                "24:https://auth.example.com\u{1f}client_id:3:app\u{1f}h",
            ),
            (
                token(ISSUER, None, None),
                "",
                "24:https://auth.example.com\u{1f}none:0:\u{1f}",
            ),
        ];
        for (token, handle, key) in cases {
            assert_eq!(bind_handle(&token, handle), key);
        }
    }

    #[test]
    fn bind_handle_keys_never_collide() {
        // Pairs a naive `iss:user:handle` join would confuse.
        let pairs = [
            (
                "naive separator in the subject",
                ("i", Some("a:b"), None, "c"),
                ("i", Some("a"), None, "b:c"),
            ),
            (
                "separator in the issuer",
                ("i\u{1f}a", Some("b"), None, "c"),
                ("i", Some("a\u{1f}b"), None, "c"),
            ),
            (
                "separator moved into the handle",
                ("i", Some("a\u{1f}b"), None, "c"),
                ("i", Some("a"), None, "b\u{1f}c"),
            ),
            (
                "subject equal to a client id",
                ("i", Some("x"), None, "h"),
                ("i", None, Some("x"), "h"),
            ),
            (
                "length digits in the issuer",
                ("1:a", Some("b"), None, "h"),
                ("1", Some("b"), None, "h"),
            ),
            (
                "same handle, other user",
                ("i", Some("alice"), None, "h"),
                ("i", Some("bob"), None, "h"),
            ),
            (
                "same handle, other issuer",
                ("i1", Some("alice"), None, "h"),
                ("i2", Some("alice"), None, "h"),
            ),
            (
                "no user against an empty subject",
                ("i", None, None, "h"),
                ("i", Some(""), None, "h"),
            ),
        ];
        for (name, a, b) in pairs {
            let key =
                |(issuer, subject, client_id, handle): (&str, Option<&str>, Option<&str>, &str)| {
                    bind_handle(&token(issuer, subject, client_id), handle)
                };
            assert_ne!(key(a), key(b), "{name}");
        }

        // Every combination over an alphabet of the encoding's own characters.
        let pieces = [
            "",
            "a",
            "1",
            ":",
            "\u{1f}",
            "1:",
            ":a",
            "a\u{1f}",
            "\u{1f}1:a",
        ];
        let users: Vec<(Option<&str>, Option<&str>)> = pieces
            .iter()
            .flat_map(|p| [(Some(*p), None), (None, Some(*p))])
            .chain([(None, None)])
            .collect();
        let mut seen = HashSet::new();
        let mut count = 0;
        for issuer in pieces {
            for (subject, client_id) in &users {
                for handle in pieces {
                    let token = token(issuer, *subject, *client_id);
                    assert!(seen.insert(bind_handle(&token, handle)));
                    count += 1;
                }
            }
        }
        assert_eq!(seen.len(), count);
    }

    #[test]
    fn bind_handle_ignores_the_client_when_there_is_a_subject() {
        let web = token(ISSUER, Some("alice"), Some("web"));
        let cli = token(ISSUER, Some("alice"), Some("cli"));
        assert_eq!(bind_handle(&web, "cart"), bind_handle(&cli, "cart"));
    }

    #[test]
    fn error_display_is_short_and_status_is_404() {
        for (kind, text) in [
            (
                SessionErrorKind::OtherPrincipal,
                "session bound to another principal",
            ),
            (
                SessionErrorKind::Unauthenticated,
                "session bound to a principal, request anonymous",
            ),
        ] {
            let error = SessionError::new(kind);
            assert_eq!(error.to_string(), text);
            assert_eq!(error.status(), StatusCode::NOT_FOUND);
        }
    }

    #[test]
    fn debug_never_shows_session_ids() {
        let service = with_alice_session();
        let debug = format!(
            "{:?}",
            SessionBindingLayer {
                store: Arc::clone(&service.store)
            }
        );
        assert!(debug.contains("max_sessions"));
        assert!(!debug.contains("s1"));
    }

    #[test]
    fn service_accessors_reach_the_inner_service() {
        let mut binding = SessionBinding::new(Server::default());
        let _: &Server = binding.get_ref();
        let _: &mut Server = binding.get_mut();
        let _: Server = binding.into_inner();
        let _: SessionBindingLayer = SessionBinding::<Server>::layer();
    }

    fn send_sync_clone<T: Send + Sync + Clone>() {}
    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn layer_service_and_future_are_send_sync_and_clone() {
        send_sync_clone::<SessionBindingLayer>();
        send_sync_clone::<SessionBinding<Server>>();
        send_sync_clone::<SessionError>();
        send_sync::<<SessionBinding<Server> as Service<Request<()>>>::Future>();
    }
}
