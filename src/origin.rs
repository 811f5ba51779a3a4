//! The DNS-rebinding guard: refuses requests whose `Origin` (and, optionally, `Host`) names a
//! host the server does not expect.
//!
//! A web page can make a victim's browser send requests to a local or internal MCP server: to
//! `localhost` directly, or to a name of the attacker's whose DNS record is switched to the
//! server's address after the page loads (DNS rebinding). The browser labels such requests
//! with the page's `Origin`, and a rebound name also shows in `Host`. The MCP Streamable HTTP
//! transport therefore requires servers to validate `Origin` and to answer a present, invalid
//! one with 403 Forbidden.
//!
//! [`OriginPolicy`] holds the decision, as plain data and a pure [`check`](OriginPolicy::check);
//! [`OriginGuardLayer`] applies it to every request:
//!
//! | request | outcome |
//! |---|---|
//! | no `Origin` | passes the `Origin` check (non-browser clients send none) |
//! | `Origin: http://<allowed host>[:any port]` (or `https`) | passes |
//! | any other host, `null`, a malformed value, two `Origin` headers | 403 |
//! | with [`check_host`](OriginPolicy::check_host): a `Host` (or request-target authority) not allowed, malformed or repeated | 403 |
//!
//! Refusals are JSON-RPC errors with `id: null`, code `-32000` and a fixed message
//! (`Forbidden: Origin not allowed` or `Forbidden: Host not allowed`) that never repeats the
//! header, and carry an [`OriginError`] in their response extensions.
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use mcp_server_auth::origin::{OriginError, OriginErrorKind, OriginGuardLayer, OriginPolicy};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // A loopback server allows the loopback names, with any port, and checks `Host` too.
//! let policy = OriginPolicy::for_resource("http://127.0.0.1:8080/mcp")?;
//! let app = ServiceBuilder::new()
//!     .layer(OriginGuardLayer::new(policy))
//!     .service(service_fn(|_req: Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(String::from("ok")))
//!     }));
//!
//! let request = |origin: Option<&str>| {
//!     let mut request = Request::post("/mcp").header("host", "127.0.0.1:8080");
//!     if let Some(origin) = origin {
//!         request = request.header("origin", origin);
//!     }
//!     request.body(String::new())
//! };
//!
//! // A page served from another site: refused before anything else looks at the request.
//! let response = app.clone().oneshot(request(Some("http://evil.example.com"))?).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! let error = response.extensions().get::<OriginError>().unwrap();
//! assert_eq!(error.kind(), OriginErrorKind::OriginNotAllowed);
//!
//! // A local web client on another port, and a client that sends no `Origin`: served.
//! let response = app.clone().oneshot(request(Some("http://localhost:5173"))?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! let response = app.clone().oneshot(request(None)?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! // A rebound name in `Host`, even without `Origin`.
//! let evil_host = Request::post("/mcp").header("host", "evil.example.com:8080").body(String::new())?;
//! let response = app.oneshot(evil_host).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Where it goes
//!
//! The guard belongs after the metadata route and before authentication, which is the order
//! [`McpAuth::layer`](crate::McpAuth::layer) uses:
//!
//! - the protected resource metadata must stay public, readable from any origin (it is served
//!   with `Access-Control-Allow-Origin: *`), so the metadata route answers before the guard;
//! - an unwanted `Origin` must get the 403 the transport specification asks for, whatever
//!   credentials the request carries, never a 401 inviting the page to authenticate.
//!
//! # Deployment
//!
//! Behind a reverse proxy or load balancer, `Host` is often rewritten to an internal name, so
//! [`OriginPolicy::for_resource`] checks `Host` only for loopback resources. Turn it on with
//! [`check_host`](OriginPolicy::check_host) and list every name the server is reached by with
//! [`add_allowed_host`](OriginPolicy::add_allowed_host) when requests arrive with the public
//! name. A proxy that rewrites or strips `Origin` defeats the check; it must forward it
//! unchanged.

use std::fmt;
use std::net::Ipv6Addr;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{self, HeaderMap};
use http::{Request, Response, StatusCode};
use tower::{Layer, Service};

use crate::body::ResponseBody;
use crate::error::ConfigError;
use crate::future::EitherResponse;
use crate::url;

/// The JSON-RPC error code of a refusal: the implementation-defined server error the MCP
/// specification's example uses.
const JSONRPC_CODE: i64 = -32000;

/// The names a loopback server is reached by.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// Which `Origin` and `Host` values a server accepts. See the [module docs](self).
///
/// Hosts are hostnames, matched with any port and scheme (`http` or `https`): `example.com`,
/// `127.0.0.1`, `[::1]`. Names compare ASCII case-insensitively and IPv6 addresses by value;
/// internationalized names must be given in their ASCII (`xn--`) form, as browsers send them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct OriginPolicy {
    origin_hosts: Vec<AllowedHost>,
    hosts: Vec<AllowedHost>,
    check_host: bool,
}

/// One allowed hostname, normalized when added.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AllowedHost {
    /// A name or IPv4 address, ASCII-lowercased.
    Name(Box<str>),
    /// An IPv6 address, given with or without brackets.
    Ip6(Ipv6Addr),
}

impl AllowedHost {
    fn new(host: &str) -> Self {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match bare.parse::<Ipv6Addr>() {
            Ok(ip) => AllowedHost::Ip6(ip),
            Err(_) => AllowedHost::Name(host.to_ascii_lowercase().into()),
        }
    }

    fn matches(&self, host: Hostname<'_>) -> bool {
        match (self, host) {
            (AllowedHost::Name(allowed), Hostname::Name(name)) => {
                allowed.eq_ignore_ascii_case(name)
            }
            (AllowedHost::Ip6(allowed), Hostname::Ip6(ip)) => *allowed == ip,
            _ => false,
        }
    }
}

/// A hostname taken from a request, port dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hostname<'a> {
    /// A registered name or IPv4 address, as sent.
    Name(&'a str),
    /// A bracketed IPv6 address.
    Ip6(Ipv6Addr),
}

fn push_unique(list: &mut Vec<AllowedHost>, host: &str) {
    let host = AllowedHost::new(host);
    if !list.contains(&host) {
        list.push(host);
    }
}

impl OriginPolicy {
    /// A policy that allows no `Origin` at all (requests without one still pass) and does not
    /// check `Host`. Add hosts with the setters.
    pub fn new() -> Self {
        OriginPolicy {
            origin_hosts: Vec::new(),
            hosts: Vec::new(),
            check_host: false,
        }
    }

    /// The defaults for the MCP endpoint `resource`, such as `https://mcp.example.com/mcp`:
    ///
    /// - a loopback resource (`localhost`, `127.0.0.0/8`, `[::1]`) allows `localhost`,
    ///   `127.0.0.1`, `[::1]` and its own host, in both `Origin` and `Host`, and checks `Host`:
    ///   local servers are the usual target of DNS rebinding, and no proxy rewrites their
    ///   `Host`;
    /// - any other resource allows its own host in `Origin`, lists it for `Host`, and does not
    ///   check `Host`, which reverse proxies often rewrite (see
    ///   [`check_host`](Self::check_host)).
    ///
    /// Add the origins of browser-based clients served from other hosts with
    /// [`add_allowed_origin_host`](Self::add_allowed_origin_host).
    ///
    /// # Errors
    /// A [`ConfigError`] with [`ProblemKind::InvalidResource`] (setting `for_resource`) when
    /// `resource` is not an absolute URL.
    ///
    /// [`ProblemKind::InvalidResource`]: crate::error::ProblemKind::InvalidResource
    pub fn for_resource(resource: &str) -> Result<Self, ConfigError> {
        let parts = url::split(resource).map_err(|reason| {
            let kind = crate::error::ProblemKind::InvalidResource {
                resource: resource.to_owned(),
                reason,
            };
            ConfigError::new("for_resource", kind)
        })?;
        let mut policy = OriginPolicy::new();
        if parts.is_loopback() {
            for host in LOOPBACK_HOSTS.into_iter().chain([parts.host]) {
                push_unique(&mut policy.origin_hosts, host);
                push_unique(&mut policy.hosts, host);
            }
            policy.check_host = true;
        } else {
            push_unique(&mut policy.origin_hosts, parts.host);
            push_unique(&mut policy.hosts, parts.host);
        }
        Ok(policy)
    }

    /// Also accepts an `Origin` whose host is `host` (a hostname without scheme or port, such
    /// as `app.example.com` or `[::1]`), with any port and with `http` or `https`. Accumulates;
    /// the defaults are those of [`for_resource`](Self::for_resource), or none for
    /// [`new`](Self::new).
    ///
    /// # Security
    /// Allow only hosts whose pages you trust to call the server with the user's browser. A
    /// value with a scheme, port or path never matches. The `null` origin (sandboxed frames,
    /// `file:` and `data:` pages) is always refused, since any page can produce it; adding
    /// `"null"` does not allow it.
    pub fn add_allowed_origin_host(mut self, host: impl Into<String>) -> Self {
        push_unique(&mut self.origin_hosts, &host.into());
        self
    }

    /// Also accepts a `Host` of `host` (a hostname without port), with any port, when `Host`
    /// is checked. Accumulates; the defaults are those of
    /// [`for_resource`](Self::for_resource), or none for [`new`](Self::new).
    pub fn add_allowed_host(mut self, host: impl Into<String>) -> Self {
        push_unique(&mut self.hosts, &host.into());
        self
    }

    /// Whether to check the `Host` header, and the authority of an absolute request target or
    /// HTTP/2 `:authority`, against the allowed hosts. A request that carries neither passes.
    /// Defaults to `true` for loopback resources and `false` otherwise (see
    /// [`for_resource`](Self::for_resource)).
    ///
    /// # Security
    /// Checking `Host` also stops rebinding attacks from clients that send no `Origin`. Behind
    /// a reverse proxy, list the names the proxy forwards before turning this on.
    pub fn check_host(mut self, check: bool) -> Self {
        self.check_host = check;
        self
    }

    /// Checks the `Origin` and, when enabled, `Host` headers of a request.
    ///
    /// `Origin` passes when absent, or when it is a single `http://` or `https://` origin
    /// (scheme case-insensitive, no user info, path, query or fragment) whose host is allowed.
    /// `Host`, when checked, passes when absent or when it is a single `host[:port]` whose host
    /// is allowed.
    ///
    /// # Errors
    /// An [`OriginError`] naming the first problem: the `Origin`'s, then the `Host`'s.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), OriginError> {
        self.check_origin(headers)?;
        if self.check_host {
            self.check_host_header(headers)?;
        }
        Ok(())
    }

    /// As [`check`](Self::check), and, when `Host` is checked, also the authority of the
    /// request target: present in absolute-form HTTP/1.1 requests and, through `:authority`,
    /// in HTTP/2 requests, which usually carry no `Host` header. This is the check
    /// [`OriginGuard`] applies.
    ///
    /// # Errors
    /// An [`OriginError`] naming the first problem found.
    pub fn check_request<B>(&self, request: &Request<B>) -> Result<(), OriginError> {
        self.check(request.headers())?;
        if self.check_host
            && let Some(authority) = request.uri().authority()
        {
            self.check_hostname(parse_authority(authority.host()))?;
        }
        Ok(())
    }

    fn check_origin(&self, headers: &HeaderMap) -> Result<(), OriginError> {
        let value = match single(headers, &header::ORIGIN) {
            Single::Absent => return Ok(()),
            Single::One(value) => value,
            Single::Many => return Err(OriginError::new(OriginErrorKind::MalformedOrigin)),
        };
        let host = parse_origin(value).map_err(OriginError::new)?;
        if self
            .origin_hosts
            .iter()
            .any(|allowed| allowed.matches(host))
        {
            Ok(())
        } else {
            Err(OriginError::new(OriginErrorKind::OriginNotAllowed))
        }
    }

    fn check_host_header(&self, headers: &HeaderMap) -> Result<(), OriginError> {
        let value = match single(headers, &header::HOST) {
            Single::Absent => return Ok(()),
            Single::One(value) => value,
            Single::Many => return Err(OriginError::new(OriginErrorKind::MalformedHost)),
        };
        self.check_hostname(visible_ascii(value).and_then(parse_authority))
    }

    /// Checks a hostname from `Host` or the request target (`None` if it did not parse).
    fn check_hostname(&self, host: Option<Hostname<'_>>) -> Result<(), OriginError> {
        let host = host.ok_or(OriginError::new(OriginErrorKind::MalformedHost))?;
        if self.hosts.iter().any(|allowed| allowed.matches(host)) {
            Ok(())
        } else {
            Err(OriginError::new(OriginErrorKind::HostNotAllowed))
        }
    }
}

impl Default for OriginPolicy {
    /// [`OriginPolicy::new`]: no origin allowed, `Host` not checked.
    fn default() -> Self {
        OriginPolicy::new()
    }
}

/// How many times a header occurs.
enum Single<'a> {
    Absent,
    One(&'a [u8]),
    Many,
}

fn single<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Single<'a> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Single::Absent,
        (Some(value), None) => Single::One(value.as_bytes()),
        (Some(_), Some(_)) => Single::Many,
    }
}

/// `value` as text, if it is non-empty visible ASCII (no spaces, controls or other bytes).
fn visible_ascii(value: &[u8]) -> Option<&str> {
    if value.is_empty() || !value.iter().all(|b| matches!(b, 0x21..=0x7e)) {
        return None;
    }
    std::str::from_utf8(value).ok()
}

/// The host of a serialized origin ([RFC 6454 §6.2]): `scheme "://" host [ ":" port ]`.
///
/// [RFC 6454 §6.2]: https://www.rfc-editor.org/rfc/rfc6454#section-6.2
fn parse_origin(value: &[u8]) -> Result<Hostname<'_>, OriginErrorKind> {
    let value = visible_ascii(value).ok_or(OriginErrorKind::MalformedOrigin)?;
    if value == "null" {
        return Err(OriginErrorKind::NullOrigin);
    }
    let (scheme, authority) = value
        .split_once("://")
        .ok_or(OriginErrorKind::MalformedOrigin)?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(OriginErrorKind::MalformedOrigin);
    }
    parse_authority(authority).ok_or(OriginErrorKind::MalformedOrigin)
}

/// The host of `host [ ":" port ]`, where host is a name or IPv4 address (letters, digits,
/// `-`, `.`, `_`) or a bracketed IPv6 address without zone, and port is 1 to 5 digits up to
/// 65535. Anything else (user info, a path, an empty port) is refused.
fn parse_authority(authority: &str) -> Option<Hostname<'_>> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (ip, port) = rest.split_once(']')?;
        (Hostname::Ip6(ip.parse().ok()?), port)
    } else {
        let end = authority.find(':').unwrap_or(authority.len());
        let (name, port) = authority.split_at(end);
        let name_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
        if name.is_empty() || !name.bytes().all(name_byte) {
            return None;
        }
        (Hostname::Name(name), port)
    };
    if !port.is_empty() {
        let digits = port.strip_prefix(':')?;
        if digits.is_empty()
            || digits.len() > 5
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.parse::<u16>().is_err()
        {
            return None;
        }
    }
    Some(host)
}

/// Why the origin guard refused a request. Every refusal is 403 Forbidden. Found in the
/// response extensions of the refusal.
///
/// Its `Display` text is short and never repeats the header values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginError {
    kind: OriginErrorKind,
}

/// The class of an [`OriginError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OriginErrorKind {
    /// `Origin` is a well-formed origin whose host is not allowed.
    OriginNotAllowed,
    /// `Origin` is `null`, sent by sandboxed frames and `file:` or `data:` pages.
    NullOrigin,
    /// `Origin` is not a single `http` or `https` origin: repeated, empty, another scheme,
    /// a path, user info, characters other than visible ASCII.
    MalformedOrigin,
    /// `Host`, or the authority of the request target, names a host that is not allowed.
    HostNotAllowed,
    /// `Host` is repeated, empty or not `host[:port]`.
    MalformedHost,
}

impl OriginError {
    fn new(kind: OriginErrorKind) -> Self {
        OriginError { kind }
    }

    /// What was wrong.
    pub fn kind(&self) -> OriginErrorKind {
        self.kind
    }

    /// The status code of the refusal: always 403 Forbidden.
    pub fn status(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }

    /// The fixed JSON-RPC error message of the refusal.
    fn message(&self) -> &'static str {
        match self.kind {
            OriginErrorKind::OriginNotAllowed
            | OriginErrorKind::NullOrigin
            | OriginErrorKind::MalformedOrigin => "Forbidden: Origin not allowed",
            OriginErrorKind::HostNotAllowed | OriginErrorKind::MalformedHost => {
                "Forbidden: Host not allowed"
            }
        }
    }
}

impl fmt::Display for OriginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            OriginErrorKind::OriginNotAllowed => "origin not allowed",
            OriginErrorKind::NullOrigin => "null origin",
            OriginErrorKind::MalformedOrigin => "malformed origin",
            OriginErrorKind::HostNotAllowed => "host not allowed",
            OriginErrorKind::MalformedHost => "malformed host",
        })
    }
}

impl std::error::Error for OriginError {}

/// Applies an [`OriginPolicy`] to every request. See the [module docs](self).
#[derive(Debug, Clone)]
#[must_use]
pub struct OriginGuardLayer {
    policy: Arc<OriginPolicy>,
}

impl OriginGuardLayer {
    /// A layer applying `policy`.
    pub fn new(policy: OriginPolicy) -> Self {
        OriginGuardLayer {
            policy: Arc::new(policy),
        }
    }
}

impl<S> Layer<S> for OriginGuardLayer {
    type Service = OriginGuard<S>;

    fn layer(&self, inner: S) -> OriginGuard<S> {
        OriginGuard {
            inner,
            policy: Arc::clone(&self.policy),
        }
    }
}

/// Middleware answering requests its [`OriginPolicy`] refuses with 403 and passing the others
/// on untouched. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct OriginGuard<S> {
    inner: S,
    policy: Arc<OriginPolicy>,
}

impl<S> OriginGuard<S> {
    /// Wraps `inner` with `policy`.
    pub fn new(inner: S, policy: OriginPolicy) -> Self {
        OriginGuard {
            inner,
            policy: Arc::new(policy),
        }
    }

    /// A layer wrapping services with `policy`.
    pub fn layer(policy: OriginPolicy) -> OriginGuardLayer {
        OriginGuardLayer::new(policy)
    }

    crate::macros::inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for OriginGuard<S>
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
        match self.policy.check_request(&request) {
            Ok(()) => EitherResponse::inner(self.inner.call(request)),
            Err(error) => {
                tracing::debug!(
                    target: crate::observe::TRACE_TARGET,
                    %error,
                    method = request.method().as_str(),
                    path = request.uri().path(),
                    "request refused by the origin guard"
                );
                let mut response = crate::body::jsonrpc_error(
                    error.status(),
                    JSONRPC_CODE,
                    error.message(),
                    None,
                    serde_json::Value::Null,
                );
                response.extensions_mut().insert(error);
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
    use std::future::Ready;

    use http::HeaderValue;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    #[derive(Clone)]
    struct Svc;

    impl Service<Request<String>> for Svc {
        type Response = Response<String>;
        type Error = Infallible;
        type Future = Ready<Result<Response<String>, Infallible>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _request: Request<String>) -> Self::Future {
            std::future::ready(Ok(Response::new("inner".to_owned())))
        }
    }

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    fn loopback() -> OriginPolicy {
        OriginPolicy::for_resource("http://localhost:8080/mcp").unwrap()
    }

    fn public() -> OriginPolicy {
        OriginPolicy::for_resource("https://mcp.example.com/mcp").unwrap()
    }

    struct Case {
        name: &'static str,
        headers: &'static [(&'static str, &'static [u8])],
        expected: Result<(), OriginErrorKind>,
    }

    fn run(policy: &OriginPolicy, cases: &[Case]) {
        for case in cases {
            let result = policy.check(&headers(case.headers)).map_err(|e| e.kind());
            assert_eq!(result, case.expected, "{}", case.name);
        }
    }

    use OriginErrorKind::{
        HostNotAllowed, MalformedHost, MalformedOrigin, NullOrigin, OriginNotAllowed,
    };

    #[test]
    fn origin_is_checked_against_loopback_hosts() {
        run(
            &loopback(),
            &[
                Case {
                    name: "absent origin passes",
                    headers: &[],
                    expected: Ok(()),
                },
                Case {
                    name: "localhost without port",
                    headers: &[("origin", b"http://localhost")],
                    expected: Ok(()),
                },
                Case {
                    name: "localhost with the server's port",
                    headers: &[("origin", b"http://localhost:8080")],
                    expected: Ok(()),
                },
                Case {
                    name: "localhost with another port",
                    headers: &[("origin", b"http://localhost:5173")],
                    expected: Ok(()),
                },
                Case {
                    name: "https localhost with the largest port",
                    headers: &[("origin", b"https://localhost:65535")],
                    expected: Ok(()),
                },
                Case {
                    name: "127.0.0.1 with port",
                    headers: &[("origin", b"http://127.0.0.1:3000")],
                    expected: Ok(()),
                },
                Case {
                    name: "ipv6 loopback with port",
                    headers: &[("origin", b"http://[::1]:3000")],
                    expected: Ok(()),
                },
                Case {
                    name: "ipv6 loopback written in full",
                    headers: &[("origin", b"http://[0:0:0:0:0:0:0:1]")],
                    expected: Ok(()),
                },
                Case {
                    name: "host and scheme case-insensitive",
                    headers: &[("origin", b"HTTP://LocalHost:3000")],
                    expected: Ok(()),
                },
                Case {
                    name: "evil origin",
                    headers: &[("origin", b"http://evil.example.com")],
                    expected: Err(OriginNotAllowed),
                },
                Case {
                    name: "loopback name as a subdomain prefix",
                    headers: &[("origin", b"http://localhost.evil.com")],
                    expected: Err(OriginNotAllowed),
                },
                Case {
                    name: "loopback address as a subdomain prefix",
                    headers: &[("origin", b"http://127.0.0.1.evil.com")],
                    expected: Err(OriginNotAllowed),
                },
                Case {
                    name: "other loopback address not listed",
                    headers: &[("origin", b"http://127.0.0.2")],
                    expected: Err(OriginNotAllowed),
                },
                Case {
                    name: "other ipv6 address",
                    headers: &[("origin", b"http://[::2]:3000")],
                    expected: Err(OriginNotAllowed),
                },
                Case {
                    name: "null origin",
                    headers: &[("origin", b"null")],
                    expected: Err(NullOrigin),
                },
                Case {
                    name: "scheme without host",
                    headers: &[("origin", b"http://")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "host without scheme",
                    headers: &[("origin", b"localhost")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "bare evil host",
                    headers: &[("origin", b"evil.com")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "path",
                    headers: &[("origin", b"http://localhost/path")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "trailing slash",
                    headers: &[("origin", b"http://localhost/")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "query",
                    headers: &[("origin", b"http://localhost?x")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "fragment",
                    headers: &[("origin", b"http://localhost#x")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "user info",
                    headers: &[("origin", b"http://user@localhost")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "user info hiding an evil host",
                    headers: &[("origin", b"http://localhost@evil.com")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "ftp scheme",
                    headers: &[("origin", b"ftp://localhost")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "file scheme",
                    headers: &[("origin", b"file://localhost")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "non-ascii bytes",
                    headers: &[("origin", b"http://localh\xc3\xb6st")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "inner space",
                    headers: &[("origin", b"http://localhost http://evil.com")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "empty",
                    headers: &[("origin", b"")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "two origin headers, both allowed",
                    headers: &[
                        ("origin", b"http://localhost"),
                        ("origin", b"http://localhost"),
                    ],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "empty port",
                    headers: &[("origin", b"http://localhost:")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "port out of range",
                    headers: &[("origin", b"http://localhost:65536")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "non-numeric port",
                    headers: &[("origin", b"http://localhost:http")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "two ports",
                    headers: &[("origin", b"http://localhost:80:80")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "ipv6 without brackets",
                    headers: &[("origin", b"http://::1")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "ipv6 with zone",
                    headers: &[("origin", b"http://[::1%25eth0]")],
                    expected: Err(MalformedOrigin),
                },
                Case {
                    name: "junk after ipv6 literal",
                    headers: &[("origin", b"http://[::1]x")],
                    expected: Err(MalformedOrigin),
                },
            ],
        );
    }

    #[test]
    fn origin_is_checked_against_a_public_resource_host() {
        run(
            &public().add_allowed_origin_host("App.Example.com"),
            &[
                Case {
                    name: "the resource's own host",
                    headers: &[("origin", b"https://mcp.example.com")],
                    expected: Ok(()),
                },
                Case {
                    name: "the resource's host with a port",
                    headers: &[("origin", b"https://mcp.example.com:8443")],
                    expected: Ok(()),
                },
                Case {
                    name: "an added host, case-insensitively",
                    headers: &[("origin", b"https://app.EXAMPLE.com")],
                    expected: Ok(()),
                },
                Case {
                    name: "loopback is not allowed for a public resource",
                    headers: &[("origin", b"http://localhost:3000")],
                    expected: Err(OriginNotAllowed),
                },
                Case {
                    name: "parent domain",
                    headers: &[("origin", b"https://example.com")],
                    expected: Err(OriginNotAllowed),
                },
                Case {
                    name: "suffix match is not enough",
                    headers: &[("origin", b"https://evilmcp.example.com")],
                    expected: Err(OriginNotAllowed),
                },
                Case {
                    name: "host is not checked for a public resource",
                    headers: &[("host", b"internal.svc:8080")],
                    expected: Ok(()),
                },
            ],
        );
    }

    #[test]
    fn host_is_checked_for_loopback_resources() {
        run(
            &loopback(),
            &[
                Case {
                    name: "allowed host with port",
                    headers: &[("host", b"localhost:8080")],
                    expected: Ok(()),
                },
                Case {
                    name: "allowed host without port",
                    headers: &[("host", b"127.0.0.1")],
                    expected: Ok(()),
                },
                Case {
                    name: "allowed ipv6 host",
                    headers: &[("host", b"[::1]:8080")],
                    expected: Ok(()),
                },
                Case {
                    name: "host case-insensitive",
                    headers: &[("host", b"LOCALHOST:8080")],
                    expected: Ok(()),
                },
                Case {
                    name: "missing host passes",
                    headers: &[],
                    expected: Ok(()),
                },
                Case {
                    name: "evil host",
                    headers: &[("host", b"evil.example.com:8080")],
                    expected: Err(HostNotAllowed),
                },
                Case {
                    name: "rebound loopback-looking host",
                    headers: &[("host", b"127.0.0.1.evil.com")],
                    expected: Err(HostNotAllowed),
                },
                Case {
                    name: "two host headers",
                    headers: &[("host", b"localhost"), ("host", b"localhost")],
                    expected: Err(MalformedHost),
                },
                Case {
                    name: "empty host",
                    headers: &[("host", b"")],
                    expected: Err(MalformedHost),
                },
                Case {
                    name: "host with user info",
                    headers: &[("host", b"user@localhost")],
                    expected: Err(MalformedHost),
                },
                Case {
                    name: "non-ascii host",
                    headers: &[("host", b"l\xf6calhost")],
                    expected: Err(MalformedHost),
                },
                Case {
                    name: "allowed origin, evil host",
                    headers: &[
                        ("origin", b"http://localhost:3000"),
                        ("host", b"evil.example.com"),
                    ],
                    expected: Err(HostNotAllowed),
                },
                Case {
                    name: "evil origin reported before evil host",
                    headers: &[
                        ("origin", b"http://evil.example.com"),
                        ("host", b"evil.example.com"),
                    ],
                    expected: Err(OriginNotAllowed),
                },
            ],
        );
    }

    #[test]
    fn host_check_can_be_turned_on_and_off() {
        let behind_proxy = public()
            .check_host(true)
            .add_allowed_host("mcp-internal.svc");
        run(
            &behind_proxy,
            &[
                Case {
                    name: "resource host listed by default",
                    headers: &[("host", b"mcp.example.com")],
                    expected: Ok(()),
                },
                Case {
                    name: "added host",
                    headers: &[("host", b"MCP-internal.svc:8080")],
                    expected: Ok(()),
                },
                Case {
                    name: "unlisted host",
                    headers: &[("host", b"other.svc")],
                    expected: Err(HostNotAllowed),
                },
            ],
        );
        run(
            &loopback().check_host(false),
            &[Case {
                name: "loopback with host check off",
                headers: &[("host", b"evil.example.com")],
                expected: Ok(()),
            }],
        );
    }

    #[test]
    fn null_origin_is_refused_even_when_listed() {
        let policy = loopback().add_allowed_origin_host("null");
        let result = policy.check(&headers(&[("origin", b"null")]));
        assert_eq!(result.unwrap_err().kind(), NullOrigin);
    }

    #[test]
    fn ipv6_hosts_are_added_with_or_without_brackets() {
        for added in ["[2001:db8::1]", "2001:db8::1", "[2001:DB8:0::1]"] {
            let policy = OriginPolicy::new()
                .add_allowed_origin_host(added)
                .add_allowed_host(added)
                .check_host(true);
            let request = headers(&[
                ("origin", b"https://[2001:db8::1]:8443"),
                ("host", b"[2001:0db8::1]"),
            ]);
            assert_eq!(policy.check(&request), Ok(()), "{added}");
        }
    }

    #[test]
    fn hosts_with_scheme_or_port_never_match() {
        let policy = OriginPolicy::new()
            .add_allowed_origin_host("http://app.example.com")
            .add_allowed_origin_host("app.example.com:3000");
        for origin in ["http://app.example.com", "http://app.example.com:3000"] {
            let result = policy.check(&headers(&[("origin", origin.as_bytes())]));
            assert_eq!(
                result.map_err(|e| e.kind()),
                Err(OriginNotAllowed),
                "{origin}"
            );
        }
    }

    #[test]
    fn new_policy_allows_no_origin() {
        let policy = OriginPolicy::default();
        assert_eq!(policy, OriginPolicy::new());
        assert!(policy.check(&HeaderMap::new()).is_ok());
        let result = policy.check(&headers(&[("origin", b"http://localhost")]));
        assert_eq!(result.unwrap_err().kind(), OriginNotAllowed);
        assert!(policy.check(&headers(&[("host", b"evil.com")])).is_ok());
    }

    #[test]
    fn loopback_resource_defaults() {
        for resource in [
            "http://localhost:8080/mcp",
            "http://127.0.0.1/mcp",
            "http://[::1]:9000/mcp",
            "HTTP://LOCALHOST/mcp",
        ] {
            let policy = OriginPolicy::for_resource(resource).unwrap();
            assert!(policy.check_host, "{resource}");
            for host in ["localhost", "127.0.0.1", "[::1]"] {
                let origin = format!("http://{host}:1234");
                let request = headers(&[
                    ("origin", origin.as_bytes()),
                    ("host", format!("{host}:8080").as_bytes()),
                ]);
                assert_eq!(policy.check(&request), Ok(()), "{resource} {host}");
            }
        }
        // The resource's own loopback address is allowed even outside the usual three.
        let policy = OriginPolicy::for_resource("http://127.0.0.5:8080/mcp").unwrap();
        let request = headers(&[("origin", b"http://127.0.0.5"), ("host", b"127.0.0.5:8080")]);
        assert_eq!(policy.check(&request), Ok(()));
    }

    #[test]
    fn public_resource_defaults() {
        let policy = public();
        assert!(!policy.check_host);
        assert_eq!(
            policy.origin_hosts,
            [AllowedHost::Name("mcp.example.com".into())]
        );
        assert_eq!(policy.hosts, policy.origin_hosts);
        let policy = OriginPolicy::for_resource("https://MCP.Example.com:8443/mcp").unwrap();
        assert!(
            policy
                .check(&headers(&[("origin", b"https://mcp.example.com")]))
                .is_ok()
        );
    }

    #[test]
    fn for_resource_refuses_what_is_not_a_url() {
        for resource in ["", "mcp.example.com/mcp", "https://", "https://user@h/"] {
            assert!(
                matches!(
                    OriginPolicy::for_resource(resource).unwrap_err().problems()[0].kind(),
                    crate::error::ProblemKind::InvalidResource { .. }
                ),
                "{resource:?}"
            );
        }
    }

    #[test]
    fn request_target_authority_is_checked_with_host() {
        let policy = loopback();
        let request = |uri: &str| Request::post(uri).body(()).unwrap();
        assert!(policy.check_request(&request("/mcp")).is_ok());
        assert!(
            policy
                .check_request(&request("http://localhost:8080/mcp"))
                .is_ok()
        );
        assert!(policy.check_request(&request("http://[::1]/mcp")).is_ok());
        let evil = policy.check_request(&request("http://evil.example.com/mcp"));
        assert_eq!(evil.unwrap_err().kind(), HostNotAllowed);
        // Both must be allowed when both are present.
        let mut mixed = request("http://localhost/mcp");
        mixed
            .headers_mut()
            .insert(header::HOST, HeaderValue::from_static("evil.example.com"));
        assert_eq!(
            policy.check_request(&mixed).unwrap_err().kind(),
            HostNotAllowed
        );
        // Not checked when `Host` checking is off.
        let off = loopback().check_host(false);
        assert!(
            off.check_request(&request("http://evil.example.com/mcp"))
                .is_ok()
        );
    }

    #[test]
    fn errors_display_without_header_values() {
        for (kind, text) in [
            (OriginNotAllowed, "origin not allowed"),
            (NullOrigin, "null origin"),
            (MalformedOrigin, "malformed origin"),
            (HostNotAllowed, "host not allowed"),
            (MalformedHost, "malformed host"),
        ] {
            let error = OriginError::new(kind);
            assert_eq!(error.to_string(), text);
            assert_eq!(error.status(), StatusCode::FORBIDDEN);
        }
    }

    async fn send(
        policy: OriginPolicy,
        request: Request<String>,
    ) -> Response<ResponseBody<String>> {
        OriginGuardLayer::new(policy)
            .layer(Svc)
            .oneshot(request)
            .await
            .unwrap()
    }

    async fn body_json(response: Response<ResponseBody<String>>) -> serde_json::Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn evil_origin_gets_403_jsonrpc_error_without_echo() {
        let request = Request::post("/mcp")
            .header("origin", "http://evil.example.com")
            .header("authorization", "Bearer anything")
            .body(String::new())
            .unwrap();
        let response = send(loopback(), request).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(
            response.extensions().get::<OriginError>().map(|e| e.kind()),
            Some(OriginNotAllowed)
        );
        let body = body_json(response).await;
        assert_eq!(
            body,
            serde_json::json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": { "code": -32000, "message": "Forbidden: Origin not allowed" },
            })
        );
        assert!(!body.to_string().contains("evil"));
    }

    #[tokio::test]
    async fn evil_host_gets_403_host_message() {
        let request = Request::post("/mcp")
            .header("host", "evil.example.com")
            .body(String::new())
            .unwrap();
        let response = send(loopback(), request).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            response.extensions().get::<OriginError>().map(|e| e.kind()),
            Some(HostNotAllowed)
        );
        let body = body_json(response).await;
        assert_eq!(body["error"]["message"], "Forbidden: Host not allowed");
        assert!(!body.to_string().contains("evil"));
    }

    #[tokio::test]
    async fn allowed_and_absent_origins_reach_the_inner_service() {
        for origin in [Some("http://localhost:3000"), None] {
            let mut request = Request::post("/mcp").header("host", "localhost:8080");
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            let response = send(loopback(), request.body(String::new()).unwrap()).await;
            assert_eq!(response.status(), StatusCode::OK, "{origin:?}");
            assert!(response.extensions().get::<OriginError>().is_none());
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(bytes, "inner");
        }
    }

    #[test]
    fn service_accessors_reach_the_inner_service() {
        let mut guard = OriginGuard::new(Svc, loopback());
        let _: &Svc = guard.get_ref();
        let _: &mut Svc = guard.get_mut();
        let _: Svc = guard.into_inner();
        let _: OriginGuardLayer = OriginGuard::<Svc>::layer(public());
    }

    fn send_sync_clone<T: Send + Sync + Clone>() {}
    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn layer_service_and_future_are_send_sync_and_clone() {
        send_sync_clone::<OriginPolicy>();
        send_sync_clone::<OriginError>();
        send_sync_clone::<OriginGuardLayer>();
        send_sync_clone::<OriginGuard<Svc>>();
        send_sync::<<OriginGuard<Svc> as Service<Request<String>>>::Future>();
    }
}
