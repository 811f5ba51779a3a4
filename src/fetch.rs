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
//! given none uses: reqwest with rustls (aws-lc-rs), no redirects, no proxy.

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

/// What a [`Fetch`] got back.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// The built-in [`Fetch`]: reqwest with rustls, no redirects, no proxy from the environment;
/// see [the module docs](self#the-built-in-client).
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
#[derive(Debug, Clone)]
pub struct ReqwestFetcher {
    client: reqwest::Client,
}

#[cfg(feature = "reqwest")]
impl ReqwestFetcher {
    /// A fetcher with its own client: the platform's root certificates, no proxy.
    ///
    /// # Errors
    /// [`FetchError::Transport`] when the TLS backend cannot be initialized (no root
    /// certificate at all, for one).
    pub fn new() -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        Ok(ReqwestFetcher { client })
    }
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
