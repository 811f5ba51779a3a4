//! [`McpAuthConfig::from_env`]: the environment variables, read into the document they stand
//! for, so that one reader checks both.

use serde_json::{Map, Value};

use super::{ENV_PREFIX, McpAuthConfig};
use crate::error::{Problem, ProblemKind};

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
            let problem = Problem::new(name, ProblemKind::Invalid);
            config
                .env_problems
                .push(problem.with_message("is not valid UTF-8"));
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
                    let problem = Problem::new(name, ProblemKind::Invalid);
                    config
                        .env_problems
                        .push(problem.with_message("needs exactly one issuer in MCP_AUTH_ISSUERS"));
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
}

/// The variable a field comes from, for a field whose variable was not set.
pub(super) fn variable_for(field: &str) -> String {
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
