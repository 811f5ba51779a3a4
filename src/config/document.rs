//! The fields of a document, each mapped to the setter it feeds. The setters and `build`
//! check the values; the reader checks only their form (types, names, required fields).

use std::time::Duration;

use serde_json::{Map, Value};

use super::reader::{Reader, Table, set, set_profile};
use crate::cache::TokenCacheConfig;
use crate::keys::Algorithm;
use crate::profile::{ClaimRequirement, IssuerProfile, ScopeClaim, ScopeFormat};
use crate::validate::TypPolicy;
use crate::{McpAuth, McpAuthBuilder};

impl Reader<'_> {
    /// The builder the document describes, with every setter fed by a field of a valid form.
    pub(super) fn top(&mut self, document: &Map<String, Value>) -> McpAuthBuilder {
        let mut top = Table::new(String::new(), document);
        let allow_http_loopback = self
            .boolean(&mut top, "allow_http_loopback")
            .unwrap_or(false);
        let resource = self.string(&mut top, "resource");
        if resource.is_none() {
            self.stand_ins.push("resource");
            if !document.contains_key("resource") {
                self.problem("resource", "is required");
            }
        }
        let mut builder =
            McpAuth::builder(resource.unwrap_or_default()).allow_http_loopback(allow_http_loopback);

        builder = self.issuers(&mut top, builder);

        if top.members.contains_key("scopes_supported") {
            let scopes = self.scopes(&mut top, "scopes_supported");
            let scopes = scopes.into_iter().map(|(_, scope)| scope);
            builder = set(builder, "scopes_supported", |b| b.scopes_supported(scopes));
        }
        for (field, scope) in self.scopes(&mut top, "required_scopes") {
            builder = set(builder, &field, |b| b.require_scope(scope));
        }
        for (broader, field, narrower) in self.scope_map(&mut top, "scope_implies") {
            builder = set(builder, &field, |b| b.scope_implies(broader, narrower));
        }
        for (tool, field, scope) in self.scope_map(&mut top, "tool_scopes") {
            builder = set(builder, &field, |b| b.tool_scope(tool, scope));
        }
        for (prompt, field, scope) in self.scope_map(&mut top, "prompt_scopes") {
            builder = set(builder, &field, |b| b.prompt_scope(prompt, scope));
        }
        for (uri, field, scope) in self.scope_map(&mut top, "resource_scopes") {
            builder = set(builder, &field, |b| b.resource_scope(uri, scope));
        }
        for (prefix, field, scope) in self.scope_map(&mut top, "resource_prefix_scopes") {
            builder = set(builder, &field, |b| b.resource_prefix_scope(prefix, scope));
        }
        for (method, field, scope) in self.scope_map(&mut top, "method_scopes") {
            builder = set(builder, &field, |b| b.method_scope(method, scope));
        }
        for method in self.strings(&mut top, "anonymous_methods") {
            builder = builder.allow_anonymous(method);
        }
        for audience in self.strings(&mut top, "audiences") {
            builder = set(builder, "audiences", |b| b.add_audience(audience));
        }
        if let Some((value, field)) = top.get("algorithms") {
            let mut algorithms = Vec::new();
            let mut known = true;
            let names = self.string_list(value, &field);
            for (i, name) in names.iter().enumerate() {
                match Algorithm::from_name(name) {
                    Some(alg) => algorithms.push(alg),
                    None => {
                        known = false;
                        self.problem(&format!("algorithms[{i}]"), "names no supported algorithm");
                    }
                }
            }
            if known && names.len() == algorithms.len() {
                builder = set(builder, "algorithms", |b| b.algorithms(algorithms));
            }
        }
        if let Some(secs) = self.integer(&mut top, "leeway_secs") {
            builder = set(builder, "leeway_secs", |b| b.leeway(secs));
        }
        if let Some(strict) = self.boolean(&mut top, "require_at_jwt") {
            builder = builder.require_at_jwt(strict);
        }
        if top.members.contains_key("scope_claims") {
            let claims = self.scope_claims(&mut top);
            builder = set(builder, "scope_claims", |b| b.scope_claims(claims));
        }
        if let Some(bytes) = self.size(&mut top, "max_token_bytes") {
            builder = set(builder, "max_token_bytes", |b| b.max_token_bytes(bytes));
        }
        if let Some(bytes) = self.size(&mut top, "max_body_bytes") {
            builder = set(builder, "max_body_bytes", |b| b.max_body_bytes(bytes));
        }
        if let Some(secs) = self.integer(&mut top, "body_read_timeout_secs") {
            let timeout = Duration::from_secs(secs);
            builder = set(builder, "body_read_timeout_secs", |b| {
                b.body_read_timeout(timeout)
            });
        }
        if let Some(bytes) = self.size(&mut top, "max_buffered_bytes") {
            builder = set(builder, "max_buffered_bytes", |b| {
                b.max_buffered_bytes(bytes)
            });
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
        builder
    }

    /// An integer that fits in memory sizes.
    fn size(&mut self, table: &mut Table<'_>, name: &'static str) -> Option<usize> {
        let value = self.integer(table, name)?;
        let size = usize::try_from(value).ok();
        if size.is_none() {
            self.problem(&table.field(name), "is too large");
        }
        size
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

    fn issuers(&mut self, top: &mut Table<'_>, mut builder: McpAuthBuilder) -> McpAuthBuilder {
        let Some((value, field)) = top.get("issuers") else {
            return builder;
        };
        let Value::Array(entries) = value else {
            self.problem(&field, "must be a list of issuer tables");
            self.stand_ins.push("issuers");
            return builder;
        };
        for (i, entry) in entries.iter().enumerate() {
            let path = format!("issuers[{i}]");
            let Value::Object(members) = entry else {
                self.problem(&path, "must be a table with at least `issuer`");
                self.issuers.push((None, false));
                continue;
            };
            let mut table = Table::new(path, members);
            builder = self.issuer(&mut table, builder);
            self.finish(&table);
        }
        builder
    }

    #[cfg_attr(not(feature = "remote"), allow(unused_mut))]
    fn issuer(&mut self, table: &mut Table<'_>, mut builder: McpAuthBuilder) -> McpAuthBuilder {
        let id = self.string(table, "issuer");
        if id.is_none() && !table.members.contains_key("issuer") {
            self.problem(&table.field("issuer"), "is required");
        }
        let introspects = table.members.contains_key("introspection");
        self.issuers.push((id.clone(), introspects));
        let id = id.unwrap_or_default();
        let verify_jwts = self.boolean(table, "verify_jwts").unwrap_or(true);
        let jwks_uri = self.string(table, "jwks_uri");
        if jwks_uri.is_some() && !verify_jwts {
            self.problem(
                &table.field("jwks_uri"),
                "makes no sense with verify_jwts = false",
            );
        }

        let mut profile = IssuerProfile::new();
        for audience in self.strings(table, "audiences") {
            profile = set_profile(profile, &table.field("audiences"), |p| p.audience(audience));
        }
        match self.string(table, "typ").as_deref() {
            None => {}
            Some("lenient") => profile = profile.typ(TypPolicy::Lenient),
            Some("strict") => profile = profile.typ(TypPolicy::Strict),
            Some(_) => self.problem(&table.field("typ"), "must be lenient or strict"),
        }
        if table.members.contains_key("scope_claims") {
            let claims = self.scope_claims(table);
            profile = set_profile(profile, &table.field("scope_claims"), |p| {
                p.scope_claims(claims)
            });
        }
        if let Some(prefix) = self.string(table, "scope_prefix") {
            profile = set_profile(profile, &table.field("scope_prefix"), |p| {
                p.scope_prefix(prefix)
            });
        }
        if table.members.contains_key("client_id_claims") {
            let claims = self.strings(table, "client_id_claims");
            profile = set_profile(profile, &table.field("client_id_claims"), |p| {
                p.client_id_claims(claims)
            });
        }
        if let Some(secs) = self.integer(table, "leeway_secs") {
            profile = set_profile(profile, &table.field("leeway_secs"), |p| p.leeway(secs));
        }
        profile = self.required_claims(table, profile);

        #[cfg(feature = "remote")]
        let introspection = self.introspection(table);
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
                None if !verify_jwts => {
                    self.problem(
                        &table.field("verify_jwts"),
                        "false needs an `introspection` table: tokens would have no check",
                    );
                    return builder;
                }
                None => {}
            }
        }
        #[cfg(not(feature = "remote"))]
        {
            // No setter can take the issuer: the builder's finding no issuer, or a profile
            // for an unknown one, is this same problem.
            let _ = (verify_jwts, jwks_uri, profile);
            self.problem(
                &table.field("issuer"),
                "keys from an issuer need the crate's `remote` feature",
            );
            self.stand_ins.push("issuers");
            builder
        }
        #[cfg(feature = "remote")]
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
                let field = requirement.field("claim");
                profile = set_profile(profile, &field, |p| p.require_claim(made));
            }
        }
        profile
    }

    /// The issuer's `introspection` table. One of a form that cannot be read still counts as
    /// introspection (with no client authentication), so that the problems between issuers
    /// are found as well.
    #[cfg(feature = "remote")]
    fn introspection(&mut self, table: &mut Table<'_>) -> Option<crate::introspect::Introspection> {
        use crate::introspect::{ClientAuth, Introspection};
        let stand_in = Introspection::without_client_authentication;
        if !table.members.contains_key("introspection") {
            return None;
        }
        let Some(mut section) = self.subtable(table, "introspection") else {
            return Some(stand_in());
        };
        let method = self.string(&mut section, "client_auth");
        let client_id = self.string(&mut section, "client_id");
        let client_secret = self.string(&mut section, "client_secret");
        let config = match method.as_deref() {
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
        let mut config = config.unwrap_or_else(stand_in);
        if let Some(endpoint) = self.string(&mut section, "endpoint") {
            config = config.endpoint(endpoint);
        }
        if let Some(secs) = self.integer(&mut section, "timeout_secs") {
            config = config.timeout(Duration::from_secs(secs));
        }
        if let Some(allow) = self.boolean(&mut section, "allow_missing_audience") {
            config = config.allow_missing_audience(allow);
        }
        let base = TokenCacheConfig::new().max_age(crate::introspect::DEFAULT_CACHE_MAX_AGE);
        if let Some(cache) = self.cache(&mut section, "cache", base) {
            config = config.cache(cache);
        }
        self.finish(&section);
        Some(config)
    }
}
