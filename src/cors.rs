//! CORS for browser-based MCP clients, such as MCP Inspector running in a browser: preflights
//! answered, and the challenge readable on every response.
//!
//! A page that calls the MCP endpoint from another origin needs the server's consent twice.
//! Its requests carry headers a browser will not send cross-origin without asking first
//! (`Authorization`, `Content-Type: application/json`, `MCP-Protocol-Version`, …), so the
//! browser sends a preflight `OPTIONS` request and waits for the answer. And the page can read
//! only the response headers the server exposes: without `WWW-Authenticate` in
//! `Access-Control-Expose-Headers`, a client that gets a 401 cannot find the
//! `resource_metadata` URL and never starts the OAuth flow. The MCP specification says nothing
//! about CORS; [`McpCorsLayer`] applies the rules below, which follow the `Origin` allow-list of
//! an [`OriginPolicy`]:
//!
//! | | |
//! |---|---|
//! | allowed origins | the hosts the [`OriginPolicy`] allows in `Origin`, with `http` or `https` and any port; never `null`, never `*` |
//! | allowed methods | `GET`, `POST`, `DELETE`, `OPTIONS` |
//! | allowed request headers | `Authorization`, `Content-Type`, `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`, `Mcp-Session-Id`, `Last-Event-ID`, and any `Mcp-Param-*` the preflight asks for |
//! | exposed response headers | `WWW-Authenticate`, `Mcp-Session-Id`, `MCP-Protocol-Version`, on every response but preflights: 401, 403 and 400 from inner layers included |
//! | credentials | not allowed: no `Access-Control-Allow-Credentials` (bearer tokens travel in `Authorization`, set by the page, not in cookies) |
//! | preflight cache | `Access-Control-Max-Age: 3600` by default ([`max_age`](McpCorsLayer::max_age)) |
//! | `Vary` | `Origin, Access-Control-Request-Method, Access-Control-Request-Headers` on every response |
//!
//! A preflight that asks for any other header gets an `Access-Control-Allow-Headers` without
//! it, and the browser then refuses to send the request. For an origin that is not allowed,
//! responses carry no `Access-Control-Allow-Origin`, and the page can read nothing.
//!
//! ```
//! use std::convert::Infallible;
//!
//! use http::{HeaderValue, Method, Request, Response, StatusCode, header};
//! use mcp_server_auth::cors::McpCorsLayer;
//! use mcp_server_auth::origin::{OriginGuardLayer, OriginPolicy};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! const CHALLENGE: &str = r#"Bearer resource_metadata="http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp""#;
//!
//! let policy = OriginPolicy::for_resource("http://127.0.0.1:8080/mcp")?;
//! let app = ServiceBuilder::new()
//!     .layer(McpCorsLayer::new(policy.clone()))
//!     .layer(OriginGuardLayer::new(policy))
//!     // Stands in for bearer authentication turning away a request without a token.
//!     .service(service_fn(|_req: Request<String>| async {
//!         let mut response = Response::new(String::new());
//!         *response.status_mut() = StatusCode::UNAUTHORIZED;
//!         let challenge = HeaderValue::from_static(CHALLENGE);
//!         response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
//!         Ok::<_, Infallible>(response)
//!     }));
//!
//! // The browser asks first, for a page served by a local web client on another port.
//! let preflight = Request::builder()
//!     .method(Method::OPTIONS)
//!     .uri("/mcp")
//!     .header("origin", "http://localhost:6274")
//!     .header("access-control-request-method", "POST")
//!     .header("access-control-request-headers", "authorization,content-type,mcp-param-region")
//!     .body(String::new())?;
//! let response = app.clone().oneshot(preflight).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()["access-control-allow-origin"], "http://localhost:6274");
//! let allowed = response.headers()["access-control-allow-headers"].to_str()?;
//! assert!(allowed.split(',').any(|name| name == "mcp-param-region"));
//! assert!(response.headers().get("access-control-allow-credentials").is_none());
//!
//! // The request itself gets its 401, and the page may read the challenge.
//! let request = Request::post("/mcp")
//!     .header("origin", "http://localhost:6274")
//!     .body(String::from(r#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#))?;
//! let response = app.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()["access-control-allow-origin"], "http://localhost:6274");
//! let exposed = response.headers()["access-control-expose-headers"].to_str()?;
//! assert!(exposed.split(',').any(|name| name == "www-authenticate"));
//! assert_eq!(response.headers()[header::WWW_AUTHENTICATE], CHALLENGE);
//!
//! // A page from another site may not read anything, and the guard refuses its request.
//! let request = Request::post("/mcp")
//!     .header("origin", "https://evil.example.com")
//!     .body(String::new())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! assert!(response.headers().get("access-control-allow-origin").is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Where it goes
//!
//! Inside the metadata route, outside the [origin guard](crate::origin) and bearer
//! authentication:
//!
//! - The layer answers every `OPTIONS` request itself (200, empty body) and never passes one
//!   on. A preflight carries no token, so it must not reach authentication, which would answer
//!   401 and make the browser give up.
//! - Responses of the layers inside it (the guard's 403, authentication's 401, 403 and 400,
//!   the protocol-version gate's 400) pass back through it and get `Access-Control-Allow-Origin`
//!   and `Access-Control-Expose-Headers`: that is the only way a page can read a challenge.
//! - The protected resource metadata has its own CORS answer (`Access-Control-Allow-Origin:
//!   *`) from the metadata route, outside this layer.
//!
//! # Security
//!
//! CORS decides which pages may *read* responses; it does not stop requests. Keep the origin
//! guard inside this layer: it refuses (403) the requests of pages whose origin is not allowed,
//! whatever they carry. Such a page's preflight still gets a 200 from this layer, without
//! `Access-Control-Allow-Origin`, so the browser never sends the request that would follow it.
//! Credentials stay disallowed, so the browser attaches no cookies; the page has to hold the
//! token and set `Authorization` itself.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tower_http::cors::{AllowHeaders, AllowOrigin, Cors, CorsLayer};

use crate::body::{FullBody, ResponseBody};
use crate::origin::OriginPolicy;

/// The request headers every preflight is answered with, as an `Access-Control-Allow-Headers`
/// value (lowercase, comma-separated, as browsers send them).
const ALLOWED_HEADERS: &str = "authorization,content-type,mcp-protocol-version,mcp-method,\
                               mcp-name,mcp-session-id,last-event-id";

/// The prefix of the headers that mirror tool parameters; any name with it is allowed.
const PARAM_PREFIX: &str = "mcp-param-";

/// The default of [`McpCorsLayer::max_age`].
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);

/// Applies the CORS rules of the [module docs](self) for the origins an [`OriginPolicy`]
/// allows.
#[derive(Debug, Clone)]
#[must_use]
pub struct McpCorsLayer {
    cors: CorsLayer,
}

impl McpCorsLayer {
    /// A layer allowing the origins `policy` allows in `Origin` (its `Host` rules play no
    /// part), with the methods and headers listed in the [module docs](self).
    pub fn new(policy: OriginPolicy) -> Self {
        let policy = Arc::new(policy);
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(move |_origin, request| {
                origin_allowed(&policy, &request.headers)
            }))
            .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
            // `McpCors::call` replaces the preflight's `Access-Control-Request-Headers` with
            // the allowed subset first: tower-http has no rule for a prefix like `mcp-param-`.
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers([
                header::WWW_AUTHENTICATE,
                HeaderName::from_static("mcp-session-id"),
                HeaderName::from_static("mcp-protocol-version"),
            ])
            .max_age(DEFAULT_MAX_AGE)
            .vary([
                header::ORIGIN,
                header::ACCESS_CONTROL_REQUEST_METHOD,
                header::ACCESS_CONTROL_REQUEST_HEADERS,
            ]);
        McpCorsLayer { cors }
    }

    /// How long browsers may cache a preflight answer (`Access-Control-Max-Age`, in whole
    /// seconds). Defaults to 1 hour. Browsers cap it (Chromium at 2 hours, Firefox at 24 hours).
    pub fn max_age(self, max_age: Duration) -> Self {
        McpCorsLayer {
            cors: self.cors.max_age(max_age),
        }
    }
}

impl<S> Layer<S> for McpCorsLayer {
    type Service = McpCors<S>;

    fn layer(&self, inner: S) -> McpCors<S> {
        McpCors {
            inner: self.cors.layer(OptionBody { inner }),
        }
    }
}

/// Middleware answering CORS preflights and adding CORS headers to every other response. See
/// the [module docs](self).
#[derive(Debug, Clone)]
pub struct McpCors<S> {
    inner: Cors<OptionBody<S>>,
}

impl<S> McpCors<S> {
    /// Wraps `inner`, allowing the origins `policy` allows.
    pub fn new(inner: S, policy: OriginPolicy) -> Self {
        McpCorsLayer::new(policy).layer(inner)
    }

    /// A layer wrapping services, allowing the origins `policy` allows.
    pub fn layer(policy: OriginPolicy) -> McpCorsLayer {
        McpCorsLayer::new(policy)
    }

    /// A reference to the inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner.get_ref().inner
    }

    /// A mutable reference to the inner service.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner.get_mut().inner
    }

    /// The inner service.
    pub fn into_inner(self) -> S {
        self.inner.into_inner().inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for McpCors<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // tower-http answers every `OPTIONS` itself, echoing this header as
        // `Access-Control-Allow-Headers`; the request never goes further.
        if request.method() == Method::OPTIONS {
            let allowed = allowed_request_headers(request.headers());
            request
                .headers_mut()
                .insert(header::ACCESS_CONTROL_REQUEST_HEADERS, allowed);
        }
        ResponseFuture {
            inner: self.inner.call(request),
        }
    }
}

pin_project! {
    /// Response future of [`McpCors`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: tower_http::cors::ResponseFuture<OptionBodyFuture<F>>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = ready!(self.project().inner.poll(cx))?;
        Poll::Ready(Ok(response.map(|body| match body {
            Some(body) => ResponseBody::inner(body),
            None => ResponseBody::full(FullBody::empty()),
        })))
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

/// Whether the `Origin` of a request is one `policy` allows. All `Origin` headers are passed
/// on, so that a repeated one is refused as the origin guard refuses it.
fn origin_allowed(policy: &OriginPolicy, headers: &HeaderMap) -> bool {
    let mut origin = HeaderMap::new();
    for value in headers.get_all(header::ORIGIN) {
        origin.append(header::ORIGIN, value.clone());
    }
    !origin.is_empty() && policy.check(&origin).is_ok()
}

/// The `Access-Control-Allow-Headers` value of a preflight: [`ALLOWED_HEADERS`], then each
/// `Mcp-Param-*` name the preflight's `Access-Control-Request-Headers` asks for, lowercased.
/// Other names are left out; so is anything that is not a header name.
fn allowed_request_headers(headers: &HeaderMap) -> HeaderValue {
    let mut value = String::from(ALLOWED_HEADERS);
    for requested in headers.get_all(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        for name in requested.as_bytes().split(|&b| b == b',') {
            if let Ok(name) = HeaderName::from_bytes(name.trim_ascii())
                && is_param_header(&name)
            {
                value.push(',');
                value.push_str(name.as_str());
            }
        }
    }
    // Header names joined with commas always make a valid value.
    HeaderValue::try_from(value).unwrap_or(HeaderValue::from_static(ALLOWED_HEADERS))
}

/// Whether `name` is `mcp-param-` followed by at least one character.
fn is_param_header(name: &HeaderName) -> bool {
    name.as_str()
        .strip_prefix(PARAM_PREFIX)
        .is_some_and(|rest| !rest.is_empty())
}

/// The inner service as tower-http's `Cors` sees it: a response body that is `Option<B>`,
/// which has the `Default` (`None`) that `Cors` needs for preflight answers. Any `B` works,
/// the crate's own `ResponseBody` included.
#[derive(Debug, Clone)]
struct OptionBody<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for OptionBody<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<Option<ResBody>>;
    type Error = S::Error;
    type Future = OptionBodyFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        OptionBodyFuture {
            future: self.inner.call(request),
        }
    }
}

pin_project! {
    /// Response future of [`OptionBody`].
    struct OptionBodyFuture<F> {
        #[pin]
        future: F,
    }
}

impl<F, B, E> Future for OptionBodyFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<Option<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = ready!(self.project().future.poll(cx))?;
        Poll::Ready(Ok(response.map(Some)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use std::convert::Infallible;

    use http::StatusCode;
    use http_body_util::BodyExt;
    use tower::{ServiceBuilder, ServiceExt, service_fn};

    use super::*;
    use crate::origin::{OriginError, OriginErrorKind, OriginGuardLayer};

    const CHALLENGE: &str = "Bearer resource_metadata=\
        \"http://localhost:8080/.well-known/oauth-protected-resource/mcp\"";

    /// Every header the module docs promise in `Access-Control-Allow-Headers`.
    const LISTED: [&str; 7] = [
        "authorization",
        "content-type",
        "mcp-protocol-version",
        "mcp-method",
        "mcp-name",
        "mcp-session-id",
        "last-event-id",
    ];

    fn policy() -> OriginPolicy {
        OriginPolicy::for_resource("http://localhost:8080/mcp")
            .unwrap()
            .add_allowed_origin_host("inspector.example.com")
    }

    /// Stands in for bearer authentication: every request gets a 401 with a challenge.
    async fn unauthorized(_request: Request<String>) -> Result<Response<String>, Infallible> {
        let mut response = Response::new(String::from("unauthorized"));
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(CHALLENGE),
        );
        Ok(response)
    }

    async fn send(request: Request<String>) -> Response<ResponseBody<String>> {
        McpCorsLayer::new(policy())
            .layer(service_fn(unauthorized))
            .oneshot(request)
            .await
            .unwrap()
    }

    fn preflight(origin: &str, request_headers: &str) -> Request<String> {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/mcp")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", request_headers)
            .body(String::new())
            .unwrap()
    }

    fn post(origin: Option<&str>) -> Request<String> {
        let mut request = Request::post("/mcp");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.body(String::from("{}")).unwrap()
    }

    /// The comma-separated names of a header, trimmed and lowercased.
    fn list<B>(response: &Response<B>, name: &str) -> Vec<String> {
        response
            .headers()
            .get(name)
            .map(|value| {
                value
                    .to_str()
                    .unwrap()
                    .split(',')
                    .map(|item| item.trim().to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn body_text(response: Response<ResponseBody<String>>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn preflight_from_allowed_origin_on_any_port_is_answered_without_reaching_inner() {
        for origin in [
            "http://localhost:6274",
            "http://localhost",
            "http://127.0.0.1:5173",
            "http://[::1]:3000",
            "https://inspector.example.com",
            "https://INSPECTOR.example.com:8443",
        ] {
            let response = send(preflight(
                origin,
                "authorization,content-type,mcp-param-foo",
            ))
            .await;
            // The inner service answers 401 to everything: the preflight never got there.
            assert_eq!(response.status(), StatusCode::OK, "{origin}");
            let headers = response.headers();
            assert_eq!(headers["access-control-allow-origin"], origin);
            assert_eq!(
                list(&response, "access-control-allow-methods"),
                ["get", "post", "delete", "options"],
                "{origin}"
            );
            let allowed = list(&response, "access-control-allow-headers");
            for name in LISTED.into_iter().chain(["mcp-param-foo"]) {
                assert!(allowed.iter().any(|a| a == name), "{origin}: {name}");
            }
            assert_eq!(headers["access-control-max-age"], "3600");
            assert!(headers.get("access-control-allow-credentials").is_none());
            assert!(headers.get(header::WWW_AUTHENTICATE).is_none());
            assert!(list(&response, "vary").contains(&String::from("origin")));
            assert_eq!(body_text(response).await, "");
        }
    }

    #[tokio::test]
    async fn preflight_from_disallowed_origin_gets_no_allow_origin() {
        let mut requests: Vec<(&str, Request<String>)> = [
            "https://evil.example.com",
            "http://localhost.evil.example.com:8080",
            "https://example.com",
            "null",
            "file://",
            "ftp://localhost",
            "http://localhost:8080/mcp",
            "http://user@localhost",
            "",
        ]
        .into_iter()
        .map(|origin| (origin, preflight(origin, "authorization")))
        .collect();
        let mut twice = preflight("http://localhost:3000", "authorization");
        twice.headers_mut().append(
            header::ORIGIN,
            HeaderValue::from_static("http://localhost:3000"),
        );
        requests.push(("two allowed Origin headers", twice));
        let mut not_utf8 = preflight("http://localhost", "authorization");
        not_utf8.headers_mut().insert(
            header::ORIGIN,
            HeaderValue::from_bytes(b"http://l\xf6calhost").unwrap(),
        );
        requests.push(("non-UTF-8 origin", not_utf8));

        for (name, request) in requests {
            let response = send(request).await;
            assert_eq!(response.status(), StatusCode::OK, "{name}");
            let headers = response.headers();
            assert!(
                headers.get("access-control-allow-origin").is_none(),
                "{name}"
            );
            assert!(
                headers.get("access-control-allow-credentials").is_none(),
                "{name}"
            );
        }
    }

    #[test]
    fn preflight_allows_mcp_param_headers_and_nothing_else_unlisted() {
        struct Case {
            name: &'static str,
            requested: &'static [&'static [u8]],
            extra: &'static str,
        }
        let cases = [
            Case {
                name: "no access-control-request-headers",
                requested: &[],
                extra: "",
            },
            Case {
                name: "listed headers only",
                requested: &[b"authorization,content-type,mcp-protocol-version"],
                extra: "",
            },
            Case {
                name: "one parameter header",
                requested: &[b"authorization,content-type,mcp-param-foo"],
                extra: ",mcp-param-foo",
            },
            Case {
                name: "case and spaces",
                requested: &[b" Mcp-Param-Region ,\tMCP-PARAM-b"],
                extra: ",mcp-param-region,mcp-param-b",
            },
            Case {
                name: "unlisted headers are left out",
                requested: &[b"x-api-key,cookie,mcp-param-foo,x-mcp-param-foo"],
                extra: ",mcp-param-foo",
            },
            Case {
                name: "the prefix alone is not a parameter header",
                requested: &[b"mcp-param-,mcp-params-foo,mcp-param"],
                extra: "",
            },
            Case {
                name: "not header names",
                requested: &[b"mcp-param-a b,mcp-param-\xff,mcp-param-(x),,mcp-param-ok"],
                extra: ",mcp-param-ok",
            },
            Case {
                name: "repeated access-control-request-headers",
                requested: &[b"mcp-param-a", b"authorization,mcp-param-b"],
                extra: ",mcp-param-a,mcp-param-b",
            },
            Case {
                name: "empty value",
                requested: &[b""],
                extra: "",
            },
        ];
        for case in cases {
            let mut headers = HeaderMap::new();
            for value in case.requested {
                headers.append(
                    header::ACCESS_CONTROL_REQUEST_HEADERS,
                    HeaderValue::from_bytes(value).unwrap(),
                );
            }
            let expected = format!("{ALLOWED_HEADERS}{}", case.extra);
            assert_eq!(
                allowed_request_headers(&headers),
                expected.as_str(),
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn allowed_headers_are_the_listed_ones() {
        assert_eq!(ALLOWED_HEADERS.split(',').collect::<Vec<_>>(), LISTED);
    }

    #[tokio::test]
    async fn preflight_answer_drops_unlisted_request_headers() {
        let response = send(preflight(
            "http://localhost:6274",
            "authorization,x-api-key,mcp-param-foo",
        ))
        .await;
        let allowed = list(&response, "access-control-allow-headers");
        assert!(allowed.contains(&String::from("mcp-param-foo")));
        assert!(!allowed.contains(&String::from("x-api-key")));
    }

    #[tokio::test]
    async fn options_without_origin_is_answered_by_the_layer() {
        let request = Request::builder()
            .method(Method::OPTIONS)
            .uri("/mcp")
            .body(String::new())
            .unwrap();
        let response = send(request).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
    }

    #[tokio::test]
    async fn actual_request_from_allowed_origin_can_read_the_challenge() {
        let origin = "http://localhost:6274";
        let response = send(post(Some(origin))).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], origin);
        assert_eq!(headers[header::WWW_AUTHENTICATE], CHALLENGE);
        assert_eq!(
            list(&response, "access-control-expose-headers"),
            ["www-authenticate", "mcp-session-id", "mcp-protocol-version"]
        );
        assert!(headers.get("access-control-allow-credentials").is_none());
        // Preflight-only headers stay off actual responses.
        assert!(headers.get("access-control-allow-headers").is_none());
        assert!(headers.get("access-control-allow-methods").is_none());
        assert!(headers.get("access-control-max-age").is_none());
        assert!(list(&response, "vary").contains(&String::from("origin")));
        assert_eq!(body_text(response).await, "unauthorized");
    }

    #[tokio::test]
    async fn actual_request_from_disallowed_or_no_origin_gets_no_allow_origin() {
        for origin in [Some("https://evil.example.com"), Some("null"), None] {
            let response = send(post(origin)).await;
            // Not this layer's decision: the origin guard inside it refuses such requests.
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{origin:?}");
            assert!(
                response
                    .headers()
                    .get("access-control-allow-origin")
                    .is_none(),
                "{origin:?}"
            );
            assert_eq!(body_text(response).await, "unauthorized");
        }
    }

    #[tokio::test]
    async fn max_age_can_be_changed() {
        let response = McpCorsLayer::new(policy())
            .max_age(Duration::from_secs(600))
            .layer(service_fn(unauthorized))
            .oneshot(preflight("http://localhost:6274", "authorization"))
            .await
            .unwrap();
        assert_eq!(response.headers()["access-control-max-age"], "600");
    }

    #[tokio::test]
    async fn refusals_of_inner_layers_carry_cors_headers_when_stacked_outside_the_guard() {
        let app = ServiceBuilder::new()
            .layer(McpCorsLayer::new(policy()))
            .layer(OriginGuardLayer::new(policy()))
            .service(service_fn(unauthorized));

        // Authentication's 401 for an allowed origin: readable, challenge exposed.
        let origin = "http://127.0.0.1:6274";
        let response = app.clone().oneshot(post(Some(origin))).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["access-control-allow-origin"], origin);
        assert!(
            list(&response, "access-control-expose-headers")
                .contains(&String::from("www-authenticate"))
        );

        // The guard's 403 for another origin: not readable by that page.
        let response = app
            .clone()
            .oneshot(post(Some("https://evil.example.com")))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            response.extensions().get::<OriginError>().map(|e| e.kind()),
            Some(OriginErrorKind::OriginNotAllowed)
        );
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
        assert!(
            list(&response, "access-control-expose-headers")
                .contains(&String::from("www-authenticate"))
        );

        // Preflights are answered before the guard, allowed origin or not.
        let response = app
            .clone()
            .oneshot(preflight(origin, "authorization"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["access-control-allow-origin"], origin);
        let response = app
            .oneshot(preflight("https://evil.example.com", "authorization"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
    }

    #[derive(Debug, Clone)]
    struct Svc;

    #[test]
    fn service_accessors_reach_the_inner_service() {
        let mut cors = McpCors::new(Svc, policy());
        let _: &Svc = cors.get_ref();
        let _: &mut Svc = cors.get_mut();
        let _: Svc = cors.into_inner();
        let _: McpCorsLayer = McpCors::<Svc>::layer(policy());
    }

    fn send_sync_clone<T: Send + Sync + Clone>() {}
    fn send_only<T: Send>() {}

    #[test]
    fn layer_and_service_are_send_sync_and_clone_and_future_is_send() {
        type Inner = tower::util::ServiceFn<
            fn(Request<String>) -> std::future::Ready<Result<Response<String>, Infallible>>,
        >;
        send_sync_clone::<McpCorsLayer>();
        send_sync_clone::<McpCors<Inner>>();
        // Not `Sync`: tower-http's future holds a `Send`-only boxed future (for async origin
        // predicates, unused here), like `bearer::ResponseFuture`. Servers need only `Send`.
        send_only::<<McpCors<Inner> as Service<Request<String>>>::Future>();
    }
}
