//! The reader's tools: tables whose unread members are problems, values read by their form,
//! and the names of problems (a field's path, or its variable).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::env::variable_for;
use crate::McpAuthBuilder;
use crate::cache::TokenCacheConfig;
use crate::error::{ConfigError, Problem, ProblemKind};
use crate::profile::IssuerProfile;

/// Calls a setter of `builder` fed by `field`, and names the setter's problems by `field`.
pub(super) fn set(
    builder: McpAuthBuilder,
    field: &str,
    setter: impl FnOnce(McpAuthBuilder) -> McpAuthBuilder,
) -> McpAuthBuilder {
    let mark = builder.problem_count();
    setter(builder).rename_problems_since(mark, field)
}

/// As [`set`], for a setter of an issuer's profile.
pub(super) fn set_profile(
    profile: IssuerProfile,
    field: &str,
    setter: impl FnOnce(IssuerProfile) -> IssuerProfile,
) -> IssuerProfile {
    let mark = profile.problems.len();
    let mut profile = setter(profile);
    profile.rename_problems_since(mark, field);
    profile
}

/// Reads a document, recording every problem instead of stopping at the first.
pub(super) struct Reader<'a> {
    pub(super) problems: Vec<Problem>,
    variables: &'a HashMap<String, String>,
    /// Values from the environment are strings: numbers and booleans are parsed from them.
    pub(super) from_env: bool,
    /// Each issuer table in order: its issuer, and whether it has an `introspection` table.
    pub(super) issuers: Vec<(Option<String>, bool)>,
    /// The fields whose setter got a stand-in for a value of the wrong form: the builder's
    /// problems with them are that same mistake.
    pub(super) stand_ins: Vec<&'static str>,
}

/// One table being read: its path, its members, and which were read.
pub(super) struct Table<'t> {
    path: String,
    pub(super) members: &'t Map<String, Value>,
    read: Vec<&'static str>,
}

impl<'t> Table<'t> {
    pub(super) fn new(path: String, members: &'t Map<String, Value>) -> Self {
        Table {
            path,
            members,
            read: Vec::new(),
        }
    }

    pub(super) fn field(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    pub(super) fn get(&mut self, name: &'static str) -> Option<(&'t Value, String)> {
        self.read.push(name);
        let value = self.members.get(name)?;
        Some((value, self.field(name)))
    }
}

impl<'a> Reader<'a> {
    pub(super) fn new(
        problems: Vec<Problem>,
        variables: &'a HashMap<String, String>,
        from_env: bool,
    ) -> Self {
        Reader {
            problems,
            variables,
            from_env,
            issuers: Vec::new(),
            stand_ins: Vec::new(),
        }
    }

    /// The name problems of `field` go by: the field's path, or its variable.
    fn name(&self, field: &str) -> String {
        match self.variables.get(field) {
            Some(variable) => variable.clone(),
            None if self.from_env => variable_for(field),
            None => field.to_owned(),
        }
    }

    /// A value of `field` that is not of the form the field takes.
    pub(super) fn problem(&mut self, field: &str, message: &'static str) {
        let problem = Problem::new(self.name(field), ProblemKind::Invalid);
        self.problems.push(problem.with_message(message));
    }

    /// The problems `build` found, each named by the field that fed its setter: one for each
    /// field (a repeated issuer also has a second profile), and none for a field that got a
    /// stand-in.
    pub(super) fn add_builder_problems(&mut self, error: ConfigError) {
        let mut named: Vec<String> = Vec::new();
        for mut problem in error.into_problems() {
            let field = self.field_of(&problem);
            if !named.contains(&field) && !self.stand_ins.contains(&field.as_str()) {
                problem.rename(self.name(&field));
                self.problems.push(problem);
                named.push(field);
            }
        }
    }

    /// The field that fed the setting of `problem`. The reader names the problems of the
    /// setters as it calls them; what `build` finds between settings is named here.
    fn field_of(&self, problem: &Problem) -> String {
        let setting = problem.setting();
        let Some(issuer) = problem.issuer() else {
            return match problem.kind() {
                ProblemKind::NoIssuer => "issuers".to_owned(),
                ProblemKind::InvalidResource { .. } => "resource".to_owned(),
                _ => setting.to_owned(),
            };
        };
        if setting.starts_with("issuers[") {
            return setting.to_owned();
        }
        let introspection = setting.starts_with("introspection")
            && !matches!(
                problem.kind(),
                ProblemKind::InvalidIssuer { .. } | ProblemKind::DuplicateIssuer { .. }
            );
        let later = matches!(
            problem.kind(),
            ProblemKind::DuplicateIssuer { .. } | ProblemKind::InvalidProfile { .. }
        );
        let mut tables = self
            .issuers
            .iter()
            .enumerate()
            .filter(|(_, (id, has))| id.as_deref() == Some(issuer) && (*has || !introspection));
        let index = if later {
            tables.next_back()
        } else {
            tables.next()
        };
        let Some((index, _)) = index else {
            return setting.to_owned();
        };
        let field = match (problem.kind(), setting) {
            (ProblemKind::InvalidJwksUri { .. }, _) => "jwks_uri",
            (_, "introspection.endpoint") => "introspection.endpoint",
            (_, "introspection.timeout") => "introspection.timeout_secs",
            _ if introspection => "introspection",
            _ => "issuer",
        };
        format!("issuers[{index}].{field}")
    }

    /// Reports the members of `table` nobody read.
    pub(super) fn finish(&mut self, table: &Table<'_>) {
        for name in table.members.keys() {
            if !table.read.contains(&name.as_str()) {
                let field = table.field(name);
                let message = if self.variables.contains_key(&field) {
                    "is not a known variable"
                } else {
                    "is not a known field"
                };
                let problem = Problem::new(self.name(&field), ProblemKind::UnknownField);
                self.problems.push(problem.with_message(message));
            }
        }
    }

    pub(super) fn string(&mut self, table: &mut Table<'_>, name: &'static str) -> Option<String> {
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

    pub(super) fn integer(&mut self, table: &mut Table<'_>, name: &'static str) -> Option<u64> {
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

    pub(super) fn boolean(&mut self, table: &mut Table<'_>, name: &'static str) -> Option<bool> {
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

    pub(super) fn strings(&mut self, table: &mut Table<'_>, name: &'static str) -> Vec<String> {
        let Some((value, field)) = table.get(name) else {
            return Vec::new();
        };
        self.string_list(value, &field)
    }

    pub(super) fn string_list(&mut self, value: &Value, field: &str) -> Vec<String> {
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

    /// A list of scopes (or one), each with its field: `required_scopes[1]`.
    pub(super) fn scopes(
        &mut self,
        table: &mut Table<'_>,
        name: &'static str,
    ) -> Vec<(String, String)> {
        let Some((value, field)) = table.get(name) else {
            return Vec::new();
        };
        self.scope_list(value, &field)
    }

    fn scope_list(&mut self, value: &Value, field: &str) -> Vec<(String, String)> {
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
                Value::String(scope) => out.push((item_field, scope.clone())),
                _ => self.problem(&item_field, "must be a scope string"),
            }
        }
        out
    }

    /// A table of name → scope or list of scopes: each name with a scope and its field.
    pub(super) fn scope_map(
        &mut self,
        table: &mut Table<'_>,
        name: &'static str,
    ) -> Vec<(String, String, String)> {
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
            if matches!(value, Value::Array(items) if items.is_empty()) {
                // Fail closed: an entry meant to require a scope must name one.
                self.problem(&entry, "names no scope");
            }
            for (item_field, scope) in self.scope_list(value, &entry) {
                out.push((key.clone(), item_field, scope));
            }
        }
        out
    }

    pub(super) fn subtable<'t>(
        &mut self,
        table: &mut Table<'t>,
        name: &'static str,
    ) -> Option<Table<'t>> {
        let (value, field) = table.get(name)?;
        match value {
            Value::Object(members) => Some(Table::new(field, members)),
            _ => {
                self.problem(&field, "must be a table");
                None
            }
        }
    }

    pub(super) fn cache(
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
}
