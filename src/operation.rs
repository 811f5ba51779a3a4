//! Which MCP operations a request carries: the JSON-RPC `method` and, for `tools/call`,
//! `prompts/get` and `resources/*`, the tool or prompt name or resource URI.
//!
//! For `MCP-Protocol-Version` 2026-07-28 and later the request mirrors them in `Mcp-Method` and
//! `Mcp-Name` headers, which the MCP server validates against the body (rmcp does); they are
//! read from there and the body streams through untouched. For older or absent versions the
//! mirrored headers are never trusted: the JSON-RPC body is read (up to a bound, default 1 MiB,
//! 413 beyond), parsed, and handed on **byte for byte**; a batch yields every operation in it.
//!
//! [`OperationLayer`] puts the result in the request extensions as [`McpOperations`], where the
//! bearer layer (anonymous methods) and the per-operation scope policy read it.
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
use std::task::{Context, Poll, ready};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderName, Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use serde_json::Value;
use tower::{Layer, Service};

use crate::body::{FullBody, ResponseBody, jsonrpc_error};
use crate::protocol_version::ProtocolVersion;

/// Default cap on a JSON-RPC body read for policy decisions.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

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
    fn one(value: &Value) -> Option<McpOperation> {
        let method = value.get("method")?.as_str()?;
        let name = name_key(method).and_then(|key| value.get("params")?.get(key)?.as_str());
        Some(McpOperation::new(method, name))
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(batch)) => batch.iter().filter_map(one).collect(),
        Ok(value) => one(&value).into_iter().collect(),
        Err(_) => Vec::new(),
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
    /// were read for policy decisions, replayed unchanged. (The same two cases as a
    /// [`ResponseBody`], in the request direction.)
    #[derive(Debug)]
    pub struct RequestBody<B> {
        #[pin]
        inner: ResponseBody<B>,
    }
}

impl<B> RequestBody<B> {
    fn streaming(body: B) -> Self {
        RequestBody {
            inner: ResponseBody::inner(body),
        }
    }

    fn buffered(data: Bytes) -> Self {
        RequestBody {
            inner: ResponseBody::full(FullBody::new(data)),
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
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Applies [`OperationExtractor`]; made by
/// [`McpAuth::operation_layer`](crate::McpAuth::operation_layer).
#[derive(Debug, Clone)]
#[must_use]
pub struct OperationLayer {
    /// `None`: read nothing, every request streams through with no operations recorded.
    max_body_bytes: Option<usize>,
    /// Whether requests without credentials are read too (only anonymous methods need it).
    read_anonymous: bool,
}

impl OperationLayer {
    /// Reads bodies of up to `max_body_bytes`.
    pub fn new(max_body_bytes: usize) -> Self {
        OperationLayer {
            max_body_bytes: Some(max_body_bytes),
            read_anonymous: false,
        }
    }

    /// Also read the bodies of requests without an `Authorization` header, which is needed
    /// when some methods may be called anonymously. Off by default: an unauthenticated request
    /// is refused by the bearer layer anyway, so its body is never buffered.
    pub fn read_anonymous(mut self, read: bool) -> Self {
        self.read_anonymous = read;
        self
    }

    /// Reads nothing: for stacks without per-operation rules.
    pub fn disabled() -> Self {
        OperationLayer {
            max_body_bytes: None,
            read_anonymous: false,
        }
    }
}

impl Default for OperationLayer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_BODY_BYTES)
    }
}

impl<S> Layer<S> for OperationLayer {
    type Service = OperationExtractor<S>;

    fn layer(&self, inner: S) -> OperationExtractor<S> {
        OperationExtractor {
            inner,
            max_body_bytes: self.max_body_bytes,
            read_anonymous: self.read_anonymous,
        }
    }
}

/// Middleware that finds the MCP operations of each request. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct OperationExtractor<S> {
    inner: S,
    max_body_bytes: Option<usize>,
    read_anonymous: bool,
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
        let (mut parts, body) = request.into_parts();
        let Some(limit) = self.max_body_bytes else {
            let request = Request::from_parts(parts, RequestBody::streaming(body));
            return OperationFuture::inner(self.inner.call(request));
        };
        if let Some(operation) = operation_from_headers(&parts.headers) {
            parts.extensions.insert(McpOperations {
                operations: vec![operation],
                from_headers: true,
            });
            let request = Request::from_parts(parts, RequestBody::streaming(body));
            return OperationFuture::inner(self.inner.call(request));
        }
        let anonymous = !parts.headers.contains_key(http::header::AUTHORIZATION);
        if parts.method != Method::POST || (anonymous && !self.read_anonymous) {
            parts.extensions.insert(McpOperations::default());
            let request = Request::from_parts(parts, RequestBody::streaming(body));
            return OperationFuture::inner(self.inner.call(request));
        }
        // Read the body; the ready service stays here, a clone is driven to readiness once the
        // body is in.
        let service = self.inner.clone();
        OperationFuture {
            state: State::Collecting {
                body,
                parts: Some(parts),
                buffer: Vec::new(),
                limit,
                service: Some(service),
            },
        }
    }
}

pin_project! {
    /// Response future of [`OperationExtractor`].
    pub struct OperationFuture<S, B>
    where
        S: Service<Request<RequestBody<B>>>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<RequestBody<B>>>,
    {
        Collecting {
            #[pin]
            body: B,
            parts: Option<Parts>,
            buffer: Vec<u8>,
            limit: usize,
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

impl<S, B> OperationFuture<S, B>
where
    S: Service<Request<RequestBody<B>>>,
{
    fn inner(future: S::Future) -> Self {
        OperationFuture {
            state: State::Inner { future },
        }
    }
}

impl<S, B, ResBody> Future for OperationFuture<S, B>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResBody>>,
    B: Body<Data = Bytes>,
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
                    limit,
                    service,
                } => match ready!(body.as_mut().poll_frame(cx)) {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            if buffer.len().saturating_add(data.len()) > *limit {
                                let mut response = jsonrpc_error(
                                    StatusCode::PAYLOAD_TOO_LARGE,
                                    -32600,
                                    "Request body too large",
                                    None,
                                );
                                // The rest of the body is left unread.
                                if let Some(parts) = parts.as_ref() {
                                    crate::body::close_if_http1(parts.version, &mut response);
                                }
                                State::Ready {
                                    response: Some(response),
                                }
                            } else {
                                buffer.extend_from_slice(&data);
                                continue;
                            }
                        } else {
                            // Trailers carry nothing the policy reads.
                            continue;
                        }
                    }
                    Some(Err(_)) => {
                        let mut response = jsonrpc_error(
                            StatusCode::BAD_REQUEST,
                            -32700,
                            "The request body could not be read",
                            None,
                        );
                        if let Some(parts) = parts.as_ref() {
                            crate::body::close_if_http1(parts.version, &mut response);
                        }
                        State::Ready {
                            response: Some(response),
                        }
                    }
                    None => match (parts.take(), service.take()) {
                        (Some(mut parts), Some(service)) => {
                            let data = Bytes::from(std::mem::take(buffer));
                            parts.extensions.insert(McpOperations {
                                operations: operations_from_body(&data),
                                from_headers: false,
                            });
                            State::Calling {
                                service,
                                request: Some(Request::from_parts(
                                    parts,
                                    RequestBody::buffered(data),
                                )),
                            }
                        }
                        _ => State::Ready { response: None },
                    },
                },
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

impl<S, B> fmt::Debug for OperationFuture<S, B>
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
