//! A development authorization server: keys generated in memory, tokens minted on demand, and,
//! when started, a real loopback HTTP server publishing its metadata and key set.
//!
//! **Never use this in production.** It exists so that examples and tests can run without an
//! identity provider. Keys are generated fresh for every issuer and never written anywhere.
//!
//! # Offline or served
//!
//! [`TestIssuer::new`] and [`TestIssuer::with_algorithm`] make an *offline* issuer: keys and
//! tokens only, no I/O and no runtime needed. Hand its [`keys`](TestIssuer::keys) to the layer
//! as static keys:
//!
//! ```
//! use mcp_server_auth_dev::testing::TestIssuer;
//!
//! let issuer = TestIssuer::new("https://auth.example.com");
//! let token = issuer
//!     .token()
//!     .audience("https://mcp.example.com/mcp")
//!     .scope("mcp:tools")
//!     .sign();
//!
//! let auth = mcp_server_auth::McpAuth::builder("https://mcp.example.com/mcp")
//!     .issuer(issuer.issuer(), issuer.keys())
//!     .build()?;
//! let verified = auth.validator().validate(&token, mcp_server_auth_dev::testing::unix_now())?;
//! assert_eq!(verified.subject(), Some("test-user"));
//! assert_eq!(verified.scopes(), ["mcp:tools"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`TestIssuer::start`] (or [`start_with_algorithm`](TestIssuer::start_with_algorithm),
//! [`start_at_path`](TestIssuer::start_at_path)) makes a *served* issuer: it binds
//! `127.0.0.1:0` and serves HTTP/1.1 from a task on the Tokio runtime that called it. Its
//! issuer identifier is `http://127.0.0.1:<port>` plus the optional path, without a trailing
//! slash, and it answers:
//!
//! | path (issuer path `/p`, or none) | document |
//! |---|---|
//! | `/.well-known/oauth-authorization-server/p` | [RFC 8414] metadata ([`metadata_url`](TestIssuer::metadata_url)) |
//! | `/p/.well-known/openid-configuration` | OpenID Connect discovery ([`openid_configuration_url`](TestIssuer::openid_configuration_url)) |
//! | `/p/jwks` | the published key set ([`jwks_uri`](TestIssuer::jwks_uri)) |
//!
//! to `GET` and `HEAD` (other methods get `405`), and `404` to every other path. Both metadata
//! documents hold `issuer`, `jwks_uri`, `authorization_endpoint`, `token_endpoint`,
//! `response_types_supported`, `grant_types_supported` and
//! `code_challenge_methods_supported: ["S256"]` (the endpoints themselves are not served).
//! The server stops when the last clone of the issuer is dropped, and its port stops answering.
//! It needs a Tokio runtime with I/O and time enabled (`#[tokio::test]` and
//! `Builder::enable_all` give both), and lives only as long as that runtime: start the issuer
//! on the runtime that runs the test.
//!
//! A test can then change what the issuer does, effective from the next request:
//!
//! * keys: [`rotate`](TestIssuer::rotate) publishes a new key and signs with it from then on;
//!   [`retire`](TestIssuer::retire) stops publishing a key;
//! * faults: [`fail_with`](TestIssuer::fail_with) a status, [`set_delay`](TestIssuer::set_delay),
//!   [`serve_jwks_body`](TestIssuer::serve_jwks_body) with any bytes,
//!   [`set_cache_control`](TestIssuer::set_cache_control),
//!   [`advertise_issuer`](TestIssuer::advertise_issuer) with a wrong `issuer`,
//!   [`serve_discovery`](TestIssuer::serve_discovery) to hide either metadata document;
//! * counters: [`jwks_fetches`](TestIssuer::jwks_fetches) and
//!   [`metadata_fetches`](TestIssuer::metadata_fetches) count the requests received.
//!
//! # Testing your server
//!
//! Put the layer in front of your service exactly as in production, with the issuer's keys,
//! and send it tokens minted by the issuer:
//!
//! ```
//! use axum::{Router, routing::post};
//! use mcp_server_auth_dev::testing::TestIssuer;
//! use mcp_server_auth::{McpAuth, VerifiedToken};
//! use tower::ServiceExt as _;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! runtime.block_on(async {
//!     let issuer = TestIssuer::start().await; // http://127.0.0.1:<port>, ES256
//!     let resource = "http://127.0.0.1:8080/mcp";
//!     let auth = McpAuth::builder(resource)
//!         .issuer(issuer.issuer(), issuer.keys())
//!         .allow_http_loopback(true) // the test issuer speaks plain http on loopback
//!         .require_scope("mcp:tools")
//!         .build()?;
//!
//!     async fn whoami(token: VerifiedToken) -> String {
//!         token.subject().unwrap_or_default().to_owned()
//!     }
//!     let app = Router::new().route("/mcp", post(whoami)).layer(auth.layer());
//!     let call = |token: String| {
//!         let request = http::Request::post("/mcp")
//!             .header("authorization", format!("Bearer {token}"))
//!             .body(axum::body::Body::empty());
//!         let app = app.clone();
//!         async move { app.oneshot(request?).await.map_err(Box::<dyn std::error::Error>::from) }
//!     };
//!
//!     // A good token reaches the handler.
//!     let token = issuer.token().audience(resource).scope("mcp:tools").subject("alice").sign();
//!     let response = call(token).await?;
//!     assert_eq!(response.status(), 200);
//!     let body = axum::body::to_bytes(response.into_body(), 1024).await?;
//!     assert_eq!(body, "alice");
//!
//!     // Expired, or without the scope: refused with the right challenge.
//!     let expired = issuer.token().audience(resource).scope("mcp:tools").expires_in(-3600);
//!     assert_eq!(call(expired.sign()).await?.status(), 401);
//!     let unscoped = issuer.token().audience(resource).scope("mcp:read");
//!     assert_eq!(call(unscoped.sign()).await?.status(), 403);
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Driving the issuer
//!
//! The issuer is a real server: any HTTP client, your own key fetcher included, sees what a
//! test arranged.
//!
//! ```
//! use mcp_server_auth_dev::testing::TestIssuer;
//! use serde_json::Value;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! runtime.block_on(async {
//!     let issuer = TestIssuer::start_at_path("/tenant1").await;
//!     assert!(issuer.issuer().ends_with("/tenant1"));
//!     let client = reqwest::Client::new();
//!
//!     let metadata: Value = client.get(issuer.metadata_url()).send().await?.json().await?;
//!     assert_eq!(metadata["issuer"], issuer.issuer());
//!     assert_eq!(metadata["jwks_uri"], issuer.jwks_uri());
//!
//!     // Rotate: both keys are published, new tokens name the new one.
//!     let old = issuer.kid().to_owned();
//!     let new = issuer.rotate();
//!     assert_eq!(issuer.published_kids(), [old.clone(), new.clone()]);
//!     assert_eq!(issuer.kid(), new);
//!     issuer.retire(&old);
//!     let jwks: Value = client.get(issuer.jwks_uri()).send().await?.json().await?;
//!     assert_eq!(jwks["keys"][0]["kid"], new.as_str());
//!
//!     // An outage, then recovery.
//!     issuer.fail_with(Some(503));
//!     assert_eq!(client.get(issuer.jwks_uri()).send().await?.status(), 503);
//!     issuer.fail_with(None);
//!     assert_eq!(client.get(issuer.jwks_uri()).send().await?.status(), 200);
//!
//!     assert_eq!((issuer.metadata_fetches(), issuer.jwks_fetches()), (1, 3));
//!     Ok(())
//! })
//! # }
//! ```
//!
//! [RFC 8414]: https://www.rfc-editor.org/rfc/rfc8414

pub(crate) mod key;
pub(crate) mod server;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::StatusCode;
use http::header::HeaderValue;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use self::key::{KeyChain, KeyEntry, b64, unreachable_rng};
use mcp_server_auth::keys::{Algorithm, StaticKeys};

/// The current time in seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A test authorization server: generated keys, a token builder, and (when started) a loopback
/// HTTP server for its metadata and JWKS. See the [module docs](self).
///
/// Cloning is cheap and shares everything: keys, faults, counters and the server. Every method
/// takes `&self`; the issuer is `Send + Sync`.
#[derive(Clone)]
pub struct TestIssuer {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    /// The running server of a started issuer. Dropping the sender stops it.
    server: Option<(SocketAddr, watch::Sender<()>)>,
}

/// What the issuer handles and its server tasks share.
struct Shared {
    issuer: String,
    algorithm: Algorithm,
    /// `scheme://authority` of the issuer, empty when the issuer is not a URL.
    origin: String,
    /// The issuer's path without a trailing slash, possibly empty.
    path: String,
    routes: Routes,
    keys: KeyChain,
    state: RwLock<KeyState>,
    faults: RwLock<Faults>,
    jwks_fetches: AtomicUsize,
    metadata_fetches: AtomicUsize,
}

/// Request paths the server answers.
struct Routes {
    rfc8414: String,
    openid: String,
    jwks: String,
}

/// Indices into the key chain.
struct KeyState {
    /// The key that signs new tokens.
    signing: usize,
    /// The keys in the served set, oldest first.
    published: Vec<usize>,
}

#[derive(Clone)]
struct Faults {
    status: Option<StatusCode>,
    delay: Duration,
    jwks_body: Option<Bytes>,
    cache_control: Option<HeaderValue>,
    advertised_issuer: Option<String>,
    rfc8414: bool,
    openid: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            status: None,
            delay: Duration::ZERO,
            jwks_body: None,
            cache_control: None,
            advertised_issuer: None,
            rfc8414: true,
            openid: true,
        }
    }
}

impl Shared {
    fn new(issuer: String, algorithm: Algorithm, origin: String, path: String) -> Self {
        let first = KeyEntry::generate(algorithm);
        let algorithm = first.algorithm();
        let routes = Routes {
            rfc8414: format!("/.well-known/oauth-authorization-server{path}"),
            openid: format!("{path}/.well-known/openid-configuration"),
            jwks: format!("{path}/jwks"),
        };
        Shared {
            issuer,
            algorithm,
            origin,
            path,
            routes,
            keys: KeyChain::new(first),
            state: RwLock::new(KeyState {
                signing: 0,
                published: vec![0],
            }),
            faults: RwLock::new(Faults::default()),
            jwks_fetches: AtomicUsize::new(0),
            metadata_fetches: AtomicUsize::new(0),
        }
    }

    fn state(&self) -> RwLockReadGuard<'_, KeyState> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn state_mut(&self) -> RwLockWriteGuard<'_, KeyState> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn faults(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_faults(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut self.faults.write().unwrap_or_else(PoisonError::into_inner));
    }

    fn signing_key(&self) -> &KeyEntry {
        let index = self.state().signing;
        self.keys.get(index)
    }

    fn jwks(&self) -> String {
        let state = self.state();
        let keys: Vec<&Value> = state
            .published
            .iter()
            .map(|&index| self.keys.get(index).jwk())
            .collect();
        json!({ "keys": keys }).to_string()
    }

    /// A URL on the issuer's origin, or nothing when the issuer is not a URL.
    fn url(&self, path: &str) -> String {
        if self.origin.is_empty() {
            String::new()
        } else {
            format!("{}{path}", self.origin)
        }
    }

    /// The metadata document claiming `issuer`; OpenID discovery adds the members OpenID
    /// Connect Discovery requires.
    fn metadata(&self, issuer: &str, openid: bool) -> Value {
        let base = self.url(&self.path);
        let mut document = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "jwks_uri": self.url(&self.routes.jwks),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        });
        if let (true, Value::Object(map)) = (openid, &mut document) {
            map.insert("subject_types_supported".into(), json!(["public"]));
            map.insert(
                "id_token_signing_alg_values_supported".into(),
                json!([self.algorithm.as_str()]),
            );
        }
        document
    }
}

impl fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.issuer())
            .field("kid", &self.kid())
            .field("algorithm", &self.algorithm())
            .field("local_addr", &self.local_addr())
            .field("published_kids", &self.published_kids())
            .finish_non_exhaustive()
    }
}

impl TestIssuer {
    /// An offline issuer signing with a new ES256 key: no server (see the [module docs](self)).
    pub fn new(issuer: impl Into<String>) -> Self {
        Self::with_algorithm(issuer, Algorithm::ES256)
    }

    /// An offline issuer signing with a new key for `alg`: `ES256`, `RS256` (2048 bits) or
    /// `EdDSA`. Any other algorithm gets an ES256 key.
    pub fn with_algorithm(issuer: impl Into<String>, alg: Algorithm) -> Self {
        let issuer = issuer.into();
        let (origin, path) = match crate::url::parse(&issuer) {
            Some(uri) => (
                format!(
                    "{}://{}",
                    uri.scheme_str().unwrap_or_default(),
                    uri.authority().map(|a| a.as_str()).unwrap_or_default()
                ),
                uri.path().trim_end_matches('/').to_owned(),
            ),
            None => (String::new(), String::new()),
        };
        let shared = Shared::new(issuer, alg, origin, path);
        TestIssuer {
            inner: Arc::new(Inner {
                shared: Arc::new(shared),
                server: None,
            }),
        }
    }

    /// Starts a served ES256 issuer at `http://127.0.0.1:<port>`.
    ///
    /// # Panics
    /// Outside a Tokio runtime, or when no loopback port can be bound.
    pub async fn start() -> TestIssuer {
        Self::serve(Algorithm::ES256, "").await
    }

    /// Starts a served issuer at `http://127.0.0.1:<port>` signing with a new key for `alg`
    /// (as in [`with_algorithm`](Self::with_algorithm)).
    ///
    /// # Panics
    /// Outside a Tokio runtime, or when no loopback port can be bound.
    pub async fn start_with_algorithm(alg: Algorithm) -> TestIssuer {
        Self::serve(alg, "").await
    }

    /// Starts a served ES256 issuer whose identifier has a path:
    /// `start_at_path("/tenant1")` gives `http://127.0.0.1:<port>/tenant1`. A missing leading
    /// slash is added and trailing slashes are dropped; the path is used as given otherwise,
    /// so keep to URL path characters.
    ///
    /// # Panics
    /// Outside a Tokio runtime, or when no loopback port can be bound.
    pub async fn start_at_path(path: &str) -> TestIssuer {
        Self::serve(Algorithm::ES256, path).await
    }

    async fn serve(alg: Algorithm, path: &str) -> TestIssuer {
        let path = path.trim_end_matches('/');
        let path = match path {
            "" => String::new(),
            p if p.starts_with('/') => p.to_owned(),
            p => format!("/{p}"),
        };
        let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await {
            Ok(listener) => listener,
            Err(error) => cannot_serve(&error),
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(error) => cannot_serve(&error),
        };
        let origin = format!("http://{addr}");
        let shared = Arc::new(Shared::new(format!("{origin}{path}"), alg, origin, path));
        let stop = server::spawn(listener, Arc::clone(&shared));
        TestIssuer {
            inner: Arc::new(Inner {
                shared,
                server: Some((addr, stop)),
            }),
        }
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The issuer identifier, as put in `iss`.
    pub fn issuer(&self) -> &str {
        &self.shared().issuer
    }

    /// The id of the key that signs new tokens, as put in their `kid`. It changes with
    /// [`rotate`](Self::rotate).
    pub fn kid(&self) -> &str {
        self.shared().signing_key().kid()
    }

    /// The signing algorithm (the same for every key of this issuer).
    pub fn algorithm(&self) -> Algorithm {
        self.shared().algorithm
    }

    /// The public key that signs new tokens, as a JWK (with `kid`, `use: sig` and `alg`).
    pub fn jwk(&self) -> Value {
        self.shared().signing_key().jwk().clone()
    }

    /// The JWKS document of the published keys, as the server serves it (unless
    /// [`serve_jwks_body`](Self::serve_jwks_body) replaced it).
    pub fn jwks(&self) -> String {
        self.shared().jwks()
    }

    /// The public key that signs new tokens, as a DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.shared().signing_key().public_key_der()
    }

    /// The public key that signs new tokens, as a `PUBLIC KEY` PEM document.
    pub fn public_key_pem(&self) -> String {
        let body = STANDARD.encode(self.public_key_der());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// A key source holding the keys published right now (a snapshot: later rotations do not
    /// change it). When every key is [retired](Self::retire), it holds one unrelated key
    /// that verifies nothing.
    pub fn keys(&self) -> StaticKeys {
        if let Ok(keys) = StaticKeys::from_jwks(self.jwks()) {
            return keys;
        }
        let unrelated = KeyEntry::generate(self.algorithm());
        match StaticKeys::from_jwks(json!({ "keys": [unrelated.jwk()] }).to_string()) {
            Ok(keys) => keys,
            // The document is generated right here from a valid key.
            Err(_) => unreachable_rng(),
        }
    }

    /// Starts a token with RFC 9068 defaults: `typ: at+jwt`, the current signing key's `kid`,
    /// and claims `iss`, `sub` (`test-user`), `client_id` (`test-client`), `iat` (now), `exp`
    /// (in one hour) and a random `jti`. Add `aud` and `scope` yourself.
    ///
    /// The builder signs with the key that was the signing key when it was made, even if the
    /// issuer [rotates](Self::rotate) before [`sign`](TokenBuilder::sign).
    pub fn token(&self) -> TokenBuilder<'_> {
        let key = self.shared().signing_key();
        let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
        let mut jti = [0u8; 12];
        if aws_lc_rs::rand::fill(&mut jti).is_err() {
            unreachable_rng();
        }
        let header = json!({"alg": key.algorithm().as_str(), "typ": "at+jwt", "kid": key.kid()});
        let claims = json!({
            "iss": self.issuer(),
            "sub": "test-user",
            "client_id": "test-client",
            "iat": now,
            "exp": now + 3600,
            "jti": b64(&jti),
        });
        TokenBuilder {
            key,
            header: into_map(header),
            claims: into_map(claims),
        }
    }

    /// Signs `signing_input` (the `header.payload` of a JWS) with the current signing key and
    /// returns the raw signature.
    pub fn sign_bytes(&self, signing_input: &[u8]) -> Vec<u8> {
        self.shared().signing_key().sign(signing_input)
    }

    /// Signs any header and payload bytes as a compact JWS with the current signing key,
    /// whatever they hold.
    pub fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        self.shared().signing_key().sign_raw(header, payload)
    }

    /// Generates a new key of the same algorithm with a new `kid`, publishes it next to the
    /// keys already published, and signs tokens minted from now on with it. Returns its `kid`.
    pub fn rotate(&self) -> String {
        let shared = self.shared();
        // Generated outside the lock: RSA keys take a while.
        let entry = KeyEntry::generate(shared.algorithm);
        let kid = entry.kid().to_owned();
        let mut state = shared.state_mut();
        let index = shared.keys.push(entry);
        state.signing = index;
        state.published.push(index);
        kid
    }

    /// Stops publishing the key `kid` (nothing happens for a key not published). Retiring the
    /// signing key is allowed: new tokens are still signed with it, and fail to verify
    /// against the published set.
    pub fn retire(&self, kid: &str) {
        let shared = self.shared();
        shared
            .state_mut()
            .published
            .retain(|&index| shared.keys.get(index).kid() != kid);
    }

    /// The ids of the published keys, oldest first.
    pub fn published_kids(&self) -> Vec<String> {
        let shared = self.shared();
        shared
            .state()
            .published
            .iter()
            .map(|&index| shared.keys.get(index).kid().to_owned())
            .collect()
    }

    /// The address the server listens on; `None` for an offline issuer.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.server.as_ref().map(|(addr, _)| *addr)
    }

    /// The JWKS URL: the issuer plus `/jwks`. Offline issuers compute it the same way from
    /// their identifier, but nothing serves it; empty when the identifier is not a URL.
    pub fn jwks_uri(&self) -> String {
        self.shared().url(&self.shared().routes.jwks)
    }

    /// The [RFC 8414] metadata URL, with the well-known segment inserted before the issuer's
    /// path: `http://127.0.0.1:<port>/.well-known/oauth-authorization-server/tenant1` for
    /// `http://127.0.0.1:<port>/tenant1`. Computed, unserved, for offline issuers, as for
    /// [`jwks_uri`](Self::jwks_uri).
    ///
    /// [RFC 8414]: https://www.rfc-editor.org/rfc/rfc8414#section-3
    pub fn metadata_url(&self) -> String {
        self.shared().url(&self.shared().routes.rfc8414)
    }

    /// The OpenID Connect discovery URL: the issuer plus `/.well-known/openid-configuration`.
    /// Computed, unserved, for offline issuers, as for [`jwks_uri`](Self::jwks_uri).
    pub fn openid_configuration_url(&self) -> String {
        self.shared().url(&self.shared().routes.openid)
    }

    /// Makes every served route (metadata and JWKS) answer `status` with the body `{}`, or
    /// serve normally again with `None`. A number that is not an HTTP status gives `500`.
    /// Unknown paths stay `404`.
    pub fn fail_with(&self, status: Option<u16>) {
        let status = status
            .map(|code| StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        self.shared().set_faults(|f| f.status = status);
    }

    /// Delays every response by `delay` (zero for none), without blocking the runtime. The
    /// request is counted when it arrives; what it is answered reflects the issuer when the
    /// delay ends.
    pub fn set_delay(&self, delay: Duration) {
        self.shared().set_faults(|f| f.delay = delay);
    }

    /// Serves these exact bytes at the JWKS route, with `200` and
    /// `Content-Type: application/json`, instead of the published keys (`None` to serve the
    /// keys again): for malformed, hostile, huge or changed key sets.
    pub fn serve_jwks_body(&self, body: Option<Vec<u8>>) {
        self.shared()
            .set_faults(|f| f.jwks_body = body.map(Bytes::from));
    }

    /// Sends `Cache-Control: value` with JWKS responses, or none with `None` (the default).
    /// A value that cannot be a header value is not sent.
    pub fn set_cache_control(&self, value: Option<&str>) {
        let value = value.and_then(|v| HeaderValue::from_str(v).ok());
        self.shared().set_faults(|f| f.cache_control = value);
    }

    /// Makes both metadata documents claim `issuer` instead of the real identifier (`None`
    /// to tell the truth again), to test that clients refuse a mismatched issuer.
    pub fn advertise_issuer(&self, issuer: Option<&str>) {
        let issuer = issuer.map(str::to_owned);
        self.shared().set_faults(|f| f.advertised_issuer = issuer);
    }

    /// Chooses which metadata documents are served; a document turned off answers `404`.
    /// Both are on by default.
    pub fn serve_discovery(&self, rfc8414: bool, openid: bool) {
        self.shared().set_faults(|f| {
            f.rfc8414 = rfc8414;
            f.openid = openid;
        });
    }

    /// How many requests the JWKS route received, whatever it answered. Always 0 offline.
    pub fn jwks_fetches(&self) -> usize {
        self.shared().jwks_fetches.load(Ordering::SeqCst)
    }

    /// How many requests the two metadata routes received together, whatever they answered
    /// (`404` from [`serve_discovery`](Self::serve_discovery) included). Always 0 offline.
    pub fn metadata_fetches(&self) -> usize {
        self.shared().metadata_fetches.load(Ordering::SeqCst)
    }

    /// Sets both counters back to 0.
    pub fn reset_counters(&self) {
        self.shared().jwks_fetches.store(0, Ordering::SeqCst);
        self.shared().metadata_fetches.store(0, Ordering::SeqCst);
    }
}

#[allow(clippy::panic)]
fn cannot_serve(error: &std::io::Error) -> ! {
    panic!("TestIssuer could not listen on 127.0.0.1: {error}")
}

fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A token being minted by a [`TestIssuer`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TokenBuilder<'a> {
    key: &'a KeyEntry,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl TokenBuilder<'_> {
    /// Sets `aud`.
    pub fn audience(self, audience: impl Into<String>) -> Self {
        self.claim("aud", audience.into())
    }

    /// Sets `scope` (space-separated).
    pub fn scope(self, scope: impl Into<String>) -> Self {
        self.claim("scope", scope.into())
    }

    /// Sets `sub`.
    pub fn subject(self, subject: impl Into<String>) -> Self {
        self.claim("sub", subject.into())
    }

    /// Sets `client_id`.
    pub fn client_id(self, client_id: impl Into<String>) -> Self {
        self.claim("client_id", client_id.into())
    }

    /// Sets `exp` to now plus `secs` (negative for the past).
    pub fn expires_in(self, secs: i64) -> Self {
        let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
        self.claim("exp", now.saturating_add(secs))
    }

    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a claim.
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets any header member (`kid` included: the token is still signed with the builder's
    /// key).
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a header member.
    pub fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    /// The header and claims as they stand.
    pub fn parts(&self) -> (&Map<String, Value>, &Map<String, Value>) {
        (&self.header, &self.claims)
    }

    /// Signs the token with the builder's key, whatever `alg` the header claims.
    pub fn sign(self) -> String {
        let header = Value::Object(self.header).to_string();
        let claims = Value::Object(self.claims).to_string();
        self.key.sign_raw(header.as_bytes(), claims.as_bytes())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests;
