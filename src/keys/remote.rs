//! [`RemoteJwks`]: an authorization server's keys, discovered and fetched over HTTPS, cached,
//! refreshed and rotated without ever blocking a request on a lock.
//!
//! * **Discovery.** From the issuer: RFC 8414 metadata
//!   (`/.well-known/oauth-authorization-server`, path-inserted for issuers with a path), then
//!   OpenID Connect (`{issuer}/.well-known/openid-configuration`). The document's `issuer`
//!   must equal the configured one byte for byte. Or give the `jwks_uri` yourself.
//! * **Transport.** `https` only; `http` only for loopback hosts with
//!   [`allow_http_loopback`](RemoteJwksBuilder::allow_http_loopback). Responses are capped at
//!   [`super::MAX_JWKS_BYTES`] and each fetch at a timeout.
//! * **Loading.** Lazy: the first request that needs keys fetches them (others wait for the same
//!   fetch). [`prefetch`](RemoteJwks::prefetch) loads them ahead of time and reports errors;
//!   [`status`](RemoteJwks::status) and [`is_ready`](RemoteJwks::is_ready) serve readiness probes.
//!   While no usable keys are at hand, a failed load is retried after a back-off of
//!   [`initial_retry_backoff`](RemoteJwksBuilder::initial_retry_backoff) (1 s), doubling with
//!   each further failure up to [`min_refresh_interval`](RemoteJwksBuilder::min_refresh_interval)
//!   (30 s), so an authorization server that comes up late is used within seconds.
//! * **Refresh.** Keys are published through `arc-swap`; requests read them without locks.
//!   After the TTL (`Cache-Control: max-age`, clamped) a background fetch replaces them while
//!   requests go on with the old set, at most once per `min_refresh_interval`.
//! * **New keys.** A token naming an unknown `kid`, or whose signature fails under the key its
//!   `kid` names (a key replaced under its old id), triggers one single-flight fetch, and the
//!   token is checked again against what it brings. Such fetches draw from a budget of
//!   [`unknown_kid_burst`](RemoteJwksBuilder::unknown_kid_burst) (3) that regains one fetch per
//!   `min_refresh_interval`: over any time `t`, tokens cost the identity provider at most
//!   `burst + t / min_refresh_interval` fetches, whatever key ids a flood makes up. Requests
//!   arriving during a fetch wait for it. When the budget is spent, a token no current key
//!   verifies gets 503 with `Retry-After` (the seconds until the budget allows a fetch), not
//!   401: it may be valid, signed with a key published since the last fetch. So does one that
//!   only joined a fetch started before it arrived, which may predate its key. A token still
//!   unverified after a fetch made for it gets 401.
//! * **Failure.** A failed fetch keeps the last good keys until they are
//!   [`max_stale`](RemoteJwksBuilder::max_stale) past their TTL, then the source fails closed:
//!   requests get 503 with `Retry-After`, never 401. Hostile documents (too large, too many keys,
//!   not JSON, no usable key) count as failed fetches and are logged.
//!
//! The HTTP client is pluggable through [`Fetch`] ([`crate::fetch`]); with the `reqwest`
//! feature, `ReqwestFetcher` (rustls) is the default, and without it a client must be given.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use tokio::sync::watch;

use super::{KeyDocumentError, KeySet, KeySource, KeysUnavailable, MAX_JWKS_BYTES, RefreshFuture};
use crate::discovery::Discovery;
pub use crate::discovery::discovery_urls;
use crate::error::{ConfigError, Problem, ProblemKind};
pub use crate::fetch::{
    DEFAULT_FETCH_TIMEOUT, Fetch, FetchError, FetchFuture, FetchRequest, FetchResponse, FormPost,
};
#[cfg(feature = "reqwest")]
pub use crate::fetch::{ReqwestFetcher, ReqwestFetcherBuilder};
use schedule::{FetchBudget, load_backoff, retry_after_secs};

mod schedule;

/// Default minimum time between background refreshes, and the rate at which the budget of
/// fetches for unknown key ids refills.
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Default number of fetches tokens naming unknown key ids may trigger at once, before the
/// budget refills at one per minimum refresh interval.
pub const DEFAULT_UNKNOWN_KID_BURST: u32 = 3;
/// Default wait before retrying a first load that failed; it doubles with each further
/// failure, up to the minimum refresh interval.
pub const DEFAULT_INITIAL_RETRY_BACKOFF: Duration = Duration::from_secs(1);
/// Default key set lifetime when the response has no usable `Cache-Control: max-age`.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10 * 60);
/// Default bounds a `Cache-Control: max-age` is clamped to.
pub const DEFAULT_TTL_BOUNDS: (Duration, Duration) =
    (Duration::from_secs(60), Duration::from_secs(24 * 60 * 60));
/// Default time a key set may still be used past its TTL while refreshes fail.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(24 * 60 * 60);

/// Why keys could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFetchError {
    /// Neither metadata document yielded a usable `jwks_uri`.
    #[error("discovery failed: {0}")]
    Discovery(String),
    /// A metadata document names another issuer.
    #[error("discovered issuer `{found}` differs from the configured one")]
    IssuerMismatch {
        /// The `issuer` the document claimed.
        found: String,
    },
    /// A discovered URL is not `https` (or loopback `http` when allowed).
    #[error("insecure or invalid url `{url}`: {reason}")]
    InsecureUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The JWKS endpoint answered with another status than 200.
    #[error("jwks endpoint answered http {0}")]
    Status(u16),
    /// The fetch failed.
    #[error("jwks fetch failed: {0}")]
    Fetch(FetchError),
    /// The document is unusable.
    #[error("jwks document rejected: {0}")]
    Document(KeyDocumentError),
    /// The document holds no key this crate can use.
    #[error("jwks document holds no usable key ({skipped} skipped)")]
    NoUsableKeys {
        /// How many keys were skipped.
        skipped: usize,
    },
    /// The fetch did not finish in time for the waiting request.
    #[error("timed out waiting for the key fetch")]
    WaitTimeout,
}

/// A snapshot of a [`RemoteJwks`] for readiness probes and dashboards.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyStatus {
    /// Whether requests can be verified right now.
    pub ready: bool,
    /// Usable keys in the current set.
    pub keys: usize,
    /// Time since the current set was fetched.
    pub age: Option<Duration>,
    /// Whether the set is past its TTL (a refresh is due or failing).
    pub stale: bool,
    /// The error of the last fetch, if it failed.
    pub last_error: Option<KeyFetchError>,
}

#[derive(Debug)]
struct Snapshot {
    set: Arc<KeySet>,
    /// The document the set was parsed from: an unchanged refetch keeps the same set, so the
    /// verified-token cache, which is flushed when the set changes, keeps its entries.
    document: Bytes,
    fetched: Instant,
    ttl: Duration,
}

type Outcome = Option<Result<Arc<KeySet>, KeyFetchError>>;

/// Which budget a fetch is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// First load, TTL refresh, retry after failure: spaced from the last attempt of any kind,
    /// by the back-off while no usable set is at hand and by the interval otherwise.
    Load,
    /// A token named an unknown `kid`, or failed its signature check under a known one: drawn
    /// from the [`FetchBudget`].
    UnknownKid,
}

#[derive(Debug, Clone)]
struct Settings {
    fetch_timeout: Duration,
    min_refresh_interval: Duration,
    unknown_kid_burst: u32,
    initial_retry_backoff: Duration,
    default_ttl: Duration,
    ttl_bounds: (Duration, Duration),
    max_stale: Duration,
    allow_http_loopback: bool,
}

struct Inner {
    issuer: String,
    explicit_jwks_uri: Option<String>,
    fetcher: Arc<dyn Fetch>,
    discovery: Arc<Discovery>,
    settings: Settings,
    snapshot: ArcSwapOption<Snapshot>,
    /// Short critical sections only; never held across an `.await`.
    control: Mutex<Control>,
}

struct Control {
    discovered_jwks_uri: Option<String>,
    in_flight: Option<Flight>,
    /// Any fetch: spaces out retries after failures and TTL refreshes.
    last_attempt: Option<Instant>,
    /// Failed fetches since the last one that succeeded: the back-off of the next load.
    failures: u32,
    /// Fetches for unknown key ids: a burst, then one per interval, whatever tokens arrive.
    budget: FetchBudget,
    last_error: Option<KeyFetchError>,
}

/// A fetch in flight: its outcome channel, and when it started.
#[derive(Clone)]
struct Flight {
    receiver: watch::Receiver<Outcome>,
    started: Instant,
}

impl Control {
    fn new(settings: &Settings) -> Self {
        Control {
            discovered_jwks_uri: None,
            in_flight: None,
            last_attempt: None,
            failures: 0,
            budget: FetchBudget::new(settings.unknown_kid_burst, settings.min_refresh_interval),
            last_error: None,
        }
    }

    /// The fetch in flight, unless its task died without an outcome (its runtime shut down):
    /// a dead flight is forgotten so the next request can start a fresh one.
    fn live_flight(&mut self) -> Option<Flight> {
        match &self.in_flight {
            Some(flight) if flight.receiver.has_changed().is_ok() => Some(flight.clone()),
            Some(_) => {
                self.in_flight = None;
                None
            }
            None => None,
        }
    }
}

/// Keys fetched from an authorization server. See the [module docs](self). Cheap to clone;
/// clones share the cache.
#[derive(Clone)]
pub struct RemoteJwks {
    inner: Arc<Inner>,
}

impl fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("issuer", &self.inner.issuer)
            .field("jwks_uri", &self.inner.explicit_jwks_uri)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

/// Builds a [`RemoteJwks`]. Every setter documents its default.
#[derive(Debug, Clone)]
#[must_use]
pub struct RemoteJwksBuilder {
    issuer: String,
    jwks_uri: Option<String>,
    fetcher: Option<Arc<dyn Fetch>>,
    /// Shared with the issuer's introspection, when [`McpAuth`](crate::McpAuth) builds both.
    discovery: Option<Arc<Discovery>>,
    settings: Settings,
}

impl RemoteJwks {
    /// Keys of `issuer`, found by discovery unless [`jwks_uri`](RemoteJwksBuilder::jwks_uri)
    /// is set.
    pub fn builder(issuer: impl Into<String>) -> RemoteJwksBuilder {
        RemoteJwksBuilder {
            issuer: issuer.into(),
            jwks_uri: None,
            fetcher: None,
            discovery: None,
            settings: Settings {
                fetch_timeout: DEFAULT_FETCH_TIMEOUT,
                min_refresh_interval: DEFAULT_MIN_REFRESH_INTERVAL,
                unknown_kid_burst: DEFAULT_UNKNOWN_KID_BURST,
                initial_retry_backoff: DEFAULT_INITIAL_RETRY_BACKOFF,
                default_ttl: DEFAULT_TTL,
                ttl_bounds: DEFAULT_TTL_BOUNDS,
                max_stale: DEFAULT_MAX_STALE,
                allow_http_loopback: false,
            },
        }
    }

    /// The issuer these keys belong to.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// Fetches the keys now (ignoring the refresh interval) and reports the outcome. Useful at
    /// start-up to fail fast; requests do not need it.
    ///
    /// # Errors
    /// What went wrong with discovery or the fetch. Previously loaded keys stay in use.
    pub async fn prefetch(&self) -> Result<(), KeyFetchError> {
        let flight = Inner::start_fetch(&self.inner);
        Inner::wait(&self.inner, flight.receiver).await.map(|_| ())
    }

    /// Whether requests can be verified right now.
    pub fn is_ready(&self) -> bool {
        self.inner.usable_snapshot(Instant::now()).is_some()
    }

    /// The current state, for readiness probes.
    pub fn status(&self) -> KeyStatus {
        let now = Instant::now();
        let snapshot = self.inner.snapshot.load_full();
        let control = self.inner.lock();
        KeyStatus {
            ready: self.inner.usable_snapshot(now).is_some(),
            keys: snapshot.as_ref().map_or(0, |s| s.set.len()),
            age: snapshot.as_ref().map(|s| now.duration_since(s.fetched)),
            stale: snapshot
                .as_ref()
                .is_none_or(|s| now.duration_since(s.fetched) > s.ttl),
            last_error: control.last_error.clone(),
        }
    }
}

impl RemoteJwksBuilder {
    /// Discovers through `discovery`, shared with the issuer's introspection.
    pub(crate) fn discovery(mut self, discovery: Arc<Discovery>) -> Self {
        self.discovery = Some(discovery);
        self
    }

    /// Fetch keys from this URL instead of discovering it.
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.jwks_uri = Some(url.into());
        self
    }

    /// Allows `http` URLs on loopback hosts, for development and tests. Defaults to `false`.
    pub fn allow_http_loopback(mut self, allow: bool) -> Self {
        self.settings.allow_http_loopback = allow;
        self
    }

    /// The HTTP client. Defaults to `ReqwestFetcher` with the `reqwest` feature; without it,
    /// one must be given ([`build`](Self::build) fails otherwise).
    pub fn fetcher(mut self, fetcher: impl Fetch) -> Self {
        self.discovery = None;
        self.fetcher = Some(Arc::new(fetcher));
        self
    }

    /// The HTTP client [`McpAuth`](crate::McpAuth) was given, shared by its sources.
    pub(crate) fn shared_fetcher(mut self, fetcher: Arc<dyn Fetch>) -> Self {
        self.discovery = None;
        self.fetcher = Some(fetcher);
        self
    }

    /// Time allowed for one HTTP fetch. Defaults to 5 seconds.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.settings.fetch_timeout = timeout;
        self
    }

    /// Minimum time between background refreshes once keys are loaded, the longest wait
    /// between retries of a load that keeps failing, and the time the budget of fetches for
    /// unknown key ids takes to regain one fetch. Defaults to 30 seconds.
    pub fn min_refresh_interval(mut self, interval: Duration) -> Self {
        self.settings.min_refresh_interval = interval;
        self
    }

    /// How many fetches tokens naming unknown key ids (or failing their signature check under
    /// a known one) may trigger in a row before the budget runs dry; it then regains one per
    /// [`min_refresh_interval`](Self::min_refresh_interval). Over any time `t`, such tokens
    /// cost the identity provider at most `burst + t / min_refresh_interval` fetches. Must be
    /// at least 1. Defaults to 3.
    pub fn unknown_kid_burst(mut self, burst: u32) -> Self {
        self.settings.unknown_kid_burst = burst;
        self
    }

    /// Wait before retrying after the first failed load while no usable keys are at hand; it
    /// doubles with each further failure, up to
    /// [`min_refresh_interval`](Self::min_refresh_interval), and starts over once a fetch
    /// succeeds. Must not be zero. Defaults to 1 second.
    pub fn initial_retry_backoff(mut self, backoff: Duration) -> Self {
        self.settings.initial_retry_backoff = backoff;
        self
    }

    /// Key set lifetime when the response carries no `Cache-Control: max-age`. Defaults to 10
    /// minutes.
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.settings.default_ttl = ttl;
        self
    }

    /// Bounds a `Cache-Control: max-age` (and the default TTL) are clamped to. Defaults to 1
    /// minute and 24 hours.
    pub fn ttl_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.settings.ttl_bounds = (min, max);
        self
    }

    /// How long past its TTL a key set may still be used while refreshes fail; after that the
    /// source fails closed (503). Defaults to 24 hours.
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.settings.max_stale = max_stale;
        self
    }

    /// Checks the configuration. No I/O.
    ///
    /// # Errors
    /// A [`ConfigError`] with every problem: [`ProblemKind::InvalidIssuer`] (setting `builder`)
    /// or [`ProblemKind::InvalidJwksUri`] (setting `jwks_uri`) for a URL that is not `https`
    /// (or allowed loopback `http`), [`ProblemKind::InvalidDuration`] for a zero timeout, a
    /// zero retry back-off or inverted TTL bounds, [`ProblemKind::InvalidCount`] for a zero
    /// burst, [`ProblemKind::HttpClient`] when no client was given and the built-in one
    /// cannot be made (or, without the `reqwest` feature, is not there).
    pub fn build(self) -> Result<RemoteJwks, ConfigError> {
        let settings = &self.settings;
        let loopback = settings.allow_http_loopback;
        let mut problems = Vec::new();
        if let Err(reason) = crate::rules::issuer_url(&self.issuer, loopback) {
            let kind = ProblemKind::InvalidIssuer {
                issuer: self.issuer.clone(),
                reason,
            };
            problems.push(Problem::new("builder", kind).about(&self.issuer));
        }
        if let Some(uri) = &self.jwks_uri
            && let Err(reason) = crate::rules::secure_url(uri, loopback)
        {
            let kind = ProblemKind::InvalidJwksUri {
                issuer: self.issuer.clone(),
                jwks_uri: uri.clone(),
                reason,
            };
            problems.push(Problem::new("jwks_uri", kind).about(&self.issuer));
        }
        let durations = [
            ("fetch_timeout", settings.fetch_timeout.is_zero()),
            ("ttl_bounds", settings.ttl_bounds.0 > settings.ttl_bounds.1),
            (
                "initial_retry_backoff",
                settings.initial_retry_backoff.is_zero(),
            ),
        ];
        for (setting, _) in durations.into_iter().filter(|(_, bad)| *bad) {
            problems.push(Problem::new(
                setting,
                ProblemKind::InvalidDuration { setting },
            ));
        }
        if settings.unknown_kid_burst == 0 {
            let setting = "unknown_kid_burst";
            problems.push(Problem::new(setting, ProblemKind::InvalidCount { setting }));
        }
        if let Some(error) = ConfigError::from_problems(problems) {
            return Err(error);
        }
        let fetcher = match self.fetcher {
            Some(fetcher) => fetcher,
            None => crate::fetch::default_fetcher().map_err(|kind| {
                ConfigError::from(Problem::new("fetcher", kind).about(&self.issuer))
            })?,
        };
        let discovery = self
            .discovery
            .unwrap_or_else(|| Discovery::new(Arc::clone(&fetcher)));
        Ok(RemoteJwks {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                explicit_jwks_uri: self.jwks_uri,
                fetcher,
                discovery,
                control: Mutex::new(Control::new(&self.settings)),
                settings: self.settings,
                snapshot: ArcSwapOption::empty(),
            }),
        })
    }
}

impl KeySource for RemoteJwks {
    fn current(&self) -> Result<Arc<KeySet>, KeysUnavailable> {
        let now = Instant::now();
        let snapshot = self.inner.snapshot.load_full();
        if let Some(snapshot) = &snapshot
            && now.duration_since(snapshot.fetched) > snapshot.ttl
        {
            // Due for a refresh: fetch in the background, answer with what we have.
            Inner::refresh_in_background(&self.inner);
        }
        match self.inner.usable_snapshot(now) {
            Some(set) => Ok(set),
            None => Err(KeysUnavailable::new(self.inner.retry_after(now))),
        }
    }

    /// Without usable keys, a load spaced by the retry back-off; with keys, a fetch from the
    /// budget for unknown key ids, or the fetch in flight. `Err` when no fetch may start now,
    /// and when the only fetch to join started before this call (it may predate the key the
    /// token needs): its `retry_after_secs` is the wait until the budget allows one.
    fn refresh(&self) -> RefreshFuture {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let asked = Instant::now();
            // With keys in hand this is a refresh for an unknown `kid`, which has its own budget;
            // without, it is the first load or a retry after failures.
            let gate = if inner.usable_snapshot(asked).is_some() {
                Gate::UnknownKid
            } else {
                Gate::Load
            };
            let flight = Inner::join_or_start(&inner, asked, gate)
                .map_err(|wait| KeysUnavailable::new(retry_after_secs(wait)))?;
            let _ = Inner::wait(&inner, flight.receiver).await;
            let now = Instant::now();
            let set = inner
                .usable_snapshot(now)
                .ok_or_else(|| KeysUnavailable::new(inner.retry_after(now)))?;
            if gate == Gate::UnknownKid && flight.started < asked {
                // A fetch we only joined may have left before the key was published: whatever
                // it brought is in place for the caller's next decision, but it is no proof
                // that the key does not exist.
                let wait = inner.lock().budget.wait(now);
                return Err(KeysUnavailable::new(retry_after_secs(wait)));
            }
            Ok(set)
        })
    }

    fn is_ready(&self) -> bool {
        RemoteJwks::is_ready(self)
    }

    fn prefetch(&self) -> super::PrefetchFuture {
        let this = self.clone();
        Box::pin(async move {
            RemoteJwks::prefetch(&this)
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        })
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current set if it is within TTL plus `max_stale`.
    fn usable_snapshot(&self, now: Instant) -> Option<Arc<KeySet>> {
        let snapshot = self.snapshot.load_full()?;
        let limit = snapshot.ttl.saturating_add(self.settings.max_stale);
        (now.duration_since(snapshot.fetched) <= limit).then(|| Arc::clone(&snapshot.set))
    }

    /// How long from `now` until a load may start: the retry back-off while no usable set is
    /// at hand, the minimum refresh interval otherwise, counted from the last attempt.
    fn load_wait(&self, control: &Control, now: Instant) -> Duration {
        let Some(at) = control.last_attempt else {
            return Duration::ZERO;
        };
        let interval = self.settings.min_refresh_interval;
        let spacing = if self.usable_snapshot(now).is_some() {
            interval
        } else {
            load_backoff(
                control.failures,
                self.settings.initial_retry_backoff,
                interval,
            )
        };
        spacing.saturating_sub(now.saturating_duration_since(at))
    }

    /// `Retry-After` seconds for requests that find no usable keys: until the next load.
    fn retry_after(&self, now: Instant) -> u64 {
        let control = self.lock();
        retry_after_secs(self.load_wait(&control, now))
    }

    /// Joins the fetch in flight, or starts one if `gate` allows it; otherwise says how long
    /// until it will.
    fn join_or_start(self: &Arc<Self>, now: Instant, gate: Gate) -> Result<Flight, Duration> {
        {
            let mut control = self.lock();
            if let Some(flight) = control.live_flight() {
                return Ok(flight);
            }
            match gate {
                Gate::Load => {
                    let wait = self.load_wait(&control, now);
                    if !wait.is_zero() {
                        return Err(wait);
                    }
                }
                Gate::UnknownKid => control.budget.try_take(now)?,
            }
        }
        Ok(Self::start_fetch(self))
    }

    fn refresh_in_background(self: &Arc<Self>) {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let _ = Self::join_or_start(self, Instant::now(), Gate::Load);
    }

    /// Starts a fetch task (or joins the one in flight) and returns its outcome channel.
    fn start_fetch(self: &Arc<Self>) -> Flight {
        let (sender, flight) = {
            let mut control = self.lock();
            if let Some(flight) = control.live_flight() {
                return flight;
            }
            let (sender, receiver) = watch::channel(None);
            let started = Instant::now();
            let flight = Flight { receiver, started };
            control.in_flight = Some(flight.clone());
            control.last_attempt = Some(started);
            (sender, flight)
        };
        let inner = Arc::clone(self);
        let task = async move {
            let outcome = inner.fetch_once().await;
            crate::observe::key_fetch(outcome.is_ok());
            {
                let mut control = inner.lock();
                control.in_flight = None;
                control.last_error = outcome.as_ref().err().cloned();
                control.failures = match &outcome {
                    Ok(_) => 0,
                    Err(_) => control.failures.saturating_add(1),
                };
            }
            if let Err(error) = &outcome {
                let kept = inner.snapshot.load().as_ref().map_or(0, |s| s.set.len());
                tracing::warn!(
                    target: crate::observe::TRACE_TARGET,
                    issuer = %inner.issuer,
                    %error,
                    kept_keys = kept,
                    "key fetch failed"
                );
            }
            let _ = sender.send(Some(outcome));
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                // The task runs to completion even if every waiter gives up.
                drop(handle.spawn(task));
            }
            Err(_) => {
                let mut control = self.lock();
                control.in_flight = None;
                control.last_error = Some(KeyFetchError::Fetch(FetchError::Transport(
                    "no tokio runtime to fetch keys on".to_owned(),
                )));
            }
        }
        flight
    }

    async fn wait(
        self: &Arc<Self>,
        mut receiver: watch::Receiver<Outcome>,
    ) -> Result<Arc<KeySet>, KeyFetchError> {
        // Discovery plus the JWKS fetch, each bounded by the fetch timeout.
        let limit = self.settings.fetch_timeout.saturating_mul(2) + Duration::from_millis(250);
        let waited = tokio::time::timeout(limit, receiver.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(outcome)) => match &*outcome {
                Some(result) => result.clone(),
                None => Err(KeyFetchError::WaitTimeout),
            },
            // The sender is gone without an outcome (no runtime), or time ran out.
            Ok(Err(_)) => Err(self
                .lock()
                .last_error
                .clone()
                .unwrap_or(KeyFetchError::WaitTimeout)),
            Err(_) => Err(KeyFetchError::WaitTimeout),
        }
    }

    async fn fetch_once(self: &Arc<Self>) -> Result<Arc<KeySet>, KeyFetchError> {
        let jwks_uri = self.jwks_uri().await?;
        let response = self
            .fetcher
            .get(FetchRequest {
                url: jwks_uri,
                timeout: self.settings.fetch_timeout,
                max_bytes: MAX_JWKS_BYTES,
            })
            .await
            .map_err(KeyFetchError::Fetch)?;
        if response.status != 200 {
            return Err(KeyFetchError::Status(response.status));
        }
        let ttl = self.ttl(response.cache_control.as_deref());
        let unchanged = self
            .snapshot
            .load()
            .as_ref()
            .filter(|previous| previous.document == response.body)
            .map(|previous| Arc::clone(&previous.set));
        let set = match unchanged {
            Some(set) => set,
            None => {
                let set = KeySet::from_jwks(&response.body).map_err(KeyFetchError::Document)?;
                if set.is_empty() {
                    return Err(KeyFetchError::NoUsableKeys {
                        skipped: set.skipped().len(),
                    });
                }
                Arc::new(set)
            }
        };
        self.snapshot.store(Some(Arc::new(Snapshot {
            set: Arc::clone(&set),
            document: response.body,
            fetched: Instant::now(),
            ttl,
        })));
        tracing::debug!(
            target: crate::observe::TRACE_TARGET,
            issuer = %self.issuer,
            keys = set.len(),
            ttl_secs = ttl.as_secs(),
            "keys loaded"
        );
        Ok(set)
    }

    /// The TTL a response grants: its `max-age` (or the default), clamped to the bounds.
    fn ttl(&self, cache_control: Option<&str>) -> Duration {
        let (min, max) = self.settings.ttl_bounds;
        let max_age = cache_control.and_then(|value| {
            value.split(',').find_map(|directive| {
                let directive = directive.trim();
                if directive.eq_ignore_ascii_case("no-store")
                    || directive.eq_ignore_ascii_case("no-cache")
                {
                    return Some(Duration::ZERO);
                }
                let (name, secs) = directive.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("max-age")
                    .then(|| secs.trim().trim_matches('"').parse::<u64>().ok())
                    .flatten()
                    .map(Duration::from_secs)
            })
        });
        max_age.unwrap_or(self.settings.default_ttl).clamp(min, max)
    }

    async fn jwks_uri(self: &Arc<Self>) -> Result<String, KeyFetchError> {
        if let Some(uri) = &self.explicit_jwks_uri {
            return Ok(uri.clone());
        }
        if let Some(uri) = self.lock().discovered_jwks_uri.clone() {
            return Ok(uri);
        }
        let mut problems = Vec::new();
        for url in discovery_urls(&self.issuer) {
            match self.discover(&url).await {
                Ok(uri) => {
                    self.lock().discovered_jwks_uri = Some(uri.clone());
                    return Ok(uri);
                }
                Err(mismatch @ KeyFetchError::IssuerMismatch { .. }) => return Err(mismatch),
                Err(insecure @ KeyFetchError::InsecureUrl { .. }) => return Err(insecure),
                Err(KeyFetchError::Discovery(problem)) => problems.push(problem),
                Err(other) => problems.push(other.to_string()),
            }
        }
        Err(KeyFetchError::Discovery(problems.join("; ")))
    }

    async fn discover(&self, url: &str) -> Result<String, KeyFetchError> {
        let metadata = self
            .discovery
            .document(url, self.settings.fetch_timeout)
            .await
            .map_err(KeyFetchError::Discovery)?;
        let found = metadata.issuer.clone().unwrap_or_default();
        if found != self.issuer {
            return Err(KeyFetchError::IssuerMismatch { found });
        }
        let jwks_uri = metadata
            .jwks_uri
            .clone()
            .ok_or_else(|| KeyFetchError::Discovery("metadata has no jwks_uri".to_owned()))?;
        crate::rules::secure_url(&jwks_uri, self.settings.allow_http_loopback).map_err(
            |reason| KeyFetchError::InsecureUrl {
                url: jwks_uri.clone(),
                reason,
            },
        )?;
        Ok(jwks_uri)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn discovery_urls_insert_and_append() {
        assert_eq!(
            discovery_urls("https://auth.example.com"),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            discovery_urls("https://auth.example.com/tenant1"),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration"
            ]
        );
    }

    #[test]
    fn ttl_honours_max_age_within_bounds() {
        let jwks = RemoteJwks::builder("https://auth.example.com")
            .fetcher(NeverFetch)
            .build()
            .unwrap();
        let ttl = |cc| jwks.inner.ttl(cc);
        assert_eq!(ttl(None), DEFAULT_TTL);
        assert_eq!(ttl(Some("public, max-age=3600")), Duration::from_secs(3600));
        assert_eq!(ttl(Some("max-age=\"120\"")), Duration::from_secs(120));
        assert_eq!(ttl(Some("max-age=1")), DEFAULT_TTL_BOUNDS.0);
        assert_eq!(ttl(Some("no-store")), DEFAULT_TTL_BOUNDS.0);
        assert_eq!(ttl(Some("max-age=99999999")), DEFAULT_TTL_BOUNDS.1);
        assert_eq!(ttl(Some("max-age=abc")), DEFAULT_TTL);
    }

    #[test]
    fn builder_refuses_insecure_urls() {
        let build = |issuer: &str, jwks: Option<&str>, loopback: bool| {
            let mut builder = RemoteJwks::builder(issuer)
                .fetcher(NeverFetch)
                .allow_http_loopback(loopback);
            if let Some(jwks) = jwks {
                builder = builder.jwks_uri(jwks);
            }
            builder.build().map(|_| ())
        };
        assert!(build("https://a.example", None, false).is_ok());
        assert!(build("http://a.example", None, true).is_err());
        assert!(build("http://127.0.0.1:9", None, false).is_err());
        assert!(build("http://127.0.0.1:9", None, true).is_ok());
        assert!(build("https://a.example", Some("http://a.example/jwks"), true).is_err());
        assert!(build("https://a.example?x=1", None, false).is_err());
    }

    #[test]
    fn builder_refuses_a_zero_burst_and_a_zero_backoff() {
        let builder = || RemoteJwks::builder("https://a.example").fetcher(NeverFetch);
        assert!(matches!(
            builder()
                .unknown_kid_burst(0)
                .build()
                .unwrap_err()
                .problems()[0]
                .kind(),
            ProblemKind::InvalidCount {
                setting: "unknown_kid_burst"
            }
        ));
        assert!(matches!(
            builder()
                .initial_retry_backoff(Duration::ZERO)
                .build()
                .unwrap_err()
                .problems()[0]
                .kind(),
            ProblemKind::InvalidDuration {
                setting: "initial_retry_backoff"
            }
        ));
        assert!(builder().unknown_kid_burst(1).build().is_ok());
    }

    #[test]
    fn a_fetch_whose_runtime_died_does_not_block_later_fetches() {
        let jwks = RemoteJwks::builder("https://auth.example.com")
            .fetcher(HangingFetch)
            .build()
            .unwrap();
        // Start a fetch on a runtime, then drop the runtime with the fetch in flight.
        let first = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        first.block_on(async {
            let _ = Inner::start_fetch(&jwks.inner);
            tokio::task::yield_now().await;
        });
        drop(first);
        // A new runtime starts a new fetch instead of joining the dead one.
        let second = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        second.block_on(async {
            let flight = Inner::start_fetch(&jwks.inner);
            assert!(flight.receiver.has_changed().is_ok(), "a live flight");
        });
    }

    #[derive(Debug)]
    struct HangingFetch;

    impl Fetch for HangingFetch {
        fn get(&self, _request: FetchRequest) -> FetchFuture {
            Box::pin(std::future::pending())
        }
    }

    #[derive(Debug)]
    struct NeverFetch;

    impl Fetch for NeverFetch {
        fn get(&self, _request: FetchRequest) -> FetchFuture {
            Box::pin(std::future::ready(Err(FetchError::Transport(
                "offline".to_owned(),
            ))))
        }
    }
}
