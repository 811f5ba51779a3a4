//! Configuration as data: an [`McpAuth`] described in a file (TOML, JSON, YAML: any serde
//! format) or in environment variables, checked all at once.
//!
//! [`McpAuthConfig`] deserializes from any self-describing serde format. Nothing is checked
//! while deserializing (apart from the document being a map), so that
//! [`build`](McpAuthConfig::build) can report **every** problem at once, each with the path of
//! its field (`issuers[1].introspection.client_secret`) or, for
//! [`from_env`](McpAuthConfig::from_env), the name of its variable. Unknown fields are
//! problems too: a typo never silently drops a setting.
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
//! let errors = config.build().unwrap_err();
//! let fields: Vec<&str> = errors.problems().iter().map(|p| p.field()).collect();
//! assert_eq!(fields, ["resource", "issuers[0].leeway_secs", "leway_secs"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::cache::TokenCacheConfig;
use crate::keys::Algorithm;
use crate::profile::{ClaimRequirement, IssuerProfile, ScopeClaim, ScopeFormat};
use crate::validate::TypPolicy;
use crate::{McpAuth, McpAuthBuilder};

/// The prefix of every environment variable [`McpAuthConfig::from_env`] reads.
pub const ENV_PREFIX: &str = "MCP_AUTH_";

/// One problem in a configuration: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    field: String,
    message: String,
}

impl Problem {
    /// The field's path (`issuers[0].leeway_secs`), or the environment variable's name.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong. Never contains the value, which may be a secret.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    problems: Vec<Problem>,
}

impl ConfigErrors {
    /// The problems, in the order of the fields.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        write!(
            f,
            "{count} configuration problem{}",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

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
        })
    }
}

impl McpAuthConfig {
    /// The configuration in the process environment's `MCP_AUTH_*` variables. Nothing is
    /// checked until [`build`](Self::build), which names variables in its problems.
    pub fn from_env() -> Self {
        let mut unreadable = Vec::new();
        let vars: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(name, value)| {
                let name = name.into_string().ok()?;
                match value.into_string() {
                    Ok(value) => Some((name, value)),
                    Err(_) => {
                        unreadable.push(name);
                        None
                    }
                }
            })
            .collect();
        let mut config = McpAuthConfig::from_env_vars(vars);
        for name in unreadable.into_iter().filter(|n| n.starts_with(ENV_PREFIX)) {
            config.env_problems.push(Problem {
                field: name,
                message: "is not valid UTF-8".to_owned(),
            });
        }
        config
    }

    /// As [`from_env`](Self::from_env), from the given variables (for tests and for
    /// environments kept elsewhere). Variables without the `MCP_AUTH_` prefix are ignored;
    /// unknown ones with it are problems.
    pub fn from_env_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut config = McpAuthConfig {
            from_env: true,
            ..McpAuthConfig::default()
        };
        let mut issuer = Map::new();
        let mut introspection = Map::new();
        let mut cache = Map::new();
        let mut issuer_vars: Vec<(String, String)> = Vec::new();
        let mut vars: Vec<(String, String)> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        vars.sort();
        for (name, value) in vars {
            let key = name
                .get(ENV_PREFIX.len()..)
                .unwrap_or_default()
                .to_ascii_lowercase();
            let text = Value::String(value.clone());
            let (field, target, value) = match key.as_str() {
                "resource" | "resource_name" | "resource_documentation" => {
                    (key.clone(), &mut config.document, text)
                }
                "leeway_secs"
                | "max_token_bytes"
                | "max_body_bytes"
                | "require_at_jwt"
                | "allow_http_loopback"
                | "keep_authorization_header"
                | "error_on_missing_token"
                | "check_host" => (key.clone(), &mut config.document, text),
                "scopes_supported"
                | "required_scopes"
                | "anonymous_methods"
                | "audiences"
                | "algorithms"
                | "scope_claims"
                | "allowed_origin_hosts" => (key.clone(), &mut config.document, list(&value)),
                "tool_scopes"
                | "prompt_scopes"
                | "resource_scopes"
                | "resource_prefix_scopes"
                | "method_scopes" => (key.clone(), &mut config.document, pairs(&value, ',')),
                "scope_implies" => (key.clone(), &mut config.document, pairs(&value, ';')),
                "token_cache_enabled"
                | "token_cache_capacity"
                | "token_cache_max_age_secs"
                | "token_cache_max_bytes" => {
                    let field = key.trim_start_matches("token_cache_").to_owned();
                    config
                        .variables
                        .insert(format!("token_cache.{field}"), name.clone());
                    cache.insert(field, text);
                    continue;
                }
                "issuers" => (key.clone(), &mut config.document, list(&value)),
                "jwks_uri" | "verify_jwts" => {
                    issuer_vars.push((key.clone(), name.clone()));
                    issuer.insert(key, text);
                    continue;
                }
                _ => match key.strip_prefix("introspection_") {
                    Some(field) => {
                        let field = match field {
                            "cache_max_age_secs" => "cache.max_age_secs",
                            "cache_max_bytes" => "cache.max_bytes",
                            other => other,
                        };
                        issuer_vars.push((format!("introspection.{field}"), name.clone()));
                        match field.strip_prefix("cache.") {
                            Some(inner) => {
                                if let Value::Object(cache) = introspection
                                    .entry("cache")
                                    .or_insert_with(|| Value::Object(Map::new()))
                                {
                                    cache.insert(inner.to_owned(), text);
                                }
                            }
                            None => {
                                introspection.insert(field.to_owned(), text);
                            }
                        }
                        continue;
                    }
                    None => (key.clone(), &mut config.document, text),
                },
            };
            config.variables.insert(field.clone(), name);
            target.insert(field, value);
        }
        if !cache.is_empty() {
            config
                .document
                .insert("token_cache".to_owned(), Value::Object(cache));
        }
        // Issuer settings apply to the one issuer; with several, they are problems.
        if !issuer.is_empty() || !introspection.is_empty() {
            if !introspection.is_empty() {
                issuer.insert("introspection".to_owned(), Value::Object(introspection));
            }
            let issuers = match config.document.remove("issuers") {
                Some(Value::Array(issuers)) => issuers,
                _ => Vec::new(),
            };
            if issuers.len() == 1 {
                let mut entry = issuer;
                if let Some(Value::String(id)) = issuers.into_iter().next() {
                    entry.insert("issuer".to_owned(), Value::String(id));
                }
                for (field, name) in issuer_vars {
                    config.variables.insert(format!("issuers[0].{field}"), name);
                }
                config.document.insert(
                    "issuers".to_owned(),
                    Value::Array(vec![Value::Object(entry)]),
                );
            } else {
                config.document.insert(
                    "issuers".to_owned(),
                    Value::Array(issuers.into_iter().map(issuer_entry).collect()),
                );
                for (_, name) in issuer_vars {
                    config.env_problems.push(Problem {
                        field: name,
                        message: "needs exactly one issuer in MCP_AUTH_ISSUERS".to_owned(),
                    });
                }
            }
        } else if let Some(Value::Array(issuers)) = config.document.remove("issuers") {
            config.document.insert(
                "issuers".to_owned(),
                Value::Array(issuers.into_iter().map(issuer_entry).collect()),
            );
        }
        if let Some(name) = config.variables.get("issuers").cloned() {
            for i in 0..config.issuer_count() {
                config
                    .variables
                    .entry(format!("issuers[{i}].issuer"))
                    .or_insert_with(|| name.clone());
            }
        }
        config
    }

    fn issuer_count(&self) -> usize {
        match self.document.get("issuers") {
            Some(Value::Array(issuers)) => issuers.len(),
            _ => 0,
        }
    }

    /// Checks the configuration and builds the [`McpAuth`].
    ///
    /// # Errors
    /// Every problem found, each with its field or variable.
    pub fn build(&self) -> Result<McpAuth, ConfigErrors> {
        let builder = self.into_builder()?;
        builder.build().map_err(|error| ConfigErrors {
            problems: vec![Problem {
                field: "(configuration)".to_owned(),
                message: error.to_string(),
            }],
        })
    }

    /// Checks the configuration and returns the builder it describes, to add what data cannot
    /// say (policy checks, your own key sources) before building.
    ///
    /// # Errors
    /// Every problem found, each with its field or variable.
    pub fn into_builder(&self) -> Result<McpAuthBuilder, ConfigErrors> {
        let mut reader = Reader {
            problems: self.env_problems.clone(),
            variables: &self.variables,
            from_env: self.from_env,
        };
        let builder = reader.top(&self.document);
        match builder {
            Some(builder) if reader.problems.is_empty() => Ok(builder),
            _ => {
                let mut problems = reader.problems;
                if problems.is_empty() {
                    problems.push(Problem {
                        field: "(configuration)".to_owned(),
                        message: "is not usable".to_owned(),
                    });
                }
                Err(ConfigErrors { problems })
            }
        }
    }
}

/// The variable a field comes from, for a field whose variable was not set.
fn variable_for(field: &str) -> String {
    let name = match field.strip_prefix("issuers[") {
        // A setting of the one issuer has a variable of its own; the issuer is in the list.
        Some(rest) => match rest.split_once("].") {
            Some((_, setting)) if setting != "issuer" => setting,
            _ => "issuers",
        },
        None => field,
    };
    // A list item or a map entry is named by its list's or map's variable.
    let name = name.split('[').next().unwrap_or(name);
    let name = match name.split_once('.') {
        Some((map, _)) if map.ends_with("_scopes") || map == "scope_implies" => map,
        _ => name,
    };
    format!(
        "{ENV_PREFIX}{}",
        name.replace('.', "_").to_ascii_uppercase()
    )
}

/// Whether `scope` is a scope token (RFC 6749 §3.3).
fn is_scope(scope: &str) -> bool {
    crate::rules::scope(scope).is_ok()
}

/// A list variable: items separated by spaces or commas.
fn list(value: &str) -> Value {
    Value::Array(
        value
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_owned()))
            .collect(),
    )
}

/// A map variable: `name=value` pairs separated by `separator`; values split like lists.
fn pairs(value: &str, separator: char) -> Value {
    let mut map = Map::new();
    for pair in value.split(separator).filter(|s| !s.trim().is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        map.insert(name.trim().to_owned(), list(value));
    }
    Value::Object(map)
}

fn issuer_entry(issuer: Value) -> Value {
    let mut entry = Map::new();
    entry.insert("issuer".to_owned(), issuer);
    Value::Object(entry)
}

/// Reads a document, recording every problem instead of stopping at the first.
struct Reader<'a> {
    problems: Vec<Problem>,
    variables: &'a HashMap<String, String>,
    /// Values from the environment are strings: numbers and booleans are parsed from them.
    from_env: bool,
}

/// One table being read: its path, its members, and which were read.
struct Table<'t> {
    path: String,
    members: &'t Map<String, Value>,
    read: Vec<&'static str>,
}

impl<'t> Table<'t> {
    fn new(path: String, members: &'t Map<String, Value>) -> Self {
        Table {
            path,
            members,
            read: Vec::new(),
        }
    }

    fn field(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    fn get(&mut self, name: &'static str) -> Option<(&'t Value, String)> {
        self.read.push(name);
        let value = self.members.get(name)?;
        Some((value, self.field(name)))
    }
}

impl Reader<'_> {
    fn problem(&mut self, field: &str, message: impl Into<String>) {
        let field = match self.variables.get(field) {
            Some(variable) => variable.clone(),
            None if self.from_env => variable_for(field),
            None => field.to_owned(),
        };
        self.problems.push(Problem {
            field,
            message: message.into(),
        });
    }

    /// Reports the members of `table` nobody read.
    fn finish(&mut self, table: &Table<'_>) {
        for name in table.members.keys() {
            if !table.read.contains(&name.as_str()) {
                let field = table.field(name);
                if self.variables.contains_key(&field) {
                    self.problem(&field, "is not a known variable");
                } else {
                    self.problem(&field, "is not a known field");
                }
            }
        }
    }

    fn string(&mut self, table: &mut Table<'_>, name: &'static str) -> Option<String> {
        let (value, field) = table.get(name)?;
        match value {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::String(_) => {
                self.problem(&field, "is empty");
                None
            }
            _ => {
                self.problem(&field, "must be a string");
                None
            }
        }
    }

    fn integer(&mut self, table: &mut Table<'_>, name: &'static str) -> Option<u64> {
        let (value, field) = table.get(name)?;
        let parsed = match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) if self.from_env => s.trim().parse().ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.problem(&field, "must be a whole number of at least 0");
        }
        parsed
    }

    fn boolean(&mut self, table: &mut Table<'_>, name: &'static str) -> Option<bool> {
        let (value, field) = table.get(name)?;
        let parsed = match value {
            Value::Bool(b) => Some(*b),
            Value::String(s) if self.from_env => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Some(true),
                "false" | "0" | "no" | "off" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            self.problem(&field, "must be true or false");
        }
        parsed
    }

    fn strings(&mut self, table: &mut Table<'_>, name: &'static str) -> Vec<String> {
        let Some((value, field)) = table.get(name) else {
            return Vec::new();
        };
        self.string_list(value, &field)
    }

    fn string_list(&mut self, value: &Value, field: &str) -> Vec<String> {
        match value {
            Value::String(s) if !s.is_empty() => vec![s.clone()],
            Value::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) if !s.is_empty() => out.push(s.clone()),
                        _ => self.problem(&format!("{field}[{i}]"), "must be a non-empty string"),
                    }
                }
                out
            }
            _ => {
                self.problem(field, "must be a list of strings");
                Vec::new()
            }
        }
    }

    /// A list of scopes (or one), each checked as RFC 6749 §3.3 allows.
    fn scopes(&mut self, table: &mut Table<'_>, name: &'static str) -> Vec<String> {
        let Some((value, field)) = table.get(name) else {
            return Vec::new();
        };
        self.scope_list(value, &field)
    }

    fn scope_list(&mut self, value: &Value, field: &str) -> Vec<String> {
        let items = match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{field}[{i}]"), v))
                .collect(),
            single => vec![(field.to_owned(), single)],
        };
        let mut out = Vec::new();
        for (item_field, item) in items {
            match item {
                Value::String(scope) if is_scope(scope) => out.push(scope.clone()),
                Value::String(_) => self.problem(
                    &item_field,
                    "is not a scope: empty, or holding a space, a quote, a backslash or a non-ascii character",
                ),
                _ => self.problem(&item_field, "must be a scope string"),
            }
        }
        out
    }

    /// A table of name → scope or list of scopes.
    fn scope_map(&mut self, table: &mut Table<'_>, name: &'static str) -> Vec<(String, String)> {
        let Some((value, field)) = table.get(name) else {
            return Vec::new();
        };
        let Value::Object(map) = value else {
            self.problem(&field, "must be a table of names to scopes");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in map {
            if key.is_empty() {
                self.problem(&field, "has an empty name");
                continue;
            }
            let entry = format!("{field}.{key}");
            let scopes = self.scope_list(value, &entry);
            if scopes.is_empty() && matches!(value, Value::Array(items) if items.is_empty()) {
                // Fail closed: an entry meant to require a scope must name one.
                self.problem(&entry, "names no scope");
            }
            for item in scopes {
                out.push((key.clone(), item));
            }
        }
        out
    }

    fn subtable<'t>(&mut self, table: &mut Table<'t>, name: &'static str) -> Option<Table<'t>> {
        let (value, field) = table.get(name)?;
        match value {
            Value::Object(members) => Some(Table::new(field, members)),
            _ => {
                self.problem(&field, "must be a table");
                None
            }
        }
    }

    fn cache(
        &mut self,
        table: &mut Table<'_>,
        name: &'static str,
        mut config: TokenCacheConfig,
    ) -> Option<TokenCacheConfig> {
        let mut cache = self.subtable(table, name)?;
        let enabled = self.boolean(&mut cache, "enabled");
        if let Some(capacity) = self.integer(&mut cache, "capacity") {
            match usize::try_from(capacity) {
                Ok(capacity) if capacity > 0 => config = config.capacity(capacity),
                _ => self.problem(&cache.field("capacity"), "must be at least 1"),
            }
        }
        if let Some(secs) = self.integer(&mut cache, "max_age_secs") {
            if secs == 0 {
                self.problem(&cache.field("max_age_secs"), "must be at least 1");
            }
            config = config.max_age(Duration::from_secs(secs));
        }
        if let Some(bytes) = self.integer(&mut cache, "max_bytes") {
            match usize::try_from(bytes) {
                Ok(bytes) if bytes > 0 => config = config.max_bytes(bytes),
                _ => self.problem(&cache.field("max_bytes"), "must be at least 1"),
            }
        }
        self.finish(&cache);
        Some(if enabled == Some(false) {
            TokenCacheConfig::disabled()
        } else {
            config
        })
    }

    fn url(&mut self, field: &str, url: &str, allow_http_loopback: bool) -> bool {
        match crate::rules::secure_url(url, allow_http_loopback) {
            Ok(_) => true,
            Err(reason) => {
                self.problem(field, reason);
                false
            }
        }
    }

    fn top(&mut self, document: &Map<String, Value>) -> Option<McpAuthBuilder> {
        let mut top = Table::new(String::new(), document);
        let allow_http_loopback = self
            .boolean(&mut top, "allow_http_loopback")
            .unwrap_or(false);
        let resource = self.string(&mut top, "resource");
        match &resource {
            Some(resource) => {
                self.url("resource", resource, allow_http_loopback);
            }
            None if !document.contains_key("resource") => self.problem("resource", "is required"),
            None => {}
        }
        let mut builder = McpAuth::builder(resource.clone().unwrap_or_default())
            .allow_http_loopback(allow_http_loopback);

        builder = self.issuers(&mut top, builder, allow_http_loopback);

        if top.members.contains_key("scopes_supported") {
            let scopes = self.scopes(&mut top, "scopes_supported");
            builder = builder.scopes_supported(scopes);
        }
        for (i, scope) in self
            .scopes(&mut top, "required_scopes")
            .into_iter()
            .enumerate()
        {
            if let Err(reason) = crate::rules::required_scope(&scope) {
                self.problem(&format!("required_scopes[{i}]"), reason);
            }
            builder = builder.require_scope(scope);
        }
        for (broader, narrower) in self.scope_map(&mut top, "scope_implies") {
            if !is_scope(&broader) {
                self.problem(&format!("scope_implies.{broader}"), "names no scope");
            }
            builder = builder.scope_implies(broader, narrower);
        }
        for (tool, scope) in self.scope_map(&mut top, "tool_scopes") {
            builder = builder.tool_scope(tool, scope);
        }
        for (prompt, scope) in self.scope_map(&mut top, "prompt_scopes") {
            builder = builder.prompt_scope(prompt, scope);
        }
        for (uri, scope) in self.scope_map(&mut top, "resource_scopes") {
            builder = builder.resource_scope(uri, scope);
        }
        for (prefix, scope) in self.scope_map(&mut top, "resource_prefix_scopes") {
            builder = builder.resource_prefix_scope(prefix, scope);
        }
        for (method, scope) in self.scope_map(&mut top, "method_scopes") {
            builder = builder.method_scope(method, scope);
        }
        for method in self.strings(&mut top, "anonymous_methods") {
            builder = builder.allow_anonymous(method);
        }
        for audience in self.strings(&mut top, "audiences") {
            builder = builder.add_audience(audience);
        }
        if top.members.contains_key("algorithms") {
            let names = self.strings(&mut top, "algorithms");
            let mut algorithms = Vec::new();
            for (i, name) in names.iter().enumerate() {
                match Algorithm::from_name(name) {
                    Some(alg) => algorithms.push(alg),
                    None => {
                        self.problem(&format!("algorithms[{i}]"), "names no supported algorithm");
                    }
                }
            }
            if names.is_empty() {
                self.problem("algorithms", "must name at least one algorithm");
            }
            builder = builder.algorithms(algorithms);
        }
        if let Some(secs) = self.integer(&mut top, "leeway_secs") {
            if let Err(reason) = crate::rules::leeway(secs) {
                self.problem("leeway_secs", reason);
            }
            builder = builder.leeway(secs);
        }
        if let Some(strict) = self.boolean(&mut top, "require_at_jwt") {
            builder = builder.require_at_jwt(strict);
        }
        if top.members.contains_key("scope_claims") {
            let claims = self.scope_claims(&mut top);
            builder = builder.scope_claims(claims);
        }
        if let Some(bytes) = self.integer(&mut top, "max_token_bytes") {
            match usize::try_from(bytes).map_err(|_| "is too large") {
                Ok(bytes) => match crate::rules::token_cap(bytes) {
                    Ok(()) => builder = builder.max_token_bytes(bytes),
                    Err(reason) => self.problem("max_token_bytes", reason),
                },
                Err(reason) => self.problem("max_token_bytes", reason),
            }
        }
        if let Some(bytes) = self.integer(&mut top, "max_body_bytes") {
            match usize::try_from(bytes) {
                Ok(bytes) => builder = builder.max_body_bytes(bytes),
                Err(_) => self.problem("max_body_bytes", "is too large"),
            }
        }
        if let Some(secs) = self.integer(&mut top, "body_read_timeout_secs") {
            if secs == 0 {
                self.problem("body_read_timeout_secs", "must be at least 1");
            }
            builder = builder.body_read_timeout(Duration::from_secs(secs));
        }
        if let Some(bytes) = self.integer(&mut top, "max_buffered_bytes") {
            match usize::try_from(bytes) {
                Ok(bytes) if bytes > 0 => builder = builder.max_buffered_bytes(bytes),
                Ok(_) => self.problem("max_buffered_bytes", "must be at least 1"),
                Err(_) => self.problem("max_buffered_bytes", "is too large"),
            }
        }
        if let Some(serve) = self.boolean(&mut top, "root_metadata") {
            builder = builder.root_metadata(serve);
        }
        if let Some(keep) = self.boolean(&mut top, "keep_authorization_header") {
            builder = builder.keep_authorization_header(keep);
        }
        if let Some(enable) = self.boolean(&mut top, "error_on_missing_token") {
            builder = builder.error_on_missing_token(enable);
        }
        if let Some(check) = self.boolean(&mut top, "check_host") {
            builder = builder.check_host(check);
        }
        for host in self.strings(&mut top, "allowed_origin_hosts") {
            builder = builder.add_allowed_origin_host(host);
        }
        if let Some(name) = self.string(&mut top, "resource_name") {
            builder = builder.resource_name(name);
        }
        if let Some(url) = self.string(&mut top, "resource_documentation") {
            builder = builder.resource_documentation(url);
        }
        if let Some(cache) = self.cache(&mut top, "token_cache", TokenCacheConfig::new()) {
            builder = builder.token_cache(cache);
        }
        self.finish(&top);
        Some(builder)
    }

    fn scope_claims(&mut self, table: &mut Table<'_>) -> Vec<ScopeClaim> {
        let Some((value, field)) = table.get("scope_claims") else {
            return Vec::new();
        };
        let items = match value {
            Value::Array(items) => items.as_slice(),
            Value::String(_) => std::slice::from_ref(value),
            _ => {
                self.problem(&field, "must be a list");
                return Vec::new();
            }
        };
        let mut claims = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_field = format!("{field}[{i}]");
            match item {
                Value::String(name) if !name.is_empty() => claims.push(ScopeClaim::new(name)),
                Value::Object(members) => {
                    let mut claim = Table::new(item_field, members);
                    let name = self.string(&mut claim, "name");
                    let format = match self.string(&mut claim, "format").as_deref() {
                        None | Some("any") => Some(ScopeFormat::Any),
                        Some("space_delimited") => Some(ScopeFormat::SpaceDelimited),
                        Some("array") => Some(ScopeFormat::Array),
                        Some(_) => {
                            self.problem(
                                &claim.field("format"),
                                "must be any, space_delimited or array",
                            );
                            None
                        }
                    };
                    if name.is_none() && !members.contains_key("name") {
                        self.problem(&claim.field("name"), "is required");
                    }
                    self.finish(&claim);
                    if let (Some(name), Some(format)) = (name, format) {
                        claims.push(ScopeClaim::new(name).format(format));
                    }
                }
                _ => self.problem(&item_field, "must be a claim name or { name, format }"),
            }
        }
        claims
    }

    fn issuers(
        &mut self,
        top: &mut Table<'_>,
        mut builder: McpAuthBuilder,
        allow_http_loopback: bool,
    ) -> McpAuthBuilder {
        let Some((value, field)) = top.get("issuers") else {
            self.problem("issuers", "at least one issuer is required");
            return builder;
        };
        let Value::Array(entries) = value else {
            self.problem(&field, "must be a list of issuer tables");
            return builder;
        };
        if entries.is_empty() {
            self.problem(&field, "at least one issuer is required");
        }
        let mut seen: Vec<&str> = Vec::new();
        let mut introspecting = false;
        for (i, entry) in entries.iter().enumerate() {
            let path = format!("issuers[{i}]");
            let Value::Object(members) = entry else {
                self.problem(&path, "must be a table with at least `issuer`");
                continue;
            };
            if let Some(id) = members.get("issuer").and_then(Value::as_str) {
                if seen.contains(&id) {
                    self.problem(&format!("{path}.issuer"), "names an issuer listed before");
                }
                seen.push(id);
            }
            if members.contains_key("introspection") {
                if introspecting {
                    self.problem(
                        &format!("{path}.introspection"),
                        "only one issuer can introspect tokens that are not JWTs",
                    );
                }
                introspecting = true;
            }
            let mut table = Table::new(path, members);
            builder = self.issuer(&mut table, builder, allow_http_loopback);
            self.finish(&table);
        }
        builder
    }

    #[cfg_attr(not(feature = "remote"), allow(unused_mut))]
    fn issuer(
        &mut self,
        table: &mut Table<'_>,
        mut builder: McpAuthBuilder,
        allow_http_loopback: bool,
    ) -> McpAuthBuilder {
        let id = self.string(table, "issuer");
        if id.is_none() && !table.members.contains_key("issuer") {
            self.problem(&table.field("issuer"), "is required");
        }
        let id = id.unwrap_or_default();
        if !id.is_empty() {
            self.url(&table.field("issuer"), &id, allow_http_loopback);
        }
        let verify_jwts = self.boolean(table, "verify_jwts").unwrap_or(true);
        let jwks_uri = self.string(table, "jwks_uri");
        if let Some(uri) = &jwks_uri {
            self.url(&table.field("jwks_uri"), uri, allow_http_loopback);
            if !verify_jwts {
                self.problem(
                    &table.field("jwks_uri"),
                    "makes no sense with verify_jwts = false",
                );
            }
        }

        let mut profile = IssuerProfile::new();
        for audience in self.strings(table, "audiences") {
            profile = profile.audience(audience);
        }
        match self.string(table, "typ").as_deref() {
            None => {}
            Some("lenient") => profile = profile.typ(TypPolicy::Lenient),
            Some("strict") => profile = profile.typ(TypPolicy::Strict),
            Some(_) => self.problem(&table.field("typ"), "must be lenient or strict"),
        }
        if table.members.contains_key("scope_claims") {
            profile = profile.scope_claims(self.scope_claims(table));
        }
        if let Some(prefix) = self.string(table, "scope_prefix") {
            profile = profile.scope_prefix(prefix);
        }
        if table.members.contains_key("client_id_claims") {
            profile = profile.client_id_claims(self.strings(table, "client_id_claims"));
        }
        if let Some(secs) = self.integer(table, "leeway_secs") {
            if let Err(reason) = crate::rules::leeway(secs) {
                self.problem(&table.field("leeway_secs"), reason);
            }
            profile = profile.leeway(secs);
        }
        profile = self.required_claims(table, profile);

        #[cfg(feature = "remote")]
        let introspection = self.introspection(table, allow_http_loopback);
        #[cfg(not(feature = "remote"))]
        if table.get("introspection").is_some() {
            self.problem(
                &table.field("introspection"),
                "needs the crate's `remote` feature",
            );
        }

        if id.is_empty() {
            return builder;
        }
        #[cfg(feature = "remote")]
        {
            if verify_jwts {
                builder = match jwks_uri {
                    Some(uri) => builder.authorization_server_with_jwks_uri(id.clone(), uri),
                    None => builder.authorization_server(id.clone()),
                };
            }
            match introspection {
                Some(introspection) => builder = builder.introspection(id.clone(), introspection),
                None if !verify_jwts && !table.members.contains_key("introspection") => self
                    .problem(
                        &table.field("verify_jwts"),
                        "false needs an `introspection` table: tokens would have no check",
                    ),
                None => {}
            }
        }
        #[cfg(not(feature = "remote"))]
        {
            let _ = (verify_jwts, jwks_uri);
            self.problem(
                &table.field("issuer"),
                "keys from an issuer need the crate's `remote` feature",
            );
        }
        builder.profile(id, profile)
    }

    fn required_claims(
        &mut self,
        table: &mut Table<'_>,
        mut profile: IssuerProfile,
    ) -> IssuerProfile {
        let Some((value, field)) = table.get("required_claims") else {
            return profile;
        };
        let Value::Array(items) = value else {
            self.problem(
                &field,
                "must be a list of { claim, equals } or { claim, contains }",
            );
            return profile;
        };
        for (i, item) in items.iter().enumerate() {
            let path = format!("{field}[{i}]");
            let Value::Object(members) = item else {
                self.problem(&path, "must be { claim, equals } or { claim, contains }");
                continue;
            };
            let mut requirement = Table::new(path, members);
            let claim = self.string(&mut requirement, "claim");
            if claim.is_none() && !members.contains_key("claim") {
                self.problem(&requirement.field("claim"), "is required");
            }
            if claim.as_deref() == Some("iss") {
                self.problem(
                    &requirement.field("claim"),
                    "cannot be iss: the issuer is always checked",
                );
            }
            let equals = requirement.get("equals").map(|(v, _)| v.clone());
            let contains = requirement.get("contains").map(|(v, _)| v.clone());
            let present = match requirement.get("present") {
                None => None,
                Some((Value::Bool(true), _)) => Some(()),
                Some((_, field)) => {
                    self.problem(&field, "must be true (leave it out otherwise)");
                    None
                }
            };
            let kinds = usize::from(equals.is_some())
                + usize::from(contains.is_some())
                + usize::from(members.contains_key("present"));
            let made = if kinds == 1 {
                match (claim, equals, contains, present) {
                    (Some(claim), Some(value), _, _) => {
                        Some(ClaimRequirement::equals(claim, value))
                    }
                    (Some(claim), _, Some(value), _) => {
                        Some(ClaimRequirement::contains(claim, value))
                    }
                    (Some(claim), _, _, Some(())) => Some(ClaimRequirement::present(claim)),
                    _ => None,
                }
            } else {
                self.problem(
                    &requirement.field("claim"),
                    "needs exactly one of `equals`, `contains` and `present`",
                );
                None
            };
            self.finish(&requirement);
            if let Some(made) = made {
                profile = profile.require_claim(made);
            }
        }
        profile
    }

    #[cfg(feature = "remote")]
    fn introspection(
        &mut self,
        table: &mut Table<'_>,
        allow_http_loopback: bool,
    ) -> Option<crate::introspect::Introspection> {
        use crate::introspect::{ClientAuth, Introspection};
        let mut section = self.subtable(table, "introspection")?;
        let method = self.string(&mut section, "client_auth");
        let client_id = self.string(&mut section, "client_id");
        let client_secret = self.string(&mut section, "client_secret");
        let mut config = match method.as_deref() {
            Some("none") => {
                if client_id.is_some() || client_secret.is_some() {
                    self.problem(
                        &section.field("client_auth"),
                        "none takes no client_id or client_secret",
                    );
                }
                Some(Introspection::without_client_authentication())
            }
            None | Some("client_secret_basic" | "client_secret_post") => {
                for (name, value) in [("client_id", &client_id), ("client_secret", &client_secret)]
                {
                    if value.is_none() && !section.members.contains_key(name) {
                        self.problem(&section.field(name), "is required");
                    }
                }
                match (client_id, client_secret) {
                    (Some(id), Some(secret)) => {
                        let auth = if method.as_deref() == Some("client_secret_post") {
                            ClientAuth::ClientSecretPost
                        } else {
                            ClientAuth::ClientSecretBasic
                        };
                        Some(Introspection::new(id, secret).client_auth(auth))
                    }
                    _ => None,
                }
            }
            Some(_) => {
                self.problem(
                    &section.field("client_auth"),
                    "must be client_secret_basic, client_secret_post or none",
                );
                None
            }
        };
        if let Some(endpoint) = self.string(&mut section, "endpoint") {
            self.url(&section.field("endpoint"), &endpoint, allow_http_loopback);
            config = config.map(|c| c.endpoint(endpoint));
        }
        if let Some(secs) = self.integer(&mut section, "timeout_secs") {
            if secs == 0 {
                self.problem(&section.field("timeout_secs"), "must be at least 1");
            }
            config = config.map(|c| c.timeout(Duration::from_secs(secs)));
        }
        if let Some(allow) = self.boolean(&mut section, "allow_missing_audience") {
            config = config.map(|c| c.allow_missing_audience(allow));
        }
        let base = TokenCacheConfig::new().max_age(crate::introspect::DEFAULT_CACHE_MAX_AGE);
        if let Some(cache) = self.cache(&mut section, "cache", base) {
            config = config.map(|c| c.cache(cache));
        }
        self.finish(&section);
        config
    }
}
