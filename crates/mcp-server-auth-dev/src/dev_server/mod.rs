//! A development authorization server: OAuth 2.1 for an MCP server on your machine, so that
//! real MCP clients (MCP Inspector, Claude Code, VS Code, the SDKs) can go through discovery,
//! registration, consent and step-up without an identity provider.
//!
//! **DEVELOPMENT ONLY. Never use this in production.** It has one built-in user, keeps
//! everything in memory, signs with a key generated at start, and grants whatever anyone on
//! this machine approves. It binds loopback addresses only, logs a warning at start, and every
//! page it serves carries a banner saying so.
//!
//! # What it serves
//!
//! On `http://127.0.0.1:<port>` (the issuer identifier):
//!
//! | path | what |
//! |---|---|
//! | `/.well-known/oauth-authorization-server` | [RFC 8414] metadata (also at `/.well-known/openid-configuration`) |
//! | `/jwks` | the public signing key |
//! | `/register` | dynamic client registration ([RFC 7591]): public clients only (`token_endpoint_auth_method: none`; a client asking for another method, such as `client_secret_post`, is registered as a public client and the answer says `none`, as [RFC 7591 §3.2.1] allows), `https` or loopback `http` redirect URIs, `grant_types` among `authorization_code` and `refresh_token` (both when omitted) |
//! | `/authorize` | the authorization endpoint: `response_type=code`, PKCE `S256` required, `resource` ([RFC 8707]) required and one of the configured resources; answers with the consent page, or approves at once with [`auto_approve`](DevAuthServerBuilder::auto_approve) |
//! | `/consent` | where the consent page's Allow/Deny form posts (a one-time transaction id, nothing else) |
//! | `/token` | `authorization_code` and `refresh_token` grants: [RFC 9068] `at+jwt` access tokens with `aud` = the resource; refresh tokens, rotated on every use, only for clients registered for the `refresh_token` grant |
//!
//! Only the metadata documents, `/jwks`, `/register` and `/token` answer cross-origin
//! requests (`Access-Control-Allow-Origin: *`, for browser-based clients such as MCP
//! Inspector). `/authorize` and `/consent` never do, and a consent decision posted from a page
//! of another origin (an `Origin` other than the server's own, that is the issuer or the
//! loopback name the request was sent to, or a `Sec-Fetch-Site` other than `same-origin` or
//! `none`) gets a 403 page: another website cannot approve on the user's
//! behalf. Every request must name the server in its `Host` header (the bound address, or
//! `localhost`, `127.0.0.1` or `[::1]` with the bound port), or gets 421: a page on a name
//! that resolves to loopback (DNS rebinding) cannot reach it.
//!
//! Clients are registered through `/register`, or identified by a [client ID metadata
//! document]: a `client_id` that is an `https` URL is fetched (no redirects, 16 KiB, 5 s)
//! only when its host was allowed with
//! [`allowed_cimd_host`](DevAuthServerBuilder::allowed_cimd_host); the document's `client_id`
//! must equal the URL, and its `redirect_uris` and `grant_types` (both grants when omitted)
//! are used. The metadata advertises `client_id_metadata_document_supported` only when some
//! host is allowed, so clients fall back to registration otherwise.
//!
//! Everything is kept in memory, within bounds: a registered client unused for 24 hours is
//! forgotten (and, when 1000 are registered, the least recently used one makes room), and so
//! are revoked refresh-token families once none of their tokens can still be alive.
//!
//! # Errors, as a client sees them
//!
//! * An unknown `client_id`, or a `redirect_uri` the client did not register, get an HTML
//!   page with status 400 and are **never** redirected. Loopback `http` redirect URIs match a
//!   registered one whatever their port ([RFC 8252 §7.3]); others must match exactly.
//!   An authorization request longer than 8 KiB gets that page too.
//! * Other authorization errors go to the redirect URI with `error`, `state` and `iss`
//!   ([RFC 9207]): no or non-`S256` PKCE, or a `state` longer than 1 KiB (then not echoed) →
//!   `invalid_request`; no or unknown `resource` → `invalid_target`; an unknown scope →
//!   `invalid_scope`; a client not registered for `authorization_code` →
//!   `unauthorized_client`; Deny on the consent page → `access_denied`.
//! * The token endpoint answers JSON with `Cache-Control: no-store`: a wrong PKCE verifier, a
//!   used, expired or unknown code (codes live 60 s and are single use; presenting one twice
//!   also revokes the refresh tokens issued from it), another client's code, or a
//!   `redirect_uri` other than the authorization request's → `invalid_grant`; a `resource`
//!   other than the code's → `invalid_target`; missing parameters → `invalid_request`; an
//!   unknown client → `invalid_client`; a grant type the client did not register →
//!   `unauthorized_client`. A refresh token presented twice → `invalid_grant`,
//!   and its whole family is revoked. A refresh may narrow the scope, never widen it
//!   (`invalid_scope`). A code or refresh token in a well-formed request is spent, even one
//!   refused for its client, redirect URI, verifier, resource or scope (but not when the
//!   request was refused with `unauthorized_client`: the token is not looked at).
//!
//! # Example
//!
//! The whole flow over HTTP, as a client does it, and the token validated by the layer's
//! own validator:
//!
//! ```
//! use mcp_server_auth_dev::dev_server::DevAuthServer;
//! use mcp_server_auth::McpAuth;
//! use serde_json::{Value, json};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! # runtime.block_on(async {
//! let resource = "http://127.0.0.1:8080/mcp";
//! let server = DevAuthServer::builder()
//!     .resource(resource)
//!     .scopes(["mcp:tools", "mcp:admin"])
//!     .auto_approve(true) // no consent page: for scripted tests
//!     .start()
//!     .await?;
//! let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
//!
//! let metadata: Value = http.get(server.metadata_url()).send().await?.json().await?;
//! assert_eq!(metadata["issuer"], server.issuer());
//! assert_eq!(metadata["code_challenge_methods_supported"], json!(["S256"]));
//!
//! let redirect_uri = "http://127.0.0.1:9999/callback";
//! let registration = json!({ "redirect_uris": [redirect_uri], "client_name": "doc test" });
//! let response = http.post(server.registration_endpoint()).json(&registration).send().await?;
//! assert_eq!(response.status(), 201);
//! let client: Value = response.json().await?;
//! let client_id = client["client_id"].as_str().unwrap_or_default();
//!
//! // PKCE: the verifier stays here, its S256 hash goes to the authorization endpoint
//! // (RFC 7636 Appendix B's pair).
//! let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
//! let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
//! let mut authorize = reqwest::Url::parse(&server.authorization_endpoint())?;
//! authorize
//!     .query_pairs_mut()
//!     .append_pair("response_type", "code")
//!     .append_pair("client_id", client_id)
//!     .append_pair("redirect_uri", redirect_uri)
//!     .append_pair("scope", "mcp:tools")
//!     .append_pair("state", "xyz")
//!     .append_pair("resource", resource)
//!     .append_pair("code_challenge", challenge)
//!     .append_pair("code_challenge_method", "S256");
//! let response = http.get(authorize).send().await?;
//! let location = reqwest::Url::parse(response.headers()["location"].to_str()?)?;
//! let code = location.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned());
//!
//! let form: String = reqwest::Url::parse("x:")?
//!     .query_pairs_mut()
//!     .append_pair("grant_type", "authorization_code")
//!     .append_pair("code", &code.unwrap_or_default())
//!     .append_pair("redirect_uri", redirect_uri)
//!     .append_pair("client_id", client_id)
//!     .append_pair("code_verifier", verifier)
//!     .append_pair("resource", resource)
//!     .finish()
//!     .query()
//!     .unwrap_or_default()
//!     .to_owned();
//! let tokens: Value = http
//!     .post(server.token_endpoint())
//!     .header("content-type", "application/x-www-form-urlencoded")
//!     .body(form)
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//!
//! let auth = McpAuth::builder(resource)
//!     .issuer(server.issuer(), server.keys())
//!     .allow_http_loopback(true)
//!     .require_at_jwt(true)
//!     .build()?;
//! let access_token = tokens["access_token"].as_str().unwrap_or_default();
//! let verified = auth.validator().validate(access_token, mcp_server_auth_dev::testing::unix_now())?;
//! assert_eq!(verified.subject(), Some("dev-user"));
//! assert_eq!(verified.client_id(), Some(client_id));
//! assert_eq!(verified.scopes(), ["mcp:tools"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```
//!
//! [RFC 8414]: https://www.rfc-editor.org/rfc/rfc8414
//! [RFC 7591]: https://www.rfc-editor.org/rfc/rfc7591
//! [RFC 7591 §3.2.1]: https://www.rfc-editor.org/rfc/rfc7591#section-3.2.1
//! [RFC 8707]: https://www.rfc-editor.org/rfc/rfc8707
//! [RFC 9068]: https://www.rfc-editor.org/rfc/rfc9068
//! [RFC 9207]: https://www.rfc-editor.org/rfc/rfc9207
//! [RFC 8252 §7.3]: https://www.rfc-editor.org/rfc/rfc8252#section-7.3
//! [client ID metadata document]: https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/

mod authorize;
pub(crate) mod form;
mod html;
mod register;
mod reply;
mod server;
mod shared;
mod store;
mod token;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use self::shared::Shared;
use crate::testing::TestIssuer;
use mcp_server_auth::TRACE_TARGET;
use mcp_server_auth::keys::StaticKeys;
use mcp_server_auth::keys::remote::{FetchError, ReqwestFetcher};

/// A running development authorization server. See the [module docs](self).
///
/// Cloning is cheap and shares the server. It stops when [`stop`](Self::stop) is called or
/// the last clone is dropped, and it lives only as long as the Tokio runtime that started it.
#[derive(Clone)]
pub struct DevAuthServer {
    inner: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Mutex<Option<watch::Sender<()>>>,
}

impl fmt::Debug for DevAuthServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevAuthServer")
            .field("issuer", &self.issuer())
            .field("resources", &self.inner.shared.resources)
            .field("scopes", &self.inner.shared.scopes)
            .field("auto_approve", &self.auto_approve())
            .finish_non_exhaustive()
    }
}

/// Why a [`DevAuthServer`] could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevServerError {
    /// The address is not a loopback address.
    #[error("the development authorization server binds loopback addresses only, not {0}")]
    NotLoopback(SocketAddr),
    /// No [`resource`](DevAuthServerBuilder::resource) was configured.
    #[error("no resource configured")]
    NoResource,
    /// No [`scopes`](DevAuthServerBuilder::scopes) were configured.
    #[error("no scope configured")]
    NoScope,
    /// A resource is not an absolute `http(s)` URL without fragment.
    #[error("invalid resource `{0}`")]
    InvalidResource(String),
    /// The address could not be bound (`source.kind()` is `AddrInUse` for a busy port).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why it could not be bound.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client for client metadata documents could not be made.
    #[error("cannot make the http client: {0}")]
    Client(#[source] FetchError),
}

/// Configures and starts a [`DevAuthServer`]. See the [module docs](self).
#[derive(Debug, Clone)]
#[must_use]
pub struct DevAuthServerBuilder {
    addr: SocketAddr,
    resources: Vec<String>,
    scopes: Vec<String>,
    auto_approve: bool,
    cimd_hosts: Vec<String>,
    cimd_http_loopback: bool,
    access_token_lifetime: Duration,
    subject: String,
}

impl DevAuthServer {
    /// A builder: `127.0.0.1`, a free port, no resource yet, consent page on.
    pub fn builder() -> DevAuthServerBuilder {
        DevAuthServerBuilder {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            resources: Vec::new(),
            scopes: Vec::new(),
            auto_approve: false,
            cimd_hosts: Vec::new(),
            cimd_http_loopback: false,
            access_token_lifetime: Duration::from_secs(3600),
            subject: "dev-user".to_owned(),
        }
    }

    /// The issuer identifier, `http://127.0.0.1:<port>`, as put in `iss`.
    pub fn issuer(&self) -> &str {
        &self.inner.shared.issuer
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.inner.addr.port()
    }

    /// The [RFC 8414](https://www.rfc-editor.org/rfc/rfc8414) metadata URL.
    pub fn metadata_url(&self) -> String {
        format!("{}{}", self.issuer(), shared::RFC8414)
    }

    /// The authorization endpoint.
    pub fn authorization_endpoint(&self) -> String {
        format!("{}{}", self.issuer(), shared::AUTHORIZE)
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> String {
        format!("{}{}", self.issuer(), shared::TOKEN)
    }

    /// The registration endpoint (RFC 7591).
    pub fn registration_endpoint(&self) -> String {
        format!("{}{}", self.issuer(), shared::REGISTER)
    }

    /// The JWKS URL.
    pub fn jwks_uri(&self) -> String {
        format!("{}{}", self.issuer(), shared::JWKS)
    }

    /// The server's public signing key, as a static key source for
    /// [`McpAuthBuilder::issuer`](mcp_server_auth::McpAuthBuilder::issuer).
    pub fn keys(&self) -> StaticKeys {
        self.inner.shared.signer.keys()
    }

    /// The key that signs this server's tokens, as a [`TestIssuer`]: mint tokens the MCP
    /// server accepts without going through OAuth (the quickstart prints some).
    pub fn signer(&self) -> &TestIssuer {
        &self.inner.shared.signer
    }

    /// Whether authorization requests are approved without the consent page.
    pub fn auto_approve(&self) -> bool {
        self.inner.shared.auto_approve.load(Ordering::Relaxed)
    }

    /// Turns the consent page off (`true`) or on (`false`) from the next request.
    pub fn set_auto_approve(&self, auto_approve: bool) {
        self.inner
            .shared
            .auto_approve
            .store(auto_approve, Ordering::Relaxed);
    }

    /// Stops the server: its port stops answering, open connections are closed.
    pub fn stop(&self) {
        self.inner
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

impl DevAuthServerBuilder {
    /// Listens on `addr`. Defaults to `127.0.0.1:0` (a free port). [`start`](Self::start)
    /// refuses anything but a loopback address.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Listens on `127.0.0.1:port` (0 for a free port).
    pub fn port(mut self, port: u16) -> Self {
        self.addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        self
    }

    /// Issues tokens for `resource` (the MCP server's resource identifier, as its protected
    /// resource metadata publishes it): clients must send it as the `resource` parameter, and
    /// it becomes the tokens' `aud`. Accumulates; at least one is required.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// The scopes clients may ask for (`offline_access` is always accepted too, and listed in
    /// the metadata). Replaces earlier ones; at least one is required. The first is granted
    /// when a request names no scope.
    pub fn scopes<I>(mut self, scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Approves every valid authorization request at once, without the consent page: for
    /// scripted tests. Defaults to `false`.
    pub fn auto_approve(mut self, auto_approve: bool) -> Self {
        self.auto_approve = auto_approve;
        self
    }

    /// Fetches client ID metadata documents from `host` (a host name, or `host:port`).
    /// Accumulates; defaults to none, and then `https` client ids are refused.
    ///
    /// # Security
    /// The server makes a `GET` request to whatever URL a client names on an allowed host.
    pub fn allowed_cimd_host(mut self, host: impl Into<String>) -> Self {
        self.cimd_hosts.push(host.into());
        self
    }

    /// Also accepts `http` client ids on loopback hosts (still only allowed ones): for tests,
    /// where no `https` server exists. Defaults to `false`.
    pub fn allow_http_cimd_loopback(mut self, allow: bool) -> Self {
        self.cimd_http_loopback = allow;
        self
    }

    /// How long access tokens live. Defaults to one hour.
    pub fn access_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.access_token_lifetime = lifetime;
        self
    }

    /// The `sub` of every token (the one built-in user). Defaults to `dev-user`.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// Binds the address and starts serving from a task on the current Tokio runtime (which
    /// needs I/O and time enabled).
    ///
    /// # Errors
    /// [`DevServerError`]: a non-loopback address, no resource or scope, a resource that is
    /// not an `http(s)` URL, or a port that cannot be bound.
    pub async fn start(self) -> Result<DevAuthServer, DevServerError> {
        if !self.addr.ip().is_loopback() {
            return Err(DevServerError::NotLoopback(self.addr));
        }
        if self.resources.is_empty() {
            return Err(DevServerError::NoResource);
        }
        if self.scopes.is_empty() {
            return Err(DevServerError::NoScope);
        }
        if let Some(bad) = self.resources.iter().find(|r| {
            crate::url::parse(r)
                .is_none_or(|uri| !(crate::url::is_https(&uri) || crate::url::is_http(&uri)))
        }) {
            return Err(DevServerError::InvalidResource(bad.clone()));
        }
        let fetcher = ReqwestFetcher::new().map_err(DevServerError::Client)?;
        let bind_error = |source| DevServerError::Bind {
            addr: self.addr,
            source,
        };
        let listener = TcpListener::bind(self.addr).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let issuer = format!("http://{addr}");
        let shared = Arc::new(Shared {
            signer: TestIssuer::new(issuer.clone()),
            issuer,
            addr,
            resources: self.resources,
            scopes: self.scopes,
            subject: self.subject,
            auto_approve: AtomicBool::new(self.auto_approve),
            cimd_hosts: self.cimd_hosts,
            cimd_http_loopback: self.cimd_http_loopback,
            fetcher,
            access_token_lifetime: self.access_token_lifetime,
            store: Mutex::default(),
        });
        let handler = {
            let shared = Arc::clone(&shared);
            move |request| server::respond(Arc::clone(&shared), request)
        };
        let stop = crate::testing::server::spawn_service(listener, handler);
        tracing::warn!(
            target: TRACE_TARGET,
            issuer = %shared.issuer,
            auto_approve = self.auto_approve,
            "development authorization server started: never use in production; anyone who can reach it gets tokens"
        );
        Ok(DevAuthServer {
            inner: Arc::new(Handle {
                shared,
                addr,
                stop: Mutex::new(Some(stop)),
            }),
        })
    }
}
