//! [`McpAuth`]: the one configuration that builds every layer.

use std::sync::Arc;
use std::task::Poll;

use tower::Layer;

use crate::bearer::{BearerAuthLayer, Config};
use crate::body_limits::ReadLimits;
use crate::cors::McpCorsLayer;
use crate::error::{ConfigError, Problem, ProblemKind};
use crate::keys::{Algorithm, KeySource};
use crate::metadata::{self, MetadataDocument, ProtectedResourceMetadata, ServeMetadataLayer};
use crate::operation::{
    DEFAULT_BODY_READ_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_BUFFERED_BYTES,
    OperationExtractorLayer,
};
use crate::origin::{OriginGuardLayer, OriginPolicy};
use crate::policy::{OperationScopes, ScopePolicyLayer};
use crate::protocol_version::{ProtocolVersion, ProtocolVersionGateLayer};
use crate::scope::ScopeHierarchy;
use crate::session::SessionBindingLayer;
use crate::stack::{Guarded, McpAuthCorsService, McpAuthService};
use crate::validate::{Validator, ValidatorBuilder};

/// A protected MCP resource: its identifier, the authorization servers it trusts, the scopes
/// it needs, and how tokens are validated. Build one with [`McpAuth::builder`], then wrap your
/// service with [`layer`](Self::layer). Cheap to clone.
///
/// See the [crate docs](crate) for a complete server.
#[derive(Debug, Clone)]
pub struct McpAuth {
    config: Arc<Config>,
    sessions: SessionBindingLayer,
    /// Shared by both operation layers: one byte budget for the whole stack.
    body: ReadLimits,
    origin: Arc<OriginPolicy>,
    protocol_versions: ProtocolVersionGateLayer,
    metadata: Arc<MetadataDocument>,
    metadata_path: Arc<str>,
    /// Whether the document is also served at the root well-known path.
    root_metadata: bool,
    document: Arc<ProtectedResourceMetadata>,
}

/// Where an issuer's keys will come from, decided at build time (when `allow_http_loopback` is
/// known).
#[derive(Debug, Clone)]
enum Source {
    Given(Arc<dyn KeySource>),
    #[cfg(feature = "remote")]
    Remote {
        jwks_uri: Option<String>,
    },
    /// No keys of its own unless also given another way: tokens are introspected.
    #[cfg(feature = "remote")]
    Introspected(crate::introspect::Introspection),
}

/// Builds an [`McpAuth`]. Setters document their defaults; the defaults are the secure choice.
/// Building does no I/O.
#[derive(Debug, Clone)]
#[must_use]
pub struct McpAuthBuilder {
    resource: String,
    validator: ValidatorBuilder,
    issuers: Vec<(String, Source)>,
    required_scopes: Vec<String>,
    hierarchy: ScopeHierarchy,
    scopes_supported: Option<Vec<String>>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
    strip_authorization: bool,
    error_on_missing_token: bool,
    origin_policy: Option<OriginPolicy>,
    origin_hosts: Vec<String>,
    check_host: Option<bool>,
    protocol_versions: Option<Vec<ProtocolVersion>>,
    operations: OperationScopes,
    max_body_bytes: usize,
    body_read_timeout: std::time::Duration,
    max_buffered_bytes: usize,
    root_metadata: bool,
    /// The client for the key sources and introspection this builder makes itself.
    #[cfg(feature = "remote")]
    fetcher: Option<Arc<dyn crate::fetch::Fetch>>,
}

impl McpAuth {
    /// Starts the configuration of the resource `resource`: the canonical URI of the MCP
    /// endpoint, such as `https://mcp.example.com/mcp`. It is published verbatim as the
    /// metadata `resource`, it is the `aud` tokens must carry, and the metadata URL is derived
    /// from it ([`metadata::well_known_url`]).
    pub fn builder(resource: impl Into<String>) -> McpAuthBuilder {
        let resource = resource.into();
        McpAuthBuilder {
            validator: Validator::builder(resource.clone()),
            resource,
            issuers: Vec::new(),
            required_scopes: Vec::new(),
            hierarchy: ScopeHierarchy::new(),
            scopes_supported: None,
            resource_name: None,
            resource_documentation: None,
            strip_authorization: true,
            error_on_missing_token: false,
            origin_policy: None,
            origin_hosts: Vec::new(),
            check_host: None,
            protocol_versions: None,
            operations: OperationScopes::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
            root_metadata: false,
            #[cfg(feature = "remote")]
            fetcher: None,
        }
    }

    /// The whole stack, outermost first:
    ///
    /// 1. the metadata route (public, CORS `*`, no other check);
    /// 2. the `Origin`/`Host` guard (403 before any auth, whatever the credentials);
    /// 3. only when anonymous methods exist, and only for requests without credentials:
    ///    operation extraction, so that the bearer layer can tell an anonymous call;
    /// 4. bearer authentication (401/400/403/503; anonymous methods pass without a token).
    ///    No byte of a body has been read for a request that carries a token;
    /// 5. operation extraction (the JSON-RPC methods and names, from the 2026-07-28 headers or
    ///    the legacy body, read within its bounds and replayed byte for byte), when
    ///    per-operation rules exist or the next stage will refuse the request;
    /// 6. the `MCP-Protocol-Version` gate (400 `-32022` for a version the server does not
    ///    support, echoing the request's JSON-RPC `id` when its body was read; an absent header
    ///    passes);
    /// 7. per-operation scopes (403 `insufficient_scope` naming every scope the operation
    ///    needs);
    /// 8. legacy session binding (a `Mcp-Session-Id` minted for one principal and presented by
    ///    another gets 404 "Session not found").
    ///
    /// Apply it to the outermost router, so that it sees full request paths: it answers the
    /// metadata URL itself and protects every other path beneath it.
    pub fn layer(&self) -> McpAuthLayer {
        McpAuthLayer { auth: self.clone() }
    }

    /// [`layer`](Self::layer) plus CORS for browser-based clients, placed after the metadata
    /// route (which keeps its own `Access-Control-Allow-Origin: *`) and before the origin
    /// guard: preflights from allowed origins are answered without auth, and every response,
    /// 401 and 403 included, exposes `WWW-Authenticate` and `Mcp-Session-Id`. Origins follow
    /// the same allow-list as the origin guard.
    pub fn layer_with_cors(&self) -> McpAuthCorsLayer {
        McpAuthCorsLayer { auth: self.clone() }
    }

    /// Only CORS, with the origin guard's allow-list. See
    /// [`layer_with_cors`](Self::layer_with_cors) for where it belongs.
    pub fn cors_layer(&self) -> McpCorsLayer {
        McpCorsLayer::new(OriginPolicy::clone(&self.origin))
    }

    /// Only operation extraction, for inside the bearer layer: it reads the bodies of requests
    /// whose operations per-operation rules need, and of requests the version gate
    /// ([`protocol_version_layer`](Self::protocol_version_layer), inside it) will refuse, so
    /// that the refusal echoes the JSON-RPC `id`. Shares its byte budget with
    /// [`anonymous_operation_layer`](Self::anonymous_operation_layer).
    pub fn operation_layer(&self) -> OperationExtractorLayer {
        let layer = OperationExtractorLayer::from_limits(self.body.clone())
            .echo_ids_for(&self.protocol_versions);
        if self.config.operations.is_empty() {
            layer.without_operations()
        } else {
            layer
        }
    }

    /// Only the operation extraction outside the bearer layer, which reads the requests
    /// without credentials when some methods may be called anonymously (the bearer layer needs
    /// their operations to decide); it reads nothing otherwise. With it outside, put
    /// [`operation_layer`](Self::operation_layer)`.`[`rereading()`](OperationExtractorLayer::rereading)
    /// inside the bearer layer, as [`layer`](Self::layer) does.
    pub fn anonymous_operation_layer(&self) -> OperationExtractorLayer {
        let layer =
            OperationExtractorLayer::from_limits(self.body.clone()).without_credentials_only();
        if self.config.operations.has_anonymous() {
            layer
        } else {
            layer.without_operations()
        }
    }

    /// Only the legacy session binding. Every call returns a layer sharing the same table.
    pub fn session_layer(&self) -> SessionBindingLayer {
        self.sessions.clone()
    }

    /// Only the per-operation scope check (needs [`operation_layer`](Self::operation_layer)
    /// and [`bearer_layer`](Self::bearer_layer) outside it).
    pub fn scope_policy_layer(&self) -> ScopePolicyLayer {
        ScopePolicyLayer::new(Arc::clone(&self.config))
    }

    /// Only the `MCP-Protocol-Version` gate.
    pub fn protocol_version_layer(&self) -> ProtocolVersionGateLayer {
        self.protocol_versions.clone()
    }

    /// Only the `Origin`/`Host` guard (DNS-rebinding protection).
    pub fn origin_layer(&self) -> OriginGuardLayer {
        OriginGuardLayer::new(OriginPolicy::clone(&self.origin))
    }

    /// Only the metadata route: answers the well-known metadata path and passes everything
    /// else through.
    pub fn metadata_layer(&self) -> ServeMetadataLayer {
        ServeMetadataLayer::new(
            Arc::clone(&self.metadata),
            Arc::clone(&self.metadata_path),
            self.root_metadata,
        )
    }

    /// Only bearer authentication.
    pub fn bearer_layer(&self) -> BearerAuthLayer {
        BearerAuthLayer::new(Arc::clone(&self.config))
    }

    /// Loads every issuer's keys now and reports the issuers whose keys could not be had.
    /// Optional: keys load lazily on the first request that needs them. Call it at start-up to
    /// fail fast, or to log a warning and start anyway (requests get 503 until keys load).
    ///
    /// # Errors
    /// [`PrefetchError`] naming each issuer that failed and why.
    pub async fn prefetch(&self) -> Result<(), PrefetchError> {
        // All issuers at once: one unreachable issuer must not delay the others.
        let mut pending: Vec<_> = self
            .config
            .validator
            .key_sources()
            .map(|(issuer, source)| (issuer, Some(source.prefetch())))
            .collect();
        let mut failures = Vec::new();
        std::future::poll_fn(|cx| {
            let mut done = true;
            for (issuer, slot) in &mut pending {
                if let Some(future) = slot {
                    match future.as_mut().poll(cx) {
                        Poll::Ready(result) => {
                            if let Err(error) = result {
                                failures.push(((*issuer).to_owned(), error.to_string()));
                            }
                            *slot = None;
                        }
                        Poll::Pending => done = false,
                    }
                }
            }
            if done { Poll::Ready(()) } else { Poll::Pending }
        })
        .await;
        if failures.is_empty() {
            Ok(())
        } else {
            Err(PrefetchError { failures })
        }
    }

    /// Whether every issuer's keys are loaded and fresh enough to verify tokens: a readiness
    /// probe.
    pub fn is_ready(&self) -> bool {
        self.config
            .validator
            .key_sources()
            .all(|(_, source)| source.is_ready())
    }

    /// The token validator, for use outside a layer.
    pub fn validator(&self) -> &Validator {
        &self.config.validator
    }

    /// The resource identifier, as configured and published.
    pub fn resource(&self) -> &str {
        &self.document.resource
    }

    /// The metadata document served.
    pub fn metadata(&self) -> &ProtectedResourceMetadata {
        &self.document
    }

    /// The URL of the metadata document, as sent in `resource_metadata`.
    pub fn metadata_url(&self) -> &str {
        &self.config.resource_metadata_url
    }
}

impl McpAuthBuilder {
    /// Trusts tokens issued by `issuer` (matched byte for byte against `iss`), verified with
    /// `keys` and no others. Listed in the metadata's `authorization_servers`, in the order
    /// added: add the primary authorization server first. At least one is required.
    pub fn issuer(mut self, issuer: impl Into<String>, keys: impl KeySource) -> Self {
        self.issuers
            .push((issuer.into(), Source::Given(Arc::new(keys))));
        self
    }

    /// Trusts tokens issued by `issuer`, verified with its published keys: the `jwks_uri` is
    /// found through RFC 8414 or OpenID Connect discovery, and keys are fetched lazily, cached
    /// and refreshed by a [`RemoteJwks`](crate::keys::RemoteJwks) with default settings (build
    /// one yourself and pass it to [`issuer`](Self::issuer) to change them). Listed in the
    /// metadata in the order added.
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.issuers
            .push((issuer.into(), Source::Remote { jwks_uri: None }));
        self
    }

    /// As [`authorization_server`](Self::authorization_server), with the JWKS URL given instead
    /// of discovered.
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub fn authorization_server_with_jwks_uri(
        mut self,
        issuer: impl Into<String>,
        jwks_uri: impl Into<String>,
    ) -> Self {
        self.issuers.push((
            issuer.into(),
            Source::Remote {
                jwks_uri: Some(jwks_uri.into()),
            },
        ));
        self
    }

    /// The HTTP client ([`crate::fetch`]) of the key sources this builder makes
    /// ([`authorization_server`](Self::authorization_server) and its kin) and of
    /// [`introspection`](Self::introspection) settings given none of their own. Defaults to
    /// `ReqwestFetcher` with the `reqwest` feature; without it, one must be given for those
    /// ([`build`](Self::build) fails otherwise). Sources passed to [`issuer`](Self::issuer)
    /// keep the client they were built with.
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub fn fetcher(mut self, fetcher: impl crate::fetch::Fetch) -> Self {
        self.fetcher = Some(Arc::new(fetcher));
        self
    }

    /// Introspects tokens of `issuer` ([RFC 7662]; see [`crate::introspect`]): all of them, or,
    /// when `issuer` also has keys (from [`issuer`](Self::issuer) or
    /// [`authorization_server`](Self::authorization_server)), only those that are not JWTs.
    /// Listed in the metadata in the order added, once.
    ///
    /// [RFC 7662]: https://www.rfc-editor.org/rfc/rfc7662
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub fn introspection(
        mut self,
        issuer: impl Into<String>,
        introspection: crate::introspect::Introspection,
    ) -> Self {
        self.issuers
            .push((issuer.into(), Source::Introspected(introspection)));
        self
    }

    /// Reads and checks the tokens of `issuer` with `profile`: audience aliases, `typ`, scope
    /// and client id claims, leeway, required claims and policy checks of your own (see
    /// [`crate::profile`]). The issuer must be configured too, in any order.
    pub fn profile(
        mut self,
        issuer: impl Into<String>,
        profile: crate::profile::IssuerProfile,
    ) -> Self {
        self.validator = self.validator.profile(issuer, profile);
        self
    }

    /// Trusts the identity provider of `recipe` ([`crate::recipes`]): its issuer, with keys
    /// fetched from its published key set (as [`authorization_server`](Self::authorization_server)
    /// does), read and checked with its profile.
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub fn recipe(self, recipe: crate::recipes::Recipe) -> Self {
        let (issuer, jwks_uri, profile) = recipe.into_parts();
        let builder = match jwks_uri {
            Some(jwks_uri) => self.authorization_server_with_jwks_uri(issuer.clone(), jwks_uri),
            None => self.authorization_server(issuer.clone()),
        };
        builder.profile(issuer, profile)
    }

    /// Requires `scope` on every request (403 `insufficient_scope` otherwise). Accumulates;
    /// defaults to none. `offline_access` cannot be required.
    pub fn require_scope(mut self, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        if let Err(reason) = crate::rules::required_scope(&scope) {
            self.scope_problem("require_scope", &scope, reason);
        }
        self.required_scopes.push(scope);
        self
    }

    /// Declares that a token holding `broader` also satisfies requirements for `narrower`
    /// (for example `mcp:admin` implies `mcp:tools`). Applied transitively in every scope
    /// check; challenges still name the scopes required. Accumulates; defaults to none.
    pub fn scope_implies(
        mut self,
        broader: impl Into<String>,
        narrower: impl Into<String>,
    ) -> Self {
        let (broader, narrower) = (broader.into(), narrower.into());
        self.check_scope("scope_implies", &broader);
        self.check_scope("scope_implies", &narrower);
        self.hierarchy = self.hierarchy.implies(broader, narrower);
        self
    }

    /// The metadata's `scopes_supported`. Defaults to the required scopes. Per the MCP
    /// specification keep it minimal and leave out `offline_access`.
    pub fn scopes_supported<I>(mut self, scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        self.validator.forget("scopes_supported");
        for (i, scope) in scopes.iter().enumerate() {
            self.check_scope(&format!("scopes_supported[{i}]"), scope);
        }
        self.scopes_supported = Some(scopes);
        self
    }

    /// The metadata's `resource_name`. Defaults to none.
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// The metadata's `resource_documentation` URL. Defaults to none.
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// Also accepts tokens whose `aud` holds `audience`. Accumulates; defaults to none.
    pub fn add_audience(mut self, audience: impl Into<String>) -> Self {
        self.validator = self.validator.add_audience(audience);
        self
    }

    /// The signature algorithm allow-list. Defaults to every asymmetric algorithm; HMAC needs
    /// listing here and a [`StaticKeys::hmac`](crate::keys::StaticKeys::hmac) key.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.validator = self.validator.algorithms(algorithms);
        self
    }

    /// Clock leeway for `exp`, `nbf` and `iat`, in seconds. Defaults to 60; at most 300.
    pub fn leeway(mut self, secs: u64) -> Self {
        self.validator = self.validator.leeway(secs);
        self
    }

    /// Accepts only `typ: at+jwt` tokens ([RFC 9068]). Defaults to off.
    ///
    /// [RFC 9068]: https://www.rfc-editor.org/rfc/rfc9068#section-2.1
    pub fn require_at_jwt(mut self, strict: bool) -> Self {
        self.validator = self.validator.require_at_jwt(strict);
        self
    }

    /// The longest token accepted, in bytes. Defaults to 16 KiB.
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.validator = self.validator.max_token_bytes(bytes);
        self
    }

    /// The verified-token cache: a repeated token skips the signature check while its key set,
    /// `exp` and `nbf` still allow it ([`crate::cache`]). On by default (10 000 tokens, each
    /// answering for at most 5 minutes); [`TokenCacheConfig::disabled`] turns it off.
    ///
    /// [`TokenCacheConfig::disabled`]: crate::cache::TokenCacheConfig::disabled
    pub fn token_cache(mut self, config: crate::cache::TokenCacheConfig) -> Self {
        self.validator = self.validator.token_cache(config);
        self
    }

    /// The claims scopes are read from: names (each a space-separated string or an array of
    /// strings) or [`ScopeClaim`](crate::profile::ScopeClaim)s with a format. Defaults to
    /// `scope` and `scp`. An issuer's [profile](Self::profile) may name others.
    pub fn scope_claims<I>(mut self, claims: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<crate::profile::ScopeClaim>,
    {
        self.validator = self.validator.scope_claims(claims);
        self
    }

    /// Whether the inner service still sees the `Authorization` header. Defaults to `false`:
    /// the header is removed, so tool code cannot pass the client's token on (the MCP
    /// specification forbids token passthrough). Tool code gets a
    /// [`VerifiedToken`](crate::VerifiedToken) instead.
    pub fn keep_authorization_header(mut self, keep: bool) -> Self {
        self.strip_authorization = !keep;
        self
    }

    /// Adds `error="invalid_token"` to the challenge of requests that carry no token, as the
    /// official TypeScript and Python SDK servers do. Defaults to `false`, following RFC 6750
    /// §3.1; clients find the metadata either way.
    pub fn error_on_missing_token(mut self, enable: bool) -> Self {
        self.error_on_missing_token = enable;
        self
    }

    /// Allows `http` URLs on loopback hosts (`localhost`, `127.0.0.0/8`, `[::1]`) for the
    /// resource and the issuers, for development and tests. Defaults to `false`: everything
    /// else must be `https`.
    pub fn allow_http_loopback(mut self, allow: bool) -> Self {
        self.validator = self.validator.allow_http_loopback(allow);
        self
    }

    /// Also accepts browser requests whose `Origin` has this host name (any port). By default
    /// only the resource's own host is accepted, or the loopback names for a loopback
    /// resource; requests without `Origin` always pass. Accumulates.
    pub fn add_allowed_origin_host(mut self, host: impl Into<String>) -> Self {
        self.origin_hosts.push(host.into());
        self
    }

    /// Whether the `Host` header must name an allowed host. Defaults to `true` for a loopback
    /// resource (DNS-rebinding protection for local servers) and `false` otherwise (reverse
    /// proxies often rewrite `Host`).
    pub fn check_host(mut self, check: bool) -> Self {
        self.check_host = Some(check);
        self
    }

    /// `tools/call` of `tool` needs `scope` (403 `insufficient_scope` with a step-up challenge
    /// otherwise). Accumulates.
    pub fn tool_scope(mut self, tool: impl Into<String>, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        self.check_scope("tool_scope", &scope);
        self.operations = self.operations.tool(tool, scope);
        self
    }

    /// `prompts/get` of `prompt` needs `scope`. Accumulates.
    pub fn prompt_scope(mut self, prompt: impl Into<String>, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        self.check_scope("prompt_scope", &scope);
        self.operations = self.operations.prompt(prompt, scope);
        self
    }

    /// Reading (or subscribing to) exactly the resource `uri` needs `scope`. Accumulates.
    pub fn resource_scope(mut self, uri: impl Into<String>, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        self.check_scope("resource_scope", &scope);
        self.operations = self.operations.resource(uri, scope);
        self
    }

    /// Reading (or subscribing to) any resource whose URI starts with `prefix` needs `scope`.
    /// Accumulates.
    pub fn resource_prefix_scope(
        mut self,
        prefix: impl Into<String>,
        scope: impl Into<String>,
    ) -> Self {
        let scope = scope.into();
        self.check_scope("resource_prefix_scope", &scope);
        self.operations = self.operations.resource_prefix(prefix, scope);
        self
    }

    /// Every call of the JSON-RPC `method` needs `scope`. Accumulates.
    pub fn method_scope(mut self, method: impl Into<String>, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        self.check_scope("method_scope", &scope);
        self.operations = self.operations.method(method, scope);
        self
    }

    /// `method` may be called without a token (requests that present one are still checked).
    /// Accumulates; defaults to none: every method needs a token.
    pub fn allow_anonymous(mut self, method: impl Into<String>) -> Self {
        self.operations = self.operations.allow_anonymous(method);
        self
    }

    /// The largest legacy JSON-RPC body read for per-operation decisions; larger ones get 413.
    /// Defaults to 1 MiB.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The time allowed for reading a body the layer needs (per-operation rules, anonymous
    /// methods, the `id` of a version refusal), from the moment the request reaches it; a body
    /// not in by then gets 408. Defaults to 10 seconds.
    pub fn body_read_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.validator.forget("body_read_timeout");
        if timeout.is_zero() {
            let setting = "body_read_timeout";
            let kind = ProblemKind::InvalidDuration { setting };
            let problem = Problem::new(setting, kind).with_message("must be more than zero");
            self.validator.push_problem(problem);
        }
        self.body_read_timeout = timeout;
        self
    }

    /// Also serves the metadata document at the root well-known URL,
    /// `/.well-known/oauth-protected-resource` without the resource's path, for clients that
    /// look only there (MCP Inspector 0.15 does). Off by default, and without effect for a
    /// resource without a path (its metadata URL is the root one).
    ///
    /// Why it is off: RFC 9728 §3.3 has a client check that the document's `resource` equals
    /// the resource it built the metadata URL from. A strict client that fetched the root URL
    /// built it from the origin alone, finds the resource with its path in the document, and
    /// must reject it; and on an origin serving several MCP endpoints the root can describe
    /// only one of them. The `WWW-Authenticate` challenges keep naming the path-inserted URL.
    pub fn root_metadata(mut self, serve: bool) -> Self {
        self.root_metadata = serve;
        self
    }

    /// The bound on body bytes the layer holds at once, across all requests. A request that
    /// would pass it is refused at once with 503 and `Retry-After: 1`, never queued. Defaults
    /// to 64 MiB.
    pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.validator.forget("max_buffered_bytes");
        if bytes == 0 {
            let setting = "max_buffered_bytes";
            let kind = ProblemKind::InvalidCount { setting };
            self.validator.push_problem(Problem::new(setting, kind));
        }
        self.max_buffered_bytes = bytes;
        self
    }

    /// The MCP protocol revisions the server implements; a request naming another in
    /// `MCP-Protocol-Version` gets 400 with JSON-RPC error `-32022`. Defaults to every revision
    /// this crate knows ([`ProtocolVersion::ALL`]).
    pub fn protocol_versions(
        mut self,
        versions: impl IntoIterator<Item = ProtocolVersion>,
    ) -> Self {
        self.protocol_versions = Some(versions.into_iter().collect());
        self
    }

    /// Replaces the derived `Origin`/`Host` policy entirely.
    pub fn origin_policy(mut self, policy: OriginPolicy) -> Self {
        self.origin_policy = Some(policy);
        self
    }

    /// Records a problem of `setting` unless `scope` is a scope (RFC 6749 §3.3).
    fn check_scope(&mut self, setting: &str, scope: &str) {
        if let Err(reason) = crate::rules::scope(scope) {
            self.scope_problem(setting, scope, reason);
        }
    }

    fn scope_problem(&mut self, setting: &str, scope: &str, reason: &'static str) {
        let kind = ProblemKind::InvalidScope {
            scope: scope.to_owned(),
        };
        self.validator
            .push_problem(Problem::new(setting, kind).with_message(reason));
    }

    /// How many problems the setters found so far, for
    /// [`rename_problems_since`](Self::rename_problems_since).
    pub(crate) fn problem_count(&self) -> usize {
        self.validator.problem_count()
    }

    /// Names the problems the setters found since `mark` `setting` instead: the configuration
    /// reader names them by the field that fed the setter.
    pub(crate) fn rename_problems_since(mut self, mark: usize, setting: &str) -> Self {
        self.validator.rename_problems_since(mark, setting);
        self
    }

    /// Checks the configuration and builds the layers. No I/O happens here.
    ///
    /// # Errors
    /// A [`ConfigError`] with every problem found, each naming its setting: an invalid
    /// resource or issuer URL, no issuer or a repeated one, an issuer whose keys allow none of
    /// the configured algorithms, an invalid scope or a required `offline_access`, an empty
    /// audience alias, a leeway over 300 seconds, an empty algorithm list, a zero token size
    /// cap, an empty set of protocol versions.
    pub fn build(mut self) -> Result<McpAuth, ConfigError> {
        // The setters' problems first, in the order of the calls.
        let mut problems = self.validator.take_problems();
        if let Err(reason) =
            crate::rules::secure_url(&self.resource, self.validator.allows_http_loopback())
        {
            let kind = ProblemKind::InvalidResource {
                resource: self.resource.clone(),
                reason,
            };
            problems.push(Problem::new("resource", kind));
        }
        let scopes_supported = self
            .scopes_supported
            .take()
            .unwrap_or_else(|| self.required_scopes.clone());
        let mut issuers = Vec::with_capacity(self.issuers.len());
        #[cfg(feature = "remote")]
        let fetcher = self.fetcher.take();
        #[cfg(feature = "remote")]
        let shared = shared_discoveries(&self.issuers, fetcher.as_ref());
        let mut validator = self.validator;
        for (issuer, source) in self.issuers {
            #[cfg_attr(not(feature = "remote"), allow(clippy::infallible_destructuring_match))]
            let keys: Arc<dyn KeySource> = match source {
                Source::Given(keys) => keys,
                #[cfg(feature = "remote")]
                Source::Introspected(mut introspection) => {
                    if let Some(fetcher) = &fetcher {
                        introspection = introspection.default_fetcher(fetcher);
                    }
                    if let Some(discovery) = shared.get(&issuer) {
                        introspection = introspection.discovery(Arc::clone(discovery));
                    }
                    validator = validator.introspection(issuer.clone(), introspection);
                    if !issuers.contains(&issuer) {
                        issuers.push(issuer);
                    }
                    continue;
                }
                #[cfg(feature = "remote")]
                Source::Remote { jwks_uri } => {
                    let mut remote = crate::keys::RemoteJwks::builder(issuer.clone())
                        .allow_http_loopback(validator.allows_http_loopback());
                    if let Some(jwks_uri) = jwks_uri {
                        remote = remote.jwks_uri(jwks_uri);
                    }
                    if let Some(fetcher) = &fetcher {
                        remote = remote.shared_fetcher(Arc::clone(fetcher));
                    }
                    if let Some(discovery) = shared.get(&issuer) {
                        remote = remote.discovery(Arc::clone(discovery));
                    }
                    match remote.build() {
                        Ok(remote) => Arc::new(remote),
                        Err(error) => {
                            // The validator checks the issuer itself: it still gets one, with
                            // no keys, so that it reports each problem of the issuer once.
                            problems.extend(error.into_problems().into_iter().filter(|p| {
                                !matches!(p.kind(), ProblemKind::InvalidIssuer { .. })
                            }));
                            Arc::new(crate::keys::StaticKeys::none())
                        }
                    }
                }
            };
            validator = validator.issuer_shared(issuer.clone(), keys);
            if !issuers.contains(&issuer) {
                issuers.push(issuer);
            }
        }
        let protocol_versions = match self.protocol_versions {
            Some(versions) => ProtocolVersionGateLayer::with_supported(versions).map_err(|_| {
                ConfigError::new("protocol_versions", ProblemKind::NoProtocolVersions)
            }),
            None => Ok(ProtocolVersionGateLayer::new()),
        };
        let (validator, protocol_versions) = match (validator.build(), protocol_versions) {
            (Ok(validator), Ok(versions)) if problems.is_empty() => (validator, versions),
            (validator, versions) => {
                let found = validator.err().into_iter().chain(versions.err());
                // An invalid resource is not also an empty audience of the validator's.
                let resource_invalid = problems
                    .iter()
                    .any(|p| matches!(p.kind(), ProblemKind::InvalidResource { .. }));
                let found = found
                    .flat_map(ConfigError::into_problems)
                    .filter(|p| !(resource_invalid && p.setting() == "builder"));
                problems.extend(found);
                return Err(ConfigError::all(problems));
            }
        };

        // `url::split` accepted the resource above, so these cannot fail.
        let invalid = |_| {
            let kind = ProblemKind::InvalidResource {
                resource: self.resource.clone(),
                reason: "is not an absolute url",
            };
            ConfigError::new("resource", kind)
        };
        let metadata_url = metadata::well_known_url(&self.resource).map_err(invalid)?;
        let metadata_path = metadata::well_known_path(&self.resource).map_err(invalid)?;

        let mut origin = match self.origin_policy {
            Some(policy) => policy,
            None => OriginPolicy::for_resource(&self.resource)?,
        };
        for host in self.origin_hosts {
            origin = origin.add_allowed_origin_host(host);
        }
        if let Some(check) = self.check_host {
            origin = origin.check_host(check);
        }

        let mut document = ProtectedResourceMetadata::new(self.resource);
        document.authorization_servers = issuers;
        document.scopes_supported = scopes_supported;
        document.bearer_methods_supported = vec!["header".to_owned()];
        document.resource_name = self.resource_name;
        document.resource_documentation = self.resource_documentation;

        Ok(McpAuth {
            config: Arc::new(Config {
                validator,
                required_scopes: self.required_scopes,
                hierarchy: self.hierarchy,
                operations: self.operations,
                resource_metadata_url: metadata_url,
                strip_authorization: self.strip_authorization,
                error_on_missing_token: self.error_on_missing_token,
            }),
            origin: Arc::new(origin),
            sessions: SessionBindingLayer::new(),
            protocol_versions,
            body: ReadLimits::new(
                self.max_body_bytes,
                self.body_read_timeout,
                self.max_buffered_bytes,
            ),
            metadata: Arc::new(MetadataDocument::new(&document)),
            metadata_path: metadata_path.into(),
            root_metadata: self.root_metadata,
            document: Arc::new(document),
        })
    }
}

/// One metadata discovery for each issuer whose keys and introspection endpoint are both
/// discovered with the builder's client (`fetcher`, else the built-in one): its authorization
/// server is asked once, not twice. When there is no client to share, there is nothing to
/// share: the sources report that themselves.
#[cfg(feature = "remote")]
fn shared_discoveries(
    issuers: &[(String, Source)],
    fetcher: Option<&Arc<dyn crate::fetch::Fetch>>,
) -> std::collections::HashMap<String, Arc<crate::discovery::Discovery>> {
    let mut shared = std::collections::HashMap::new();
    for (issuer, source) in issuers {
        let Source::Introspected(introspection) = source else {
            continue;
        };
        let keys_discovered = issuers.iter().any(|(other, source)| {
            other == issuer && matches!(source, Source::Remote { jwks_uri: None })
        });
        if keys_discovered && introspection.discovers_with_default_client() {
            let fetcher = match fetcher {
                Some(fetcher) => Arc::clone(fetcher),
                None => match crate::fetch::default_fetcher() {
                    Ok(fetcher) => fetcher,
                    Err(_) => continue,
                },
            };
            shared.insert(issuer.clone(), crate::discovery::Discovery::new(fetcher));
        }
    }
    shared
}

/// Issuers whose keys [`McpAuth::prefetch`] could not load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("keys unavailable for {}", .failures.iter().map(|(i, e)| format!("`{i}` ({e})")).collect::<Vec<_>>().join(", "))]
pub struct PrefetchError {
    failures: Vec<(String, String)>,
}

impl PrefetchError {
    /// Each failing issuer with a description of the problem.
    pub fn failures(&self) -> &[(String, String)] {
        &self.failures
    }
}

/// The layer returned by [`McpAuth::layer`]: the metadata route around bearer
/// authentication.
#[derive(Debug, Clone)]
#[must_use]
pub struct McpAuthLayer {
    auth: McpAuth,
}

impl McpAuth {
    /// Wraps `inner` in the guards, innermost first; the order is documented on
    /// [`McpAuth::layer`].
    fn guard<S>(&self, inner: S) -> Guarded<S> {
        let inner = self.session_layer().layer(inner);
        let inner = self.scope_policy_layer().layer(inner);
        let inner = self.protocol_version_layer().layer(inner);
        let inner = self.operation_layer().rereading().layer(inner);
        let inner = self.bearer_layer().layer(inner);
        let inner = self.anonymous_operation_layer().layer(inner);
        self.origin_layer().layer(inner)
    }
}

impl<S> Layer<S> for McpAuthLayer {
    type Service = McpAuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        McpAuthService::new(self.auth.metadata_layer().layer(self.auth.guard(inner)))
    }
}

/// The layer returned by [`McpAuth::layer_with_cors`]: like [`McpAuthLayer`], with CORS for
/// browser clients between the metadata route and the origin guard.
#[derive(Debug, Clone)]
#[must_use]
pub struct McpAuthCorsLayer {
    auth: McpAuth,
}

impl<S> Layer<S> for McpAuthCorsLayer {
    type Service = McpAuthCorsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let inner = self.auth.cors_layer().layer(self.auth.guard(inner));
        McpAuthCorsService::new(self.auth.metadata_layer().layer(inner))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use std::convert::Infallible;
    use std::future::Ready;

    use std::task::Context;

    use http::{Request, Response};
    use tower::Service;

    use super::*;
    use crate::bearer;

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
            std::future::ready(Ok(Response::new(String::new())))
        }
    }

    #[test]
    fn builder_refuses_bad_resources_and_scopes() {
        let keys = || crate::keys::StaticKeys::hmac(&[1; 32], Algorithm::HS256).unwrap();
        let first =
            |built: Result<McpAuth, ConfigError>| built.unwrap_err().problems()[0].kind().clone();
        let build = |resource: &str, scope: &str| {
            McpAuth::builder(resource)
                .issuer("https://auth.example.com", keys())
                .algorithms([Algorithm::HS256])
                .require_scope(scope)
                .build()
        };
        assert!(build("https://mcp.example.com/mcp", "mcp:tools").is_ok());
        for resource in [
            "http://mcp.example.com/mcp",
            "http://127.0.0.1:8080/mcp",
            "https://mcp.example.com/a\"b",
            "https://mcp.example.com/mcp#x",
            "mcp.example.com/mcp",
        ] {
            assert!(
                matches!(
                    first(build(resource, "mcp:tools")),
                    ProblemKind::InvalidResource { .. }
                ),
                "{resource}"
            );
        }
        for scope in ["", "a b", "offline_access", "caf\u{e9}"] {
            assert!(
                matches!(
                    first(build("https://mcp.example.com/mcp", scope)),
                    ProblemKind::InvalidScope { .. }
                ),
                "{scope:?}"
            );
        }
        // Both sides of a hierarchy rule are scopes, checked like the required ones.
        for (broader, narrower, bad) in [("mcp:admin", "a b", "a b"), ("a\"b", "mcp:tools", "a\"b")]
        {
            let built = McpAuth::builder("https://mcp.example.com/mcp")
                .issuer("https://auth.example.com", keys())
                .algorithms([Algorithm::HS256])
                .require_scope("mcp:tools")
                .scope_implies(broader, narrower)
                .build();
            assert!(
                matches!(first(built), ProblemKind::InvalidScope { scope } if scope == bad),
                "{broader:?} implies {narrower:?}"
            );
        }
    }

    #[test]
    fn build_reports_every_problem_at_once_with_its_setting() {
        let keys = || crate::keys::StaticKeys::hmac(&[1; 32], Algorithm::HS256).unwrap();
        let error = McpAuth::builder("http://mcp.example.com/mcp")
            .issuer("https://a.example.com", keys())
            .issuer("https://a.example.com", keys())
            .issuer("http://b.example.com", keys())
            .leeway(301)
            .require_scope("mcp tools")
            .scopes_supported(["mcp:tools", "a\"b"])
            .tool_scope("deploy", "")
            .add_audience("")
            .add_audience("api://mcp")
            .max_token_bytes(0)
            .body_read_timeout(std::time::Duration::ZERO)
            .max_buffered_bytes(0)
            .build()
            .unwrap_err();
        let settings: Vec<&str> = error.problems().iter().map(Problem::setting).collect();
        assert_eq!(
            settings,
            [
                // The setters', in the order of the calls.
                "leeway",
                "require_scope",
                "scopes_supported[1]",
                "tool_scope",
                "add_audience",
                "max_token_bytes",
                "body_read_timeout",
                "max_buffered_bytes",
                // Then what only `build` can tell.
                "resource",
                "issuer",
                "issuer",
                // Every HMAC key matches no algorithm of the default allow-list.
                "algorithms",
                "algorithms",
                "algorithms",
            ],
            "{error}"
        );
        let kinds: Vec<&ProblemKind> = error.problems().iter().map(Problem::kind).collect();
        assert!(matches!(
            kinds[0],
            ProblemKind::LeewayTooLarge { secs: 301 }
        ));
        assert!(matches!(kinds[2], ProblemKind::InvalidScope { scope } if scope == "a\"b"));
        assert!(matches!(kinds[9], ProblemKind::DuplicateIssuer { .. }));
        assert!(
            matches!(kinds[10], ProblemKind::InvalidIssuer { issuer, .. } if issuer == "http://b.example.com")
        );
        let text = error.to_string();
        assert!(
            text.starts_with("14 configuration problems\n  leeway: must be at most 300\n"),
            "{text}"
        );

        // A value replaced by a valid one is no problem; one problem reads as it always has.
        let error = McpAuth::builder("https://mcp.example.com/mcp")
            .issuer("https://a.example.com", keys())
            .algorithms([Algorithm::HS256])
            .leeway(301)
            .leeway(30)
            .scopes_supported(["a b"])
            .scopes_supported(["mcp:tools"])
            .require_scope("offline_access")
            .build()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid scope `offline_access`",
            "{:?}",
            error.problems()
        );
    }

    fn send_sync_clone<T: Send + Sync + Clone>() {}
    fn send<T: Send>() {}

    #[test]
    fn layers_services_and_futures_are_send_sync_and_clone() {
        send_sync_clone::<McpAuth>();
        send_sync_clone::<McpAuthLayer>();
        send_sync_clone::<ServeMetadataLayer>();
        send_sync_clone::<BearerAuthLayer>();
        send_sync_clone::<McpAuthLayer>();
        send_sync_clone::<crate::VerifiedToken>();
        send_sync_clone::<crate::McpAuthService<Svc>>();
        send_sync_clone::<crate::McpAuthCorsService<Svc>>();
        send::<bearer::ResponseFuture<Svc, String>>();
        send::<
            crate::future::EitherResponse<
                <bearer::BearerAuth<Svc> as Service<Request<String>>>::Future,
            >,
        >();
        send::<crate::body::ResponseBody<String>>();
    }
}
