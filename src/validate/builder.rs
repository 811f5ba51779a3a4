//! [`ValidatorBuilder`]: the per-issuer rules, checked once at build time.

use std::sync::Arc;

use super::*;

impl ValidatorBuilder {
    /// Trusts tokens whose `iss` equals `issuer` byte for byte, verified only with `keys`. The
    /// first issuer added is the primary one (listed first in metadata). At least one issuer
    /// (with keys or [introspection](Self::introspection)) is required.
    pub fn issuer(self, issuer: impl Into<String>, keys: impl KeySource) -> Self {
        self.issuer_shared(issuer, Arc::new(keys))
    }

    /// As [`issuer`](Self::issuer), with a key source shared with other code.
    pub fn issuer_shared(mut self, issuer: impl Into<String>, keys: Arc<dyn KeySource>) -> Self {
        self.issuers.push((issuer.into(), keys));
        self
    }

    /// Introspects tokens of `issuer` ([RFC 7662]; see [`crate::introspect`]). If `issuer` also
    /// has keys, its JWTs are verified locally and only tokens that are not JWTs are
    /// introspected; otherwise all of its tokens are. Tokens that are not JWTs go to the one
    /// issuer configured with introspection (two are refused: a token must never be sent to
    /// an authorization server that did not issue it).
    ///
    /// [RFC 7662]: https://www.rfc-editor.org/rfc/rfc7662
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub fn introspection(
        mut self,
        issuer: impl Into<String>,
        introspection: crate::introspect::Introspection,
    ) -> Self {
        self.introspections.push((issuer.into(), introspection));
        self
    }

    /// Reads and checks tokens of `issuer` with `profile` ([`crate::profile`]). The issuer must
    /// be configured too (in any order).
    pub fn profile(mut self, issuer: impl Into<String>, profile: IssuerProfile) -> Self {
        self.profiles.push((issuer.into(), profile));
        self
    }

    /// Also accepts tokens whose `aud` holds `audience`, whatever their issuer (to accept an
    /// alias from one issuer only, use its [`IssuerProfile::audience`]). Tokens naming the
    /// resource itself are always accepted. Defaults to none.
    pub fn add_audience(self, audience: impl Into<String>) -> Self {
        let audience = audience.into();
        let kind = ProblemKind::InvalidAudience {
            audience: audience.clone(),
        };
        self.set_default("add_audience", kind, |p| p.audience(audience))
    }

    /// The algorithm allow-list. Defaults to every asymmetric algorithm
    /// ([`Algorithm::ASYMMETRIC`]); HMAC algorithms must be listed explicitly (and need
    /// [`StaticKeys::hmac`](crate::keys::StaticKeys::hmac)).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        let algorithms: Vec<Algorithm> = algorithms.into_iter().collect();
        self.forget("algorithms");
        if algorithms.is_empty() {
            self.problems
                .push(Problem::new("algorithms", ProblemKind::NoAlgorithms));
        }
        self.algorithms = Some(algorithms);
        self
    }

    /// Clock leeway for `exp`, `nbf` and `iat`. Defaults to 60 seconds; at most 300.
    pub fn leeway(mut self, secs: u64) -> Self {
        let kind = ProblemKind::LeewayTooLarge { secs };
        self.forget("leeway");
        self.set_default("leeway", kind, |p| p.leeway(secs))
    }

    /// Accept only `typ: at+jwt` tokens ([RFC 9068 §2.1]). Off by default: `JWT` and no `typ`
    /// are accepted too, as many identity providers issue them.
    ///
    /// [RFC 9068 §2.1]: https://www.rfc-editor.org/rfc/rfc9068#section-2.1
    pub fn require_at_jwt(mut self, strict: bool) -> Self {
        let typ = if strict {
            TypPolicy::Strict
        } else {
            TypPolicy::Lenient
        };
        self.defaults = std::mem::take(&mut self.defaults).typ(typ);
        self
    }

    /// The longest token accepted, in bytes. Defaults to 16 KiB.
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.forget("max_token_bytes");
        if let Err(reason) = crate::rules::token_cap(bytes) {
            let kind = ProblemKind::InvalidMaxTokenLength;
            self.problems
                .push(Problem::new("max_token_bytes", kind).with_message(reason));
        }
        self.max_token_bytes = bytes;
        self
    }

    /// The claims scopes are read from: names (each a space-separated string or an array of
    /// strings) or [`ScopeClaim`]s with a format. Defaults to `scope` and `scp`.
    pub fn scope_claims<I>(mut self, claims: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<ScopeClaim>,
    {
        let kind = ProblemKind::InvalidScopeClaim;
        self.forget("scope_claims");
        self.set_default("scope_claims", kind, |p| p.scope_claims(claims))
    }

    /// Applies `set` to the default profile, which checks the value; a problem it finds is
    /// one of `setting`, of `kind` (and its message).
    fn set_default(
        mut self,
        setting: &str,
        kind: ProblemKind,
        set: impl FnOnce(IssuerProfile) -> IssuerProfile,
    ) -> Self {
        self.defaults = set(std::mem::take(&mut self.defaults));
        if !self.defaults.problems.is_empty() {
            self.defaults.problems.clear();
            self.problems.push(Problem::new(setting, kind));
        }
        self
    }

    /// Allows `http` issuer URLs on loopback hosts, for development and tests. Off by default.
    pub fn allow_http_loopback(mut self, allow: bool) -> Self {
        self.allow_http_loopback = allow;
        self
    }

    /// Whether `http` URLs on loopback hosts are allowed: the one switch the layer's builder
    /// also reads for the resource and remote key sources.
    pub(crate) fn allows_http_loopback(&self) -> bool {
        self.allow_http_loopback
    }

    /// The verified-token cache ([`crate::cache`]). On by default with
    /// [`TokenCacheConfig::default`]; [`TokenCacheConfig::disabled`] turns it off.
    pub fn token_cache(mut self, config: TokenCacheConfig) -> Self {
        self.cache = config;
        self
    }

    /// Records a problem found by a setter of a builder that forwards to this one.
    pub(crate) fn push_problem(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// Takes the problems the setters found, to report them with others.
    pub(crate) fn take_problems(&mut self) -> Vec<Problem> {
        std::mem::take(&mut self.problems)
    }

    /// How many problems the setters found so far.
    pub(crate) fn problem_count(&self) -> usize {
        self.problems.len()
    }

    /// Names the problems found since `mark` (a [`problem_count`](Self::problem_count))
    /// `setting` instead, keeping the index of a list item (`[1]`) after the setter's name.
    pub(crate) fn rename_problems_since(&mut self, mark: usize, setting: &str) {
        for problem in self.problems.iter_mut().skip(mark) {
            let item = problem
                .setting()
                .find('[')
                .map(|i| problem.setting()[i..].to_owned());
            problem.rename(format!("{setting}{}", item.unwrap_or_default()));
        }
    }

    /// Drops the problems of an earlier call of a setter whose value is replaced (and of the
    /// items of its list: `setting[1]`).
    pub(crate) fn forget(&mut self, setting: &str) {
        self.problems.retain(|p| {
            let name = p.setting();
            !(name == setting
                || name
                    .strip_prefix(setting)
                    .is_some_and(|r| r.starts_with('[')))
        });
    }

    /// Checks the policy.
    ///
    /// # Errors
    /// A [`ConfigError`] with every problem found: those of the setters (with the setter's
    /// name), then those between settings (no issuer, a repeated issuer, an issuer URL, keys
    /// that match no allowed algorithm, a profile for an unknown issuer).
    pub fn build(self) -> Result<Validator, ConfigError> {
        let mut problems = self.problems;
        if self.resource.is_empty() {
            let kind = ProblemKind::InvalidAudience {
                audience: self.resource.clone(),
            };
            problems.push(Problem::new("builder", kind));
        }
        let mut ids: Vec<String> = Vec::new();
        for (id, _) in &self.issuers {
            if let Some(problem) = check_issuer(id, self.allow_http_loopback, "issuer") {
                problems.push(problem);
            }
            if ids.contains(id) {
                let kind = ProblemKind::DuplicateIssuer { issuer: id.clone() };
                problems.push(Problem::new("issuer", kind).about(id));
            }
            ids.push(id.clone());
        }
        #[cfg(feature = "remote")]
        for (i, (id, _)) in self.introspections.iter().enumerate() {
            if !ids.contains(id)
                && let Some(problem) = check_issuer(id, self.allow_http_loopback, "introspection")
            {
                problems.push(problem);
            }
            if self
                .introspections
                .iter()
                .take(i)
                .any(|(other, _)| other == id)
            {
                let kind = ProblemKind::DuplicateIssuer { issuer: id.clone() };
                problems.push(Problem::new("introspection", kind).about(id));
            }
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        if ids.is_empty() {
            problems.push(Problem::new("issuer", ProblemKind::NoIssuer));
        }
        #[cfg(feature = "remote")]
        for (id, introspection) in &self.introspections {
            problems.extend(introspection.problems(id, self.allow_http_loopback));
        }
        // Tokens that are not JWTs go to the one issuer with introspection.
        #[cfg(feature = "remote")]
        for id in ids
            .iter()
            .filter(|id| self.introspections.iter().any(|(other, _)| other == *id))
            .skip(1)
        {
            let kind = ProblemKind::Introspection {
                issuer: id.clone(),
                reason: "only one issuer can introspect tokens that are not JWTs",
            };
            problems.push(Problem::new("introspection", kind).about(id));
        }
        let algorithms = self
            .algorithms
            .unwrap_or_else(|| Algorithm::ASYMMETRIC.to_vec());
        for (id, keys) in &self.issuers {
            // Sources whose keys are not loaded yet are checked when they are; a static set
            // that cannot verify any allowed algorithm would reject every token.
            if let Ok(set) = keys.current()
                && !set.is_empty()
                && !algorithms.is_empty()
                && !set
                    .iter()
                    .any(|k| algorithms.iter().any(|a| k.supports(*a)))
            {
                let kind = ProblemKind::KeysMatchNoAlgorithm { issuer: id.clone() };
                problems.push(Problem::new("algorithms", kind).about(id));
            }
        }
        for (i, (id, profile)) in self.profiles.iter().enumerate() {
            let invalid = |setting: &str, reason| {
                let kind = ProblemKind::InvalidProfile {
                    issuer: id.clone(),
                    reason,
                };
                Problem::new(setting, kind).about(id)
            };
            if !ids.contains(id) {
                problems.push(invalid("profile", "no such issuer is configured"));
            }
            if self.profiles.iter().take(i).any(|(other, _)| other == id) {
                problems.push(invalid("profile", "the issuer has two profiles"));
            }
            for (setting, reason) in &profile.problems {
                problems.push(invalid(setting, reason));
            }
        }
        if let Some(error) = ConfigError::from_problems(problems) {
            return Err(error);
        }

        // Building an introspector can still fail (its HTTP client).
        #[cfg_attr(not(feature = "remote"), allow(unused_mut))]
        let mut problems = Vec::new();
        let defaults = self.defaults;
        let mut audiences = vec![self.resource];
        audiences.extend(defaults.audiences);
        let leeway = |secs: u64| i64::try_from(secs).unwrap_or(i64::MAX);
        let mut profiles = self.profiles;
        let mut keys = self.issuers;
        #[cfg(feature = "remote")]
        let mut introspections = self.introspections;
        let mut issuers = Vec::with_capacity(ids.len());
        for id in ids {
            let id = id.as_str();
            let profile = take_by_id(&mut profiles, id).unwrap_or_default();
            let mut all_audiences = audiences.clone();
            all_audiences.extend(profile.audiences);
            let rules = Rules {
                audiences: all_audiences,
                typ: profile.typ.or(defaults.typ).unwrap_or_default(),
                leeway: leeway(
                    profile
                        .leeway
                        .or(defaults.leeway)
                        .unwrap_or(DEFAULT_LEEWAY_SECS),
                ),
                scope_claims: (profile.scope_claims)
                    .or_else(|| defaults.scope_claims.clone())
                    .unwrap_or_default(),
                scope_prefix: profile.scope_prefix,
                client_id_claims: (profile.client_id_claims)
                    .or_else(|| defaults.client_id_claims.clone())
                    .unwrap_or_default(),
                required: profile.required,
                policies: profile.policies,
            };
            issuers.push(Issuer {
                id: id.to_owned(),
                keys: take_by_id(&mut keys, id),
                #[cfg(feature = "remote")]
                introspector: match take_by_id(&mut introspections, id)
                    .map(|config| config.build(id, self.allow_http_loopback))
                {
                    Some(Ok(introspector)) => Some(introspector),
                    Some(Err(error)) => {
                        problems.extend(error.into_problems());
                        None
                    }
                    None => None,
                },
                rules,
            });
        }

        let mut kept_claims: Vec<String> = Vec::new();
        for rules in issuers.iter().map(|i| &i.rules) {
            let names = (rules.scope_claims.iter().map(ScopeClaim::name))
                .chain(rules.client_id_claims.iter().map(String::as_str))
                .chain(rules.required.iter().map(ClaimRequirement::name));
            for name in names {
                if !READ_CLAIMS.contains(&name) && !kept_claims.iter().any(|c| c == name) {
                    kept_claims.push(name.to_owned());
                }
            }
        }
        #[cfg(feature = "remote")]
        let opaque_issuer = issuers.iter().position(|i| i.introspector.is_some());
        #[cfg(not(feature = "remote"))]
        let opaque_issuer = None;
        if let Some(error) = ConfigError::from_problems(problems) {
            return Err(error);
        }
        let cache = TokenCache::new(self.cache, issuers.len());
        Ok(Validator {
            inner: Arc::new(Inner {
                cache,
                issuers,
                algorithms,
                max_token_bytes: self.max_token_bytes,
                kept_claims,
                opaque_issuer,
            }),
        })
    }
}

/// Removes and returns the value configured for `id`.
pub(super) fn take_by_id<T>(entries: &mut Vec<(String, T)>, id: &str) -> Option<T> {
    let position = entries.iter().position(|(other, _)| other == id)?;
    Some(entries.swap_remove(position).1)
}

/// An issuer identifier that is not one, as a problem of `setting`.
fn check_issuer(issuer: &str, allow_http_loopback: bool, setting: &str) -> Option<Problem> {
    let reason = crate::rules::issuer_url(issuer, allow_http_loopback).err()?;
    let kind = ProblemKind::InvalidIssuer {
        issuer: issuer.to_owned(),
        reason,
    };
    Some(Problem::new(setting, kind).about(issuer))
}
