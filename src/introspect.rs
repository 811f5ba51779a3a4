//! Opaque access tokens, checked by asking the authorization server ([RFC 7662] token
//! introspection).
//!
//! Some authorization servers issue tokens that are not JWTs (Ory Hydra by default, Okta,
//! Keycloak and oidc-provider on request). Configure [`Introspection`] for such an issuer with
//! [`McpAuthBuilder::introspection`](crate::McpAuthBuilder::introspection):
//!
//! * **Which tokens.** A JWT (three dot-separated segments) names its issuer: it is verified
//!   with that issuer's keys if it has any, and introspected at that issuer otherwise. Any
//!   other token but a JWE (five segments) is opaque: it names no issuer, so it goes to the
//!   one issuer configured with introspection (a second one is refused at build time). So
//!   configure introspection only where the other issuers' tokens are JWTs: an opaque token
//!   of another authorization server would be sent to this one, which answers
//!   `active: false`.
//! * **The request.** `POST` to the endpoint, from configuration or from the issuer's RFC 8414
//!   (or OpenID Connect) metadata `introspection_endpoint`, with `token` and
//!   `token_type_hint=access_token`. The resource server authenticates as a client with
//!   `client_secret_basic` (the default) or `client_secret_post`, or not at all for an
//!   endpoint on a private network (Hydra's admin API). `https` only, `http` for loopback
//!   hosts with [`allow_http_loopback`](crate::McpAuthBuilder::allow_http_loopback).
//! * **The answer.** `active: false` is 401 `invalid_token`. An `active: true` answer passes
//!   the same checks as a JWT's claims, under the issuer's [profile](crate::profile): `exp`
//!   required, `nbf`/`iat`, `aud` naming the resource or an alias, required claims, scopes,
//!   policies. Its `iss`, when present, must be the issuer. An answer about another kind of
//!   token is refused: a `token_type` other than an access token's (`Bearer`, `access_token`,
//!   the RFC 8693 URN), a `token_use` other than `access_token` (Ory Hydra, which introspects
//!   refresh tokens whatever the hint), or a `typ` of `Refresh`, `Offline`, `ID` or `Logout`
//!   (Keycloak). A server that marks none of these cannot tell the layer a refresh token
//!   from an access token: only configure introspection for servers that introspect access
//!   tokens alone, or mark their kind. An answer without `exp` or `aud` is refused too (401:
//!   a client may re-authorize and meet the same answer), since the same rules as for JWTs
//!   apply. Some servers answer without `aud` (only `active`, `client_id`, `scope`, `exp`):
//!   [`allow_missing_audience`](Introspection::allow_missing_audience) accepts that for one
//!   issuer, at the cost its documentation states. An `aud` that does not name the resource
//!   is refused whatever the setting.
//! * **Failure.** A network error, a timeout, a status other than 200, or an answer that is
//!   not a JSON object with a boolean `active` is 503 with `Retry-After` (never 401: the token
//!   may be fine). The endpoint's discovery is retried at most every 10 seconds.
//! * **Cache.** Active answers are cached with the token as the key (compared byte for byte),
//!   bounded in entries and in bytes (an entry holds the token and the whole answer; see
//!   [the cache's memory bounds](crate::cache#memory)), each entry ending at the token's `exp` or after
//!   [`max_age`](crate::cache::TokenCacheConfig::max_age) (default
//!   [`DEFAULT_CACHE_MAX_AGE`], 60 seconds), whichever comes first. **A token revoked at the
//!   authorization server is still accepted until its entry ends**: `max_age` is the
//!   staleness bound; lower it, or turn the cache off, if revocation must take effect sooner.
//!   Inactive answers and failures are not cached.
//! * **Single flight.** Concurrent requests carrying the same uncached token share one
//!   introspection request.
//!
//! ```
//! use std::time::Duration;
//! use mcp_server_auth::McpAuth;
//! use mcp_server_auth::cache::TokenCacheConfig;
//! use mcp_server_auth::introspect::{ClientAuth, Introspection};
//!
//! let auth = McpAuth::builder("https://mcp.example.com/mcp")
//!     .introspection(
//!         "https://auth.example.com",
//!         Introspection::new("mcp-resource-server", "client-secret")
//!             .client_auth(ClientAuth::ClientSecretPost)
//!             .cache(TokenCacheConfig::new().max_age(Duration::from_secs(30))),
//!     )
//!     .build()?;
//! assert_eq!(auth.validator().issuers().collect::<Vec<_>>(), ["https://auth.example.com"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [RFC 7662]: https://www.rfc-editor.org/rfc/rfc7662

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use tokio::sync::OnceCell;

use crate::cache::{TokenCache, TokenCacheConfig, Verified};
use crate::discovery::{Discovery, discovery_urls};
use crate::error::{ConfigError, Problem, ProblemKind};
use crate::fetch::{DEFAULT_FETCH_TIMEOUT, Fetch, FormPost};
use crate::keys::KeySetId;
use crate::token::VerifiedToken;
use crate::token_error::{TokenError, TokenErrorKind};

/// Default longest time a cached introspection answer is used: the staleness bound for
/// revocation.
pub const DEFAULT_CACHE_MAX_AGE: Duration = Duration::from_secs(60);
/// The largest introspection answer (or metadata document) read, in bytes.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// How long after a failed discovery of the endpoint requests fail at once.
const DISCOVERY_RETRY: Duration = Duration::from_secs(10);
/// `Retry-After` for an unavailable introspection endpoint, in seconds.
const RETRY_AFTER_SECS: u64 = 5;

/// How the resource server authenticates to the introspection endpoint (RFC 7662 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// HTTP Basic with the form-encoded client id and secret (RFC 6749 §2.3.1).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

#[derive(Clone)]
enum Credentials {
    Secret {
        id: String,
        secret: String,
        method: ClientAuth,
    },
    None,
}

/// Introspection settings for one issuer; see the [module docs](self).
#[derive(Clone)]
#[must_use]
pub struct Introspection {
    endpoint: Option<String>,
    credentials: Credentials,
    cache: TokenCacheConfig,
    timeout: Duration,
    fetcher: Option<Arc<dyn Fetch>>,
    /// Shared with the issuer's keys, when [`McpAuth`](crate::McpAuth) builds both.
    discovery: Option<Arc<Discovery>>,
    allow_missing_audience: bool,
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret.
        let client = match &self.credentials {
            Credentials::Secret { id, method, .. } => format!("{id} ({method:?})"),
            Credentials::None => "none".to_owned(),
        };
        f.debug_struct("Introspection")
            .field("endpoint", &self.endpoint)
            .field("client", &client)
            .field("cache", &self.cache)
            .field("timeout", &self.timeout)
            .field("allow_missing_audience", &self.allow_missing_audience)
            .finish_non_exhaustive()
    }
}

impl Introspection {
    /// Introspects as the client `client_id` with `client_secret`, by
    /// [`ClientAuth::ClientSecretBasic`] unless [`client_auth`](Self::client_auth) says
    /// otherwise.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Introspection::with(Credentials::Secret {
            id: client_id.into(),
            secret: client_secret.into(),
            method: ClientAuth::default(),
        })
    }

    /// Introspects without client authentication, for an endpoint only this server can reach
    /// (Ory Hydra's admin API). RFC 7662 §4 requires protecting the endpoint somehow: a public
    /// endpoint without authentication tells anyone whether a token is active.
    pub fn without_client_authentication() -> Self {
        Introspection::with(Credentials::None)
    }

    fn with(credentials: Credentials) -> Self {
        Introspection {
            endpoint: None,
            credentials,
            cache: TokenCacheConfig::new().max_age(DEFAULT_CACHE_MAX_AGE),
            timeout: DEFAULT_FETCH_TIMEOUT,
            fetcher: None,
            discovery: None,
            allow_missing_audience: false,
        }
    }

    /// How the client secret is sent. Defaults to [`ClientAuth::ClientSecretBasic`].
    pub fn client_auth(mut self, method: ClientAuth) -> Self {
        if let Credentials::Secret { method: m, .. } = &mut self.credentials {
            *m = method;
        }
        self
    }

    /// The introspection endpoint. Defaults to the `introspection_endpoint` of the issuer's
    /// metadata, discovered on first use.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// The cache of active answers. Defaults to 10 000 entries holding at most 64 MiB
    /// ([`DEFAULT_MAX_BYTES`](crate::cache::DEFAULT_MAX_BYTES)), each used for at most
    /// [`DEFAULT_CACHE_MAX_AGE`]: the time a revoked token may still be accepted.
    pub fn cache(mut self, config: TokenCacheConfig) -> Self {
        self.cache = config;
        self
    }

    /// The time one introspection (or discovery) request may take. Defaults to 5 seconds.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Accepts active answers without `aud`, for authorization servers whose introspection
    /// answers leave it out (RFC 7662 makes it optional). Defaults to `false`: such an answer
    /// is refused (401 `invalid_token`, [`MissingClaim`](TokenErrorKind::MissingClaim)), as a
    /// JWT without `aud` is.
    ///
    /// An answer *with* an `aud` that names neither the resource nor an accepted alias is
    /// still refused. Accepted tokens without `aud` have an empty
    /// [`audience`](crate::VerifiedToken::audience).
    ///
    /// # Security
    ///
    /// This turns off the audience check for answers that do not name one, so it weakens the
    /// protection against tokens meant for another resource: a token the same authorization
    /// server issued for another API (another resource server, another MCP server) is
    /// accepted here too, since only the authorization server knows a token's audience and
    /// its answer does not say. A server that receives a token can then replay it to this one
    /// (RFC 8707 and RFC 9068 audience restriction is what stops that). Only turn it on when
    /// this authorization server issues tokens for this resource alone, or when its
    /// introspection endpoint answers per resource (it reports tokens of other resources as
    /// `active: false` to the client this server introspects as).
    pub fn allow_missing_audience(mut self, allow: bool) -> Self {
        self.allow_missing_audience = allow;
        self
    }

    /// The HTTP client; it must implement [`Fetch::post_form`]. Defaults to the client given
    /// to [`McpAuthBuilder::fetcher`](crate::McpAuthBuilder::fetcher), else to
    /// `ReqwestFetcher` with the `reqwest` feature; without either, building fails
    /// ([`ProblemKind::HttpClient`]).
    pub fn fetcher(mut self, fetcher: impl Fetch) -> Self {
        self.fetcher = Some(Arc::new(fetcher));
        self
    }

    /// Uses `fetcher` unless a client was given with [`fetcher`](Self::fetcher): the one of
    /// [`McpAuthBuilder::fetcher`](crate::McpAuthBuilder::fetcher).
    pub(crate) fn default_fetcher(mut self, fetcher: &Arc<dyn Fetch>) -> Self {
        self.fetcher.get_or_insert_with(|| Arc::clone(fetcher));
        self
    }

    /// Whether the endpoint is to be discovered with the client the issuer's keys use (the
    /// builder's, or the built-in one): only then can the discovery be shared with them.
    pub(crate) fn discovers_with_default_client(&self) -> bool {
        self.endpoint.is_none() && self.fetcher.is_none()
    }

    /// Discovers the endpoint through `discovery`, shared with the issuer's keys.
    pub(crate) fn discovery(mut self, discovery: Arc<Discovery>) -> Self {
        self.discovery = Some(discovery);
        self
    }

    /// What is wrong with the settings for `issuer`.
    pub(crate) fn problems(&self, issuer: &str, allow_http_loopback: bool) -> Vec<Problem> {
        // Problems are named by the setter of [`crate::McpAuthBuilder`] and the one of this
        // builder: `introspection.endpoint`.
        let invalid = |setting: &str, reason| {
            let kind = ProblemKind::Introspection {
                issuer: issuer.to_owned(),
                reason,
            };
            Problem::new(format!("introspection.{setting}"), kind).about(issuer)
        };
        let mut problems = Vec::new();
        if let Credentials::Secret { id, secret, .. } = &self.credentials {
            if id.is_empty() {
                problems.push(invalid("new", "the client id is empty"));
            }
            if secret.is_empty() {
                problems.push(invalid("new", "the client secret is empty"));
            }
        }
        if let Some(endpoint) = &self.endpoint
            && let Err(reason) = check_endpoint(endpoint, allow_http_loopback)
        {
            problems.push(invalid("endpoint", reason));
        }
        if self.timeout.is_zero() {
            let kind = ProblemKind::InvalidDuration {
                setting: "introspection timeout",
            };
            problems.push(Problem::new("introspection.timeout", kind).about(issuer));
        }
        problems
    }

    /// The introspector for `issuer`.
    pub(crate) fn build(
        self,
        issuer: &str,
        allow_http_loopback: bool,
    ) -> Result<Introspector, ConfigError> {
        if let Some(error) = ConfigError::from_problems(self.problems(issuer, allow_http_loopback))
        {
            return Err(error);
        }
        let fetcher = match self.fetcher {
            Some(fetcher) => fetcher,
            None => crate::fetch::default_fetcher().map_err(|kind| {
                ConfigError::from(Problem::new("introspection", kind).about(issuer))
            })?,
        };
        Ok(Introspector {
            issuer: issuer.to_owned(),
            endpoint: Mutex::new(Endpoint {
                url: self.endpoint,
                failed_at: None,
            }),
            discovering: tokio::sync::Mutex::new(()),
            discovery: self
                .discovery
                .unwrap_or_else(|| Discovery::new(Arc::clone(&fetcher))),
            credentials: self.credentials,
            timeout: self.timeout,
            allow_http_loopback,
            fetcher,
            cache: TokenCache::new(self.cache, 1),
            answers: KeySetId::default(),
            allow_missing_audience: self.allow_missing_audience,
            in_flight: Mutex::new(HashMap::new()),
        })
    }
}

fn check_endpoint(endpoint: &str, allow_http_loopback: bool) -> Result<(), &'static str> {
    crate::rules::secure_url(endpoint, allow_http_loopback).map(|_| ())
}

/// The members of an introspection answer that say what kind of token it is.
pub(crate) const KIND_MEMBERS: [&str; 3] = ["token_type", "token_use", "typ"];

/// Whether an active introspection answer is about an access token, as far as its members
/// say: `token_type` (RFC 7662) an access token's type, `token_use` (Ory Hydra and other
/// fosite servers) `access_token`, and `typ` (Keycloak) none of `Refresh`, `Offline`, `ID` and
/// `Logout`. Absent members say nothing.
pub(crate) fn names_an_access_token(answer: &serde_json::Map<String, serde_json::Value>) -> bool {
    let member = |name| answer.get(name).map(serde_json::Value::as_str);
    let token_type = match member("token_type") {
        None => true,
        Some(Some(t)) => is_access_token_type(t),
        Some(None) => false,
    };
    let token_use = match member("token_use") {
        None => true,
        Some(used) => used.is_some_and(|u| u.eq_ignore_ascii_case("access_token")),
    };
    let typ = match member("typ") {
        None => true,
        Some(typ) => typ.is_some_and(|typ| {
            !["refresh", "offline", "id", "logout"]
                .iter()
                .any(|kind| typ.eq_ignore_ascii_case(kind))
        }),
    };
    token_type && token_use && typ
}

/// Whether an introspection `token_type` names an access token.
fn is_access_token_type(token_type: &str) -> bool {
    [
        "bearer",
        "access_token",
        "urn:ietf:params:oauth:token-type:access_token",
    ]
    .iter()
    .any(|t| token_type.eq_ignore_ascii_case(t))
}

/// The future of one introspection.
pub(crate) type IntrospectFuture =
    Pin<Box<dyn Future<Output = Result<VerifiedToken, TokenError>> + Send>>;

type Flight = Arc<OnceCell<Result<VerifiedToken, TokenError>>>;

struct Endpoint {
    url: Option<String>,
    failed_at: Option<Instant>,
}

/// One issuer's introspection: endpoint, client, cache and requests in flight.
pub(crate) struct Introspector {
    issuer: String,
    endpoint: Mutex<Endpoint>,
    /// Held while discovering, so concurrent first requests share one discovery.
    discovering: tokio::sync::Mutex<()>,
    discovery: Arc<Discovery>,
    credentials: Credentials,
    timeout: Duration,
    allow_http_loopback: bool,
    fetcher: Arc<dyn Fetch>,
    cache: Option<TokenCache>,
    /// Stands for "answered by introspection" where the cache expects a key set.
    answers: KeySetId,
    /// [`Introspection::allow_missing_audience`].
    allow_missing_audience: bool,
    in_flight: Mutex<HashMap<Box<str>, Flight>>,
}

impl fmt::Debug for Introspector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspector")
            .field("issuer", &self.issuer)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unavailable() -> TokenError {
    TokenError::unavailable(TokenErrorKind::IntrospectionUnavailable, RETRY_AFTER_SECS)
}

impl Introspector {
    /// Whether an active answer may leave out `aud`.
    pub(crate) fn allows_missing_audience(&self) -> bool {
        self.allow_missing_audience
    }

    /// Whether answers are cached.
    pub(crate) fn caches(&self) -> bool {
        self.cache.is_some()
    }

    /// The cached answer for `token`, if it still holds at `now`.
    pub(crate) fn cached(&self, token: &str, now: i64) -> Option<VerifiedToken> {
        self.cache.as_ref()?.get(token, now, |_| Some(self.answers))
    }

    /// Caches an active, checked answer.
    pub(crate) fn store(
        &self,
        token: &str,
        verified: &VerifiedToken,
        not_before: i64,
        expires_at: i64,
        now: i64,
    ) {
        if let Some(cache) = &self.cache {
            let entry = Verified {
                token: verified.clone(),
                issuer: 0,
                key_set: self.answers,
                not_before,
                expires_at,
            };
            cache.insert(token, &entry, now);
        }
    }

    /// Runs `introspect` once for all concurrent callers with the same `token`. If the caller
    /// running it goes away, a waiting one runs its own.
    pub(crate) async fn single_flight<F, Fut>(
        &self,
        token: &str,
        introspect: F,
    ) -> Result<VerifiedToken, TokenError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<VerifiedToken, TokenError>>,
    {
        let flight = {
            let mut in_flight = lock(&self.in_flight);
            Arc::clone(in_flight.entry(Box::from(token)).or_default())
        };
        let guard = FlightGuard {
            in_flight: &self.in_flight,
            token,
            flight: Some(flight),
        };
        let Some(flight) = &guard.flight else {
            return Err(unavailable());
        };
        let answer = flight.get_or_init(introspect).await.clone();
        // Finished: later requests must ask again (or find the cache), not join this answer,
        // which was decided at an earlier time.
        let mut in_flight = lock(&self.in_flight);
        if in_flight
            .get(token)
            .is_some_and(|current| Arc::ptr_eq(current, flight))
        {
            in_flight.remove(token);
        }
        answer
    }

    /// Asks the endpoint about `token`; the body of a 200 answer.
    pub(crate) async fn request(&self, token: &str) -> Result<Bytes, TokenError> {
        let endpoint = self.endpoint().await?;
        let mut body = String::with_capacity(token.len() + 64);
        body.push_str("token=");
        form_encode(&mut body, token);
        body.push_str("&token_type_hint=access_token");
        let mut authorization = None;
        if let Credentials::Secret { id, secret, method } = &self.credentials {
            match method {
                ClientAuth::ClientSecretBasic => {
                    let mut pair = String::new();
                    form_encode(&mut pair, id);
                    pair.push(':');
                    form_encode(&mut pair, secret);
                    authorization = Some(format!("Basic {}", STANDARD.encode(pair)));
                }
                ClientAuth::ClientSecretPost => {
                    body.push_str("&client_id=");
                    form_encode(&mut body, id);
                    body.push_str("&client_secret=");
                    form_encode(&mut body, secret);
                }
            }
        }
        let response = self
            .fetcher
            .post_form(FormPost {
                url: endpoint,
                body,
                authorization,
                timeout: self.timeout,
                max_bytes: MAX_RESPONSE_BYTES,
            })
            .await;
        let issuer = self.issuer.as_str();
        match response {
            Ok(response) if response.status == 200 => {
                crate::observe::introspection(true);
                Ok(response.body)
            }
            Ok(response) => {
                crate::observe::introspection(false);
                tracing::warn!(
                    target: crate::observe::TRACE_TARGET,
                    issuer,
                    status = response.status,
                    "token introspection answered with an error status"
                );
                Err(unavailable())
            }
            Err(error) => {
                crate::observe::introspection(false);
                tracing::warn!(
                    target: crate::observe::TRACE_TARGET,
                    issuer,
                    %error,
                    "token introspection failed"
                );
                Err(unavailable())
            }
        }
    }

    /// The endpoint known now; `Err` while a recent discovery failure stands.
    fn known_endpoint(&self) -> Result<Option<String>, TokenError> {
        let endpoint = lock(&self.endpoint);
        if let Some(url) = &endpoint.url {
            return Ok(Some(url.clone()));
        }
        if endpoint
            .failed_at
            .is_some_and(|at| at.elapsed() < DISCOVERY_RETRY)
        {
            return Err(unavailable());
        }
        Ok(None)
    }

    /// The configured or discovered endpoint. Only the first request discovers it; the others
    /// wait for that discovery (each fetch is bounded by the timeout) and use its outcome.
    async fn endpoint(&self) -> Result<String, TokenError> {
        if let Some(url) = self.known_endpoint()? {
            return Ok(url);
        }
        let _discovering = self.discovering.lock().await;
        if let Some(url) = self.known_endpoint()? {
            return Ok(url);
        }
        let mut problems = Vec::new();
        for url in discovery_urls(&self.issuer) {
            match self.discover(&url).await {
                Ok(found) => {
                    lock(&self.endpoint).url = Some(found.clone());
                    return Ok(found);
                }
                Err(problem) => problems.push(problem),
            }
        }
        lock(&self.endpoint).failed_at = Some(Instant::now());
        tracing::warn!(
            target: crate::observe::TRACE_TARGET,
            issuer = self.issuer.as_str(),
            problems = problems.join("; ").as_str(),
            "cannot discover the introspection endpoint"
        );
        Err(unavailable())
    }

    /// The `introspection_endpoint` of the metadata document at `url`.
    async fn discover(&self, url: &str) -> Result<String, String> {
        let metadata = self.discovery.document(url, self.timeout).await?;
        if metadata.issuer.as_deref() != Some(self.issuer.as_str()) {
            return Err(format!("{url} names another issuer"));
        }
        let endpoint = metadata
            .introspection_endpoint
            .clone()
            .ok_or_else(|| format!("{url} has no introspection_endpoint"))?;
        check_endpoint(&endpoint, self.allow_http_loopback)
            .map_err(|reason| format!("introspection_endpoint {endpoint}: {reason}"))?;
        Ok(endpoint)
    }
}

/// Takes a caller out of a flight; the last one out removes it, finished or not, so that
/// abandoned flights never pile up.
struct FlightGuard<'a> {
    in_flight: &'a Mutex<HashMap<Box<str>, Flight>>,
    token: &'a str,
    flight: Option<Flight>,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        let mut in_flight = lock(self.in_flight);
        // Dropped under the lock, where every clone is made, so the count below is exact.
        drop(self.flight.take());
        if in_flight
            .get(self.token)
            .is_some_and(|flight| Arc::strong_count(flight) == 1)
        {
            in_flight.remove(self.token);
        }
    }
}

/// Appends `value` encoded for `application/x-www-form-urlencoded`.
fn form_encode(out: &mut String, value: &str) {
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                for nibble in [byte >> 4, byte & 0xf] {
                    out.push(
                        char::from_digit(u32::from(nibble), 16)
                            .map_or('0', |c| c.to_ascii_uppercase()),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_encoding_escapes_everything_but_the_unreserved_set() {
        let mut out = String::new();
        form_encode(&mut out, "aZ09-._* +/:=&%é");
        assert_eq!(out, "aZ09-._*+%2B%2F%3A%3D%26%25%C3%A9");
    }

    #[test]
    fn access_token_types() {
        for ok in [
            "Bearer",
            "bearer",
            "access_token",
            "urn:ietf:params:oauth:token-type:access_token",
        ] {
            assert!(is_access_token_type(ok), "{ok}");
        }
        for bad in [
            "refresh_token",
            "id_token",
            "DPoP",
            "",
            "urn:ietf:params:oauth:token-type:refresh_token",
        ] {
            assert!(!is_access_token_type(bad), "{bad}");
        }
    }

    #[test]
    fn refresh_and_id_tokens_are_told_apart_by_any_kind_member() {
        let answer = |v: serde_json::Value| v.as_object().cloned().unwrap();
        for ok in [
            json!({}),
            json!({"token_type": "Bearer"}),
            json!({"token_type": "Bearer", "token_use": "access_token"}),
            json!({"typ": "Bearer"}),
        ] {
            assert!(names_an_access_token(&answer(ok.clone())), "{ok}");
        }
        for bad in [
            json!({"token_type": "refresh_token"}),
            json!({"token_type": 1}),
            // Hydra: an `ory_rt_` token introspected despite the hint.
            json!({"token_type": "Bearer", "token_use": "refresh_token"}),
            json!({"token_use": "id_token"}),
            json!({"token_use": null}),
            // Keycloak: the payload's own kind.
            json!({"typ": "Refresh"}),
            json!({"typ": "Offline"}),
            json!({"typ": "ID"}),
            json!({"typ": ["Bearer"]}),
        ] {
            assert!(!names_an_access_token(&answer(bad.clone())), "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let config = Introspection::new("rs", "very-secret-value");
        assert!(!format!("{config:?}").contains("very-secret"));
    }

    #[test]
    fn settings_are_checked() {
        let build = |c: Introspection| c.build("https://as.example.com", false);
        assert!(build(Introspection::new("", "s")).is_err());
        assert!(build(Introspection::new("id", "")).is_err());
        assert!(build(Introspection::new("id", "s").endpoint("http://as.example.com/i")).is_err());
        assert!(
            build(Introspection::new("id", "s").endpoint("https://as.example.com/i#f")).is_err()
        );
        assert!(build(Introspection::new("id", "s").timeout(Duration::ZERO)).is_err());
        assert!(build(Introspection::new("id", "s").endpoint("https://as.example.com/i")).is_ok());
        assert!(build(Introspection::without_client_authentication()).is_ok());
        assert!(
            Introspection::new("id", "s")
                .endpoint("http://127.0.0.1:9/i")
                .build("http://127.0.0.1:9", true)
                .is_ok()
        );
    }
}
