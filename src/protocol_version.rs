//! MCP protocol revisions, and the `MCP-Protocol-Version` gate.
//!
//! [`ProtocolVersion`] names the published MCP revisions and orders them by date; other parts of
//! the crate ask it which era a request belongs to ([`is_modern`](ProtocolVersion::is_modern),
//! [`is_legacy`](ProtocolVersion::is_legacy)). [`ProtocolVersion::from_headers`] reads the header
//! of a request without judging it.
//!
//! [`ProtocolVersionGateLayer`] refuses requests whose `MCP-Protocol-Version` header names a revision
//! the server does not support, before they reach the MCP server:
//!
//! | request | outcome |
//! |---|---|
//! | no `MCP-Protocol-Version` header | passed on: the MCP server decides by era (below) |
//! | one header naming a supported revision | passed on |
//! | one header naming a known revision outside the supported set | 400, JSON-RPC error `-32022` |
//! | one header with any other value: unknown date, garbage, empty, not UTF-8 | 400, `-32022` |
//! | the header more than once | 400, `-32022` |
//! | `OPTIONS` (CORS preflight), whatever its headers | passed on |
//!
//! The 400 body is a JSON-RPC error with `id: null` (the request body is not read):
//! `{"jsonrpc":"2.0","id":null,"error":{"code":-32022,"message":"Unsupported protocol
//! version","data":{"supported":[…],"requested":"…"}}}`. `supported` lists the configured
//! revisions, newest first. `requested` is the header's text, escaped as JSON, cut to its first
//! 64 characters; it is empty when the value is not UTF-8, and repeated headers are joined with
//! `", "`. The response carries an [`UnsupportedVersion`] in its extensions. The header's value
//! is never logged.
//!
//! # Eras
//!
//! What a missing or wrong header means depends on the revision the client speaks:
//!
//! * **Legacy** (`2025-06-18`, `2025-11-25`): clients send the header on every request after
//!   `initialize`; the `initialize` request itself usually has none. A server that cannot tell
//!   the version otherwise should assume `2025-03-26`. A header that is present but invalid or
//!   unsupported must get a 400.
//! * **Modern** (`2026-07-28` on): every POST must carry the header, and it must equal the
//!   request's `params._meta["io.modelcontextprotocol/protocolVersion"]`. A mismatch, or a
//!   missing header at a server that does not serve pre-`2025-06-18` clients, is a 400 with
//!   `-32020`; an unsupported version is a 400 with `-32022` and `data.supported` /
//!   `data.requested`.
//!
//! One rule holds in every era and needs only the headers: a header that is present but not
//! supported is refused. That is all this layer enforces. A request without the header passes,
//! and the MCP server (for example `rmcp`) applies the rule of its era; it also checks the
//! header against `_meta`, which needs the body. Legacy clients look only at the 400 status;
//! modern ones read the JSON-RPC error.
//!
//! A layer that trusts the mirrored request headers of the modern era (`Mcp-Method`,
//! `Mcp-Name`) should first check that the request's version is
//! [modern](ProtocolVersion::is_modern): only then has the MCP server validated them against the
//! body. For older or absent versions, read the body instead.
//!
//! The metadata document and CORS preflights are never subject to this check: wrap only the
//! MCP endpoint, inside the metadata route. Put the gate inside bearer authentication too, so
//! that a request without a valid token gets its 401 whatever its version header.
//!
//! Specifications: [2025-11-25 transports, "Protocol Version Header"][s25], [2026-07-28
//! Streamable HTTP, "Protocol Version Header" and "Server Validation"][s26].
//!
//! [s25]: https://modelcontextprotocol.io/specification/2025-11-25/basic/transports
//! [s26]: https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//!
//! use http::{Request, Response, StatusCode};
//! use http_body_util::BodyExt;
//! use mcp_server_auth::protocol_version::{
//!     ProtocolVersion, ProtocolVersionGateLayer, UnsupportedVersion, UnsupportedVersionKind,
//! };
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let gate = ProtocolVersionGateLayer::with_supported([
//!     ProtocolVersion::V2025_11_25,
//!     ProtocolVersion::V2026_07_28,
//! ])?;
//! let app = ServiceBuilder::new().layer(gate).service(service_fn(|_req: Request<()>| async {
//!     Ok::<_, Infallible>(Response::new(String::from("ok")))
//! }));
//!
//! // A revision the server does not support: 400 and a JSON-RPC error.
//! let request = Request::post("/mcp")
//!     .header("MCP-Protocol-Version", "1900-01-01")
//!     .body(())?;
//! let response = app.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::BAD_REQUEST);
//! assert_eq!(response.headers()["content-type"], "application/json");
//! let error = response.extensions().get::<UnsupportedVersion>().unwrap();
//! assert_eq!(error.kind(), UnsupportedVersionKind::Unknown);
//! assert_eq!(error.requested(), "1900-01-01");
//! let body = response.into_body().collect().await?.to_bytes();
//! assert_eq!(
//!     serde_json::from_slice::<serde_json::Value>(&body)?,
//!     serde_json::json!({
//!         "jsonrpc": "2.0",
//!         "id": null,
//!         "error": {
//!             "code": -32022,
//!             "message": "Unsupported protocol version",
//!             "data": { "supported": ["2026-07-28", "2025-11-25"], "requested": "1900-01-01" }
//!         }
//!     })
//! );
//!
//! // No header: passed on, the MCP server decides by era.
//! let response = app.clone().oneshot(Request::post("/mcp").body(())?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! // A supported revision: passed on.
//! let request = Request::post("/mcp")
//!     .header("mcp-protocol-version", "2025-11-25")
//!     .body(())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.into_body().collect().await?.to_bytes(), "ok");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::HeaderName;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use tower::{Layer, Service};

use crate::body::{FullBody, ResponseBody, jsonrpc_error};
use crate::error::ConfigError;
use crate::future::EitherResponse;

/// The `MCP-Protocol-Version` request header. Header names are case-insensitive.
pub const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");

/// The JSON-RPC error code of an unsupported protocol version
/// (`UnsupportedProtocolVersionError`).
const UNSUPPORTED_CODE: i64 = -32022;

/// The JSON-RPC error message sent with [`UNSUPPORTED_CODE`].
const UNSUPPORTED_MESSAGE: &str = "Unsupported protocol version";

/// How many characters of a refused header value are echoed in `data.requested`.
const MAX_REQUESTED_CHARS: usize = 64;

/// A published MCP protocol revision, named by the date string sent on the wire. Ordered by
/// date, so `a < b` means `a` is the older revision.
///
/// New revisions will be added as they are published; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// `2024-11-05`: the first published revision (HTTP+SSE transport, no authorization).
    V2024_11_05,
    /// `2025-03-26`: Streamable HTTP and the first authorization specification. The revision a
    /// legacy server should assume when a request carries no `MCP-Protocol-Version` header.
    V2025_03_26,
    /// `2025-06-18`: the MCP server is an OAuth resource server publishing RFC 9728 metadata;
    /// clients send `MCP-Protocol-Version` on every request after `initialize`.
    V2025_06_18,
    /// `2025-11-25`: the last legacy revision (sessions and `initialize`).
    V2025_11_25,
    /// `2026-07-28`: the current revision and the first modern one: stateless, the header on
    /// every POST, equal to the version in `_meta`, and `Mcp-Method` / `Mcp-Name` mirrored
    /// in headers and validated by the server.
    V2026_07_28,
}

impl ProtocolVersion {
    /// The newest revision this crate knows: `2026-07-28`.
    pub const LATEST: Self = Self::V2026_07_28;

    /// Every revision this crate knows, oldest first.
    pub const ALL: &'static [Self] = &[
        Self::V2024_11_05,
        Self::V2025_03_26,
        Self::V2025_06_18,
        Self::V2025_11_25,
        Self::V2026_07_28,
    ];

    /// The wire form, such as `"2025-06-18"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V2024_11_05 => "2024-11-05",
            Self::V2025_03_26 => "2025-03-26",
            Self::V2025_06_18 => "2025-06-18",
            Self::V2025_11_25 => "2025-11-25",
            Self::V2026_07_28 => "2026-07-28",
        }
    }

    /// The revision whose wire form is exactly `s`. Values are case-sensitive and are not
    /// trimmed; pre-release strings such as `2024-10-07` and folder names such as `draft` are
    /// not revisions.
    ///
    /// ```
    /// use mcp_server_auth::protocol_version::ProtocolVersion;
    ///
    /// assert_eq!(ProtocolVersion::parse("2025-06-18"), Some(ProtocolVersion::V2025_06_18));
    /// assert_eq!(ProtocolVersion::parse("2025-06-18 "), None);
    /// assert_eq!(ProtocolVersion::parse("draft"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }

    /// Whether this is a modern revision (`2026-07-28` or later): stateless, and the MCP server
    /// validates the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers against the
    /// body, so middleware may base decisions on them.
    pub fn is_modern(self) -> bool {
        self >= Self::V2026_07_28
    }

    /// Whether this is a legacy revision (`2025-11-25` or earlier): sessions and `initialize`,
    /// and no mirrored headers a server validates.
    pub fn is_legacy(self) -> bool {
        !self.is_modern()
    }

    /// Reads the `MCP-Protocol-Version` header, without judging it against any supported set.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use mcp_server_auth::protocol_version::{HeaderVersion, ProtocolVersion};
    ///
    /// let mut headers = HeaderMap::new();
    /// assert_eq!(ProtocolVersion::from_headers(&headers), HeaderVersion::Absent);
    /// headers.insert("MCP-Protocol-Version", "2026-07-28".parse()?);
    /// assert_eq!(
    ///     ProtocolVersion::from_headers(&headers),
    ///     HeaderVersion::Known(ProtocolVersion::V2026_07_28)
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_headers(headers: &HeaderMap) -> HeaderVersion {
        let mut values = headers.get_all(MCP_PROTOCOL_VERSION).iter();
        let Some(first) = values.next() else {
            return HeaderVersion::Absent;
        };
        let Some(second) = values.next() else {
            let text = std::str::from_utf8(first.as_bytes()).ok();
            return match text.and_then(Self::parse) {
                Some(version) => HeaderVersion::Known(version),
                None => HeaderVersion::Unknown {
                    requested: requested_text([first]),
                },
            };
        };
        let all = [first, second].into_iter().chain(values);
        HeaderVersion::Repeated {
            requested: requested_text(all),
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a request's `MCP-Protocol-Version` header says; read by
/// [`ProtocolVersion::from_headers`].
///
/// `requested` is the header's text for error reports: its first 64 characters, empty for a
/// value that is not UTF-8, repeated values joined with `", "`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderVersion {
    /// No header.
    Absent,
    /// One header naming a known revision.
    Known(ProtocolVersion),
    /// One header whose value is not a known revision: an unknown date, anything else, empty,
    /// or not UTF-8.
    Unknown {
        /// The header's text, bounded.
        requested: String,
    },
    /// The header more than once, whatever the values.
    Repeated {
        /// The values' text, joined and bounded.
        requested: String,
    },
}

impl HeaderVersion {
    /// The revision, when the request names exactly one known revision.
    pub fn version(&self) -> Option<ProtocolVersion> {
        match self {
            HeaderVersion::Known(version) => Some(*version),
            _ => None,
        }
    }
}

/// The text of header values for `data.requested`: UTF-8 values (others become empty),
/// joined with `", "`, cut to [`MAX_REQUESTED_CHARS`] characters.
fn requested_text<'a>(values: impl IntoIterator<Item = &'a HeaderValue>) -> String {
    let mut text = String::new();
    let mut room = MAX_REQUESTED_CHARS;
    for (i, value) in values.into_iter().enumerate() {
        let value = std::str::from_utf8(value.as_bytes()).unwrap_or("");
        let separator = if i == 0 { "" } else { ", " };
        for c in separator.chars().chain(value.chars()) {
            if room == 0 {
                return text;
            }
            text.push(c);
            room -= 1;
        }
    }
    text
}

/// Why a request's `MCP-Protocol-Version` was refused; found in the rejection's response
/// extensions. Opaque: read [`kind`](Self::kind), [`requested`](Self::requested) and
/// [`version`](Self::version). See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedVersion {
    kind: UnsupportedVersionKind,
    requested: String,
    version: Option<ProtocolVersion>,
}

/// The class of an [`UnsupportedVersion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnsupportedVersionKind {
    /// The value is not a known revision (including empty and non-UTF-8 values).
    Unknown,
    /// The value is a known revision the server was not configured to support.
    NotSupported,
    /// The header was sent more than once.
    Repeated,
}

impl UnsupportedVersion {
    /// The class of problem.
    pub fn kind(&self) -> UnsupportedVersionKind {
        self.kind
    }

    /// The status code the rejection was sent with: always 400 Bad Request.
    pub fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }

    /// The header's text as sent in `data.requested`: at most 64 characters, empty for a value
    /// that is not UTF-8, repeated values joined with `", "`. Client-controlled: escape it
    /// before display.
    pub fn requested(&self) -> &str {
        &self.requested
    }

    /// The revision requested, when it is a known one outside the supported set.
    pub fn version(&self) -> Option<ProtocolVersion> {
        self.version
    }
}

impl fmt::Display for UnsupportedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            UnsupportedVersionKind::Unknown => "unknown protocol version",
            UnsupportedVersionKind::NotSupported => "unsupported protocol version",
            UnsupportedVersionKind::Repeated => "repeated protocol version header",
        })
    }
}

impl std::error::Error for UnsupportedVersion {}

/// Checks a request's protocol version against the supported set (`supported` newest first).
fn verify(
    method: &Method,
    headers: &HeaderMap,
    supported: &[ProtocolVersion],
) -> Result<(), UnsupportedVersion> {
    if method == Method::OPTIONS {
        return Ok(());
    }
    let (kind, requested, version) = match ProtocolVersion::from_headers(headers) {
        HeaderVersion::Absent => return Ok(()),
        HeaderVersion::Known(version) if supported.contains(&version) => return Ok(()),
        HeaderVersion::Known(version) => (
            UnsupportedVersionKind::NotSupported,
            version.as_str().to_owned(),
            Some(version),
        ),
        HeaderVersion::Unknown { requested } => (UnsupportedVersionKind::Unknown, requested, None),
        HeaderVersion::Repeated { requested } => {
            (UnsupportedVersionKind::Repeated, requested, None)
        }
    };
    Err(UnsupportedVersion {
        kind,
        requested,
        version,
    })
}

/// The 400 response for `error`, which it carries in its extensions; `id` is the request's
/// JSON-RPC id when a layer outside read it, or null.
fn reject(
    error: UnsupportedVersion,
    supported: &[ProtocolVersion],
    id: serde_json::Value,
    request: crate::observe::Target<'_>,
) -> Response<FullBody> {
    // The header's value is client-controlled: it is not logged.
    tracing::debug!(
        target: crate::observe::TRACE_TARGET,
        %error,
        version = error.version.map(ProtocolVersion::as_str),
        method = request.method,
        path = request.path,
        "request rejected"
    );
    let supported: Vec<&str> = supported.iter().map(|v| v.as_str()).collect();
    let data = serde_json::json!({ "supported": supported, "requested": error.requested });
    let mut response = jsonrpc_error(
        error.status(),
        UNSUPPORTED_CODE,
        UNSUPPORTED_MESSAGE,
        Some(data),
        id,
    );
    response.extensions_mut().insert(error);
    response
}

/// Refuses requests whose `MCP-Protocol-Version` header names an unsupported revision; see
/// the [module docs](self). Cheap to clone.
#[derive(Debug, Clone)]
#[must_use]
pub struct ProtocolVersionGateLayer {
    /// Newest first, without duplicates, never empty.
    supported: Arc<[ProtocolVersion]>,
}

impl ProtocolVersionGateLayer {
    /// A gate supporting every revision this crate knows ([`ProtocolVersion::ALL`]).
    pub fn new() -> Self {
        ProtocolVersionGateLayer {
            supported: ProtocolVersion::ALL.iter().rev().copied().collect(),
        }
    }

    /// A gate supporting exactly `versions`, in any order (duplicates are ignored). Narrow the
    /// set to the revisions your MCP server implements; [`new`](Self::new) supports every
    /// revision this crate knows.
    ///
    /// # Errors
    /// A [`ConfigError`] with [`ProblemKind::NoProtocolVersions`] (setting `with_supported`)
    /// if `versions` is empty.
    ///
    /// [`ProblemKind::NoProtocolVersions`]: crate::error::ProblemKind::NoProtocolVersions
    pub fn with_supported(
        versions: impl IntoIterator<Item = ProtocolVersion>,
    ) -> Result<Self, ConfigError> {
        Self::from_set(versions).ok_or_else(|| {
            ConfigError::new(
                "with_supported",
                crate::error::ProblemKind::NoProtocolVersions,
            )
        })
    }

    fn from_set(versions: impl IntoIterator<Item = ProtocolVersion>) -> Option<Self> {
        let mut supported: Vec<ProtocolVersion> = versions.into_iter().collect();
        supported.sort_unstable_by(|a, b| b.cmp(a));
        supported.dedup();
        (!supported.is_empty()).then(|| ProtocolVersionGateLayer {
            supported: supported.into(),
        })
    }

    /// The supported revisions, newest first: the order of `data.supported` in rejections.
    pub fn supported(&self) -> &[ProtocolVersion] {
        &self.supported
    }

    /// Whether a request with this method and these headers would be refused.
    pub(crate) fn refuses(&self, method: &Method, headers: &HeaderMap) -> bool {
        verify(method, headers, &self.supported).is_err()
    }
}

impl Default for ProtocolVersionGateLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for ProtocolVersionGateLayer {
    type Service = ProtocolVersionGate<S>;

    fn layer(&self, inner: S) -> ProtocolVersionGate<S> {
        ProtocolVersionGate {
            inner,
            supported: Arc::clone(&self.supported),
        }
    }
}

/// Middleware refusing requests whose `MCP-Protocol-Version` header names an unsupported
/// revision with a 400 JSON-RPC error, and passing every other request on; made by
/// [`ProtocolVersionGateLayer`]. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct ProtocolVersionGate<S> {
    inner: S,
    supported: Arc<[ProtocolVersion]>,
}

impl<S> ProtocolVersionGate<S> {
    /// Wraps `inner`, supporting every revision this crate knows. Use a
    /// [`ProtocolVersionGateLayer`] to choose the revisions.
    pub fn new(inner: S) -> Self {
        ProtocolVersionGateLayer::new().layer(inner)
    }

    crate::macros::inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ProtocolVersionGate<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = EitherResponse<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        match verify(request.method(), request.headers(), &self.supported) {
            Ok(()) => EitherResponse::inner(self.inner.call(request)),
            Err(error) => {
                // Echo the request's id when an operation layer outside read the body (only
                // ever after its token was validated); never read it here.
                let id = crate::body::request_id(request.extensions());
                let target = crate::observe::Target::of(&request);
                let mut response = reject(error, &self.supported, id, target);
                crate::body::close_if_body_pending(&request, &mut response);
                EitherResponse::ready(response)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;
    use http_body_util::BodyExt;
    use tower::{ServiceExt, service_fn};

    use super::*;

    type Inner = tower::util::ServiceFn<
        fn(Request<()>) -> std::future::Ready<Result<Response<String>, Infallible>>,
    >;

    fn ok(_request: Request<()>) -> std::future::Ready<Result<Response<String>, Infallible>> {
        std::future::ready(Ok(Response::new(String::from("inner"))))
    }

    fn inner() -> Inner {
        service_fn(ok as fn(_) -> _)
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn request(method: Method, values: &[&[u8]]) -> Request<()> {
        let mut request = Request::builder().method(method).uri("/mcp");
        for value in values {
            request = request.header(
                "MCP-Protocol-Version",
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        request.body(()).unwrap()
    }

    fn send(layer: &ProtocolVersionGateLayer, request: Request<()>) -> (Response<()>, Bytes) {
        block_on(async {
            let response = layer.layer(inner()).oneshot(request).await.unwrap();
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await.unwrap().to_bytes();
            (Response::from_parts(parts, ()), bytes)
        })
    }

    fn all_newest_first() -> Vec<&'static str> {
        let mut all: Vec<&str> = ProtocolVersion::ALL.iter().map(|v| v.as_str()).collect();
        all.reverse();
        all
    }

    #[test]
    fn each_known_version_passes_the_default_gate() {
        let layer = ProtocolVersionGateLayer::new();
        for version in ProtocolVersion::ALL {
            let (response, body) = send(
                &layer,
                request(Method::POST, &[version.as_str().as_bytes()]),
            );
            assert_eq!(response.status(), StatusCode::OK, "{version}");
            assert_eq!(body, "inner", "{version}");
            assert!(response.extensions().get::<UnsupportedVersion>().is_none());
        }
    }

    #[test]
    fn absent_header_passes_for_every_method() {
        let layer = ProtocolVersionGateLayer::new();
        for method in [Method::POST, Method::GET, Method::DELETE] {
            let (response, body) = send(&layer, request(method.clone(), &[]));
            assert_eq!(response.status(), StatusCode::OK, "{method}");
            assert_eq!(body, "inner", "{method}");
        }
    }

    #[test]
    fn bad_headers_get_400_with_jsonrpc_unsupported_version() {
        struct Case {
            name: &'static str,
            values: Vec<&'static [u8]>,
            kind: UnsupportedVersionKind,
            requested: String,
        }
        fn case(
            name: &'static str,
            values: &[&'static [u8]],
            kind: UnsupportedVersionKind,
            requested: &str,
        ) -> Case {
            Case {
                name,
                values: values.to_vec(),
                kind,
                requested: requested.to_owned(),
            }
        }
        const LONG: &[u8] = &[b'9'; 200];
        use UnsupportedVersionKind::{Repeated, Unknown};
        let cases = [
            case(
                "date of no revision",
                &[b"1900-01-01"],
                Unknown,
                "1900-01-01",
            ),
            case("garbage", &[b"9999"], Unknown, "9999"),
            case("empty value", &[b""], Unknown, ""),
            case(
                "pre-release string",
                &[b"2024-10-07"],
                Unknown,
                "2024-10-07",
            ),
            case("folder name", &[b"draft"], Unknown, "draft"),
            case(
                "values are not trimmed",
                &[b"2025-06-18 "],
                Unknown,
                "2025-06-18 ",
            ),
            case(
                "a list in one header",
                &[b"2025-06-18, 2025-11-25"],
                Unknown,
                "2025-06-18, 2025-11-25",
            ),
            case(
                "quotes and backslashes stay inside the json string",
                &[b"\"},\"x\":\"\\"],
                Unknown,
                "\"},\"x\":\"\\",
            ),
            case(
                "utf-8 beyond ascii is echoed",
                &["2025-06-18\u{e9}".as_bytes()],
                Unknown,
                "2025-06-18\u{e9}",
            ),
            case(
                "non-utf-8 value is echoed as empty",
                &[b"2025-06-18\xff"],
                Unknown,
                "",
            ),
            case(
                "long value is cut to 64 characters",
                &[LONG],
                Unknown,
                &"9".repeat(64),
            ),
            case(
                "repeated header with one value twice",
                &[b"2025-06-18", b"2025-06-18"],
                Repeated,
                "2025-06-18, 2025-06-18",
            ),
            case(
                "repeated header with two known values",
                &[b"2025-11-25", b"2026-07-28"],
                Repeated,
                "2025-11-25, 2026-07-28",
            ),
            case(
                "repeated header with a non-utf-8 value",
                &[b"\xff", b"2025-06-18"],
                Repeated,
                ", 2025-06-18",
            ),
            case(
                "many repeated headers are cut to 64 characters",
                &[b"2025-06-18".as_slice(); 50],
                Repeated,
                &["2025-06-18"; 6]
                    .join(", ")
                    .chars()
                    .take(64)
                    .collect::<String>(),
            ),
        ];
        let layer = ProtocolVersionGateLayer::new();
        for Case {
            name,
            values,
            kind,
            requested,
        } in cases
        {
            let (response, body) = send(&layer, request(Method::POST, &values));
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
            assert_eq!(
                response.headers()["content-type"],
                "application/json",
                "{name}"
            );
            assert_eq!(response.headers()["cache-control"], "no-store", "{name}");

            let json: serde_json::Value = serde_json::from_slice(&body).expect(name);
            assert_eq!(json["jsonrpc"], "2.0", "{name}");
            assert!(json["id"].is_null(), "{name}");
            assert_eq!(json["error"]["code"], -32022, "{name}");
            assert_eq!(
                json["error"]["message"], "Unsupported protocol version",
                "{name}"
            );
            assert_eq!(
                json["error"]["data"]["supported"],
                serde_json::json!(all_newest_first()),
                "{name}"
            );
            assert_eq!(json["error"]["data"]["requested"], *requested, "{name}");

            let error = response
                .extensions()
                .get::<UnsupportedVersion>()
                .expect(name);
            assert_eq!(error.kind(), kind, "{name}");
            assert_eq!(error.requested(), requested, "{name}");
            assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{name}");
            assert_eq!(error.version(), None, "{name}");
        }
    }

    #[test]
    fn restricted_set_refuses_an_otherwise_known_version() {
        let layer = ProtocolVersionGateLayer::with_supported([
            ProtocolVersion::V2025_11_25,
            ProtocolVersion::V2026_07_28,
        ])
        .unwrap();
        let (response, body) = send(&layer, request(Method::POST, &[b"2025-06-18"]));
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], -32022);
        assert_eq!(
            json["error"]["data"],
            serde_json::json!({ "supported": ["2026-07-28", "2025-11-25"], "requested": "2025-06-18" })
        );
        let error = response.extensions().get::<UnsupportedVersion>().unwrap();
        assert_eq!(error.kind(), UnsupportedVersionKind::NotSupported);
        assert_eq!(error.version(), Some(ProtocolVersion::V2025_06_18));
        assert_eq!(error.requested(), "2025-06-18");

        for supported in [b"2025-11-25", b"2026-07-28"] {
            let (response, _) = send(&layer, request(Method::POST, &[supported]));
            assert_eq!(response.status(), StatusCode::OK);
        }
    }

    #[test]
    fn options_preflight_passes_whatever_the_header() {
        let layer = ProtocolVersionGateLayer::new();
        let cases: [(&str, &[&[u8]]); 4] = [
            ("unknown", &[b"1900-01-01"]),
            ("non-utf-8", &[b"\xff"]),
            ("repeated", &[b"2025-06-18", b"2025-06-18"]),
            ("absent", &[]),
        ];
        for (name, values) in cases {
            let (response, body) = send(&layer, request(Method::OPTIONS, values));
            assert_eq!(response.status(), StatusCode::OK, "{name}");
            assert_eq!(body, "inner", "{name}");
        }
    }

    #[test]
    fn rejected_requests_never_reach_the_inner_service() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let service = ProtocolVersionGateLayer::new().layer(service_fn(move |_req: Request<()>| {
            counter.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok::<_, Infallible>(Response::new(String::new())))
        }));
        let response = block_on(service.oneshot(request(Method::POST, &[b"9999"]))).unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn header_name_is_case_insensitive() {
        let layer = ProtocolVersionGateLayer::with_supported([ProtocolVersion::LATEST]).unwrap();
        for name in [
            "MCP-Protocol-Version",
            "mcp-protocol-version",
            "Mcp-Protocol-Version",
        ] {
            let request = |value: &str| Request::post("/mcp").header(name, value).body(()).unwrap();
            let (response, _) = send(&layer, request("2026-07-28"));
            assert_eq!(response.status(), StatusCode::OK, "{name}");
            let (response, _) = send(&layer, request("2025-06-18"));
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
        }
    }

    #[test]
    fn from_headers_classifies_the_header() {
        struct Case {
            name: &'static str,
            values: &'static [&'static [u8]],
            expected: HeaderVersion,
        }
        let cases = [
            Case {
                name: "absent",
                values: &[],
                expected: HeaderVersion::Absent,
            },
            Case {
                name: "legacy",
                values: &[b"2025-03-26"],
                expected: HeaderVersion::Known(ProtocolVersion::V2025_03_26),
            },
            Case {
                name: "modern",
                values: &[b"2026-07-28"],
                expected: HeaderVersion::Known(ProtocolVersion::V2026_07_28),
            },
            Case {
                name: "unknown",
                values: &[b"2026-07-29"],
                expected: HeaderVersion::Unknown {
                    requested: "2026-07-29".to_owned(),
                },
            },
            Case {
                name: "non-utf-8",
                values: &[b"\x80"],
                expected: HeaderVersion::Unknown {
                    requested: String::new(),
                },
            },
            Case {
                name: "repeated",
                values: &[b"2026-07-28", b"2026-07-28"],
                expected: HeaderVersion::Repeated {
                    requested: "2026-07-28, 2026-07-28".to_owned(),
                },
            },
        ];
        for case in cases {
            let request = request(Method::POST, case.values);
            let found = ProtocolVersion::from_headers(request.headers());
            assert_eq!(found, case.expected, "{}", case.name);
            assert_eq!(
                found.version(),
                match case.expected {
                    HeaderVersion::Known(v) => Some(v),
                    _ => None,
                },
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn versions_are_ordered_by_date_and_round_trip() {
        let all = ProtocolVersion::ALL;
        assert_eq!(all.len(), 5);
        assert!(
            all.windows(2)
                .all(|w| w[0] < w[1] && w[0].as_str() < w[1].as_str())
        );
        assert_eq!(all.iter().max(), Some(&ProtocolVersion::LATEST));
        assert_eq!(ProtocolVersion::LATEST.as_str(), "2026-07-28");
        for version in all {
            assert_eq!(ProtocolVersion::parse(version.as_str()), Some(*version));
            assert_eq!(version.to_string(), version.as_str());
        }
        assert!(ProtocolVersion::V2025_03_26 < ProtocolVersion::V2025_06_18);
        assert!(ProtocolVersion::V2025_11_25 < ProtocolVersion::V2026_07_28);
    }

    #[test]
    fn parse_accepts_exact_wire_strings_only() {
        for (name, text) in [
            ("empty", ""),
            ("pre-release", "2024-10-07"),
            ("folder name", "draft"),
            ("upper-case folder name", "DRAFT"),
            ("leading space", " 2025-06-18"),
            ("trailing newline", "2025-06-18\n"),
            ("slashes", "2025/06/18"),
            ("no dashes", "20250618"),
            ("quoted", "\"2025-06-18\""),
        ] {
            assert_eq!(ProtocolVersion::parse(text), None, "{name}");
        }
    }

    #[test]
    fn only_2026_07_28_and_later_is_modern() {
        for version in ProtocolVersion::ALL {
            let modern = *version >= ProtocolVersion::V2026_07_28;
            assert_eq!(version.is_modern(), modern, "{version}");
            assert_eq!(version.is_legacy(), !modern, "{version}");
        }
        assert!(ProtocolVersion::LATEST.is_modern());
        assert!(ProtocolVersion::V2025_11_25.is_legacy());
    }

    #[test]
    fn supported_set_is_newest_first_deduplicated_and_never_empty() {
        assert_eq!(
            ProtocolVersionGateLayer::new().supported(),
            ProtocolVersion::ALL
                .iter()
                .rev()
                .copied()
                .collect::<Vec<_>>()
        );
        assert_eq!(
            ProtocolVersionGateLayer::default().supported(),
            ProtocolVersionGateLayer::new().supported()
        );
        let layer = ProtocolVersionGateLayer::with_supported([
            ProtocolVersion::V2025_06_18,
            ProtocolVersion::V2026_07_28,
            ProtocolVersion::V2025_06_18,
        ])
        .unwrap();
        assert_eq!(
            layer.supported(),
            [ProtocolVersion::V2026_07_28, ProtocolVersion::V2025_06_18]
        );
        assert!(ProtocolVersionGateLayer::with_supported([]).is_err());
    }

    #[test]
    fn gate_gives_access_to_the_inner_service() {
        let mut gate = ProtocolVersionGate::new(inner());
        let _: &Inner = gate.get_ref();
        let _: &mut Inner = gate.get_mut();
        let _: Inner = gate.into_inner();
        let (response, _) = block_on(async {
            let response = ProtocolVersionGateLayer::default()
                .layer(inner())
                .oneshot(request(Method::POST, &[b"1900-01-01"]))
                .await
                .unwrap();
            response.into_parts()
        });
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn error_display_is_short_and_never_echoes_the_value() {
        let layer = ProtocolVersionGateLayer::with_supported([ProtocolVersion::LATEST]).unwrap();
        for (values, text) in [
            (&[&b"1900-01-01"[..]][..], "unknown protocol version"),
            (&[&b"2025-06-18"[..]][..], "unsupported protocol version"),
            (
                &[&b"2026-07-28"[..], &b"2026-07-28"[..]][..],
                "repeated protocol version header",
            ),
        ] {
            let (response, _) = send(&layer, request(Method::POST, values));
            let error = response.extensions().get::<UnsupportedVersion>().unwrap();
            assert_eq!(error.to_string(), text);
        }
    }

    fn send_sync_clone<T: Send + Sync + Clone>() {}
    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn layer_service_and_future_are_send_sync_and_clone() {
        send_sync_clone::<ProtocolVersionGateLayer>();
        send_sync_clone::<ProtocolVersionGate<Inner>>();
        send_sync_clone::<ProtocolVersion>();
        send_sync_clone::<HeaderVersion>();
        send_sync_clone::<UnsupportedVersion>();
        send_sync::<<ProtocolVersionGate<Inner> as Service<Request<()>>>::Future>();
        send_sync::<EitherResponse<std::future::Ready<Result<Response<String>, Infallible>>>>();
    }
}
