//! Configuration as data: an [`McpAuth`] described in a file (TOML, JSON, YAML: any serde
//! format) or in environment variables, checked all at once.
//!
//! [`McpAuthConfig`] deserializes from any self-describing serde format. Nothing is checked
//! while deserializing (apart from the document being a map), so that
//! [`build`](McpAuthConfig::build) can report **every** problem at once in one
//! [`ConfigError`], each with the path of its field (`issuers[1].introspection.client_secret`)
//! or, for [`from_env`](McpAuthConfig::from_env), the name of its variable. Unknown fields are
//! problems too: a typo never silently drops a setting.
//!
//! The reader maps each field to the [`McpAuthBuilder`] setter in the table below and checks
//! only the form of values (types, names, required fields); the setters and
//! [`McpAuthBuilder::build`] check the values, and their problems are named by the field that
//! fed them.
//!
//! ```toml
//! resource = "https://mcp.example.com/mcp"
//! scopes_supported = ["mcp:tools", "mcp:admin"]
//! required_scopes = ["mcp:tools"]
//! tool_scopes = { admin_reset = "mcp:admin" }
//! scope_implies = { "mcp:admin" = ["mcp:tools"] }
//! leeway_secs = 30
//!
//! [[issuers]]                      # keys found by discovery
//! issuer = "https://login.microsoftonline.com/7f0c.../v2.0"
//! jwks_uri = "https://login.microsoftonline.com/7f0c.../discovery/v2.0/keys"   # optional
//! audiences = ["6e1f4c2a-..."]     # aliases accepted for this issuer only
//! typ = "lenient"                  # or "strict" (at+jwt only)
//! scope_claims = ["scp", { name = "roles", format = "array" }]
//! client_id_claims = ["azp"]
//! required_claims = [{ claim = "tid", equals = "7f0c..." }, { claim = "groups", contains = "staff" }]
//!
//! [[issuers]]                      # opaque tokens, checked by RFC 7662 introspection
//! issuer = "https://auth.example.com"
//! verify_jwts = false              # no keys: introspect every token of this issuer
//! introspection = { client_id = "mcp-rs", client_secret = "...", client_auth = "client_secret_post" }
//! ```
//!
//! Every field and variable:
//!
//! | field | type | variable | builder method |
//! |---|---|---|---|
//! | `resource` (required) | string | `MCP_AUTH_RESOURCE` | [`McpAuth::builder`] |
//! | `issuers` (at least one) | list of issuer tables | `MCP_AUTH_ISSUERS` (space- or comma-separated issuer URLs) | |
//! | `scopes_supported` | list | `MCP_AUTH_SCOPES_SUPPORTED` | [`scopes_supported`](McpAuthBuilder::scopes_supported) |
//! | `required_scopes` | list | `MCP_AUTH_REQUIRED_SCOPES` | [`require_scope`](McpAuthBuilder::require_scope) |
//! | `scope_implies` | table: scope → list | `MCP_AUTH_SCOPE_IMPLIES` (`a=b c;d=e`) | [`scope_implies`](McpAuthBuilder::scope_implies) |
//! | `tool_scopes`, `prompt_scopes`, `resource_scopes`, `resource_prefix_scopes`, `method_scopes` | table: name → scope or list | `MCP_AUTH_TOOL_SCOPES` … (`name=scope,name=scope`) | [`tool_scope`](McpAuthBuilder::tool_scope) … |
//! | `anonymous_methods` | list | `MCP_AUTH_ANONYMOUS_METHODS` | [`allow_anonymous`](McpAuthBuilder::allow_anonymous) |
//! | `audiences` | list | `MCP_AUTH_AUDIENCES` | [`add_audience`](McpAuthBuilder::add_audience) |
//! | `algorithms` | list of names | `MCP_AUTH_ALGORITHMS` | [`algorithms`](McpAuthBuilder::algorithms) |
//! | `leeway_secs` | integer | `MCP_AUTH_LEEWAY_SECS` | [`leeway`](McpAuthBuilder::leeway) |
//! | `require_at_jwt` | bool | `MCP_AUTH_REQUIRE_AT_JWT` | [`require_at_jwt`](McpAuthBuilder::require_at_jwt) |
//! | `scope_claims` | list | `MCP_AUTH_SCOPE_CLAIMS` | [`scope_claims`](McpAuthBuilder::scope_claims) |
//! | `max_token_bytes`, `max_body_bytes` | integer | `MCP_AUTH_MAX_TOKEN_BYTES`, `MCP_AUTH_MAX_BODY_BYTES` | |
//! | `body_read_timeout_secs`, `max_buffered_bytes` | integer | `MCP_AUTH_BODY_READ_TIMEOUT_SECS`, `MCP_AUTH_MAX_BUFFERED_BYTES` | [`body_read_timeout`](McpAuthBuilder::body_read_timeout), [`max_buffered_bytes`](McpAuthBuilder::max_buffered_bytes) |
//! | `root_metadata` | bool | `MCP_AUTH_ROOT_METADATA` | [`root_metadata`](McpAuthBuilder::root_metadata) |
//! | `allow_http_loopback` | bool | `MCP_AUTH_ALLOW_HTTP_LOOPBACK` | [`allow_http_loopback`](McpAuthBuilder::allow_http_loopback) |
//! | `keep_authorization_header`, `error_on_missing_token`, `check_host` | bool | `MCP_AUTH_KEEP_AUTHORIZATION_HEADER`, … | |
//! | `allowed_origin_hosts` | list | `MCP_AUTH_ALLOWED_ORIGIN_HOSTS` | [`add_allowed_origin_host`](McpAuthBuilder::add_allowed_origin_host) |
//! | `resource_name`, `resource_documentation` | string | `MCP_AUTH_RESOURCE_NAME`, `MCP_AUTH_RESOURCE_DOCUMENTATION` | |
//! | `token_cache` | `{ enabled, capacity, max_age_secs, max_bytes }` | `MCP_AUTH_TOKEN_CACHE_ENABLED`, `_CAPACITY`, `_MAX_AGE_SECS`, `_MAX_BYTES` | [`token_cache`](McpAuthBuilder::token_cache) |
//!
//! An issuer table: `issuer` (required), `jwks_uri`, `verify_jwts` (default `true`: keys from
//! discovery or `jwks_uri`), `audiences`, `typ` (`lenient`/`strict`), `scope_claims`, `scope_prefix`,
//! `client_id_claims`, `leeway_secs`, `required_claims` (`{ claim, equals }`,
//! `{ claim, contains }` or `{ claim, present = true }`), `introspection` (`endpoint`, `client_id`, `client_secret`,
//! `client_auth`: `client_secret_basic` (default), `client_secret_post` or `none`,
//! `timeout_secs`, `allow_missing_audience` (default `false`; read
//! [what it weakens](crate::introspect::Introspection::allow_missing_audience) first), `cache`:
//! as `token_cache`). With one issuer, the variables `MCP_AUTH_JWKS_URI`,
//! `MCP_AUTH_VERIFY_JWTS` and `MCP_AUTH_INTROSPECTION_ENDPOINT`, `_CLIENT_ID`,
//! `_CLIENT_SECRET`, `_CLIENT_AUTH`, `_ALLOW_MISSING_AUDIENCE`, `_CACHE_MAX_AGE_SECS`,
//! `_CACHE_MAX_BYTES` configure it.
//!
//! [Policy checks](crate::profile::IssuerProfile::policy) are code, not data: take
//! [`into_builder`](McpAuthConfig::into_builder) and add them there.
//!
//! ```
//! use mcp_server_auth::config::McpAuthConfig;
//! use mcp_server_auth::error::ProblemKind;
//!
//! let config: McpAuthConfig = serde_json::from_str(r#"{
//!     "resource": "https://mcp.example.com/mcp",
//!     "issuers": [{ "issuer": "https://auth.example.com" }],
//!     "required_scopes": ["mcp:tools"]
//! }"#)?;
//! let auth = config.build()?;
//! assert_eq!(auth.metadata().authorization_servers, ["https://auth.example.com"]);
//!
//! // Every problem at once, with its field.
//! let config: McpAuthConfig = serde_json::from_str(r#"{
//!     "resource": "http://mcp.example.com/mcp",
//!     "issuers": [{ "issuer": "https://auth.example.com", "leeway_secs": "60" }],
//!     "leway_secs": 30
//! }"#)?;
//! let error = config.build().unwrap_err();
//! let mut fields: Vec<&str> = error.problems().iter().map(|p| p.field()).collect();
//! fields.sort();
//! assert_eq!(fields, ["issuers[0].leeway_secs", "leway_secs", "resource"]);
//!
//! // What the builder finds is named by the field that fed it.
//! let config: McpAuthConfig = serde_json::from_str(r#"{
//!     "resource": "https://mcp.example.com/mcp",
//!     "issuers": [{ "issuer": "https://auth.example.com" }],
//!     "required_scopes": ["mcp:tools", "offline_access"]
//! }"#)?;
//! let error = config.build().unwrap_err();
//! let problem = &error.problems()[0];
//! assert_eq!(problem.field(), "required_scopes[1]");
//! assert!(matches!(problem.kind(), ProblemKind::InvalidScope { .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::error::{ConfigError, Problem};
use crate::{McpAuth, McpAuthBuilder};

mod document;
mod env;
mod reader;

/// The prefix of every environment variable [`McpAuthConfig::from_env`] reads.
pub const ENV_PREFIX: &str = "MCP_AUTH_";

/// An [`McpAuth`] configuration as data; see the [module docs](self). `Debug` never shows
/// client secrets.
#[derive(Clone, Default)]
pub struct McpAuthConfig {
    document: Map<String, Value>,
    /// For a configuration from the environment: field path → variable name.
    variables: HashMap<String, String>,
    /// Problems found while reading the environment.
    env_problems: Vec<Problem>,
    /// Whether this came from the environment: values are strings, problems name variables.
    from_env: bool,
    /// The HTTP client for the issuers' keys and introspection ([`McpAuthConfig::fetcher`]).
    #[cfg(feature = "remote")]
    fetcher: Option<std::sync::Arc<dyn crate::fetch::Fetch>>,
}

impl fmt::Debug for McpAuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpAuthConfig")
            .field("fields", &self.document.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<'de> Deserialize<'de> for McpAuthConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(McpAuthConfig {
            document: Map::deserialize(deserializer)?,
            variables: HashMap::new(),
            env_problems: Vec::new(),
            from_env: false,
            #[cfg(feature = "remote")]
            fetcher: None,
        })
    }
}

impl McpAuthConfig {
    /// The HTTP client ([`crate::fetch`]) for the keys and introspection of the configured
    /// issuers, as [`McpAuthBuilder::fetcher`]. Defaults to `ReqwestFetcher` with the
    /// `reqwest` feature; without it, a configuration with issuers needs one
    /// ([`build`](Self::build) fails otherwise).
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    #[must_use]
    pub fn fetcher(mut self, fetcher: impl crate::fetch::Fetch) -> Self {
        self.fetcher = Some(std::sync::Arc::new(fetcher));
        self
    }

    /// Checks the configuration and builds the [`McpAuth`].
    ///
    /// # Errors
    /// A [`ConfigError`] with every problem found, each named by its field or variable.
    pub fn build(&self) -> Result<McpAuth, ConfigError> {
        self.read().map(|(_, auth)| auth)
    }

    /// Checks the configuration and returns the builder it describes, to add what data cannot
    /// say (policy checks, your own key sources) before building.
    ///
    /// # Errors
    /// A [`ConfigError`] with every problem found, each named by its field or variable: the
    /// same as [`build`](Self::build).
    pub fn into_builder(&self) -> Result<McpAuthBuilder, ConfigError> {
        self.read().map(|(builder, _)| builder)
    }

    /// Feeds every field to its setter, then builds once to find what the builder refuses.
    fn read(&self) -> Result<(McpAuthBuilder, McpAuth), ConfigError> {
        let mut reader =
            reader::Reader::new(self.env_problems.clone(), &self.variables, self.from_env);
        #[cfg_attr(not(feature = "remote"), allow(unused_mut))]
        let mut builder = reader.top(&self.document);
        #[cfg(feature = "remote")]
        if let Some(fetcher) = &self.fetcher {
            builder = builder.fetcher(std::sync::Arc::clone(fetcher));
        }
        match builder.clone().build() {
            Ok(auth) if reader.problems.is_empty() => return Ok((builder, auth)),
            Ok(_) => {}
            Err(error) => reader.add_builder_problems(error),
        }
        Err(ConfigError::all(reader.problems).listed())
    }
}
