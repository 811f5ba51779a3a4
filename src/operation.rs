//! Which MCP operations a request carries: the JSON-RPC `method` and, for `tools/call`,
//! `prompts/get` and `resources/*`, the tool or prompt name or resource URI.
//!
//! For `MCP-Protocol-Version` 2026-07-28 and later the request mirrors them in `Mcp-Method` and
//! `Mcp-Name` headers, which the MCP server validates against the body (rmcp does); they are
//! read from there and the body streams through untouched. For older or absent versions the
//! mirrored headers are never trusted: the JSON-RPC body is read, parsed, and handed on **byte
//! for byte**; a batch yields every operation in it. Reading is bounded in bytes per body
//! (default 1 MiB, 413 beyond), in time (default 10 s, 408 after) and in bytes held at once
//! across all requests (default 64 MiB, 503 beyond, at once rather than queued).
//!
//! [`OperationExtractorLayer`] puts the result in the request extensions as [`McpOperations`], where the
//! per-operation scope policy reads it. It sits inside the bearer layer: no byte of a body is
//! read before its token is validated. Only requests without credentials, when some methods may
//! be called anonymously, are read before (the bearer layer needs their operations).
//!
//! ```
//! use mcp_server_auth::operation::{McpOperation, operations_from_body};
//!
//! let ops = operations_from_body(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call",
//!     "params":{"name":"admin_reset","arguments":{}}}"#);
//! assert_eq!(ops, [McpOperation::new("tools/call", Some("admin_reset"))]);
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderName, Method, Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use serde_json::Value;
use tower::{Layer, Service};

use crate::body::{BodyRead, FullBody, ResponseBody};
use crate::body_limits::{Budget, ReadLimits, ReadRefusal, Reservation};
pub use crate::body_limits::{
    DEFAULT_BODY_READ_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_BUFFERED_BYTES,
};
use crate::protocol_version::{ProtocolVersion, ProtocolVersionGateLayer};

/// The `Mcp-Method` header (2026-07-28).
pub const MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
/// The `Mcp-Name` header (2026-07-28).
pub const MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");

/// One JSON-RPC call in a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct McpOperation {
    method: String,
    name: Option<String>,
}

impl McpOperation {
    /// An operation with this method and, if any, tool/prompt name or resource URI.
    pub fn new(method: impl Into<String>, name: Option<&str>) -> Self {
        McpOperation {
            method: method.into(),
            name: name.map(str::to_owned),
        }
    }

    /// The JSON-RPC method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The tool name (`tools/call`), prompt name (`prompts/get`) or resource URI
    /// (`resources/read`, `resources/subscribe`, `resources/unsubscribe`).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// The operations of a request, in request extensions. Empty for requests without a JSON-RPC
/// body (a GET stream, a DELETE) or with one that does not parse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct McpOperations {
    operations: Vec<McpOperation>,
    from_headers: bool,
}

impl McpOperations {
    /// The operations.
    pub fn iter(&self) -> impl Iterator<Item = &McpOperation> {
        self.operations.iter()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// Whether they came from the 2026-07-28 `Mcp-Method`/`Mcp-Name` headers rather than the
    /// body.
    pub fn from_headers(&self) -> bool {
        self.from_headers
    }
}

/// Where the name of an operation lives in `params`.
fn name_key(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => Some("uri"),
        _ => None,
    }
}

/// The operations of a JSON-RPC body: one for a request or notification object, one per
/// element for a batch; responses and anything that does not parse yield nothing.
pub fn operations_from_body(body: &[u8]) -> Vec<McpOperation> {
    parse_body(body).0
}

/// The operations of a JSON-RPC body and, for a single request, its `id` (a string or a
/// number; JSON-RPC allows no other).
fn parse_body(body: &[u8]) -> (Vec<McpOperation>, Option<Value>) {
    fn one(value: &Value) -> Option<McpOperation> {
        let method = value.get("method")?.as_str()?;
        let name = name_key(method).and_then(|key| value.get("params")?.get(key)?.as_str());
        Some(McpOperation::new(method, name))
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(batch)) => (batch.iter().filter_map(one).collect(), None),
        Ok(mut value) => {
            let operation = one(&value);
            let id = value
                .get_mut("id")
                .map(Value::take)
                .filter(|id| id.is_string() || id.is_number())
                .filter(|_| operation.is_some());
            (operation.into_iter().collect(), id)
        }
        Err(_) => (Vec::new(), None),
    }
}

/// The operation mirrored in the 2026-07-28 headers, when the request declares that version
/// and carries exactly one usable `Mcp-Method` (and at most one `Mcp-Name`, in plain or
/// `=?base64?…?=` form). `None` means: read the body instead.
pub fn operation_from_headers(headers: &HeaderMap) -> Option<McpOperation> {
    let version = ProtocolVersion::from_headers(headers).version()?;
    if !version.is_modern() {
        return None;
    }
    let method = single(headers, &MCP_METHOD)?;
    let mut names = headers.get_all(&MCP_NAME).iter();
    let name = match (names.next(), names.next()) {
        (None, _) => None,
        (Some(value), None) => Some(decode_name(value.to_str().ok()?)?),
        (Some(_), Some(_)) => return None,
    };
    if name.is_some() != name_key(&method).is_some() {
        return None;
    }
    Some(McpOperation { method, name })
}

fn single(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let text = value.to_str().ok()?;
    (!text.is_empty()).then(|| text.to_owned())
}

/// Decodes the `=?base64?<standard base64>?=` form of a header value (used for values that
/// are not plain printable ASCII); other values stand for themselves.
fn decode_name(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|inner| inner.strip_suffix("?="))
    {
        Some(inner) => String::from_utf8(STANDARD.decode(inner).ok()?).ok(),
        None => Some(value.to_owned()),
    }
}

pin_project! {
    /// The request body handed to the inner service: the original stream, or the bytes that
    /// were read for policy decisions, replayed unchanged.
    #[derive(Debug)]
    pub struct RequestBody<B> {
        #[pin]
        kind: RequestKind<B>,
    }
}

pin_project! {
    #[project = RequestKindProj]
    #[derive(Debug)]
    enum RequestKind<B> {
        Streaming { #[pin] body: B },
        // The bytes count against the shared budget until they are handed on.
        Buffered { data: Option<Bytes>, reservation: Option<Reservation> },
    }
}

impl<B> RequestBody<B> {
    fn streaming(body: B) -> Self {
        RequestBody {
            kind: RequestKind::Streaming { body },
        }
    }

    fn buffered(data: Bytes, reservation: Reservation) -> Self {
        RequestBody {
            kind: RequestKind::Buffered {
                data: (!data.is_empty()).then_some(data),
                reservation: Some(reservation),
            },
        }
    }
}

impl<B> Body for RequestBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            RequestKindProj::Streaming { body } => body.poll_frame(cx),
            RequestKindProj::Buffered { data, reservation } => {
                // Handed on: the bytes are the inner service's now.
                *reservation = None;
                Poll::Ready(data.take().map(|d| Ok(Frame::data(d))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            RequestKind::Streaming { body } => body.is_end_stream(),
            RequestKind::Buffered { data, .. } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            RequestKind::Streaming { body } => body.size_hint(),
            RequestKind::Buffered { data, .. } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}

/// Which requests an [`OperationExtractorLayer`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    /// Every request whose operations are not known yet.
    Unread,
    /// Only requests without an `Authorization` header.
    WithoutCredentials,
}

/// Applies [`OperationExtractor`]; made by
/// [`McpAuth::operation_layer`](crate::McpAuth::operation_layer) and
/// [`McpAuth::anonymous_operation_layer`](crate::McpAuth::anonymous_operation_layer).
///
/// Place it **inside** the bearer layer, so that no byte of a body is read before its token
/// is validated. Only a stack with anonymous methods needs a second one outside the bearer
/// layer, [`without_credentials_only`](Self::without_credentials_only), which reads just the
/// requests that carry no credentials (the bearer layer needs their operations to decide).
///
/// Reading is bounded three ways: bytes per body ([`new`](Self::new); 413 beyond), time per
/// body ([`timeout`](Self::timeout); 408 after it) and bytes held at once across all requests
/// ([`max_buffered_bytes`](Self::max_buffered_bytes); beyond it a request is refused at once
/// with 503 and `Retry-After: 1`, never queued). Clones share the byte budget.
#[derive(Debug, Clone)]
#[must_use]
pub struct OperationExtractorLayer {
    limits: ReadLimits,
    /// Whether operations are read at all (`false`: only for version refusals, if any).
    operations: bool,
    which: Which,
    /// The versions a gate inside this layer supports: requests it will refuse are read so
    /// that its error can echo the JSON-RPC `id`.
    version_gate: Option<ProtocolVersionGateLayer>,
}

impl OperationExtractorLayer {
    /// Reads bodies of up to `max_body_bytes`, within [`DEFAULT_BODY_READ_TIMEOUT`] and
    /// [`DEFAULT_MAX_BUFFERED_BYTES`] held at once.
    pub fn new(max_body_bytes: usize) -> Self {
        OperationExtractorLayer {
            limits: ReadLimits::new(
                max_body_bytes,
                DEFAULT_BODY_READ_TIMEOUT,
                DEFAULT_MAX_BUFFERED_BYTES,
            ),
            operations: true,
            which: Which::Unread,
            version_gate: None,
        }
    }

    /// Reads nothing: for stacks without per-operation rules.
    pub fn disabled() -> Self {
        OperationExtractorLayer {
            operations: false,
            ..Self::default()
        }
    }

    /// Reads only requests without an `Authorization` header: the outer of the two layers a
    /// stack with anonymous methods needs (see the [type docs](Self)).
    pub fn without_credentials_only(mut self) -> Self {
        self.which = Which::WithoutCredentials;
        self
    }

    /// The time allowed for reading one body, from the moment the request reaches this layer
    /// (default [`DEFAULT_BODY_READ_TIMEOUT`]). A body not in by then gets 408. Needs a Tokio
    /// runtime with timers; without a Tokio runtime no deadline applies.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.limits.timeout = timeout;
        self
    }

    /// The bound on body bytes held at once by this layer and its clones, across all requests
    /// (default [`DEFAULT_MAX_BUFFERED_BYTES`]). A request that would pass it is refused at
    /// once with 503 and `Retry-After: 1`.
    pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.limits.budget = Arc::new(Budget::new(bytes));
        self
    }

    /// Also reads the bodies of requests that `gate`, placed inside this layer, will refuse
    /// for their `MCP-Protocol-Version`, so that its 400 echoes the request's JSON-RPC `id`.
    pub fn echo_ids_for(mut self, gate: &ProtocolVersionGateLayer) -> Self {
        self.version_gate = Some(gate.clone());
        self
    }

    /// Reads no operations (a version refusal's `id` is still read, if asked for).
    pub(crate) fn without_operations(mut self) -> Self {
        self.operations = false;
        self
    }

    pub(crate) fn from_limits(limits: ReadLimits) -> Self {
        OperationExtractorLayer {
            limits,
            ..Self::default()
        }
    }

    /// What to do with a request: pass it on (with its operations, when known) or read it.
    fn plan(&self, parts: &Parts) -> Plan {
        if parts.extensions.get::<McpOperations>().is_some()
            || (self.which == Which::WithoutCredentials
                && parts.headers.contains_key(http::header::AUTHORIZATION))
        {
            return Plan::Pass(None);
        }
        let refused = self
            .version_gate
            .as_ref()
            .is_some_and(|gate| gate.refuses(&parts.method, &parts.headers));
        if !self.operations && !refused {
            return Plan::Pass(None);
        }
        if !refused && let Some(operation) = operation_from_headers(&parts.headers) {
            return Plan::Pass(Some(McpOperations {
                operations: vec![operation],
                from_headers: true,
            }));
        }
        if parts.method != Method::POST {
            return Plan::Pass(self.operations.then(McpOperations::default));
        }
        Plan::Read
    }
}

impl Default for OperationExtractorLayer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_BODY_BYTES)
    }
}

enum Plan {
    Pass(Option<McpOperations>),
    Read,
}

impl<S> Layer<S> for OperationExtractorLayer {
    type Service = OperationExtractor<S>;

    fn layer(&self, inner: S) -> OperationExtractor<S> {
        OperationExtractor {
            inner,
            layer: self.clone(),
        }
    }
}

/// Middleware that finds the MCP operations of each request. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct OperationExtractor<S> {
    inner: S,
    layer: OperationExtractorLayer,
}

impl<S> OperationExtractor<S> {
    crate::macros::inner_service_accessors!();
}

impl<S, B, ResBody> Service<Request<B>> for OperationExtractor<S>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResBody>> + Clone,
    B: Body<Data = Bytes>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = OperationFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.layer
            .call(&mut self.inner, request, RequestBody::streaming)
    }
}

/// Applies [`OperationReader`]; made by [`OperationExtractorLayer::rereading`].
#[derive(Debug, Clone)]
#[must_use]
pub struct OperationReaderLayer {
    layer: OperationExtractorLayer,
}

impl<S> Layer<S> for OperationReaderLayer {
    type Service = OperationReader<S>;

    fn layer(&self, inner: S) -> OperationReader<S> {
        OperationReader {
            inner,
            layer: self.layer.clone(),
        }
    }
}

/// [`OperationExtractor`] for a stack that already has one outside (the anonymous-call
/// extraction of [`McpAuth::layer`](crate::McpAuth::layer)): it takes the [`RequestBody`]
/// that one hands on and hands on the same type, so the service inside sees one wrapper.
#[derive(Debug, Clone)]
pub struct OperationReader<S> {
    inner: S,
    layer: OperationExtractorLayer,
}

impl<S> OperationReader<S> {
    crate::macros::inner_service_accessors!();
}

impl<S, B, ResBody> Service<Request<RequestBody<B>>> for OperationReader<S>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResBody>> + Clone,
    B: Body<Data = Bytes>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = OperationFuture<S, B, RequestBody<B>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<RequestBody<B>>) -> Self::Future {
        self.layer
            .call(&mut self.inner, request, std::convert::identity)
    }
}

impl OperationExtractorLayer {
    /// This layer for inside another operation layer: see [`OperationReader`].
    pub fn rereading(self) -> OperationReaderLayer {
        OperationReaderLayer { layer: self }
    }

    /// Passes `request` on (`stream` wraps a body passed as it is) or starts reading it.
    fn call<S, B, I>(
        &self,
        inner: &mut S,
        request: Request<I>,
        stream: fn(I) -> RequestBody<B>,
    ) -> OperationFuture<S, B, I>
    where
        S: Service<Request<RequestBody<B>>> + Clone,
        I: Body<Data = Bytes>,
    {
        let (mut parts, body) = request.into_parts();
        match self.plan(&parts) {
            Plan::Pass(operations) => {
                if let Some(operations) = operations {
                    parts.extensions.insert(operations);
                }
                let request = Request::from_parts(parts, stream(body));
                OperationFuture::inner(inner.call(request))
            }
            Plan::Read => match self.limits.start(&body) {
                Ok(reservation) => {
                    // The ready service stays here; a clone is driven to readiness once the
                    // body is in.
                    let service = inner.clone();
                    OperationFuture {
                        state: State::Collecting {
                            body,
                            parts: Some(parts),
                            buffer: Vec::new(),
                            reservation: Some(reservation),
                            limit: self.limits.max_body_bytes,
                            deadline: self.limits.deadline(),
                            service: Some(service),
                        },
                    }
                }
                Err(refusal) => OperationFuture::ready(refusal.response(Some(&parts))),
            },
        }
    }
}

pin_project! {
    /// Response future of [`OperationExtractor`] and (with `I = RequestBody<B>`)
    /// [`OperationReader`]: `I` is the body read, `RequestBody<B>` the one handed on.
    pub struct OperationFuture<S, B, I = B>
    where
        S: Service<Request<RequestBody<B>>>,
    {
        #[pin]
        state: State<S, B, I>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B, I>
    where
        S: Service<Request<RequestBody<B>>>,
    {
        Collecting {
            #[pin]
            body: I,
            parts: Option<Parts>,
            buffer: Vec<u8>,
            reservation: Option<Reservation>,
            limit: usize,
            deadline: Option<Pin<Box<tokio::time::Sleep>>>,
            service: Option<S>,
        },
        Calling {
            service: S,
            request: Option<Request<RequestBody<B>>>,
        },
        Inner { #[pin] future: S::Future },
        Ready { response: Option<Response<FullBody>> },
    }
}

impl<S, B, I> OperationFuture<S, B, I>
where
    S: Service<Request<RequestBody<B>>>,
{
    fn inner(future: S::Future) -> Self {
        OperationFuture {
            state: State::Inner { future },
        }
    }

    fn ready(response: Response<FullBody>) -> Self {
        OperationFuture {
            state: State::Ready {
                response: Some(response),
            },
        }
    }
}

impl<S, B, I, ResBody> Future for OperationFuture<S, B, I>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResBody>>,
    I: Body<Data = Bytes>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Collecting {
                    mut body,
                    parts,
                    buffer,
                    reservation,
                    limit,
                    deadline,
                    service,
                } => {
                    let refuse = |refusal: ReadRefusal| State::Ready {
                        response: Some(refusal.response(parts.as_ref())),
                    };
                    match body.as_mut().poll_frame(cx) {
                        Poll::Ready(Some(Ok(frame))) => {
                            // Trailers carry nothing the policy reads.
                            let Ok(data) = frame.into_data() else {
                                continue;
                            };
                            let total = buffer.len().saturating_add(data.len());
                            if total > *limit {
                                refuse(ReadRefusal::TooLarge)
                            } else if !reservation.as_mut().is_some_and(|r| r.grow_to(total)) {
                                refuse(ReadRefusal::Busy)
                            } else {
                                buffer.extend_from_slice(&data);
                                continue;
                            }
                        }
                        Poll::Ready(Some(Err(_))) => refuse(ReadRefusal::Unreadable),
                        Poll::Ready(None) => match (parts.take(), service.take()) {
                            (Some(mut parts), Some(service)) => {
                                let data = Bytes::from(std::mem::take(buffer));
                                let (operations, request_id) = parse_body(&data);
                                parts.extensions.insert(McpOperations {
                                    operations,
                                    from_headers: false,
                                });
                                parts.extensions.insert(BodyRead { request_id });
                                let body = match reservation.take() {
                                    Some(reservation) => RequestBody::buffered(data, reservation),
                                    None => RequestBody::buffered(data, Reservation::none()),
                                };
                                State::Calling {
                                    service,
                                    request: Some(Request::from_parts(parts, body)),
                                }
                            }
                            _ => State::Ready { response: None },
                        },
                        Poll::Pending => {
                            let late = deadline
                                .as_mut()
                                .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                            if !late {
                                return Poll::Pending;
                            }
                            refuse(ReadRefusal::TimedOut)
                        }
                    }
                }
                StateProj::Calling { service, request } => {
                    ready!(service.poll_ready(cx))?;
                    match request.take() {
                        Some(request) => State::Inner {
                            future: service.call(request),
                        },
                        None => State::Ready { response: None },
                    }
                }
                StateProj::Inner { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Ready { response } => {
                    let response = response
                        .take()
                        .unwrap_or_else(crate::body::polled_after_completion);
                    return Poll::Ready(Ok(response.map(ResponseBody::full)));
                }
            };
            this.state.set(next);
        }
    }
}

impl<S, B, I> fmt::Debug for OperationFuture<S, B, I>
where
    S: Service<Request<RequestBody<B>>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperationFuture").finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn body_operations_table() {
        struct Case {
            name: &'static str,
            body: &'static str,
            expected: Vec<McpOperation>,
        }
        let op = |m: &str, n: Option<&str>| McpOperation::new(m, n);
        let cases = [
            Case {
                name: "tool call",
                body: r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#,
                expected: vec![op("tools/call", Some("echo"))],
            },
            Case {
                name: "prompt",
                body: r#"{"method":"prompts/get","params":{"name":"p"}}"#,
                expected: vec![op("prompts/get", Some("p"))],
            },
            Case {
                name: "resource",
                body: r#"{"method":"resources/read","params":{"uri":"file:///a"}}"#,
                expected: vec![op("resources/read", Some("file:///a"))],
            },
            Case {
                name: "list",
                body: r#"{"method":"tools/list"}"#,
                expected: vec![op("tools/list", None)],
            },
            Case {
                name: "notification",
                body: r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                expected: vec![op("notifications/initialized", None)],
            },
            Case {
                name: "batch",
                body: r#"[{"method":"tools/list"},{"method":"tools/call","params":{"name":"a"}},{"result":{}}]"#,
                expected: vec![op("tools/list", None), op("tools/call", Some("a"))],
            },
            Case {
                name: "response only",
                body: r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
                expected: vec![],
            },
            Case {
                name: "not json",
                body: "garbage",
                expected: vec![],
            },
            Case {
                name: "name not a string",
                body: r#"{"method":"tools/call","params":{"name":7}}"#,
                expected: vec![op("tools/call", None)],
            },
            Case {
                name: "method not a string",
                body: r#"{"method":7}"#,
                expected: vec![],
            },
        ];
        for case in cases {
            assert_eq!(
                operations_from_body(case.body.as_bytes()),
                case.expected,
                "{}",
                case.name
            );
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn header_operations_only_for_modern_requests() {
        let modern = [("mcp-protocol-version", "2026-07-28")];
        let with = |extra: &[(&str, &str)]| {
            let mut all = modern.to_vec();
            all.extend_from_slice(extra);
            operation_from_headers(&headers(&all))
        };
        assert_eq!(
            with(&[("mcp-method", "tools/call"), ("mcp-name", "echo")]),
            Some(McpOperation::new("tools/call", Some("echo")))
        );
        assert_eq!(
            with(&[
                ("mcp-method", "tools/call"),
                ("mcp-name", "=?base64?w6ljaG8=?=")
            ]),
            Some(McpOperation::new("tools/call", Some("écho")))
        );
        assert_eq!(
            with(&[("mcp-method", "tools/list")]),
            Some(McpOperation::new("tools/list", None))
        );
        // Read the body instead when the headers are missing, repeated, inconsistent or bad.
        assert_eq!(with(&[]), None);
        assert_eq!(
            with(&[("mcp-method", "tools/call")]),
            None,
            "tools/call needs a name"
        );
        assert_eq!(
            with(&[("mcp-method", "tools/list"), ("mcp-name", "x")]),
            None
        );
        assert_eq!(with(&[("mcp-method", "a"), ("mcp-method", "b")]), None);
        assert_eq!(
            with(&[("mcp-method", "tools/call"), ("mcp-name", "=?base64?***?=")]),
            None
        );
        // Never for legacy or absent versions.
        let legacy = headers(&[
            ("mcp-protocol-version", "2025-11-25"),
            ("mcp-method", "tools/list"),
        ]);
        assert_eq!(operation_from_headers(&legacy), None);
        assert_eq!(
            operation_from_headers(&headers(&[("mcp-method", "tools/list")])),
            None
        );
    }
}
