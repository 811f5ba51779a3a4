//! The HTTP port of the crate: [`Fetch`], one bounded `GET` (and a form `POST` for token
//! introspection). Key sources ([`RemoteJwks`](crate::keys::RemoteJwks)), token
//! [introspection](crate::introspect) and metadata discovery reach the network through it
//! only.
//!
//! # Bring your own client
//!
//! The `remote` feature holds discovery, remote keys, introspection and this port, with no
//! HTTP client: implement [`Fetch`] on the client your program already has, and pass it with
//! [`RemoteJwksBuilder::fetcher`](crate::keys::remote::RemoteJwksBuilder::fetcher),
//! [`Introspection::fetcher`](crate::introspect::Introspection::fetcher) or, for the issuers
//! [`McpAuth`](crate::McpAuth) builds itself,
//! [`McpAuthBuilder::fetcher`](crate::McpAuthBuilder::fetcher) (or
//! [`McpAuthConfig::fetcher`](crate::config::McpAuthConfig::fetcher)). Without the `reqwest`
//! feature reqwest is not in the dependency tree, and a source that was given no client is
//! refused when it is built ([`ProblemKind::HttpClient`]).
//!
//! An implementation keeps the contract the built-in one keeps: no redirects, give up after
//! [`FetchRequest::timeout`], never read more than [`FetchRequest::max_bytes`]
//! ([`FetchError::TooLarge`]), and report the status and the `Cache-Control` header as they
//! came. A status other than 200 is an answer, not an error: the caller decides.
//!
//! ```
//! use std::collections::HashMap;
//! use mcp_server_auth::McpAuth;
//! use mcp_server_auth::fetch::{Fetch, FetchError, FetchFuture, FetchRequest, FetchResponse};
//! use mcp_server_auth_dev::testing::{TestIssuer, unix_now};
//!
//! /// Documents served from memory: a stand-in for your own client.
//! #[derive(Debug)]
//! struct Documents(HashMap<String, String>);
//!
//! impl Fetch for Documents {
//!     fn get(&self, request: FetchRequest) -> FetchFuture {
//!         let found = self.0.get(&request.url).cloned();
//!         Box::pin(async move {
//!             let body = found.ok_or_else(|| FetchError::Transport("not found".to_owned()))?;
//!             if body.len() > request.max_bytes {
//!                 return Err(FetchError::TooLarge);
//!             }
//!             Ok(FetchResponse::new(200, body))
//!         })
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let issuer = TestIssuer::new("https://auth.example.com");
//! let jwks_uri = "https://auth.example.com/jwks";
//! let documents = Documents(HashMap::from([(jwks_uri.to_owned(), issuer.jwks())]));
//!
//! let auth = McpAuth::builder("https://mcp.example.com/mcp")
//!     .authorization_server_with_jwks_uri(issuer.issuer(), jwks_uri)
//!     .fetcher(documents)
//!     .build()?;
//! let token = issuer.token().audience("https://mcp.example.com/mcp").sign();
//! let verified = auth.validator().validate_async(&token, unix_now()).await?;
//! assert_eq!(verified.subject(), Some("test-user"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The built-in client
//!
//! With the `reqwest` feature (on by default), [`ReqwestFetcher`] is the client every source
//! given none uses: reqwest with rustls (aws-lc-rs), no redirects, and **no proxy** unless
//! [`ReqwestFetcherBuilder::proxy`] names one (`HTTP_PROXY`, `HTTPS_PROXY` and `ALL_PROXY` are
//! not read: a key fetch does not follow the environment to another host).
//!
//! It trusts the platform's root certificates (on Linux, the system bundle found as OpenSSL
//! finds it, `SSL_CERT_FILE` and `SSL_CERT_DIR` included) plus those added with
//! [`ReqwestFetcherBuilder::add_root_certificate_pem`], for an identity provider behind a
//! private certificate authority. Added roots are enough on their own: an image with no CA
//! bundle can reach such a provider. With neither, the client cannot be made, and building
//! the source fails at start-up ([`ProblemKind::HttpClient`]) rather than at every request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::error::ProblemKind;

/// Default time to wait for one HTTP fetch.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// What a [`Fetch`] implementation is asked to get.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchRequest {
    /// The URL to `GET`.
    pub url: String,
    /// Give up after this long.
    pub timeout: Duration,
    /// Refuse bodies longer than this.
    pub max_bytes: usize,
}

impl FetchRequest {
    /// A `GET` of `url` that gives up after `timeout` and refuses bodies longer than
    /// `max_bytes`: for code that calls a [`Fetch`] itself (a tool fetching a client metadata
    /// document, a test of an implementation).
    pub fn new(url: impl Into<String>, timeout: Duration, max_bytes: usize) -> Self {
        FetchRequest {
            url: url.into(),
            timeout,
            max_bytes,
        }
    }
}

/// What a [`Fetch`] is asked to `POST`: a form (`application/x-www-form-urlencoded`), as
/// token introspection sends. `Debug` shows the URL only: the body holds a token and the
/// authorization a client secret.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FormPost {
    /// The URL to `POST` to.
    pub url: String,
    /// The form, already encoded.
    pub body: String,
    /// The `Authorization` header to send, if any.
    pub authorization: Option<String>,
    /// Give up after this long.
    pub timeout: Duration,
    /// Refuse bodies longer than this.
    pub max_bytes: usize,
}

impl fmt::Debug for FormPost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FormPost")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

/// What a [`Fetch`] got back. Build one with [`new`](Self::new): fields may be added.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The `Cache-Control` header, if any.
    pub cache_control: Option<String>,
    /// The body, at most `max_bytes` long.
    pub body: Bytes,
}

impl FetchResponse {
    /// An answer with `status` and `body`, and no `Cache-Control`.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        FetchResponse {
            status,
            cache_control: None,
            body: body.into(),
        }
    }

    /// Sets the `Cache-Control` header the answer came with.
    #[must_use]
    pub fn cache_control(mut self, value: impl Into<String>) -> Self {
        self.cache_control = Some(value.into());
        self
    }
}

/// Why a fetch failed at the transport level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The timeout elapsed.
    #[error("timed out")]
    Timeout,
    /// The body exceeded `max_bytes`.
    #[error("response body too large")]
    TooLarge,
    /// Connection, TLS or protocol failure.
    #[error("transport error: {0}")]
    Transport(String),
    /// A setting of the client is not usable (a root certificate that is not PEM, a proxy
    /// that is not a URL).
    #[error("invalid http client setting: {0}")]
    InvalidSetting(String),
}

/// A shared client: one `Arc` for several sources, or a client chosen at run time.
impl<F: Fetch + ?Sized> Fetch for Arc<F> {
    fn get(&self, request: FetchRequest) -> FetchFuture {
        (**self).get(request)
    }

    fn post_form(&self, request: FormPost) -> FetchFuture {
        (**self).post_form(request)
    }
}

/// The client for a source that was given none: a [`ReqwestFetcher`].
#[cfg(feature = "reqwest")]
pub(crate) fn default_fetcher() -> Result<Arc<dyn Fetch>, ProblemKind> {
    match ReqwestFetcher::new() {
        Ok(fetcher) => Ok(Arc::new(fetcher)),
        Err(e) => Err(ProblemKind::HttpClient {
            reason: e.to_string(),
        }),
    }
}

/// The client for a source that was given none: there is none without the `reqwest` feature.
#[cfg(not(feature = "reqwest"))]
pub(crate) fn default_fetcher() -> Result<Arc<dyn Fetch>, ProblemKind> {
    Err(ProblemKind::HttpClient {
        reason: "none is built in: enable the crate's `reqwest` feature, or pass your own \
                 `Fetch` with `fetcher(..)`"
            .to_owned(),
    })
}

/// A boxed future returned by [`Fetch::get`].
pub type FetchFuture = Pin<Box<dyn Future<Output = Result<FetchResponse, FetchError>> + Send>>;

/// An HTTP client for key sources: one `GET`, no redirects, bounded in time and size. Implement
/// it to bring your own client.
pub trait Fetch: fmt::Debug + Send + Sync + 'static {
    /// Gets `request.url`.
    fn get(&self, request: FetchRequest) -> FetchFuture;

    /// Posts a form to `request.url`, for [token introspection](crate::introspect). The
    /// default refuses: implement it to introspect through your own client.
    fn post_form(&self, request: FormPost) -> FetchFuture {
        let _ = request;
        Box::pin(async {
            Err(FetchError::Transport(
                "this http client cannot post forms".to_owned(),
            ))
        })
    }
}

/// The built-in [`Fetch`]: reqwest with rustls, no redirects, no proxy unless one is
/// configured; see [the module docs](self#the-built-in-client).
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
#[derive(Debug, Clone)]
pub struct ReqwestFetcher {
    client: reqwest::Client,
}

#[cfg(feature = "reqwest")]
impl ReqwestFetcher {
    /// A fetcher with its own client and the default settings: the platform's root
    /// certificates, no proxy. Same as `ReqwestFetcher::builder().build()`.
    ///
    /// # Errors
    /// [`FetchError::Transport`] when the TLS backend cannot be initialized (no root
    /// certificate at all, for one).
    pub fn new() -> Result<Self, FetchError> {
        ReqwestFetcher::builder().build()
    }

    /// Settings for a fetcher: extra root certificates, a proxy.
    pub fn builder() -> ReqwestFetcherBuilder {
        ReqwestFetcherBuilder::default()
    }
}

/// Builds a [`ReqwestFetcher`]. Every setter documents its default.
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
#[derive(Clone, Default)]
#[must_use]
pub struct ReqwestFetcherBuilder {
    roots: Vec<reqwest::Certificate>,
    /// Kept as given; read at [`build`](Self::build). May hold credentials: never shown.
    proxy: Option<String>,
    /// The first setting found unusable, reported by [`build`](Self::build).
    invalid: Option<FetchError>,
}

#[cfg(feature = "reqwest")]
impl fmt::Debug for ReqwestFetcherBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestFetcherBuilder")
            .field("roots", &self.roots.len())
            .field("proxy", &self.proxy.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "reqwest")]
impl ReqwestFetcherBuilder {
    /// Also trusts the root certificates in `pem` (one or more `CERTIFICATE` blocks), for an
    /// identity provider whose certificate a private authority signed. Accumulates; the
    /// platform's roots stay trusted. Defaults to none.
    ///
    /// Input holding no certificate, or one that cannot be read, makes
    /// [`build`](Self::build) fail with [`FetchError::InvalidSetting`].
    pub fn add_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        match reqwest::Certificate::from_pem_bundle(pem.as_ref()) {
            Ok(certs) if !certs.is_empty() => self.roots.extend(certs),
            Ok(_) => self.invalid(FetchError::InvalidSetting(
                "no pem certificate found in a root certificate".to_owned(),
            )),
            Err(_) => self.invalid(FetchError::InvalidSetting(
                "a root certificate is not valid pem".to_owned(),
            )),
        }
        self
    }

    /// Sends every request through the proxy at `url` (`http://` or `https://`, credentials
    /// in the URL allowed). Defaults to no proxy at all: proxy variables of the environment
    /// are not read.
    ///
    /// A `url` that is not a proxy URL makes [`build`](Self::build) fail with
    /// [`FetchError::InvalidSetting`].
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    fn invalid(&mut self, error: FetchError) {
        self.invalid.get_or_insert(error);
    }

    /// Makes the client.
    ///
    /// # Errors
    /// [`FetchError::InvalidSetting`] for a root certificate or proxy that cannot be used;
    /// [`FetchError::Transport`] when the TLS backend cannot be initialized (no root
    /// certificate at all, from the platform or added).
    pub fn build(self) -> Result<ReqwestFetcher, FetchError> {
        if let Some(invalid) = self.invalid {
            return Err(invalid);
        }
        let mut client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        client = match self.proxy {
            Some(url) => {
                // The message leaves the URL out: it may hold credentials.
                let proxy = reqwest::Proxy::all(url.as_str()).map_err(|_| {
                    FetchError::InvalidSetting("the proxy is not a valid proxy url".to_owned())
                })?;
                client.proxy(proxy)
            }
            None => client.no_proxy(),
        };
        if !self.roots.is_empty() {
            client = client.tls_certs_merge(self.roots);
        }
        let client = client
            .build()
            .map_err(|e| FetchError::Transport(error_chain(&e)))?;
        Ok(ReqwestFetcher { client })
    }
}

/// `error` and its sources, for an error whose own text is too short to act on.
#[cfg(feature = "reqwest")]
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(feature = "reqwest")]
impl Fetch for ReqwestFetcher {
    fn get(&self, request: FetchRequest) -> FetchFuture {
        let sent = self
            .client
            .get(&request.url)
            .header(http::header::ACCEPT, "application/json");
        Box::pin(send_bounded(sent, request.timeout, request.max_bytes))
    }

    fn post_form(&self, request: FormPost) -> FetchFuture {
        let mut sent = self
            .client
            .post(&request.url)
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(request.body);
        if let Some(authorization) = request.authorization {
            match http::HeaderValue::from_str(&authorization) {
                Ok(mut value) => {
                    // Client credentials: kept out of HTTP/2 header compression tables and
                    // `Debug` output.
                    value.set_sensitive(true);
                    sent = sent.header(http::header::AUTHORIZATION, value);
                }
                Err(_) => {
                    return Box::pin(async {
                        Err(FetchError::Transport(
                            "the authorization header is not a valid header value".to_owned(),
                        ))
                    });
                }
            }
        }
        Box::pin(send_bounded(sent, request.timeout, request.max_bytes))
    }
}

#[cfg(feature = "reqwest")]
/// Sends `request` and reads at most `max_bytes` of the answer, all within `timeout`.
async fn send_bounded(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    max_bytes: usize,
) -> Result<FetchResponse, FetchError> {
    let fetch = async {
        let mut response = request
            .send()
            .await
            .map_err(|e| FetchError::Transport(without_url(e)))?;
        let status = response.status().as_u16();
        let cache_control = response
            .headers()
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if response
            .content_length()
            .is_some_and(|len| len > max_bytes as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| FetchError::Transport(without_url(e)))?
        {
            if body.len() + chunk.len() > max_bytes {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchResponse {
            status,
            cache_control,
            body: body.into(),
        })
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .unwrap_or(Err(FetchError::Timeout))
}

#[cfg(feature = "reqwest")]
/// The error's text without its URL, which may carry credentials in a query.
fn without_url(error: reqwest::Error) -> String {
    error.without_url().to_string()
}
