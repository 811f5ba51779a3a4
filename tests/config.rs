//! `McpAuthConfig`: an `McpAuth` described as data (TOML, JSON, environment variables) builds
//! the same layers the builder does, and a broken description reports every problem at once,
//! each with its field path or variable name, never with a secret value.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use mcp_server_auth::ConfigError;
use mcp_server_auth::cache::TokenCacheConfig;
use mcp_server_auth::config::{ENV_PREFIX, McpAuthConfig};
use mcp_server_auth::error::ProblemKind;
use mcp_server_auth::operation::RequestBody;
use mcp_server_auth::profile::{ClaimRequirement, IssuerProfile, ScopeClaim, ScopeFormat};
use mcp_server_auth::validate::TypPolicy;
use mcp_server_auth::{AuthError, McpAuth, VerifiedToken};
use mcp_server_auth_dev::testing::{TestIssuer, TokenBuilder, unix_now};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt, service_fn};

/// A secret given in configuration documents below: it must never show in errors or `Debug`.
const SECRET: &str = "s3cret-introspection-password-0042";
/// Another one, under a misspelled field name.
const SECRET_TYPO: &str = "s3cret-under-a-typo-9137";
/// Another one, next to an unknown `client_auth`.
const SECRET_BAD_AUTH: &str = "s3cret-with-a-bad-method-5521";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn toml_config(text: &str) -> McpAuthConfig {
    toml::from_str(text).unwrap_or_else(|e| panic!("not a TOML map: {e}"))
}

fn json_config(text: &str) -> McpAuthConfig {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not a JSON map: {e}"))
}

/// Builds, or fails listing the problems (which hold no secrets: they may be printed).
fn build(config: &McpAuthConfig) -> McpAuth {
    match config.build() {
        Ok(auth) => auth,
        Err(errors) => panic!("expected a valid configuration, got {errors}"),
    }
}

fn problems(config: &McpAuthConfig) -> ConfigError {
    match config.build() {
        Ok(auth) => panic!(
            "expected problems, but it built for {}",
            auth.metadata().resource
        ),
        Err(errors) => errors,
    }
}

fn fields(errors: &ConfigError) -> Vec<String> {
    errors
        .problems()
        .iter()
        .map(|p| p.field().to_owned())
        .collect()
}

/// Asserts that `errors` holds exactly one problem for each of `expected` (in any order).
fn assert_fields(errors: &ConfigError, expected: &[&str]) {
    let mut got = fields(errors);
    got.sort();
    let mut want: Vec<String> = expected.iter().map(|f| (*f).to_owned()).collect();
    want.sort();
    assert_eq!(got, want, "problems:\n{errors}");
}

fn env(vars: &[(&str, &str)]) -> McpAuthConfig {
    McpAuthConfig::from_env_vars(vars.iter().map(|(k, v)| (*k, *v)))
}

/// What a request through the layer got.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    /// The rejection's reason, from the response extensions.
    reason: Option<&'static str>,
    challenge: Option<String>,
    /// On success, what the handler saw: the verified token and the `Authorization` header.
    body: Value,
}

type Inner = Request<RequestBody<Full<Bytes>>>;

/// A JSON-RPC request as a Streamable HTTP client sends it.
fn rpc(token: Option<&str>, message: &Value) -> Request<Full<Bytes>> {
    let mut request = Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request
        .body(Full::new(Bytes::from(message.to_string())))
        .unwrap()
}

fn tools_list() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
}

fn tools_call(name: &str) -> Value {
    json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": name, "arguments": {}},
    })
}

/// Sends `request` through `auth.layer()` around a handler that answers with what it saw.
async fn send(auth: &McpAuth, request: Request<Full<Bytes>>) -> Answer {
    let service = auth.layer().layer(service_fn(|request: Inner| async move {
        let verified = request.extensions().get::<VerifiedToken>().map(|t| {
            json!({
                "iss": t.issuer(),
                "sub": t.subject(),
                "client_id": t.client_id(),
                "scopes": t.scopes(),
            })
        });
        let body = json!({
            "verified": verified,
            "authorization_header": request.headers().contains_key("authorization"),
        });
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body.to_string()))))
    }));
    let response = service.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        reason: parts.extensions.get::<AuthError>().map(AuthError::reason),
        challenge: parts
            .headers
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

async fn call(auth: &McpAuth, token: Option<&str>, message: &Value) -> Answer {
    send(auth, rpc(token, message)).await
}

/// Each introspection request's `Authorization` header and form body.
type Recorded = Arc<Mutex<Vec<(Option<String>, String)>>>;

/// An RFC 7662 endpoint on loopback: `active_token` is active with `claims`, every other
/// token is not. It records each request.
struct Introspection {
    url: String,
    requests: Recorded,
}

#[derive(Clone)]
struct IntrospectionState {
    active_token: String,
    claims: Value,
    requests: Recorded,
}

async fn introspect(
    State(state): State<IntrospectionState>,
    headers: HeaderMap,
    body: String,
) -> axum::Json<Value> {
    let authorization = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let active = body
        .split('&')
        .any(|pair| pair.strip_prefix("token=") == Some(state.active_token.as_str()));
    state.requests.lock().unwrap().push((authorization, body));
    axum::Json(if active {
        state.claims
    } else {
        json!({"active": false})
    })
}

async fn start_introspection(active_token: &str, claims: Value) -> Introspection {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let state = IntrospectionState {
        active_token: active_token.to_owned(),
        claims,
        requests: Arc::clone(&requests),
    };
    let app = axum::Router::new()
        .route("/introspect", axum::routing::post(introspect))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Introspection { url, requests }
}

// ---------------------------------------------------------------------------------------------
// Valid documents
// ---------------------------------------------------------------------------------------------

/// The example of the `config` module docs, with its `...` filled in.
const DOCS_EXAMPLE: &str = r#"
resource = "https://mcp.example.com/mcp"
scopes_supported = ["mcp:tools", "mcp:admin"]
required_scopes = ["mcp:tools"]
tool_scopes = { admin_reset = "mcp:admin" }
scope_implies = { "mcp:admin" = ["mcp:tools"] }
leeway_secs = 30

[[issuers]]                      # keys found by discovery
issuer = "https://login.microsoftonline.com/7f0c3a52-9d1e-4b7a-8c2f-3e5d6a7b8c9d/v2.0"
jwks_uri = "https://login.microsoftonline.com/7f0c3a52-9d1e-4b7a-8c2f-3e5d6a7b8c9d/discovery/v2.0/keys"   # optional
audiences = ["6e1f4c2a-0b3d-4e5f-8a9b-1c2d3e4f5a6b"]     # aliases accepted for this issuer only
typ = "lenient"                  # or "strict" (at+jwt only)
scope_claims = ["scp", { name = "roles", format = "array" }]
client_id_claims = ["azp"]
required_claims = [{ claim = "tid", equals = "7f0c3a52-9d1e-4b7a-8c2f-3e5d6a7b8c9d" }, { claim = "groups", contains = "staff" }]

[[issuers]]                      # opaque tokens, checked by RFC 7662 introspection
issuer = "https://auth.example.com"
verify_jwts = false              # no keys: introspect every token of this issuer
introspection = { client_id = "mcp-rs", client_secret = "s3cret-introspection-password-0042", client_auth = "client_secret_post" }
"#;

const ENTRA: &str = "https://login.microsoftonline.com/7f0c3a52-9d1e-4b7a-8c2f-3e5d6a7b8c9d/v2.0";

#[test]
fn docs_example_in_toml_builds_the_described_metadata() {
    let auth = build(&toml_config(DOCS_EXAMPLE));
    assert_eq!(auth.resource(), "https://mcp.example.com/mcp");
    let metadata = auth.metadata();
    assert_eq!(metadata.resource, "https://mcp.example.com/mcp");
    assert_eq!(
        metadata.authorization_servers,
        [ENTRA, "https://auth.example.com"]
    );
    assert_eq!(metadata.scopes_supported, ["mcp:tools", "mcp:admin"]);
    assert_eq!(metadata.bearer_methods_supported, ["header"]);
    assert_eq!(
        auth.metadata_url(),
        "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
    );
    let mut issuers: Vec<&str> = auth.validator().issuers().collect();
    issuers.sort_unstable();
    assert_eq!(issuers, ["https://auth.example.com", ENTRA]);
}

/// The TOML block of the module docs, as written there (`...` and all), still builds: the
/// docs and the reader agree.
#[test]
fn docs_example_as_written_in_the_module_docs_builds() {
    let source = include_str!("../src/config/mod.rs");
    let mut block = String::new();
    let mut inside = false;
    for line in source.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            continue;
        };
        let doc = doc.strip_prefix(' ').unwrap_or(doc);
        match (inside, doc.trim()) {
            (false, "```toml") => inside = true,
            (true, "```") => break,
            (true, _) => {
                block.push_str(doc);
                block.push('\n');
            }
            _ => {}
        }
    }
    assert!(block.contains("[[issuers]]"), "no TOML example in the docs");
    let auth = build(&toml_config(&block));
    assert_eq!(auth.metadata().authorization_servers.len(), 2);
}

#[test]
fn json_document_builds_the_same_metadata_as_toml() {
    let json = json_config(
        r#"{
        "resource": "https://mcp.example.com/mcp",
        "scopes_supported": ["mcp:tools", "mcp:admin"],
        "required_scopes": ["mcp:tools"],
        "tool_scopes": { "admin_reset": "mcp:admin" },
        "scope_implies": { "mcp:admin": ["mcp:tools"] },
        "leeway_secs": 30,
        "issuers": [
            {
                "issuer": "https://login.microsoftonline.com/7f0c3a52-9d1e-4b7a-8c2f-3e5d6a7b8c9d/v2.0",
                "jwks_uri": "https://login.microsoftonline.com/7f0c3a52-9d1e-4b7a-8c2f-3e5d6a7b8c9d/discovery/v2.0/keys",
                "audiences": ["6e1f4c2a-0b3d-4e5f-8a9b-1c2d3e4f5a6b"],
                "typ": "lenient",
                "scope_claims": ["scp", { "name": "roles", "format": "array" }],
                "client_id_claims": ["azp"],
                "required_claims": [
                    { "claim": "tid", "equals": "7f0c3a52-9d1e-4b7a-8c2f-3e5d6a7b8c9d" },
                    { "claim": "groups", "contains": "staff" }
                ]
            },
            {
                "issuer": "https://auth.example.com",
                "verify_jwts": false,
                "introspection": {
                    "client_id": "mcp-rs",
                    "client_secret": "s3cret-introspection-password-0042",
                    "client_auth": "client_secret_post"
                }
            }
        ]
    }"#,
    );
    let from_json = build(&json);
    let from_toml = build(&toml_config(DOCS_EXAMPLE));
    assert_eq!(from_json.metadata(), from_toml.metadata());
    assert_eq!(from_json.metadata_url(), from_toml.metadata_url());
}

#[test]
fn issuers_keep_their_order_in_the_metadata() {
    let config = toml_config(
        r#"
        resource = "https://mcp.example.com/mcp"
        [[issuers]]
        issuer = "https://z.example.com"
        [[issuers]]
        issuer = "https://a.example.com"
        [[issuers]]
        issuer = "https://m.example.com/tenant"
        "#,
    );
    let auth = build(&config);
    assert_eq!(
        auth.metadata().authorization_servers,
        [
            "https://z.example.com",
            "https://a.example.com",
            "https://m.example.com/tenant"
        ]
    );
    // Without `scopes_supported`, the required scopes are published: none here.
    assert!(auth.metadata().scopes_supported.is_empty());
}

/// Every field the module docs list is known: giving it never yields "is not a known field"
/// (its value may be wrong here; that is another problem).
#[test]
fn every_documented_field_is_known() {
    let top = [
        "resource",
        "issuers",
        "scopes_supported",
        "required_scopes",
        "scope_implies",
        "tool_scopes",
        "prompt_scopes",
        "resource_scopes",
        "resource_prefix_scopes",
        "method_scopes",
        "anonymous_methods",
        "audiences",
        "algorithms",
        "leeway_secs",
        "require_at_jwt",
        "scope_claims",
        "max_token_bytes",
        "max_body_bytes",
        "body_read_timeout_secs",
        "max_buffered_bytes",
        "root_metadata",
        "allow_http_loopback",
        "keep_authorization_header",
        "error_on_missing_token",
        "check_host",
        "allowed_origin_hosts",
        "resource_name",
        "resource_documentation",
        "token_cache",
    ];
    let issuer = [
        "issuer",
        "jwks_uri",
        "verify_jwts",
        "audiences",
        "typ",
        "scope_claims",
        "client_id_claims",
        "leeway_secs",
        "required_claims",
        "introspection",
    ];
    let introspection = [
        "endpoint",
        "client_id",
        "client_secret",
        "client_auth",
        "timeout_secs",
        "allow_missing_audience",
        "cache",
    ];
    let cache = ["enabled", "capacity", "max_age_secs", "max_bytes"];

    let mut document = serde_json::Map::new();
    for field in top {
        document.insert(field.to_owned(), json!(true));
    }
    let mut issuer_table = serde_json::Map::new();
    for field in issuer {
        issuer_table.insert(field.to_owned(), json!(true));
    }
    let mut introspection_table = serde_json::Map::new();
    for field in introspection {
        introspection_table.insert(field.to_owned(), json!(true));
    }
    let cache_table: serde_json::Map<String, Value> = cache
        .iter()
        .map(|f| ((*f).to_owned(), json!(true)))
        .collect();
    introspection_table.insert("cache".to_owned(), Value::Object(cache_table.clone()));
    issuer_table.insert(
        "introspection".to_owned(),
        Value::Object(introspection_table),
    );
    document.insert("issuers".to_owned(), json!([issuer_table]));
    document.insert("token_cache".to_owned(), Value::Object(cache_table));

    let config: McpAuthConfig = serde_json::from_value(Value::Object(document)).unwrap();
    let errors = problems(&config);
    let unknown: Vec<String> = errors
        .problems()
        .iter()
        .filter(|p| p.message().contains("not a known"))
        .map(|p| p.to_string())
        .collect();
    assert!(unknown.is_empty(), "documented but unknown: {unknown:?}");
    // And the wrong values were all noticed: one problem at least per table.
    let fields = fields(&errors);
    for prefix in [
        "resource",
        "issuers[0].",
        "issuers[0].introspection.",
        "issuers[0].introspection.cache.",
        "token_cache.",
    ] {
        assert!(
            fields.iter().any(|f| f.starts_with(prefix)),
            "nothing under {prefix}: {errors}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Behaviour: a configuration protects like the builder it stands for
// ---------------------------------------------------------------------------------------------

const LOOPBACK_RESOURCE: &str = "http://127.0.0.1:3000/mcp";
const ALIAS: &str = "api://6e1f4c2a-0b3d-4e5f-8a9b-1c2d3e4f5a6b";

fn profile_config(issuer: &str) -> String {
    format!(
        r#"
        resource = "{LOOPBACK_RESOURCE}"
        allow_http_loopback = true
        scopes_supported = ["mcp:tools", "mcp:admin"]
        required_scopes = ["mcp:tools"]
        tool_scopes = {{ admin_reset = "mcp:admin" }}
        token_cache = {{ enabled = true, capacity = 64, max_age_secs = 30 }}

        [[issuers]]
        issuer = "{issuer}"
        audiences = ["{ALIAS}"]
        typ = "strict"
        scope_claims = ["scp", {{ name = "roles", format = "array" }}]
        client_id_claims = ["azp"]
        required_claims = [
            {{ claim = "tid", equals = "tenant-1" }},
            {{ claim = "groups", contains = "staff" }},
        ]
        "#
    )
}

fn profile_builder_equivalent(issuer: &str) -> McpAuth {
    McpAuth::builder(LOOPBACK_RESOURCE)
        .allow_http_loopback(true)
        .authorization_server(issuer)
        .profile(
            issuer,
            IssuerProfile::new()
                .audience(ALIAS)
                .typ(TypPolicy::Strict)
                .scope_claims([
                    ScopeClaim::new("scp"),
                    ScopeClaim::new("roles").format(ScopeFormat::Array),
                ])
                .client_id_claims(["azp"])
                .require_claim(ClaimRequirement::equals("tid", "tenant-1"))
                .require_claim(ClaimRequirement::contains("groups", "staff")),
        )
        .scopes_supported(["mcp:tools", "mcp:admin"])
        .require_scope("mcp:tools")
        .tool_scope("admin_reset", "mcp:admin")
        .token_cache(
            TokenCacheConfig::new()
                .capacity(64)
                .max_age(Duration::from_secs(30)),
        )
        .build()
        .unwrap()
}

/// A token this profile accepts: the resource, the tenant, a staff member, `scp` `mcp:tools`.
fn profiled(issuer: &TestIssuer) -> TokenBuilder<'_> {
    issuer
        .token()
        .audience(LOOPBACK_RESOURCE)
        .claim("scp", "mcp:tools")
        .claim("tid", "tenant-1")
        .claim("groups", json!(["engineering", "staff"]))
        .claim("azp", "app-1")
}

#[tokio::test]
async fn toml_profile_config_protects_like_the_builder() {
    let issuer = TestIssuer::start().await;
    let from_config = build(&toml_config(&profile_config(issuer.issuer())));
    let from_builder = profile_builder_equivalent(issuer.issuer());
    assert_eq!(from_config.metadata(), from_builder.metadata());
    assert_eq!(
        from_config.metadata().authorization_servers,
        [issuer.issuer()]
    );
    from_config.prefetch().await.unwrap();
    from_builder.prefetch().await.unwrap();

    let cases: Vec<(&str, Option<String>, Value, u16)> = vec![
        ("no token", None, tools_list(), 401),
        (
            "valid token",
            Some(profiled(&issuer).sign()),
            tools_list(),
            200,
        ),
        (
            "audience alias accepted for this issuer",
            Some(profiled(&issuer).audience(ALIAS).sign()),
            tools_list(),
            200,
        ),
        (
            "another audience",
            Some(profiled(&issuer).audience("api://someone-else").sign()),
            tools_list(),
            401,
        ),
        (
            "required claim with another value",
            Some(profiled(&issuer).claim("tid", "tenant-2").sign()),
            tools_list(),
            401,
        ),
        (
            "required claim missing",
            Some(profiled(&issuer).without_claim("tid").sign()),
            tools_list(),
            401,
        ),
        (
            "contains requirement not met",
            Some(profiled(&issuer).claim("groups", json!(["guests"])).sign()),
            tools_list(),
            401,
        ),
        (
            "contains requirement met by a single value",
            Some(profiled(&issuer).claim("groups", "staff").sign()),
            tools_list(),
            200,
        ),
        (
            "typ JWT refused under strict",
            Some(profiled(&issuer).header("typ", "JWT").sign()),
            tools_list(),
            401,
        ),
        (
            "no typ refused under strict",
            Some(profiled(&issuer).without_header("typ").sign()),
            tools_list(),
            401,
        ),
        (
            "application/at+jwt accepted under strict",
            Some(profiled(&issuer).header("typ", "application/at+jwt").sign()),
            tools_list(),
            200,
        ),
        (
            "scopes from the roles array",
            Some(
                profiled(&issuer)
                    .without_claim("scp")
                    .claim("roles", json!(["mcp:tools"]))
                    .sign(),
            ),
            tools_list(),
            200,
        ),
        (
            "roles as a string is refused: array only",
            Some(
                profiled(&issuer)
                    .without_claim("scp")
                    .claim("roles", "mcp:tools")
                    .sign(),
            ),
            tools_list(),
            401,
        ),
        (
            "scope in `scope`, not a configured scope claim",
            Some(
                profiled(&issuer)
                    .without_claim("scp")
                    .scope("mcp:tools")
                    .sign(),
            ),
            tools_list(),
            403,
        ),
        (
            "tool scope missing",
            Some(profiled(&issuer).sign()),
            tools_call("admin_reset"),
            403,
        ),
        (
            "tool scope granted",
            Some(profiled(&issuer).claim("scp", "mcp:tools mcp:admin").sign()),
            tools_call("admin_reset"),
            200,
        ),
        (
            "tool without its own scope",
            Some(profiled(&issuer).sign()),
            tools_call("whoami"),
            200,
        ),
    ];

    for (name, token, message, expected) in &cases {
        let config = call(&from_config, token.as_deref(), message).await;
        let builder = call(&from_builder, token.as_deref(), message).await;
        assert_eq!(config.status.as_u16(), *expected, "{name}: {config:?}");
        assert_eq!(config.status, builder.status, "{name}");
        assert_eq!(config.reason, builder.reason, "{name}");
        assert_eq!(config.challenge, builder.challenge, "{name}");
    }

    // The client id comes from `azp` only, as configured.
    let answer = call(&from_config, Some(&profiled(&issuer).sign()), &tools_list()).await;
    assert_eq!(answer.body["verified"]["client_id"], "app-1");
    assert_eq!(answer.body["verified"]["scopes"], json!(["mcp:tools"]));
    let answer = call(
        &from_config,
        Some(&profiled(&issuer).without_claim("azp").sign()),
        &tools_list(),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body["verified"]["client_id"],
        Value::Null,
        "`client_id` is not a configured client id claim"
    );

    // The tool-scope refusal is a step-up challenge naming the tool's scope.
    let answer = call(
        &from_config,
        Some(&profiled(&issuer).sign()),
        &tools_call("admin_reset"),
    )
    .await;
    let challenge = answer.challenge.unwrap();
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
    assert!(challenge.contains("mcp:admin"), "{challenge}");
}

#[tokio::test]
async fn scope_implies_and_leeway_from_a_document_apply() {
    let issuer = TestIssuer::start().await;
    let config = json_config(
        &json!({
            "resource": LOOPBACK_RESOURCE,
            "allow_http_loopback": true,
            "issuers": [{ "issuer": issuer.issuer(), "jwks_uri": issuer.jwks_uri() }],
            "required_scopes": "mcp:tools",
            "scope_implies": { "mcp:admin": ["mcp:tools"] },
            "leeway_secs": 120,
        })
        .to_string(),
    );
    let auth = build(&config);
    auth.prefetch().await.unwrap();
    let token = |scope: &str, expires_in: i64| {
        issuer
            .token()
            .audience(LOOPBACK_RESOURCE)
            .scope(scope)
            .expires_in(expires_in)
            .sign()
    };
    let status = |token: String| {
        let auth = auth.clone();
        async move { call(&auth, Some(&token), &tools_list()).await.status }
    };
    assert_eq!(status(token("mcp:admin", 600)).await, 200, "implied scope");
    assert_eq!(status(token("mcp:other", 600)).await, 403);
    // Expired 90 s ago: beyond the default 60 s leeway, within the configured 120 s. Expired
    // 250 s ago: beyond it.
    assert_eq!(status(token("mcp:tools", -90)).await, 200, "within leeway");
    assert_eq!(status(token("mcp:tools", -250)).await, 401, "beyond leeway");
}

// ---------------------------------------------------------------------------------------------
// Every problem at once
// ---------------------------------------------------------------------------------------------

fn broken_document() -> String {
    format!(
        r#"
        resource = "http://mcp.example.com/mcp"            # not https, not loopback
        scopes_supported = 5                               # a number for a list
        leeway_secs = "30"                                 # a string for a number
        require_at_jwt = "yes"                             # a string for a bool (not from env)
        algorithms = "RS257"                               # no such algorithm
        token_cache = {{ capacity = 0, max_bytes = 0 }}    # zero capacity and bytes
        required_scope = ["mcp:tools"]                     # unknown: `required_scopes`

        [[issuers]]
        issuer = "https://login.example.com/tenant-1/v2.0"
        typ = "relaxed"                                    # lenient or strict
        leeway_secs = 301                                  # at most 300
        scope_claims = ["scp", {{ name = "roles", format = "list" }}]
        required_claims = [
            {{ claim = "tid", equals = "tenant-1", contains = "tenant-1" }},
            {{ claim = "iss", equals = "https://evil.example.com" }},
        ]
        audience = ["api://mcp"]                           # unknown: `audiences`

        [[issuers]]
        issuer = "https://auth.example.com"
        introspection = {{ client_id = "mcp-rs", client_secert = "{SECRET_TYPO}" }}

        [[issuers]]
        issuer = "https://other.example.com"
        introspection = {{ client_id = "mcp-rs", client_secret = "{SECRET_BAD_AUTH}", client_auth = "private_key_jwt" }}

        [[issuers]]
        issuer = "https://opaque.example.com"
        verify_jwts = false                                # and no introspection

        [[issuers]]
        jwks_uri = "https://keys.example.com/jwks"         # no `issuer`
        "#
    )
}

const BROKEN_FIELDS: [&str; 20] = [
    "resource",
    "scopes_supported",
    "leeway_secs",
    "require_at_jwt",
    "algorithms[0]",
    "token_cache.capacity",
    "token_cache.max_bytes",
    "required_scope",
    "issuers[0].typ",
    "issuers[0].leeway_secs",
    "issuers[0].scope_claims[1].format",
    "issuers[0].required_claims[0].claim",
    "issuers[0].required_claims[1].claim",
    "issuers[0].audience",
    "issuers[1].introspection.client_secret",
    "issuers[1].introspection.client_secert",
    "issuers[2].introspection.client_auth",
    // A second issuer with introspection: only one may receive tokens that are not JWTs.
    "issuers[2].introspection",
    "issuers[3].verify_jwts",
    "issuers[4].issuer",
];

#[test]
fn every_problem_is_reported_at_once_with_its_field() {
    let config = toml_config(&broken_document());
    let errors = problems(&config);
    assert_fields(&errors, &BROKEN_FIELDS);
    // `into_builder` reports the same problems.
    let Err(again) = config.into_builder() else {
        panic!("into_builder accepted a broken configuration");
    };
    assert_eq!(again, errors);
    for problem in errors.problems() {
        assert!(!problem.message().is_empty(), "{problem:?}");
    }
    let message = |field: &str| {
        errors
            .problems()
            .iter()
            .find(|p| p.field() == field)
            .map(|p| p.message().to_owned())
            .unwrap()
    };
    assert!(message("issuers[0].leeway_secs").contains("300"));
    assert!(message("required_scope").contains("not a known field"));
    assert!(message("issuers[0].audience").contains("not a known field"));
    assert!(message("issuers[1].introspection.client_secret").contains("required"));
}

#[test]
fn the_same_mistakes_in_json_get_the_same_problems() {
    let value: toml::Value = toml::from_str(&broken_document()).unwrap();
    let json = serde_json::to_string(&value).unwrap();
    let errors = problems(&json_config(&json));
    assert_fields(&errors, &BROKEN_FIELDS);
}

#[test]
fn display_lists_every_problem_one_per_line_without_secrets() {
    let config = toml_config(&broken_document());
    let errors = problems(&config);
    let text = errors.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        errors.problems().len() + 1,
        "a count line, then one line per problem:\n{text}"
    );
    assert_eq!(
        lines[0],
        format!("{} configuration problems", BROKEN_FIELDS.len())
    );
    for (line, problem) in lines[1..].iter().zip(errors.problems()) {
        assert_eq!(
            line.trim(),
            format!("{}: {}", problem.field(), problem.message())
        );
    }
    for field in BROKEN_FIELDS {
        assert!(
            lines[1..]
                .iter()
                .any(|l| l.trim().starts_with(&format!("{field}: "))),
            "{field} missing from:\n{text}"
        );
    }
    for secret in [SECRET_TYPO, SECRET_BAD_AUTH] {
        assert!(!text.contains(secret), "a secret in Display");
        assert!(!format!("{errors:?}").contains(secret), "a secret in Debug");
    }
}

#[test]
fn one_problem_is_counted_in_the_singular() {
    let config = json_config(r#"{"resource": "https://mcp.example.com/mcp"}"#);
    let errors = problems(&config);
    assert_fields(&errors, &["issuers"]);
    let text = errors.to_string();
    assert_eq!(
        text.lines().next(),
        Some("1 configuration problem"),
        "{text}"
    );
}

#[test]
fn missing_or_malformed_issuers_are_problems() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "missing",
            r#"{"resource": "https://mcp.example.com/mcp"}"#,
            &["issuers"],
        ),
        (
            "empty",
            r#"{"resource": "https://mcp.example.com/mcp", "issuers": []}"#,
            &["issuers"],
        ),
        (
            "a string",
            r#"{"resource": "https://mcp.example.com/mcp", "issuers": "https://a.example.com"}"#,
            &["issuers"],
        ),
        (
            "an entry that is not a table",
            r#"{"resource": "https://mcp.example.com/mcp",
                "issuers": [{"issuer": "https://a.example.com"}, "https://b.example.com"]}"#,
            &["issuers[1]"],
        ),
        (
            "an http issuer",
            r#"{"resource": "https://mcp.example.com/mcp",
                "issuers": [{"issuer": "http://a.example.com"}]}"#,
            &["issuers[0].issuer"],
        ),
        ("nothing at all", r"{}", &["resource", "issuers"]),
        (
            "an empty resource",
            r#"{"resource": "", "issuers": [{"issuer": "https://a.example.com"}]}"#,
            &["resource"],
        ),
    ];
    for (name, document, expected) in cases {
        let errors = problems(&json_config(document));
        let mut got = fields(&errors);
        got.sort();
        let mut want: Vec<String> = expected.iter().map(|f| (*f).to_owned()).collect();
        want.sort();
        assert_eq!(got, want, "{name}:\n{errors}");
    }
}

#[test]
fn document_that_is_not_a_map_is_a_deserialization_error() {
    assert!(serde_json::from_str::<McpAuthConfig>("[1, 2]").is_err());
    assert!(serde_json::from_str::<McpAuthConfig>(r#""https://a.example.com""#).is_err());
}

/// An unknown algorithm name is reported at its index, as other list items are, so that the
/// reader knows which name is wrong (the message never repeats values).
#[test]
fn unknown_algorithm_is_named_by_its_index() {
    let config = json_config(
        r#"{
        "resource": "https://mcp.example.com/mcp",
        "issuers": [{ "issuer": "https://auth.example.com" }],
        "algorithms": ["RS256", "RS257", "ES256"]
    }"#,
    );
    assert_fields(&problems(&config), &["algorithms[1]"]);
}

/// An issuer with `verify_jwts = false` and an `introspection` table whose only problem is a
/// missing secret: one problem, the secret. Not also "false needs an introspection table".
#[test]
fn broken_introspection_is_not_also_reported_as_missing() {
    let config = toml_config(
        r#"
        resource = "https://mcp.example.com/mcp"
        [[issuers]]
        issuer = "https://auth.example.com"
        verify_jwts = false
        introspection = { client_id = "mcp-rs" }
        "#,
    );
    assert_fields(
        &problems(&config),
        &["issuers[0].introspection.client_secret"],
    );
}

#[test]
fn introspection_settings_are_checked() {
    let config = toml_config(&format!(
        r#"
        resource = "https://mcp.example.com/mcp"
        [[issuers]]
        issuer = "https://a.example.com"
        introspection = {{ client_auth = "none", client_id = "mcp-rs" }}
        [[issuers]]
        issuer = "https://b.example.com"
        introspection = {{ client_id = "mcp-rs", client_secret = "{SECRET}", endpoint = "http://b.example.com/introspect", timeout_secs = 0, cache = {{ max_age_secs = 0, max_bytes = 0, size = 5 }} }}
        [[issuers]]
        issuer = "https://c.example.com"
        introspection = {{ client_id = "", client_secret = "" }}
        [[issuers]]
        issuer = "https://d.example.com"
        verify_jwts = false
        jwks_uri = "https://d.example.com/jwks"
        introspection = {{ client_auth = "none", endpoint = "https://d.example.com/introspect" }}
        [[issuers]]
        issuer = "https://e.example.com"
        introspection = "yes"
        "#
    ));
    let errors = problems(&config);
    assert_fields(
        &errors,
        &[
            "issuers[0].introspection.client_auth",
            // Every issuer after the first with introspection: only one may have it.
            "issuers[1].introspection",
            "issuers[2].introspection",
            "issuers[3].introspection",
            "issuers[4].introspection",
            "issuers[1].introspection.endpoint",
            "issuers[1].introspection.timeout_secs",
            "issuers[1].introspection.cache.max_age_secs",
            "issuers[1].introspection.cache.max_bytes",
            "issuers[1].introspection.cache.size",
            "issuers[2].introspection.client_id",
            "issuers[2].introspection.client_secret",
            "issuers[3].jwks_uri",
            "issuers[4].introspection",
        ],
    );
    assert!(!errors.to_string().contains(SECRET));
}

#[test]
fn a_valid_introspection_only_issuer_builds() {
    let config = toml_config(&format!(
        r#"
        resource = "https://mcp.example.com/mcp"
        [[issuers]]
        issuer = "https://auth.example.com"
        verify_jwts = false
        introspection = {{ endpoint = "https://auth.example.com/oauth2/introspect", client_id = "mcp-rs", client_secret = "{SECRET}", timeout_secs = 3, cache = {{ enabled = true, capacity = 100, max_age_secs = 15 }} }}
        [[issuers]]
        issuer = "https://login.example.com"
        "#
    ));
    let auth = build(&config);
    assert_eq!(
        auth.metadata().authorization_servers,
        ["https://auth.example.com", "https://login.example.com"]
    );

    let config = toml_config(
        r#"
        resource = "https://mcp.example.com/mcp"
        [[issuers]]
        issuer = "https://hydra.internal.example.com"
        introspection = { client_auth = "none", endpoint = "https://hydra.internal.example.com/admin/oauth2/introspect" }
        "#,
    );
    build(&config);
}

/// What only the builder checks (scope syntax, `offline_access`, an empty algorithm list, a
/// repeated issuer, a second introspecting issuer) is still a problem with a field path, not a
/// field-less `(configuration)` line.
#[test]
fn builder_checks_are_named_by_their_field() {
    let base = r#""resource": "https://mcp.example.com/mcp""#;
    let one = r#""issuers": [{ "issuer": "https://auth.example.com" }]"#;
    let cases: &[(&str, String, &str)] = &[
        (
            "a scope with a space",
            format!(r#"{{ {base}, {one}, "required_scopes": ["mcp:tools", "mcp tools"] }}"#),
            "required_scopes[1]",
        ),
        (
            "offline_access required",
            format!(r#"{{ {base}, {one}, "required_scopes": ["offline_access"] }}"#),
            "required_scopes[0]",
        ),
        (
            "an invalid tool scope",
            format!(r#"{{ {base}, {one}, "tool_scopes": {{ "deploy": "a\"b" }} }}"#),
            "tool_scopes.deploy",
        ),
        (
            "an invalid method scope",
            format!(r#"{{ {base}, {one}, "method_scopes": {{ "tools/list": "x y" }} }}"#),
            "method_scopes.tools/list",
        ),
        (
            "an invalid implied scope",
            format!(r#"{{ {base}, {one}, "scope_implies": {{ "mcp:admin": "x y" }} }}"#),
            "scope_implies.mcp:admin",
        ),
        (
            "an empty algorithm list",
            format!(r#"{{ {base}, {one}, "algorithms": [] }}"#),
            "algorithms",
        ),
        (
            "a repeated issuer",
            format!(
                r#"{{ {base}, "issuers": [{{ "issuer": "https://a.example.com" }}, {{ "issuer": "https://a.example.com" }}] }}"#
            ),
            "issuers[1].issuer",
        ),
        (
            "two introspecting issuers",
            format!(
                r#"{{ {base}, "issuers": [
                    {{ "issuer": "https://a.example.com", "introspection": {{ "client_auth": "none" }} }},
                    {{ "issuer": "https://b.example.com", "introspection": {{ "client_auth": "none" }} }}
                ] }}"#
            ),
            "issuers[1].introspection",
        ),
    ];
    let mut wrong = Vec::new();
    for (name, document, field) in cases {
        let errors = problems(&json_config(document));
        if fields(&errors) != [*field] {
            wrong.push(format!("{name}: expected `{field}`, got {errors}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Builder checks are reported together with the others, not only once the others are fixed.
#[test]
fn builder_checks_are_reported_with_the_other_problems() {
    let config = json_config(
        r#"{
        "resource": "https://mcp.example.com/mcp",
        "issuers": [{ "issuer": "https://auth.example.com" }],
        "leeway_secs": 301,
        "required_scopes": ["mcp tools"],
        "algorithms": []
    }"#,
    );
    let errors = problems(&config);
    assert_eq!(errors.problems().len(), 3, "{errors}");
    assert!(
        errors
            .problems()
            .iter()
            .all(|p| p.field() != "(configuration)"),
        "{errors}"
    );
}

/// The reader checks no value itself: what the builder refuses comes back with the builder's
/// kind, named by the field (or variable) that fed the setter.
#[test]
fn builder_problems_are_relabelled_to_the_field_that_fed_the_setter() {
    let config = json_config(
        r#"{
        "resource": "http://mcp.example.com/mcp",
        "issuers": [
            { "issuer": "https://a.example.com", "leeway_secs": 301 },
            { "issuer": "https://a.example.com" },
            { "issuer": "http://b.example.com", "jwks_uri": "http://b.example.com/jwks" }
        ],
        "leeway_secs": 301,
        "required_scopes": ["mcp:tools", "offline_access"],
        "max_token_bytes": 0
    }"#,
    );
    let errors = problems(&config);
    let mut got: Vec<(String, &ProblemKind)> = errors
        .problems()
        .iter()
        .map(|p| (p.field().to_owned(), p.kind()))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "issuers[0].leeway_secs",
            "issuers[1].issuer",
            "issuers[2].issuer",
            "issuers[2].jwks_uri",
            "leeway_secs",
            "max_token_bytes",
            "required_scopes[1]",
            "resource",
        ],
        "{errors}"
    );
    let kind = |field: &str| got.iter().find(|(f, _)| f == field).map(|(_, k)| *k);
    assert!(matches!(
        kind("issuers[0].leeway_secs"),
        Some(ProblemKind::InvalidProfile { .. })
    ));
    assert!(matches!(
        kind("issuers[1].issuer"),
        Some(ProblemKind::DuplicateIssuer { .. })
    ));
    assert!(matches!(
        kind("issuers[2].issuer"),
        Some(ProblemKind::InvalidIssuer { .. })
    ));
    assert!(matches!(
        kind("issuers[2].jwks_uri"),
        Some(ProblemKind::InvalidJwksUri { .. })
    ));
    assert!(matches!(
        kind("leeway_secs"),
        Some(ProblemKind::LeewayTooLarge { secs: 301 })
    ));
    assert!(matches!(
        kind("max_token_bytes"),
        Some(ProblemKind::InvalidMaxTokenLength)
    ));
    assert!(matches!(
        kind("required_scopes[1]"),
        Some(ProblemKind::InvalidScope { .. })
    ));
    assert!(matches!(
        kind("resource"),
        Some(ProblemKind::InvalidResource { .. })
    ));

    // From the environment, the same problems name the variables.
    let errors = problems(&env(&[
        ("MCP_AUTH_RESOURCE", "https://mcp.example.com/mcp"),
        ("MCP_AUTH_ISSUERS", "https://a.example.com"),
        ("MCP_AUTH_LEEWAY_SECS", "301"),
        ("MCP_AUTH_REQUIRED_SCOPES", "mcp:tools offline_access"),
    ]));
    assert_fields(
        &errors,
        &["MCP_AUTH_LEEWAY_SECS", "MCP_AUTH_REQUIRED_SCOPES"],
    );
    let leeway = errors
        .problems()
        .iter()
        .find(|p| p.field() == "MCP_AUTH_LEEWAY_SECS")
        .unwrap();
    assert_eq!(leeway.kind(), &ProblemKind::LeewayTooLarge { secs: 301 });
    assert_eq!(leeway.message(), "must be at most 300");
}

// ---------------------------------------------------------------------------------------------
// Secrets never show
// ---------------------------------------------------------------------------------------------

#[test]
fn debug_never_shows_the_client_secret() {
    let config = toml_config(DOCS_EXAMPLE);
    let debug = format!("{config:?}");
    assert!(!debug.contains(SECRET), "a secret in the config's Debug");
    let builder = config.into_builder().unwrap();
    assert!(
        !format!("{builder:?}").contains(SECRET),
        "a secret in the builder's Debug"
    );
    let auth = build(&config);
    assert!(
        !format!("{auth:?}").contains(SECRET),
        "a secret in McpAuth's Debug"
    );

    let env = env(&[
        ("MCP_AUTH_RESOURCE", "https://mcp.example.com/mcp"),
        ("MCP_AUTH_ISSUERS", "https://auth.example.com"),
        ("MCP_AUTH_INTROSPECTION_CLIENT_ID", "mcp-rs"),
        ("MCP_AUTH_INTROSPECTION_CLIENT_SECRET", SECRET),
        ("MCP_AUTH_LEEWAY_SECS", "not a number"),
    ]);
    assert!(!format!("{env:?}").contains(SECRET), "a secret in Debug");
    let errors = problems(&env);
    assert!(!errors.to_string().contains(SECRET));
    assert!(!format!("{errors:?}").contains(SECRET));
}

/// A secret given where a non-secret value belongs is still not repeated.
#[test]
fn problems_never_repeat_values() {
    let config = json_config(&format!(
        r#"{{
        "resource": "{SECRET}",
        "resource_name": 7,
        "issuers": [{{ "issuer": "{SECRET_TYPO}", "typ": "{SECRET_BAD_AUTH}" }}]
    }}"#
    ));
    let errors = problems(&config);
    assert_fields(
        &errors,
        &[
            "resource",
            "resource_name",
            "issuers[0].issuer",
            "issuers[0].typ",
        ],
    );
    let text = format!("{errors}\n{errors:?}");
    for secret in [SECRET, SECRET_TYPO, SECRET_BAD_AUTH] {
        assert!(!text.contains(secret), "a value repeated in a problem");
    }
}

// ---------------------------------------------------------------------------------------------
// Environment variables
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn complete_environment_builds_and_protects() {
    let issuer = TestIssuer::start().await;
    let opaque = "opaque-Zm9vYmFy-token";
    let introspection = start_introspection(
        opaque,
        json!({
            "active": true,
            "iss": issuer.issuer(),
            "aud": LOOPBACK_RESOURCE,
            "sub": "opaque-user",
            "client_id": "opaque-client",
            "scope": "mcp:tools",
            "token_type": "Bearer",
            "exp": unix_now() + 600,
        }),
    )
    .await;
    let vars = vec![
        ("PATH".to_owned(), "/usr/bin".to_owned()),
        (
            "RESOURCE".to_owned(),
            "https://ignored.example.com".to_owned(),
        ),
        ("MCPAUTH_FROBNICATE".to_owned(), "ignored".to_owned()),
        ("MCP_AUTH_RESOURCE".to_owned(), LOOPBACK_RESOURCE.to_owned()),
        ("MCP_AUTH_ISSUERS".to_owned(), issuer.issuer().to_owned()),
        ("MCP_AUTH_ALLOW_HTTP_LOOPBACK".to_owned(), "true".to_owned()),
        (
            "MCP_AUTH_SCOPES_SUPPORTED".to_owned(),
            "mcp:tools, mcp:admin mcp:write,mcp:read".to_owned(),
        ),
        (
            "MCP_AUTH_REQUIRED_SCOPES".to_owned(),
            "mcp:tools".to_owned(),
        ),
        (
            "MCP_AUTH_TOOL_SCOPES".to_owned(),
            "deploy=mcp:write,whoami=mcp:read".to_owned(),
        ),
        (
            "MCP_AUTH_SCOPE_IMPLIES".to_owned(),
            "mcp:admin=mcp:tools mcp:read;mcp:write=mcp:read".to_owned(),
        ),
        ("MCP_AUTH_LEEWAY_SECS".to_owned(), "120".to_owned()),
        ("MCP_AUTH_REQUIRE_AT_JWT".to_owned(), "0".to_owned()),
        (
            "MCP_AUTH_KEEP_AUTHORIZATION_HEADER".to_owned(),
            "yes".to_owned(),
        ),
        ("MCP_AUTH_CHECK_HOST".to_owned(), "off".to_owned()),
        ("MCP_AUTH_VERIFY_JWTS".to_owned(), "true".to_owned()),
        ("MCP_AUTH_JWKS_URI".to_owned(), issuer.jwks_uri()),
        (
            "MCP_AUTH_INTROSPECTION_ENDPOINT".to_owned(),
            introspection.url.clone(),
        ),
        (
            "MCP_AUTH_INTROSPECTION_CLIENT_ID".to_owned(),
            "mcp-rs".to_owned(),
        ),
        (
            "MCP_AUTH_INTROSPECTION_CLIENT_SECRET".to_owned(),
            SECRET.to_owned(),
        ),
        (
            "MCP_AUTH_INTROSPECTION_CLIENT_AUTH".to_owned(),
            "client_secret_post".to_owned(),
        ),
        (
            "MCP_AUTH_INTROSPECTION_CACHE_MAX_AGE_SECS".to_owned(),
            "30".to_owned(),
        ),
        ("MCP_AUTH_TOKEN_CACHE_ENABLED".to_owned(), "1".to_owned()),
        ("MCP_AUTH_TOKEN_CACHE_CAPACITY".to_owned(), "500".to_owned()),
        (
            "MCP_AUTH_TOKEN_CACHE_MAX_AGE_SECS".to_owned(),
            "120".to_owned(),
        ),
    ];
    let auth = build(&McpAuthConfig::from_env_vars(vars.clone()));
    assert_eq!(auth.resource(), LOOPBACK_RESOURCE);
    assert_eq!(auth.metadata().authorization_servers, [issuer.issuer()]);
    assert_eq!(
        auth.metadata().scopes_supported,
        ["mcp:tools", "mcp:admin", "mcp:write", "mcp:read"]
    );
    auth.prefetch().await.unwrap();
    assert_eq!(
        issuer.metadata_fetches(),
        0,
        "MCP_AUTH_JWKS_URI skips discovery"
    );

    let jwt = |scope: &str| {
        issuer
            .token()
            .audience(LOOPBACK_RESOURCE)
            .scope(scope)
            .sign()
    };
    let status = |token: String, message: Value| {
        let auth = auth.clone();
        async move { call(&auth, Some(&token), &message).await.status.as_u16() }
    };
    // Required scope, and what implies it.
    assert_eq!(status(jwt("mcp:tools"), tools_list()).await, 200);
    assert_eq!(status(jwt("mcp:admin"), tools_list()).await, 200);
    assert_eq!(status(jwt("mcp:read"), tools_list()).await, 403);
    // Tool scopes `deploy=mcp:write,whoami=mcp:read`.
    assert_eq!(status(jwt("mcp:tools"), tools_call("deploy")).await, 403);
    assert_eq!(
        status(jwt("mcp:tools mcp:write"), tools_call("deploy")).await,
        200
    );
    assert_eq!(status(jwt("mcp:tools"), tools_call("whoami")).await, 403);
    assert_eq!(
        status(jwt("mcp:tools mcp:read"), tools_call("whoami")).await,
        200
    );
    // `mcp:write` implies `mcp:read`; `mcp:admin` implies both `mcp:tools` and `mcp:read`.
    assert_eq!(
        status(jwt("mcp:tools mcp:write"), tools_call("whoami")).await,
        200
    );
    assert_eq!(status(jwt("mcp:admin"), tools_call("whoami")).await, 200);
    assert_eq!(status(jwt("mcp:admin"), tools_call("deploy")).await, 403);
    // Leeway 120 s.
    let expired = |secs: i64| {
        issuer
            .token()
            .audience(LOOPBACK_RESOURCE)
            .scope("mcp:tools")
            .expires_in(secs)
            .sign()
    };
    assert_eq!(status(expired(-90), tools_list()).await, 200);
    assert_eq!(status(expired(-250), tools_list()).await, 401);
    // `MCP_AUTH_REQUIRE_AT_JWT=0`: `typ: JWT` access tokens are accepted.
    let typed_jwt = issuer
        .token()
        .audience(LOOPBACK_RESOURCE)
        .scope("mcp:tools")
        .header("typ", "JWT")
        .sign();
    assert_eq!(status(typed_jwt, tools_list()).await, 200);
    // `MCP_AUTH_KEEP_AUTHORIZATION_HEADER=yes`: the handler sees the header.
    let answer = call(&auth, Some(&jwt("mcp:tools")), &tools_list()).await;
    assert_eq!(answer.body["authorization_header"], true);
    // `MCP_AUTH_CHECK_HOST=off`: a foreign `Host` passes; with `on` it does not.
    let mut request = rpc(Some(&jwt("mcp:tools")), &tools_list());
    request
        .headers_mut()
        .insert("host", "evil.example.com".parse().unwrap());
    assert_eq!(send(&auth, request).await.status, 200);
    let mut checked = vars.clone();
    for (name, value) in &mut checked {
        if name == "MCP_AUTH_CHECK_HOST" {
            *value = "on".to_owned();
        }
    }
    let checking = build(&McpAuthConfig::from_env_vars(checked));
    let mut request = rpc(Some(&jwt("mcp:tools")), &tools_list());
    request
        .headers_mut()
        .insert("host", "evil.example.com".parse().unwrap());
    assert_eq!(send(&checking, request).await.status, 403);

    // An opaque token goes to the introspection endpoint, with client_secret_post.
    assert!(introspection.requests.lock().unwrap().is_empty());
    let answer = call(&auth, Some(opaque), &tools_list()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.reason);
    assert_eq!(answer.body["verified"]["sub"], "opaque-user");
    assert_eq!(answer.body["verified"]["client_id"], "opaque-client");
    let answer = call(&auth, Some("opaque-revoked-token"), &tools_list()).await;
    assert_eq!(answer.status, 401);
    let requests = introspection.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "one introspection per unknown token");
    for (authorization, body) in &requests {
        assert!(authorization.is_none(), "client_secret_post, not basic");
        assert!(body.contains("client_id=mcp-rs"), "client id in the form");
        assert!(
            body.contains(&format!("client_secret={SECRET}")),
            "the client secret in the form"
        );
    }
    // Cached: asking again does not introspect again.
    assert_eq!(call(&auth, Some(opaque), &tools_list()).await.status, 200);
    assert_eq!(introspection.requests.lock().unwrap().len(), 2);
}

#[test]
fn environment_problems_name_their_variables_all_at_once() {
    let config = env(&[
        ("MCP_AUTH_LEEWAY_SECS", "abc"),
        ("MCP_AUTH_ALLOW_HTTP_LOOPBACK", "maybe"),
        ("MCP_AUTH_FROBNICATE", "1"),
        (
            "MCP_AUTH_ISSUERS",
            "https://a.example.com https://b.example.com",
        ),
        ("MCP_AUTH_JWKS_URI", "https://a.example.com/jwks"),
        ("PATH", "/usr/bin"),
        ("RESOURCE", "https://mcp.example.com/mcp"),
        ("XMCP_AUTH_RESOURCE", "https://mcp.example.com/mcp"),
    ]);
    let errors = problems(&config);
    let got = fields(&errors);
    for variable in [
        "MCP_AUTH_LEEWAY_SECS",
        "MCP_AUTH_ALLOW_HTTP_LOOPBACK",
        "MCP_AUTH_FROBNICATE",
        "MCP_AUTH_JWKS_URI",
    ] {
        assert!(got.iter().any(|f| f == variable), "{variable}:\n{errors}");
    }
    assert_fields(
        &errors,
        &[
            "MCP_AUTH_LEEWAY_SECS",
            "MCP_AUTH_ALLOW_HTTP_LOOPBACK",
            "MCP_AUTH_FROBNICATE",
            "MCP_AUTH_JWKS_URI",
            "MCP_AUTH_RESOURCE",
        ],
    );
    let frobnicate = errors
        .problems()
        .iter()
        .find(|p| p.field() == "MCP_AUTH_FROBNICATE")
        .unwrap();
    assert!(
        frobnicate.message().contains("not a known variable"),
        "{frobnicate}"
    );
}

/// A variable that is required but absent is named as the variable to set, like a present
/// one: `MCP_AUTH_RESOURCE`, not the document field `resource`.
#[test]
fn missing_variables_are_named_by_variable() {
    let errors = problems(&env(&[("MCP_AUTH_REQUIRED_SCOPES", "mcp:tools")]));
    assert_fields(&errors, &["MCP_AUTH_RESOURCE", "MCP_AUTH_ISSUERS"]);

    let errors = problems(&env(&[
        ("MCP_AUTH_RESOURCE", "https://mcp.example.com/mcp"),
        ("MCP_AUTH_ISSUERS", "https://auth.example.com"),
        ("MCP_AUTH_INTROSPECTION_CLIENT_SECRET", SECRET),
    ]));
    assert_fields(&errors, &["MCP_AUTH_INTROSPECTION_CLIENT_ID"]);
}

#[test]
fn environment_value_problems_name_their_variables() {
    let errors = problems(&env(&[
        ("MCP_AUTH_RESOURCE", "http://mcp.example.com/mcp"),
        ("MCP_AUTH_ISSUERS", "https://auth.example.com"),
        ("MCP_AUTH_VERIFY_JWTS", "perhaps"),
        ("MCP_AUTH_INTROSPECTION_CLIENT_ID", "mcp-rs"),
        ("MCP_AUTH_INTROSPECTION_CLIENT_SECRET", SECRET),
        ("MCP_AUTH_INTROSPECTION_CLIENT_AUTH", "private_key_jwt"),
        ("MCP_AUTH_INTROSPECTION_CACHE_MAX_AGE_SECS", "0"),
        ("MCP_AUTH_INTROSPECTION_CACHE_MAX_BYTES", "0"),
        ("MCP_AUTH_TOKEN_CACHE_CAPACITY", "0"),
        ("MCP_AUTH_TOKEN_CACHE_MAX_BYTES", "0"),
        ("MCP_AUTH_TOKEN_CACHE_ENABLED", "sometimes"),
        ("MCP_AUTH_MAX_TOKEN_BYTES", "-5"),
        ("MCP_AUTH_ALGORITHMS", "RS256,XS999"),
        ("MCP_AUTH_SCOPE_CLAIMS", "scp roles"),
        ("MCP_AUTH_TOOL_SCOPES", "deploy=mcp:write"),
    ]));
    assert_fields(
        &errors,
        &[
            "MCP_AUTH_RESOURCE",
            "MCP_AUTH_VERIFY_JWTS",
            "MCP_AUTH_INTROSPECTION_CLIENT_AUTH",
            "MCP_AUTH_INTROSPECTION_CACHE_MAX_AGE_SECS",
            "MCP_AUTH_INTROSPECTION_CACHE_MAX_BYTES",
            "MCP_AUTH_TOKEN_CACHE_CAPACITY",
            "MCP_AUTH_TOKEN_CACHE_MAX_BYTES",
            "MCP_AUTH_TOKEN_CACHE_ENABLED",
            "MCP_AUTH_MAX_TOKEN_BYTES",
            "MCP_AUTH_ALGORITHMS",
        ],
    );
    assert!(!errors.to_string().contains(SECRET));
}

/// Every variable the module docs list is known (a wrong value is another problem).
#[test]
fn every_documented_variable_is_known() {
    let variables = [
        "MCP_AUTH_RESOURCE",
        "MCP_AUTH_ISSUERS",
        "MCP_AUTH_SCOPES_SUPPORTED",
        "MCP_AUTH_REQUIRED_SCOPES",
        "MCP_AUTH_SCOPE_IMPLIES",
        "MCP_AUTH_TOOL_SCOPES",
        "MCP_AUTH_PROMPT_SCOPES",
        "MCP_AUTH_RESOURCE_SCOPES",
        "MCP_AUTH_RESOURCE_PREFIX_SCOPES",
        "MCP_AUTH_METHOD_SCOPES",
        "MCP_AUTH_ANONYMOUS_METHODS",
        "MCP_AUTH_AUDIENCES",
        "MCP_AUTH_ALGORITHMS",
        "MCP_AUTH_LEEWAY_SECS",
        "MCP_AUTH_REQUIRE_AT_JWT",
        "MCP_AUTH_SCOPE_CLAIMS",
        "MCP_AUTH_MAX_TOKEN_BYTES",
        "MCP_AUTH_MAX_BODY_BYTES",
        "MCP_AUTH_ALLOW_HTTP_LOOPBACK",
        "MCP_AUTH_KEEP_AUTHORIZATION_HEADER",
        "MCP_AUTH_ERROR_ON_MISSING_TOKEN",
        "MCP_AUTH_CHECK_HOST",
        "MCP_AUTH_ALLOWED_ORIGIN_HOSTS",
        "MCP_AUTH_RESOURCE_NAME",
        "MCP_AUTH_RESOURCE_DOCUMENTATION",
        "MCP_AUTH_TOKEN_CACHE_ENABLED",
        "MCP_AUTH_TOKEN_CACHE_CAPACITY",
        "MCP_AUTH_TOKEN_CACHE_MAX_AGE_SECS",
        "MCP_AUTH_TOKEN_CACHE_MAX_BYTES",
        "MCP_AUTH_JWKS_URI",
        "MCP_AUTH_VERIFY_JWTS",
        "MCP_AUTH_INTROSPECTION_ENDPOINT",
        "MCP_AUTH_INTROSPECTION_CLIENT_ID",
        "MCP_AUTH_INTROSPECTION_CLIENT_SECRET",
        "MCP_AUTH_INTROSPECTION_CLIENT_AUTH",
        "MCP_AUTH_INTROSPECTION_ALLOW_MISSING_AUDIENCE",
        "MCP_AUTH_INTROSPECTION_CACHE_MAX_AGE_SECS",
        "MCP_AUTH_INTROSPECTION_CACHE_MAX_BYTES",
    ];
    let mut vars: Vec<(&str, &str)> = variables.iter().map(|v| (*v, "%")).collect();
    // One issuer, so that the issuer variables apply.
    for (name, value) in &mut vars {
        if *name == "MCP_AUTH_ISSUERS" {
            *value = "https://auth.example.com";
        }
    }
    let errors = problems(&env(&vars));
    let unknown: Vec<String> = errors
        .problems()
        .iter()
        .filter(|p| p.message().contains("not a known"))
        .map(|p| p.to_string())
        .collect();
    assert!(unknown.is_empty(), "documented but unknown: {unknown:?}");
    for problem in errors.problems() {
        assert!(
            problem.field().starts_with(ENV_PREFIX),
            "a problem not named by its variable: {problem}"
        );
    }
}

#[test]
fn a_minimal_environment_builds() {
    let auth = build(&env(&[
        ("MCP_AUTH_RESOURCE", "https://mcp.example.com/mcp"),
        (
            "MCP_AUTH_ISSUERS",
            "https://a.example.com,https://b.example.com https://c.example.com",
        ),
    ]));
    assert_eq!(
        auth.metadata().authorization_servers,
        [
            "https://a.example.com",
            "https://b.example.com",
            "https://c.example.com"
        ]
    );
}

/// `from_env` reads the real process environment. Setting variables in this multi-threaded
/// test binary would race other tests (and needs `unsafe`), so the test runs itself again as a
/// child process with the variables set; the child is [`from_env_in_child`].
#[test]
fn from_env_reads_the_process_environment() {
    for scenario in ["valid", "broken"] {
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command.args([
            "from_env_in_child",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ]);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with(ENV_PREFIX) {
                command.env_remove(name);
            }
        }
        command.env("CONFIG_TEST_FROM_ENV_SCENARIO", scenario);
        if scenario == "valid" {
            command
                .env("MCP_AUTH_RESOURCE", "https://mcp.example.com/mcp")
                .env(
                    "MCP_AUTH_ISSUERS",
                    "https://auth.example.com https://login.example.com",
                )
                .env("MCP_AUTH_SCOPES_SUPPORTED", "mcp:tools mcp:admin");
        } else {
            command
                .env("MCP_AUTH_RESOURCE", "https://mcp.example.com/mcp")
                .env("MCP_AUTH_ISSUERS", "https://auth.example.com")
                .env("MCP_AUTH_LEEWAY_SECS", "abc")
                .env("MCP_AUTH_FROBNICATE", "1");
        }
        let output = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{scenario}: {}\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("1 passed"),
            "{scenario}: the child ran no test:\n{stdout}"
        );
    }
}

#[test]
#[ignore = "run by from_env_reads_the_process_environment in a child process"]
fn from_env_in_child() {
    let scenario = std::env::var("CONFIG_TEST_FROM_ENV_SCENARIO").unwrap();
    let config = McpAuthConfig::from_env();
    match scenario.as_str() {
        "valid" => {
            let auth = build(&config);
            assert_eq!(
                auth.metadata().authorization_servers,
                ["https://auth.example.com", "https://login.example.com"]
            );
            assert_eq!(auth.metadata().scopes_supported, ["mcp:tools", "mcp:admin"]);
        }
        "broken" => {
            assert_fields(
                &problems(&config),
                &["MCP_AUTH_LEEWAY_SECS", "MCP_AUTH_FROBNICATE"],
            );
        }
        other => panic!("unknown scenario {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

#[test]
fn config_types_are_send_sync_clone_and_errors_are_std_errors() {
    fn send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    fn error<T: std::error::Error + Send + Sync + 'static>() {}
    send_sync_clone::<McpAuthConfig>();
    send_sync_clone::<ConfigError>();
    error::<ConfigError>();
    // Boxes into the usual error types.
    let boxed: Box<dyn std::error::Error + Send + Sync> =
        Box::new(problems(&McpAuthConfig::default()));
    assert!(boxed.to_string().contains("configuration problem"));
}

/// `token_cache` reaches the layer: with the cache off, a token seen before is verified again
/// (no cache hit); with it on, the second request is a hit. Observed through the `metrics`
/// counters, with a recorder local to this thread.
#[cfg(feature = "metrics")]
#[test]
fn token_cache_settings_reach_the_layer() {
    use mcp_server_auth::observe::counters;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    /// Cache hits when the same token is sent twice through the configuration `make` builds.
    fn hits(make: impl FnOnce(&TestIssuer) -> McpAuthConfig) -> u64 {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let issuer = TestIssuer::start().await;
                    let auth = build(&make(&issuer));
                    auth.prefetch().await.unwrap();
                    let token = issuer
                        .token()
                        .audience(LOOPBACK_RESOURCE)
                        .scope("mcp:tools")
                        .sign();
                    for _ in 0..2 {
                        let answer = call(&auth, Some(&token), &tools_list()).await;
                        assert_eq!(answer.status, 200);
                    }
                });
        });
        snapshotter
            .snapshot()
            .into_vec()
            .iter()
            .filter(|(key, _, _, _)| {
                let key = key.key();
                key.name() == counters::CACHE_LOOKUPS
                    && key
                        .labels()
                        .any(|l| l.key() == "outcome" && l.value() == "hit")
            })
            .map(|(_, _, _, value)| match value {
                DebugValue::Counter(n) => *n,
                _ => 0,
            })
            .sum()
    }
    let document = |issuer: &TestIssuer, cache: &str| {
        toml_config(&format!(
            r#"
            resource = "{LOOPBACK_RESOURCE}"
            allow_http_loopback = true
            required_scopes = ["mcp:tools"]
            token_cache = {cache}
            [[issuers]]
            issuer = "{}"
            "#,
            issuer.issuer()
        ))
    };
    let variables = |issuer: &TestIssuer, enabled: &str| {
        env(&[
            ("MCP_AUTH_RESOURCE", LOOPBACK_RESOURCE),
            ("MCP_AUTH_ALLOW_HTTP_LOOPBACK", "1"),
            ("MCP_AUTH_ISSUERS", issuer.issuer()),
            ("MCP_AUTH_REQUIRED_SCOPES", "mcp:tools"),
            ("MCP_AUTH_TOKEN_CACHE_ENABLED", enabled),
            ("MCP_AUTH_TOKEN_CACHE_CAPACITY", "16"),
        ])
    };
    assert_eq!(hits(|i| document(i, "{ enabled = false }")), 0, "file, off");
    assert_eq!(
        hits(|i| document(i, "{ enabled = true, capacity = 16, max_age_secs = 60 }")),
        1,
        "file, on"
    );
    assert_eq!(hits(|i| variables(i, "false")), 0, "environment, off");
    assert_eq!(hits(|i| variables(i, "true")), 1, "environment, on");
}

/// `introspection.allow_missing_audience` reaches the issuer: an answer without `aud` is
/// refused by default and accepted with the setting, from a file and from the environment;
/// a value that is not a boolean is a problem.
#[tokio::test]
async fn allow_missing_audience_reaches_the_introspection() {
    let opaque = "opaque-without-aud";
    let introspection = start_introspection(
        opaque,
        json!({
            "active": true,
            "client_id": "opaque-client",
            "scope": "mcp:tools",
            "exp": unix_now() + 600,
        }),
    )
    .await;
    let issuer = "http://127.0.0.1:1";
    let file = |setting: &str| {
        toml_config(&format!(
            r#"
            resource = "{LOOPBACK_RESOURCE}"
            allow_http_loopback = true
            [[issuers]]
            issuer = "{issuer}"
            verify_jwts = false
            introspection = {{ client_id = "mcp-rs", client_secret = "{SECRET}", endpoint = "{}" {setting} }}
            "#,
            introspection.url
        ))
    };
    let variables = |allow: Option<&str>| {
        let mut vars = vec![
            ("MCP_AUTH_RESOURCE", LOOPBACK_RESOURCE),
            ("MCP_AUTH_ALLOW_HTTP_LOOPBACK", "1"),
            ("MCP_AUTH_ISSUERS", issuer),
            ("MCP_AUTH_VERIFY_JWTS", "false"),
            (
                "MCP_AUTH_INTROSPECTION_ENDPOINT",
                introspection.url.as_str(),
            ),
            ("MCP_AUTH_INTROSPECTION_CLIENT_ID", "mcp-rs"),
            ("MCP_AUTH_INTROSPECTION_CLIENT_SECRET", SECRET),
        ];
        if let Some(allow) = allow {
            vars.push(("MCP_AUTH_INTROSPECTION_ALLOW_MISSING_AUDIENCE", allow));
        }
        env(&vars)
    };
    let cases = [
        ("file, default", file(""), 401),
        ("file, false", file(", allow_missing_audience = false"), 401),
        ("file, true", file(", allow_missing_audience = true"), 200),
        ("environment, default", variables(None), 401),
        ("environment, false", variables(Some("false")), 401),
        ("environment, true", variables(Some("true")), 200),
    ];
    for (name, config, status) in cases {
        let answer = call(&build(&config), Some(opaque), &tools_list()).await;
        assert_eq!(answer.status, status, "{name}");
        if status == 200 {
            assert_eq!(answer.body["verified"]["client_id"], "opaque-client");
        } else {
            assert_eq!(answer.reason, Some("missing_claim"), "{name}");
        }
    }

    assert_fields(
        &problems(&file(r#", allow_missing_audience = "yes""#)),
        &["issuers[0].introspection.allow_missing_audience"],
    );
    assert_fields(
        &problems(&variables(Some("sometimes"))),
        &["MCP_AUTH_INTROSPECTION_ALLOW_MISSING_AUDIENCE"],
    );
}

/// `token_cache.max_bytes` reaches the validator: with a bound of 1 MiB, 40 tokens of 12 KiB
/// are not all kept (the default bound would keep them all), and what they count stays under
/// it; from a file and from the environment.
#[tokio::test]
async fn token_cache_max_bytes_reaches_the_validator() {
    const BOUND: u64 = 1024 * 1024;
    let issuer = TestIssuer::start().await;
    let groups: Vec<String> = (0..230)
        .map(|i| format!("{i:08x}-7c1e-4b5a-9f3d-0123456789ab"))
        .collect();
    let tokens: Vec<String> = (0..40)
        .map(|i| {
            issuer
                .token()
                .audience(LOOPBACK_RESOURCE)
                .subject(format!("user-{i}"))
                .claim("groups", json!(groups))
                .sign()
        })
        .collect();
    let file = toml_config(&format!(
        r#"
        resource = "{LOOPBACK_RESOURCE}"
        allow_http_loopback = true
        token_cache = {{ max_bytes = {BOUND} }}
        [[issuers]]
        issuer = "{}"
        "#,
        issuer.issuer()
    ));
    let bound = BOUND.to_string();
    let variables = env(&[
        ("MCP_AUTH_RESOURCE", LOOPBACK_RESOURCE),
        ("MCP_AUTH_ALLOW_HTTP_LOOPBACK", "1"),
        ("MCP_AUTH_ISSUERS", issuer.issuer()),
        ("MCP_AUTH_TOKEN_CACHE_MAX_BYTES", &bound),
    ]);
    for (name, config) in [("file", file), ("environment", variables)] {
        let auth = build(&config);
        auth.prefetch().await.unwrap();
        let validator = auth.validator();
        for token in &tokens {
            assert!(token.len() >= 12 * 1024);
            validator.validate(token, unix_now()).unwrap();
            assert!(validator.cached_bytes().unwrap() <= BOUND, "{name}");
        }
        let cached = validator.cached_tokens().unwrap();
        assert!((1..40).contains(&cached), "{name}: {cached} cached");
    }
}

/// A scope map entry naming no scope would leave its tool without a scope of its own: a
/// problem, never a silently dropped requirement.
#[test]
fn an_empty_scope_entry_is_a_problem() {
    let config = toml_config(
        r#"
        resource = "https://mcp.example.com/mcp"
        tool_scopes = { admin_reset = [] }
        [[issuers]]
        issuer = "https://auth.example.com"
        "#,
    );
    assert_fields(&problems(&config), &["tool_scopes.admin_reset"]);
    // The same typo from the environment (`:` for `=`).
    let env = env(&[
        ("MCP_AUTH_RESOURCE", "https://mcp.example.com/mcp"),
        ("MCP_AUTH_ISSUERS", "https://auth.example.com"),
        ("MCP_AUTH_TOOL_SCOPES", "admin_reset:mcp:admin"),
    ]);
    assert_fields(&problems(&env), &["MCP_AUTH_TOOL_SCOPES"]);
}

#[test]
fn a_present_requirement_is_read_and_checked() {
    let config = toml_config(
        r#"
        resource = "https://mcp.example.com/mcp"
        [[issuers]]
        issuer = "https://auth.example.com"
        required_claims = [{ claim = "azp", present = true }]
        "#,
    );
    assert!(config.build().is_ok());
    let config = toml_config(
        r#"
        resource = "https://mcp.example.com/mcp"
        [[issuers]]
        issuer = "https://auth.example.com"
        required_claims = [
            { claim = "azp", present = false },
            { claim = "azp", present = true, equals = "x" },
        ]
        "#,
    );
    assert_fields(
        &problems(&config),
        &[
            "issuers[0].required_claims[0].present",
            "issuers[0].required_claims[1].claim",
        ],
    );
}

#[tokio::test]
async fn body_bounds_and_the_root_metadata_copy_come_from_a_document_and_variables() {
    let issuer = TestIssuer::start().await;
    let document = json_config(
        &json!({
            "resource": LOOPBACK_RESOURCE,
            "allow_http_loopback": true,
            "issuers": [{ "issuer": issuer.issuer(), "jwks_uri": issuer.jwks_uri() }],
            "required_scopes": "mcp:tools",
            "tool_scopes": { "admin_reset": "mcp:admin" },
            "body_read_timeout_secs": 1,
            "max_buffered_bytes": 10,
            "root_metadata": true,
        })
        .to_string(),
    );
    let variables = env(&[
        ("MCP_AUTH_RESOURCE", LOOPBACK_RESOURCE),
        ("MCP_AUTH_ALLOW_HTTP_LOOPBACK", "true"),
        ("MCP_AUTH_ISSUERS", issuer.issuer()),
        ("MCP_AUTH_JWKS_URI", &issuer.jwks_uri()),
        ("MCP_AUTH_REQUIRED_SCOPES", "mcp:tools"),
        ("MCP_AUTH_TOOL_SCOPES", "admin_reset=mcp:admin"),
        ("MCP_AUTH_BODY_READ_TIMEOUT_SECS", "1"),
        ("MCP_AUTH_MAX_BUFFERED_BYTES", "10"),
        ("MCP_AUTH_ROOT_METADATA", "true"),
    ]);
    let token = issuer
        .token()
        .audience(LOOPBACK_RESOURCE)
        .scope("mcp:tools")
        .sign();
    for config in [document, variables] {
        let auth = build(&config);
        auth.prefetch().await.unwrap();
        // The root copy is served.
        let origin = LOOPBACK_RESOURCE.trim_end_matches("/mcp");
        let root = Request::get(format!("{origin}/.well-known/oauth-protected-resource"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let answer = send(&auth, root).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["resource"], LOOPBACK_RESOURCE);
        // A body read for the per-operation rules does not fit the 10-byte budget: 503 at once.
        let answer = call(&auth, Some(&token), &tools_call("echo")).await;
        assert_eq!(answer.status, 503);
    }
}

#[test]
fn zero_body_bounds_are_problems() {
    let config = toml_config(
        r#"
        resource = "https://mcp.example.com/mcp"
        body_read_timeout_secs = 0
        max_buffered_bytes = 0
        root_metadata = "yes"
        [[issuers]]
        issuer = "https://auth.example.com"
        "#,
    );
    assert_fields(
        &problems(&config),
        &[
            "body_read_timeout_secs",
            "max_buffered_bytes",
            "root_metadata",
        ],
    );
}
