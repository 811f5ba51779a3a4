//! An MCP server protected by a real authorization server: it trusts the keys your identity
//! provider publishes, found by discovery (RFC 8414 / OpenID Connect) or given as a JWKS URL.
//!
//! ```text
//! cargo run --example protected_server -- --issuer https://auth.example.com
//! cargo run --example protected_server -- --port 9000 \
//!     --resource https://mcp.example.com/mcp --bind 0.0.0.0 \
//!     --issuer https://login.example.com/tenant --jwks-uri https://login.example.com/keys
//! cargo run --example protected_server -- --config server.toml --port 9000
//! cargo run --example protected_server -- --help
//! ```
//!
//! `--config <file>` replaces the flags describing the authorization: the file (TOML, or JSON
//! when its name ends in `.json`) is an [`McpAuthConfig`](mcp_server_auth::config::McpAuthConfig),
//! so it can also configure token introspection, per-issuer profiles and everything else the
//! builder offers. Every problem in it is reported at once, with its field.
//!
//! Once listening it prints exactly two lines on standard output, which scripts may parse:
//!
//! ```text
//! listening on http://127.0.0.1:8080/mcp
//! metadata: http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp
//! ```
//!
//! The server holds its own line against slow or stalled clients: request headers must arrive
//! within `--header-read-timeout-secs` (default 10), bodies the layer reads within
//! `--body-read-timeout-secs` (default 10), and on SIGTERM or Ctrl-C it stops accepting, lets
//! requests in flight finish, and exits after `--shutdown-timeout-secs` (default 10) whatever
//! is still open.
//!
//! Everything else (configuration summary, warnings, logs) goes to standard error. Invalid flags
//! or configuration exit with code 2 and a one-line message (a `--config` file's problems are
//! listed one per line after it); a failure to listen exits with 1.
//!
//! # What is where
//!
//! * The MCP server is an rmcp [`StreamableHttpService`] in stateless JSON mode, nested at
//!   `/mcp` in an axum [`Router`] that [`McpAuth::layer`] wraps whole: the layer serves the
//!   protected resource metadata (RFC 9728) and refuses requests without a valid bearer token
//!   (401 with a `WWW-Authenticate` challenge naming the metadata, 403 without the endpoint
//!   scope, 503 with `Retry-After` while the authorization server's keys cannot be had).
//! * Per-tool scopes (`--tool-scope tool=scope`, each one
//!   [`McpAuthBuilder::tool_scope`](mcp_server_auth::McpAuthBuilder::tool_scope)) are enforced
//!   by the layer as well: a `tools/call` of that tool with a token lacking the scope gets HTTP
//!   403 `insufficient_scope`, whose `WWW-Authenticate` challenge names the scopes to ask for
//!   (step-up authorization); the tool never runs. The MCP server itself checks no scope.
//! * Keys are loaded at start-up ([`McpAuth::prefetch`]). If the authorization server is
//!   unreachable the server says so on standard error and starts anyway: requests get 503
//!   until the keys load, then it recovers by itself.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use http::request::Parts;
use mcp_server_auth::cache::TokenCacheConfig;
use mcp_server_auth::config::McpAuthConfig;
use mcp_server_auth::introspect::Introspection;
use mcp_server_auth::{McpAuth, VerifiedToken};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

#[path = "common/serve.rs"]
mod serve;

const DEFAULT_PORT: u16 = 8080;
const DEFAULT_SCOPE: &str = "mcp:tools";
const DEFAULT_TOOL_SCOPE: (&str, &str) = ("admin_reset", "mcp:admin");
/// Where the MCP endpoint is mounted.
const MCP_PATH: &str = "/mcp";

const USAGE: &str = "usage: protected_server --issuer <url> [--issuer <url>]... [options]
       protected_server --config <file> [--port <n>] [--bind <ip>] [server options]";

/// The variable holding the introspection client secret (never a flag: command lines are
/// visible to every user of the machine).
const INTROSPECTION_SECRET_VAR: &str = "MCP_AUTH_INTROSPECTION_CLIENT_SECRET";

const HELP: &str = "\
An MCP server that accepts only access tokens from the given authorization server(s).

usage: protected_server --issuer <url> [--issuer <url>]... [options]
       protected_server --config <file> [--port <n>] [--bind <ip>] [server options]

Options:
  --issuer <url>             An authorization server to trust (repeatable, at least one; the
                             first is the primary). Tokens must carry it in `iss`, byte for byte.
                             Its keys are found by RFC 8414 / OpenID Connect discovery.
  --jwks-uri <url>           Fetch the keys from this URL instead of discovering it (only with
                             exactly one --issuer).
  --port <n>                 Port to listen on (default 8080; 0 picks a free port).
  --bind <ip>                Address to listen on (default 127.0.0.1), e.g. 0.0.0.0.
  --resource <url>           The resource identifier: the URL clients use, and the `aud` tokens
                             must carry (default http://<bind ip>:<port>/mcp, 127.0.0.1 when
                             bound to all interfaces). Must be https unless it is loopback and
                             --allow-http-loopback is given. The MCP endpoint is served at /mcp
                             whatever its path: put a proxy in front to map it.
  --scope <scope>            The scope every request needs (default mcp:tools).
  --no-scope                 Require no scope of every request (only --tool-scope ones).
  --tool-scope <tool>=<scope>
                             An extra scope calling a tool needs (repeatable; default
                             admin_reset=mcp:admin when none is given). Without it the call
                             gets HTTP 403 insufficient_scope with a step-up challenge.
                             Tools: whoami, echo, admin_reset.
  --anonymous-method <method>
                             A JSON-RPC method callable without a token, such as initialize
                             (repeatable; default none). A token presented is still checked.
  --introspection-client-id <id>
                             Also accept opaque tokens of the (one) --issuer, checked by RFC 7662
                             introspection with this client id; the secret is read from
                             MCP_AUTH_INTROSPECTION_CLIENT_SECRET (no secret: no client
                             authentication). JWTs are still verified with the issuer's keys.
  --introspection-endpoint <url>
                             The introspection endpoint (default: from the issuer's metadata).
  --introspection-allow-missing-audience
                             Accept introspection answers without `aud` (see
                             Introspection::allow_missing_audience for what this weakens).
  --max-body-bytes <n>       The largest body read for per-tool scopes (default 1048576).
  --body-read-timeout-secs <n>
                             Time allowed for a body the layer reads (default 10): 408 after.
  --max-buffered-bytes <n>   Body bytes held at once across all requests (default 67108864):
                             503 with Retry-After beyond.
  --token-cache-max-bytes <n>
                             Bytes the verified-token cache may hold (default 67108864).
  --root-metadata            Also serve the metadata at /.well-known/oauth-protected-resource
                             (for clients that look only there; strict clients may reject it).
  --allow-http-loopback      Allow http:// URLs on loopback hosts (127.0.0.1, localhost, [::1])
                             for the resource, the issuers and the JWKS URL. Development only.
  --config <file>            Read the authorization settings from a file instead (TOML, or JSON
                             if the name ends in .json; see mcp_server_auth::config): resource,
                             issuers, introspection, profiles, scopes, the options above. Only
                             --port, --bind and the server options combine with it.
  -h, --help                 Show this help.

Server options:
  --header-read-timeout-secs <n>
                             Time a client has to send its request headers (default 10).
  --shutdown-timeout-secs <n>
                             After SIGTERM or Ctrl-C, time requests in flight have to finish
                             before the server exits anyway (default 10).

Flags taking a value also accept --flag=value.

On start it prints `listening on http://<addr>/mcp`, then `metadata: <url>`, on standard
output. Set RUST_LOG=mcp_server_auth=debug to see why requests are refused.
";

// ---------------------------------------------------------------------------------------------
// Command line.
// ---------------------------------------------------------------------------------------------

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    bind: IpAddr,
    port: u16,
    resource: Option<String>,
    issuers: Vec<String>,
    jwks_uri: Option<String>,
    scope: String,
    /// Tool name → the scopes calling it needs on top of `scope`, in the order given; each
    /// becomes a [`McpAuthBuilder::tool_scope`](mcp_server_auth::McpAuthBuilder::tool_scope).
    tool_scopes: BTreeMap<String, Vec<String>>,
    allow_http_loopback: bool,
    /// Require no scope of every request.
    no_scope: bool,
    anonymous_methods: Vec<String>,
    introspection: Option<IntrospectionOptions>,
    max_body_bytes: Option<usize>,
    body_read_timeout: Option<Duration>,
    max_buffered_bytes: Option<usize>,
    token_cache_max_bytes: Option<usize>,
    root_metadata: bool,
    /// A configuration file replacing the authorization flags.
    config: Option<PathBuf>,
    /// The server's own limits (they combine with `config`).
    limits: serve::Limits,
}

/// `--introspection-*`: introspect opaque tokens of the one issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IntrospectionOptions {
    client_id: String,
    endpoint: Option<String>,
    allow_missing_audience: bool,
}

#[derive(Debug)]
enum Command {
    Run(Box<Options>),
    Help,
}

/// Parses the arguments (without the program name). `Err` is a one-line message.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let mut bind = None;
    let mut port = None;
    let mut resource = None;
    let mut issuers = Vec::new();
    let mut jwks_uri = None;
    let mut scope = None;
    let mut tool_scopes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut allow_http_loopback = false;
    let mut config = None;
    let mut no_scope = false;
    let mut anonymous_methods = Vec::new();
    let mut introspection_client_id = None;
    let mut introspection_endpoint = None;
    let mut allow_missing_audience = false;
    let mut max_body_bytes = None;
    let mut body_read_timeout = None;
    let mut max_buffered_bytes = None;
    let mut token_cache_max_bytes = None;
    let mut root_metadata = false;
    let mut header_read_timeout = None;
    let mut shutdown_timeout = None;
    // Flags that describe the authorization, which a `--config` file replaces.
    let mut auth_flags: Vec<String> = Vec::new();

    while let Some(arg) = args.next() {
        // `--flag=value` or `--flag value`.
        let (flag, mut inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        let mut value = || -> Result<String, String> {
            if let Some(value) = inline.take() {
                return Ok(value);
            }
            match args.next() {
                Some(value) if !value.starts_with("--") => Ok(value),
                _ => Err(format!("{flag} needs a value")),
            }
        };
        let no_value = |inline: &Option<String>| match inline {
            Some(_) => Err(format!("{flag} takes no value")),
            None => Ok(()),
        };
        if !matches!(
            flag.as_str(),
            "-h" | "--help"
                | "--port"
                | "--bind"
                | "--config"
                | "--header-read-timeout-secs"
                | "--shutdown-timeout-secs"
        ) && flag.starts_with("--")
            && !auth_flags.contains(&flag)
        {
            auth_flags.push(flag.clone());
        }
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--no-scope" => {
                no_value(&inline)?;
                no_scope = true;
            }
            "--anonymous-method" => anonymous_methods.push(value()?),
            "--introspection-client-id" => set_once(
                &mut introspection_client_id,
                value()?,
                "--introspection-client-id",
            )?,
            "--introspection-endpoint" => set_once(
                &mut introspection_endpoint,
                value()?,
                "--introspection-endpoint",
            )?,
            "--introspection-allow-missing-audience" => {
                no_value(&inline)?;
                allow_missing_audience = true;
            }
            "--root-metadata" => {
                no_value(&inline)?;
                root_metadata = true;
            }
            "--max-body-bytes" => {
                set_once(
                    &mut max_body_bytes,
                    count(&flag, &value()?)?,
                    "--max-body-bytes",
                )?;
            }
            "--max-buffered-bytes" => set_once(
                &mut max_buffered_bytes,
                count(&flag, &value()?)?,
                "--max-buffered-bytes",
            )?,
            "--token-cache-max-bytes" => set_once(
                &mut token_cache_max_bytes,
                count(&flag, &value()?)?,
                "--token-cache-max-bytes",
            )?,
            "--body-read-timeout-secs" => set_once(
                &mut body_read_timeout,
                seconds(&flag, &value()?)?,
                "--body-read-timeout-secs",
            )?,
            "--header-read-timeout-secs" => set_once(
                &mut header_read_timeout,
                seconds(&flag, &value()?)?,
                "--header-read-timeout-secs",
            )?,
            "--shutdown-timeout-secs" => set_once(
                &mut shutdown_timeout,
                seconds(&flag, &value()?)?,
                "--shutdown-timeout-secs",
            )?,
            "--port" => {
                let text = value()?;
                let parsed = text.parse::<u16>().map_err(|_| {
                    format!("invalid --port `{text}`: expected a number from 0 to 65535")
                })?;
                set_once(&mut port, parsed, "--port")?;
            }
            "--bind" => {
                let text = value()?;
                let unbracketed = text
                    .strip_prefix('[')
                    .and_then(|t| t.strip_suffix(']'))
                    .unwrap_or(&text);
                let parsed = unbracketed.parse::<IpAddr>().map_err(|_| {
                    format!(
                        "invalid --bind `{text}`: expected an IP address such as 127.0.0.1 or \
                         0.0.0.0 (set the port with --port)"
                    )
                })?;
                set_once(&mut bind, parsed, "--bind")?;
            }
            "--resource" => set_once(&mut resource, value()?, "--resource")?,
            "--issuer" => issuers.push(value()?),
            "--jwks-uri" => set_once(&mut jwks_uri, value()?, "--jwks-uri")?,
            "--config" => set_once(&mut config, PathBuf::from(value()?), "--config")?,
            "--scope" => set_once(&mut scope, value()?, "--scope")?,
            "--tool-scope" => {
                let text = value()?;
                let (tool, tool_scope) = text
                    .split_once('=')
                    .filter(|(tool, scope)| !tool.is_empty() && !scope.is_empty())
                    .ok_or_else(|| {
                        format!(
                            "invalid --tool-scope `{text}`: expected <tool>=<scope>, such as \
                             admin_reset=mcp:admin"
                        )
                    })?;
                if !ProtectedServer::tool_router().has_route(tool) {
                    return Err(format!(
                        "invalid --tool-scope `{text}`: no tool named `{tool}` (tools: {})",
                        tool_names().join(", ")
                    ));
                }
                let scopes = tool_scopes.entry(tool.to_owned()).or_default();
                if !scopes.iter().any(|s| s == tool_scope) {
                    scopes.push(tool_scope.to_owned());
                }
            }
            "--allow-http-loopback" => {
                if inline.is_some() {
                    return Err("--allow-http-loopback takes no value".to_owned());
                }
                allow_http_loopback = true;
            }
            other if other.starts_with('-') => return Err(format!("unknown flag `{other}`")),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }

    if config.is_some() {
        if !auth_flags.is_empty() {
            return Err(format!(
                "--config replaces {}: put them in the file (only --port, --bind, \
                 --header-read-timeout-secs and --shutdown-timeout-secs combine with it)",
                auth_flags.join(", ")
            ));
        }
    } else if issuers.is_empty() {
        return Err("at least one --issuer <url> (or --config <file>) is required".to_owned());
    }
    if jwks_uri.is_some() && issuers.len() != 1 {
        return Err(format!(
            "--jwks-uri needs exactly one --issuer, got {}: it would not say whose keys it holds",
            issuers.len()
        ));
    }
    if no_scope && scope.is_some() {
        return Err("--no-scope and --scope contradict each other: give one".to_owned());
    }
    if introspection_client_id.is_some() && issuers.len() != 1 {
        return Err(format!(
            "--introspection-client-id needs exactly one --issuer, got {}: opaque tokens name \
             no issuer, so they can go to one only",
            issuers.len()
        ));
    }
    if introspection_client_id.is_none()
        && (introspection_endpoint.is_some() || allow_missing_audience)
    {
        return Err(
            "--introspection-endpoint and --introspection-allow-missing-audience need \
             --introspection-client-id"
                .to_owned(),
        );
    }
    if tool_scopes.is_empty() {
        let (tool, scope) = DEFAULT_TOOL_SCOPE;
        tool_scopes.insert(tool.to_owned(), vec![scope.to_owned()]);
    }
    Ok(Command::Run(Box::new(Options {
        bind: bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        port: port.unwrap_or(DEFAULT_PORT),
        resource,
        issuers,
        jwks_uri,
        scope: scope.unwrap_or_else(|| DEFAULT_SCOPE.to_owned()),
        tool_scopes,
        allow_http_loopback,
        no_scope,
        anonymous_methods,
        introspection: introspection_client_id.map(|client_id| IntrospectionOptions {
            client_id,
            endpoint: introspection_endpoint,
            allow_missing_audience,
        }),
        max_body_bytes,
        body_read_timeout,
        max_buffered_bytes,
        token_cache_max_bytes,
        root_metadata,
        config,
        limits: serve::Limits {
            header_read_timeout: header_read_timeout
                .unwrap_or(serve::Limits::default().header_read_timeout),
            shutdown_timeout: shutdown_timeout.unwrap_or(serve::Limits::default().shutdown_timeout),
        },
    })))
}

/// A whole number of bytes, at least 1.
fn count(flag: &str, text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("invalid {flag} `{text}`: expected a whole number of at least 1"))
}

/// A whole number of seconds, at least 1.
fn seconds(flag: &str, text: &str) -> Result<Duration, String> {
    text.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| {
            format!("invalid {flag} `{text}`: expected a whole number of seconds, at least 1")
        })
}

fn set_once<T>(slot: &mut Option<T>, value: T, flag: &str) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("{flag} given more than once"));
    }
    *slot = Some(value);
    Ok(())
}

fn tool_names() -> Vec<String> {
    ProtectedServer::tool_router()
        .list_all()
        .into_iter()
        .map(|tool| tool.name.into_owned())
        .collect()
}

impl Options {
    /// The resource identifier when the server listens on `port`.
    fn resource(&self, port: u16) -> String {
        if let Some(resource) = &self.resource {
            return resource.clone();
        }
        // Bound to all interfaces: clients on this machine reach it through loopback.
        let host = if self.bind.is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            self.bind
        };
        format!("http://{}{MCP_PATH}", SocketAddr::new(host, port))
    }

    /// The endpoint scope, then each tool scope once.
    fn scopes_supported(&self) -> Vec<String> {
        let mut scopes = if self.no_scope {
            Vec::new()
        } else {
            vec![self.scope.clone()]
        };
        for scope in self.tool_scopes.values().flatten() {
            if !scopes.contains(scope) {
                scopes.push(scope.clone());
            }
        }
        scopes
    }

    /// The auth configuration of the `--config` file; every problem in one message.
    fn load_config(path: &Path) -> Result<McpAuth, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let config: McpAuthConfig = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        } else {
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        };
        config
            .build()
            .map_err(|errors| format!("invalid configuration in {}: {errors}", path.display()))
    }

    /// The auth configuration for `resource`. No I/O.
    fn build_auth(&self, resource: &str) -> Result<McpAuth, mcp_server_auth::ConfigError> {
        let mut builder = McpAuth::builder(resource);
        for issuer in &self.issuers {
            builder = match &self.jwks_uri {
                Some(jwks_uri) => builder.authorization_server_with_jwks_uri(issuer, jwks_uri),
                None => builder.authorization_server(issuer),
            };
        }
        // The layer answers a `tools/call` lacking a tool's scope with 403 and a step-up
        // challenge: the MCP server never sees it.
        for (tool, scopes) in &self.tool_scopes {
            for scope in scopes {
                builder = builder.tool_scope(tool, scope);
            }
        }
        if let Some(introspection) = &self.introspection {
            // A missing secret means no client authentication, never an empty secret.
            let mut settings = match std::env::var(INTROSPECTION_SECRET_VAR) {
                Ok(secret) if !secret.is_empty() => {
                    Introspection::new(&introspection.client_id, secret)
                }
                _ => Introspection::without_client_authentication(),
            };
            if let Some(endpoint) = &introspection.endpoint {
                settings = settings.endpoint(endpoint);
            }
            settings = settings.allow_missing_audience(introspection.allow_missing_audience);
            if let Some(issuer) = self.issuers.first() {
                builder = builder.introspection(issuer, settings);
            }
        }
        if !self.no_scope {
            builder = builder.require_scope(&self.scope);
        }
        for method in &self.anonymous_methods {
            builder = builder.allow_anonymous(method);
        }
        if let Some(bytes) = self.max_body_bytes {
            builder = builder.max_body_bytes(bytes);
        }
        if let Some(timeout) = self.body_read_timeout {
            builder = builder.body_read_timeout(timeout);
        }
        if let Some(bytes) = self.max_buffered_bytes {
            builder = builder.max_buffered_bytes(bytes);
        }
        if let Some(bytes) = self.token_cache_max_bytes {
            builder = builder.token_cache(TokenCacheConfig::new().max_bytes(bytes));
        }
        // Tool scopes are not published on their own: list them with the endpoint scope.
        builder
            .scopes_supported(self.scopes_supported())
            .root_metadata(self.root_metadata)
            .allow_http_loopback(self.allow_http_loopback)
            .build()
    }
}

/// A configuration error on one line: the problem, or each problem with its setting.
fn one_line(error: &mcp_server_auth::ConfigError) -> String {
    match error.problems() {
        [_] => error.to_string(),
        problems => problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// Reports a command-line or configuration problem: one line, a usage hint, exit code 2.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    eprintln!("{USAGE}\n(run with --help for all options)");
    ExitCode::from(2)
}

// ---------------------------------------------------------------------------------------------
// The MCP server: three tools.
// ---------------------------------------------------------------------------------------------

/// The MCP server. rmcp builds one per request in stateless mode, so it holds no state beyond
/// its tool table. It checks no scope: the layer did, endpoint and per-tool alike.
#[derive(Clone)]
struct ProtectedServer {
    tool_router: ToolRouter<Self>,
}

/// Arguments of the `echo` tool.
#[derive(Debug, Deserialize, JsonSchema)]
struct EchoArgs {
    /// The text to send back.
    text: String,
}

/// The token the auth layer verified for this request. The layer wraps every route, so a
/// request without one never gets here; should the server be wired differently, answer with an
/// error instead of panicking.
fn verified_token(parts: &Parts) -> Result<&VerifiedToken, ErrorData> {
    VerifiedToken::from_extensions(&parts.extensions).ok_or_else(|| {
        ErrorData::internal_error("no verified token: the auth layer does not wrap /mcp", None)
    })
}

#[tool_router]
impl ProtectedServer {
    fn new() -> Self {
        ProtectedServer {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Who is calling: the subject, client, issuer and scopes of the token")]
    async fn whoami(
        &self,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let token = verified_token(&parts)?;
        let identity = json!({
            "sub": token.subject(),
            "client_id": token.client_id(),
            "iss": token.issuer(),
            "scopes": token.scopes(),
        });
        Ok(CallToolResult::success(vec![ContentBlock::text(
            identity.to_string(),
        )]))
    }

    #[tool(description = "Send back the given text")]
    async fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
        text
    }

    /// No scope check here: the layer refuses a call lacking its `--tool-scope` (by default
    /// `mcp:admin`) with HTTP 403 before it gets here.
    #[tool(description = "Reset the server (pretend). Needs the mcp:admin scope by default")]
    async fn admin_reset(&self) -> String {
        "reset done (nothing was actually reset: this is a demo)".to_owned()
    }
}

#[tool_handler(router = self.tool_router, name = "mcp-server-auth-protected-server", version = "0.1.0")]
impl ServerHandler for ProtectedServer {}

// ---------------------------------------------------------------------------------------------
// Wiring.
// ---------------------------------------------------------------------------------------------

#[tokio::main]
async fn main() -> ExitCode {
    // Logs go to standard error: standard output carries only the two start-up lines.
    // `RUST_LOG=mcp_server_auth=debug` shows why each request was refused.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();

    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Run(options)) => options,
        Ok(Command::Help) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(message) => return usage_error(&message),
    };

    if let Some(path) = options.config.clone() {
        return match Options::load_config(&path) {
            Ok(auth) => serve(&options, auth).await,
            Err(message) => usage_error(&message),
        };
    }

    if options.resource.is_none() && !options.allow_http_loopback {
        return usage_error(&format!(
            "the default resource {} is plain http: add --allow-http-loopback for local \
             development, or give an https --resource",
            options.resource(options.port)
        ));
    }

    // Check the configuration before binding, so that a mistake is reported as such even when
    // the port is taken. With `--port 0` the default resource changes once the port is known.
    let auth = match options.build_auth(&options.resource(options.port)) {
        Ok(auth) => auth,
        Err(error) => {
            return usage_error(&format!("invalid configuration: {}", one_line(&error)));
        }
    };

    serve(&options, auth).await
}

/// Listens, prints the two lines scripts read, and serves until a signal. With the flags (not
/// `--config`) and `--port 0`, the default resource is rebuilt once the port is known.
async fn serve(options: &Options, mut auth: McpAuth) -> ExitCode {
    let requested = SocketAddr::new(options.bind, options.port);
    let listener = match tokio::net::TcpListener::bind(requested).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {requested}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("error: cannot read the listening address: {error}");
            return ExitCode::FAILURE;
        }
    };
    let resource = match options.config {
        Some(_) => auth.resource().to_owned(),
        None => options.resource(addr.port()),
    };
    if options.config.is_none() && options.resource.is_none() && addr.port() != options.port {
        auth = match options.build_auth(&resource) {
            Ok(auth) => auth,
            Err(error) => {
                return usage_error(&format!("invalid configuration: {}", one_line(&error)));
            }
        };
    }

    eprintln!("resource: {resource}");
    eprintln!(
        "authorization servers: {}",
        auth.metadata().authorization_servers.join(" ")
    );
    if let Some(jwks_uri) = &options.jwks_uri {
        eprintln!("jwks uri: {jwks_uri}");
    }
    eprintln!("scopes: {}", auth.metadata().scopes_supported.join(" "));

    match auth.prefetch().await {
        Ok(()) => eprintln!("signing keys loaded"),
        Err(error) => {
            // Start anyway: the layer answers 503 with Retry-After until the keys load, and
            // keeps trying.
            let reason = error.to_string().replace(['\r', '\n'], " ");
            eprintln!(
                "warning: {reason}; serving anyway: requests get 503 until the keys can be loaded"
            );
        }
    }

    let app = router(options, &resource, &auth);
    let shutdown = shutdown_signal();
    {
        // Not `println!`: should nobody read standard output any more, keep serving.
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on http://{addr}{MCP_PATH}");
        let _ = writeln!(stdout, "metadata: {}", auth.metadata_url());
        let _ = stdout.flush();
    }

    match serve::serve(listener, app, options.limits, shutdown).await {
        serve::Stopped::Drained => eprintln!("stopped"),
        serve::Stopped::DeadlinePassed => eprintln!(
            "stopped: connections still open after {} s were closed",
            options.limits.shutdown_timeout.as_secs()
        ),
    }
    ExitCode::SUCCESS
}

/// The MCP service at `/mcp`, with the auth layer around the whole router.
fn router(options: &Options, resource: &str, auth: &McpAuth) -> Router {
    // rmcp refuses `Host` headers it does not know (DNS rebinding protection): allow loopback,
    // the resource's host and the address bound, so that the server answers under the name
    // clients use.
    let mut allowed_hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(host) = resource
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.host().map(str::to_owned))
    {
        allowed_hosts.push(host);
    }
    if !options.bind.is_unspecified() {
        allowed_hosts.push(options.bind.to_string());
    }

    // Stateless JSON mode: every POST is answered on its own with `application/json`.
    let mcp = StreamableHttpService::new(
        || Ok(ProtectedServer::new()),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_allowed_hosts(allowed_hosts),
    );

    // The layer goes on the outermost router, so it sees full paths: it serves the metadata
    // itself and protects every route.
    Router::new()
        .nest_service(MCP_PATH, mcp)
        .layer(auth.layer())
}

/// Resolves on Ctrl-C (SIGINT, or SIGTERM on Unix). The handlers are installed when this is
/// called, not when the future is first polled: call it before announcing the server, so that a
/// signal sent as soon as `listening on` appears is not lost (the default action would kill the
/// process). Should no handler be available, never resolves.
#[cfg(unix)]
fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        let wait = |signal: std::io::Result<tokio::signal::unix::Signal>| async move {
            match signal {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(interrupt) => {}
            () = wait(terminate) => {}
        }
        eprintln!("shutting down");
    }
}

/// Resolves on Ctrl-C. Should no handler be available, never resolves.
#[cfg(not(unix))]
fn shutdown_signal() -> impl Future<Output = ()> {
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        eprintln!("shutting down");
    }
}
