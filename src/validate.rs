//! JWT access-token validation ([RFC 9068 §4], [RFC 8725]).
//!
//! [`Validator`] is the policy: trusted issuers with their own key sources, accepted audiences,
//! an algorithm allow-list, leeway, `typ` strictness, the token size cap and scope claim names.
//! [`Validator::validate`] checks one token against it at a given time; it is pure apart from
//! asking each key source for its current keys, and never blocks.
//!
//! Checks, in order (every failure is an [`ErrorCode::InvalidToken`](crate::challenge::ErrorCode)):
//!
//! 1. size cap, then compact JWS shape: three base64url segments (a five-segment JWE is refused; with [introspection](crate::introspect), any other shape is an opaque token);
//! 2. header: a JSON object without repeated members; `alg` in the allow-list (names are
//!    case-sensitive, so `none` in any casing is refused); no `crit` at all; `typ` accepted by
//!    the policy; `kid` a string if present; `jku`, `x5u`, `jwk` and `x5c` are never used;
//! 3. payload: a JSON object without repeated members; `iss` a string equal to a configured
//!    issuer; the key is taken **only** from that issuer's keys (by `kid`, and must allow `alg`);
//! 4. signature;
//! 5. `exp` required, `nbf` and `iat` checked when present, all with the leeway;
//! 6. `aud` (string or array) contains the resource or a configured alias;
//! 7. claim types: `sub` and `client_id` strings (`azp`, read when `client_id` is absent, too);
//!    each scope claim (`scope`, `scp` by default) a space-separated string or an array of
//!    strings;
//! 8. a token not typed `at+jwt` that carries an ID-token-only claim (`nonce`, `at_hash`,
//!    `c_hash`, `s_hash`) is refused: an OpenID ID token is never an access token.
//!
//! ```
//! use std::sync::Arc;
//! use mcp_server_auth::keys::StaticKeys;
//! use mcp_server_auth::validate::{TokenErrorKind, Validator};
//!
//! let keys = StaticKeys::hmac(&[42; 32], mcp_server_auth::keys::Algorithm::HS256)?;
//! let validator = Validator::builder("https://mcp.example.com/mcp")
//!     .issuer("https://auth.example.com", keys)
//!     .algorithms([mcp_server_auth::keys::Algorithm::HS256])
//!     .build()?;
//! let err = validator.validate("not.a.jwt", 1_700_000_000).unwrap_err();
//! assert_eq!(err.kind(), TokenErrorKind::Malformed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [RFC 9068 §4]: https://www.rfc-editor.org/rfc/rfc9068#section-4
//! [RFC 8725]: https://www.rfc-editor.org/rfc/rfc8725

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::cache::{TokenCache, TokenCacheConfig, Verified};
use crate::error::{ConfigError, Problem, ProblemKind};
use crate::keys::{Algorithm, KeySource};
use crate::profile::{ClaimRequirement, IssuerProfile, ScopeClaim};
use crate::token::VerifiedToken;

mod builder;
mod claims;
mod jose;

use claims::{Round, numeric_date, scopes, take_audience, take_str};
use jose::{Header, decode_segment, parse_object};

use crate::limits::is_at_jwt;
pub use crate::limits::{DEFAULT_LEEWAY_SECS, DEFAULT_MAX_TOKEN_BYTES, MAX_LEEWAY_SECS, TypPolicy};
pub use crate::token_error::{TokenError, TokenErrorKind};

/// Claims only OpenID Connect ID tokens carry. A token without `typ: at+jwt` holding one of
/// them is an ID token, never an access token (RFC 8725 §3.12), even when its `aud` names an
/// accepted audience such as a client id alias.
const ID_TOKEN_CLAIMS: [&str; 4] = ["nonce", "at_hash", "c_hash", "s_hash"];

/// The claims validation reads, besides the configured scope claims. The others are only
/// checked to be well-formed JSON without repeated members; [`VerifiedToken::claims`] parses
/// them when asked.
const READ_CLAIMS: [&str; 12] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "client_id",
    "azp",
    "nonce",
    "at_hash",
    "c_hash",
    "s_hash",
];

#[derive(Debug)]
struct Issuer {
    id: String,
    /// `None` for an issuer whose tokens are all introspected.
    keys: Option<Arc<dyn KeySource>>,
    #[cfg(feature = "remote")]
    introspector: Option<crate::introspect::Introspector>,
    rules: Rules,
}

/// How one issuer's claims are checked: the validator's settings with the issuer's
/// [`IssuerProfile`] applied.
#[derive(Debug)]
struct Rules {
    /// The resource first, then the aliases.
    audiences: Vec<String>,
    typ: TypPolicy,
    leeway: i64,
    scope_claims: Vec<ScopeClaim>,
    scope_prefix: Option<String>,
    client_id_claims: Vec<String>,
    required: Vec<ClaimRequirement>,
    policies: Vec<crate::profile::Policy>,
}

/// Whether the claims must hold `aud`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    /// Always (every JWT, and introspection answers by default).
    Required,
    /// An introspection answer without `aud` is accepted
    /// ([`Introspection::allow_missing_audience`](crate::introspect::Introspection::allow_missing_audience));
    /// one with `aud` is still checked.
    #[cfg(feature = "remote")]
    MayBeMissing,
}

/// The token of a successful check of the claims, and the times a cache needs.
struct Accepted {
    token: VerifiedToken,
    not_before: i64,
    expires_at: i64,
}

impl Rules {
    /// The checks after the signature (or after introspection), on the trusted claims.
    fn accept(
        &self,
        iss: String,
        mut claims: Map<String, Value>,
        payload: Vec<u8>,
        now: i64,
        audience: Audience,
    ) -> Result<Accepted, TokenError> {
        let exp = numeric_date(&claims, "exp", Round::Down)?.ok_or(TokenErrorKind::MissingClaim)?;
        if now >= exp.saturating_add(self.leeway) {
            return Err(TokenErrorKind::Expired.into());
        }
        let nbf = numeric_date(&claims, "nbf", Round::Up)?;
        if nbf.is_some_and(|nbf| nbf > now.saturating_add(self.leeway)) {
            return Err(TokenErrorKind::NotYetValid.into());
        }
        let iat = numeric_date(&claims, "iat", Round::Up)?;
        if iat.is_some_and(|iat| iat > now.saturating_add(self.leeway)) {
            return Err(TokenErrorKind::IssuedInFuture.into());
        }
        if !self
            .required
            .iter()
            .all(|r| r.is_met_by(claims.get(r.name())))
        {
            return Err(TokenErrorKind::ClaimMismatch.into());
        }

        let audience = match audience {
            #[cfg(feature = "remote")]
            Audience::MayBeMissing if !claims.contains_key("aud") => Vec::new(),
            _ => {
                let audience = take_audience(&mut claims)?;
                if !audience.iter().any(|a| self.audiences.contains(a)) {
                    return Err(TokenErrorKind::WrongAudience.into());
                }
                audience
            }
        };

        let subject = take_str(&mut claims, "sub")?;
        let mut client_id = None;
        for name in &self.client_id_claims {
            // `sub` is already out of the claims: a machine client's subject may be its id.
            client_id = if name == "sub" {
                subject.clone()
            } else {
                take_str(&mut claims, name)?
            };
            if client_id.is_some() {
                break;
            }
        }
        let mut scopes = scopes(&claims, &self.scope_claims)?;
        if let Some(prefix) = &self.scope_prefix {
            let short = std::mem::take(&mut scopes);
            for mut scope in short {
                if !scope.starts_with(prefix.as_str()) {
                    scope.insert_str(0, prefix);
                }
                if !scopes.contains(&scope) {
                    scopes.push(scope);
                }
            }
        }
        let not_before = nbf
            .into_iter()
            .chain(iat)
            .max()
            .map_or(i64::MIN, |t| t.saturating_sub(self.leeway));
        let token =
            VerifiedToken::with_payload(iss, subject, client_id, audience, scopes, exp, payload);
        if let Some(denied) = self.policies.iter().find(|p| !(p.allows)(&token)) {
            return Err(TokenError {
                denial: Some(denied.description),
                ..TokenError::new(TokenErrorKind::PolicyDenied)
            });
        }
        Ok(Accepted {
            token,
            not_before,
            expires_at: exp,
        })
    }
}

/// The token policy. Build one with [`Validator::builder`], or let
/// [`McpAuth::builder`](crate::McpAuth::builder) do it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    issuers: Vec<Issuer>,
    algorithms: Vec<Algorithm>,
    max_token_bytes: usize,
    /// The claims besides [`READ_CLAIMS`] some issuer's rules read.
    kept_claims: Vec<String>,
    cache: Option<TokenCache>,
    /// The one issuer with introspection: it gets the tokens that are not JWTs, and its own
    /// JWTs when it has no keys.
    opaque_issuer: Option<usize>,
}

impl Inner {
    fn keeps(&self, name: &str) -> bool {
        READ_CLAIMS.contains(&name) || self.kept_claims.iter().any(|c| c == name)
    }
}

/// Builds a [`Validator`]. Every setter documents its default; the defaults are the secure
/// choice.
#[derive(Debug, Clone)]
#[must_use]
pub struct ValidatorBuilder {
    resource: String,
    issuers: Vec<(String, Arc<dyn KeySource>)>,
    /// The token rules of every issuer without its own: audience aliases, `typ`, leeway,
    /// scope and client id claims. An issuer's [profile](Self::profile) overrides them.
    defaults: IssuerProfile,
    algorithms: Option<Vec<Algorithm>>,
    max_token_bytes: usize,
    allow_http_loopback: bool,
    cache: TokenCacheConfig,
    profiles: Vec<(String, IssuerProfile)>,
    #[cfg(feature = "remote")]
    introspections: Vec<(String, crate::introspect::Introspection)>,
    /// What the setters refused, in the order of the calls.
    problems: Vec<Problem>,
}

impl Validator {
    /// Starts a policy for tokens whose `aud` must name `resource`.
    pub fn builder(resource: impl Into<String>) -> ValidatorBuilder {
        ValidatorBuilder {
            resource: resource.into(),
            issuers: Vec::new(),
            defaults: IssuerProfile::new()
                .typ(TypPolicy::default())
                .leeway(DEFAULT_LEEWAY_SECS)
                .scope_claims([ScopeClaim::new("scope"), ScopeClaim::new("scp")])
                .client_id_claims(["client_id", "azp"]),
            algorithms: None,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            allow_http_loopback: false,
            cache: TokenCacheConfig::default(),
            profiles: Vec::new(),
            #[cfg(feature = "remote")]
            introspections: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// The configured issuers, primary first.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.inner.issuers.iter().map(|i| i.id.as_str())
    }

    /// Each issuer that has a key source, with it, primary first.
    pub fn key_sources(&self) -> impl Iterator<Item = (&str, &Arc<dyn KeySource>)> {
        self.inner
            .issuers
            .iter()
            .filter_map(|i| i.keys.as_ref().map(|keys| (i.id.as_str(), keys)))
    }

    /// Validates `token` at `now` (seconds since the Unix epoch), without any I/O.
    ///
    /// # Errors
    /// A [`TokenError`] saying what is wrong. [`TokenErrorKind::KeysUnavailable`] means the
    /// issuer's keys could not be had, not that the token is bad;
    /// [`TokenErrorKind::IntrospectionRequired`] that the token must be introspected first
    /// ([`validate_async`](Self::validate_async) does that).
    pub fn validate(&self, token: &str, now: u64) -> Result<VerifiedToken, TokenError> {
        self.validate_with_cache(token, now)
            .map(|(verified, _)| verified)
    }

    /// As [`validate`](Self::validate), plus the network round trips a token may need: its
    /// introspection, or one refresh of its issuer's keys for an unknown key id or a signature
    /// that fails under a known one. This is what the layer does.
    ///
    /// # Errors
    /// As [`validate`](Self::validate), never [`TokenErrorKind::IntrospectionRequired`]. A
    /// token that still needs newer keys after its issuer's source declined to look for them
    /// (its refresh rate limit) gets [`TokenErrorKind::KeysUnavailable`], with the seconds until
    /// it may, not [`TokenErrorKind::UnknownKey`] or [`TokenErrorKind::BadSignature`].
    pub async fn validate_async(&self, token: &str, now: u64) -> Result<VerifiedToken, TokenError> {
        let error = match self.validate_with_cache(token, now) {
            Ok((verified, _)) => return Ok(verified),
            Err(error) => error,
        };
        #[cfg(feature = "remote")]
        if let Some(issuer) = error.introspect {
            return self.introspect(issuer, token, now).await;
        }
        match self.refresh_source(&error) {
            Some(source) => {
                let refreshed = source.refresh().await;
                match (self.validate(token, now), refreshed) {
                    // The source declined to look: not a verdict on the token.
                    (Err(error), Err(unavailable)) if error.refresh.is_some() => {
                        Err(unavailable.into())
                    }
                    (decision, _) => decision,
                }
            }
            None => Err(error),
        }
    }

    /// As [`validate`](Self::validate), and whether a cache answered.
    pub(crate) fn validate_with_cache(
        &self,
        token: &str,
        now: u64,
    ) -> Result<(VerifiedToken, bool), TokenError> {
        let policy = &*self.inner;
        if token.len() > policy.max_token_bytes {
            return Err(TokenErrorKind::TooLarge.into());
        }
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        if let Some(hit) = self.cached(token, now) {
            return Ok((hit, true));
        }
        let verified = self.verify(token, now)?;
        if let Some(cache) = &policy.cache {
            cache.insert(token, &verified, now);
        }
        Ok((verified.token, false))
    }

    /// The answer of the verified-token cache, or of an introspection cache.
    fn cached(&self, token: &str, now: i64) -> Option<VerifiedToken> {
        let policy = &*self.inner;
        let current_key_set = |issuer: usize| {
            let keys = policy.issuers.get(issuer)?.keys.as_ref()?;
            keys.current().ok().map(|set| set.id())
        };
        let mut looked = false;
        #[cfg_attr(not(feature = "remote"), allow(unused_mut))]
        let mut hit = policy.cache.as_ref().and_then(|cache| {
            looked = true;
            cache.get(token, now, current_key_set)
        });
        // The one introspecting issuer's answers (opaque tokens, and its JWTs if it has no keys).
        #[cfg(feature = "remote")]
        if hit.is_none()
            && let Some(introspector) = policy
                .opaque_issuer
                .and_then(|i| policy.issuers.get(i)?.introspector.as_ref())
        {
            looked |= introspector.caches();
            hit = introspector.cached(token, now);
        }
        if looked {
            crate::observe::cache_lookup(hit.is_some());
        }
        hit
    }

    /// How many validated tokens the cache holds; `None` when the cache is off. Introspected
    /// tokens are cached apart and not counted.
    pub fn cached_tokens(&self) -> Option<usize> {
        self.inner.cache.as_ref().map(TokenCache::len)
    }

    /// What the cached tokens count against the cache's
    /// [`max_bytes`](TokenCacheConfig::max_bytes) bound, in bytes: each entry an upper bound
    /// of the memory it holds, or the bound's share of one entry of the capacity if that is
    /// more ([`crate::cache`]). Never more than the bound. `None` when the cache is off;
    /// introspected tokens are cached apart and not counted.
    pub fn cached_bytes(&self) -> Option<u64> {
        self.inner.cache.as_ref().map(TokenCache::weight)
    }

    /// The full validation, without the cache.
    fn verify(&self, token: &str, now: i64) -> Result<Verified, TokenError> {
        let policy = &*self.inner;
        let mut segments = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            // Not a JWS. A JWE (five segments) is refused; anything else is an opaque token,
            // for the issuer that introspects them if there is one.
            return Err(match policy.opaque_issuer {
                Some(issuer) if token.split('.').count() != 5 => TokenError::introspect(issuer),
                _ => TokenErrorKind::Malformed.into(),
            });
        };
        let header = Header::parse(&decode_segment(header_b64)?)?;
        let alg = Algorithm::from_name(header.alg.as_str())
            .filter(|alg| policy.algorithms.contains(alg))
            .ok_or(TokenErrorKind::UnsupportedAlgorithm)?;
        if header.crit {
            return Err(TokenErrorKind::CriticalHeader.into());
        }

        let payload = decode_segment(payload_b64)?;
        let mut claims = parse_object(&payload, &|name| policy.keeps(name))?;
        if !header.typ.as_deref().is_some_and(is_at_jwt)
            && ID_TOKEN_CLAIMS.iter().any(|c| claims.contains_key(*c))
        {
            return Err(TokenErrorKind::UnacceptedType.into());
        }
        let iss = take_str(&mut claims, "iss")?.ok_or(TokenErrorKind::MissingClaim)?;
        let (issuer_index, issuer) = policy
            .issuers
            .iter()
            .enumerate()
            .find(|(_, i)| i.id == iss)
            .ok_or(TokenErrorKind::UntrustedIssuer)?;
        if !issuer.rules.typ.accepts(header.typ.as_deref()) {
            return Err(TokenErrorKind::UnacceptedType.into());
        }
        let Some(source) = &issuer.keys else {
            // An issuer without keys has every token introspected.
            return Err(TokenError::introspect(issuer_index));
        };

        let keys = match source.current() {
            Ok(keys) => keys,
            Err(unavailable) => {
                // Not loaded yet, or too stale: a source that can fetch gets the chance to.
                let mut error = TokenError::from(unavailable);
                error.refresh = source.can_refresh().then_some(issuer_index);
                return Err(error);
            }
        };
        let signature = decode_segment(signature_b64)?;
        let signing_input_len = header_b64.len() + 1 + payload_b64.len();
        let signing_input = token
            .get(..signing_input_len)
            .unwrap_or_default()
            .as_bytes();
        let mut candidates = keys.candidates(header.kid.as_deref(), alg).peekable();
        if candidates.peek().is_none() {
            let refresh = (header.kid.is_some() && source.can_refresh()).then_some(issuer_index);
            return Err(TokenError {
                refresh,
                ..TokenError::new(TokenErrorKind::UnknownKey)
            });
        }
        if !candidates.any(|key| key.verify(alg, signing_input, &signature)) {
            // The issuer may have published a new key under an old `kid` (or a key matched by a
            // key without one): as for an unknown `kid`, a refresh may bring it.
            let refresh = (header.kid.is_some() && source.can_refresh()).then_some(issuer_index);
            return Err(TokenError {
                refresh,
                ..TokenError::new(TokenErrorKind::BadSignature)
            });
        }

        let accepted = issuer
            .rules
            .accept(iss, claims, payload, now, Audience::Required)?;
        Ok(Verified {
            token: accepted.token,
            issuer: issuer_index,
            key_set: keys.id(),
            not_before: accepted.not_before,
            expires_at: accepted.expires_at,
        })
    }

    /// The key source to refresh when a refresh might turn this error into a success.
    pub(crate) fn refresh_source(&self, error: &TokenError) -> Option<&Arc<dyn KeySource>> {
        let index = error.refresh?;
        self.inner.issuers.get(index)?.keys.as_ref()
    }
}

#[cfg(feature = "remote")]
impl Validator {
    /// Introspects `token` at the endpoint of issuer `index` (one request for all concurrent
    /// callers with the same token), checks the answer with the issuer's rules, and caches it.
    pub(crate) fn introspect(
        &self,
        index: usize,
        token: &str,
        now: u64,
    ) -> crate::introspect::IntrospectFuture {
        let validator = self.clone();
        let token: Box<str> = Box::from(token);
        Box::pin(async move {
            let now = i64::try_from(now).unwrap_or(i64::MAX);
            let Some(issuer) = validator.inner.issuers.get(index) else {
                return Err(TokenErrorKind::IntrospectionUnavailable.into());
            };
            let Some(introspector) = &issuer.introspector else {
                return Err(TokenErrorKind::IntrospectionUnavailable.into());
            };
            introspector
                .single_flight(&token, || async {
                    let response = introspector.request(&token).await?;
                    let accepted = validator.accept_introspection(issuer, &response, now)?;
                    introspector.store(
                        &token,
                        &accepted.token,
                        accepted.not_before,
                        accepted.expires_at,
                        now,
                    );
                    Ok(accepted.token)
                })
                .await
        })
    }

    /// [`accept_introspection`](Self::accept_introspection) for the issuer named `issuer`, for
    /// the fuzz targets.
    #[cfg(fuzzing)]
    pub(crate) fn check_introspection_answer(
        &self,
        issuer: &str,
        answer: &[u8],
        now: u64,
    ) -> Result<VerifiedToken, TokenError> {
        let issuer = self
            .inner
            .issuers
            .iter()
            .find(|i| i.id == issuer)
            .ok_or(TokenErrorKind::UntrustedIssuer)?;
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        self.accept_introspection(issuer, answer, now)
            .map(|accepted| accepted.token)
    }

    /// Checks an introspection response (RFC 7662 §2.2) with `issuer`'s rules.
    fn accept_introspection(
        &self,
        issuer: &Issuer,
        response: &[u8],
        now: i64,
    ) -> Result<Accepted, TokenError> {
        let unusable = || TokenError::unavailable(TokenErrorKind::IntrospectionUnavailable, 5);
        let mut claims = parse_object(response, &|name| {
            crate::introspect::KIND_MEMBERS.contains(&name)
                || name == "active"
                || self.inner.keeps(name)
        })
        .map_err(|_| unusable())?;
        match claims.remove("active") {
            Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => return Err(TokenErrorKind::Inactive.into()),
            _ => return Err(unusable()),
        }
        // A refresh token or an ID token is never an access token, whatever the server says of
        // its activity: some servers introspect every kind (Hydra and other fosite servers
        // ignore `token_type_hint`) and tell the kind apart only in these members.
        if !crate::introspect::names_an_access_token(&claims) {
            return Err(TokenErrorKind::UnacceptedType.into());
        }
        let iss = match take_str(&mut claims, "iss")? {
            Some(iss) if iss == issuer.id => iss,
            Some(_) => return Err(TokenErrorKind::UntrustedIssuer.into()),
            None => issuer.id.clone(),
        };
        let audience = match &issuer.introspector {
            Some(introspector) if introspector.allows_missing_audience() => Audience::MayBeMissing,
            _ => Audience::Required,
        };
        issuer
            .rules
            .accept(iss, claims, response.to_vec(), now, audience)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::profile::ScopeFormat;

    #[test]
    fn typ_policy_compares_media_types() {
        struct Case {
            typ: Option<&'static str>,
            lenient: bool,
            strict: bool,
        }
        let cases = [
            Case {
                typ: None,
                lenient: true,
                strict: false,
            },
            Case {
                typ: Some("at+jwt"),
                lenient: true,
                strict: true,
            },
            Case {
                typ: Some("AT+JWT"),
                lenient: true,
                strict: true,
            },
            Case {
                typ: Some("application/at+jwt"),
                lenient: true,
                strict: true,
            },
            Case {
                typ: Some("Application/AT+JWT"),
                lenient: true,
                strict: true,
            },
            Case {
                typ: Some("JWT"),
                lenient: true,
                strict: false,
            },
            Case {
                typ: Some("application/jwt"),
                lenient: true,
                strict: false,
            },
            Case {
                typ: Some("JOSE"),
                lenient: false,
                strict: false,
            },
            Case {
                typ: Some("id_token+jwt"),
                lenient: false,
                strict: false,
            },
            Case {
                typ: Some("application/"),
                lenient: false,
                strict: false,
            },
            Case {
                typ: Some(""),
                lenient: false,
                strict: false,
            },
        ];
        for case in cases {
            assert_eq!(
                TypPolicy::Lenient.accepts(case.typ),
                case.lenient,
                "{:?}",
                case.typ
            );
            assert_eq!(
                TypPolicy::Strict.accepts(case.typ),
                case.strict,
                "{:?}",
                case.typ
            );
        }
    }

    #[test]
    fn repeated_members_are_refused() {
        assert!(parse_object(br#"{"a":1,"b":2}"#, &|_| true).is_ok());
        assert_eq!(
            parse_object(br#"{"a":1,"a":2}"#, &|_| true)
                .unwrap_err()
                .kind(),
            TokenErrorKind::Malformed
        );
        assert!(parse_object(b"[1]", &|_| true).is_err());
        assert!(parse_object(b"{\"a\":1} x", &|_| true).is_err());
    }

    #[test]
    fn members_nobody_reads_are_still_checked_for_repeats_and_syntax() {
        let none = |_: &str| false;
        assert!(parse_object(br#"{"a":1,"a":{"b":2}}"#, &none).is_err());
        // An escaped name is the same member as its plain spelling.
        assert!(parse_object(br#"{"a":1,"\u0061":2}"#, &none).is_err());
        assert!(parse_object(br#"{"a":[1,}"#, &none).is_err());
        // Not UTF-8 inside a skipped string (serde_json would not look).
        assert!(parse_object(b"{\"a\":\"\xbf\"}", &none).is_err());
        assert!(parse_object(b"{\"a\":[\"\xff\"]}", &none).is_err());
        let kept = parse_object(br#"{"a":1,"b":[2],"c":"x"}"#, &|k| k == "b").unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept["b"], serde_json::json!([2]));

        // Past the short list, repeats are found through the hash set, however late.
        let mut many: Vec<String> = (0..100).map(|i| format!("\"m{i}\":{i}")).collect();
        let unique = format!("{{{}}}", many.join(","));
        assert_eq!(parse_object(unique.as_bytes(), &none).unwrap().len(), 0);
        many.push("\"m3\":0".to_owned());
        let repeated = format!("{{{}}}", many.join(","));
        assert!(parse_object(repeated.as_bytes(), &none).is_err());
        many.pop();
        many.push("\"m99\":0".to_owned());
        let repeated = format!("{{{}}}", many.join(","));
        assert!(parse_object(repeated.as_bytes(), &none).is_err());
    }

    #[test]
    fn numeric_dates_accept_integers_and_fractions_only() {
        let claims: Map<String, Value> = serde_json::from_str(
            r#"{"a":5,"b":5.9,"c":"5","d":null,"e":-3,"f":18446744073709551615,"g":1e300}"#,
        )
        .unwrap();
        let down = |name| numeric_date(&claims, name, Round::Down);
        assert_eq!(down("a").unwrap(), Some(5));
        assert_eq!(down("b").unwrap(), Some(5));
        assert_eq!(numeric_date(&claims, "b", Round::Up).unwrap(), Some(6));
        assert!(down("c").is_err());
        assert!(down("d").is_err());
        assert_eq!(down("e").unwrap(), Some(-3));
        assert_eq!(down("f").unwrap(), Some(i64::MAX));
        assert_eq!(down("g").unwrap(), Some(i64::MAX));
        assert_eq!(down("z").unwrap(), None);
    }

    #[test]
    fn scopes_merge_both_claim_forms_without_repeats() {
        let claims: Map<String, Value> =
            serde_json::from_str(r#"{"scope":"a b  a","scp":["c","b"]}"#).unwrap();
        let names = [ScopeClaim::new("scope"), ScopeClaim::new("scp")];
        assert_eq!(scopes(&claims, &names).unwrap(), ["a", "b", "c"]);
        let claims: Map<String, Value> = serde_json::from_str(r#"{"scp":"x y"}"#).unwrap();
        assert_eq!(scopes(&claims, &names).unwrap(), ["x", "y"]);
        let claims: Map<String, Value> = serde_json::from_str(r#"{"scp":[1]}"#).unwrap();
        assert!(scopes(&claims, &names).is_err());
        let claims: Map<String, Value> = serde_json::from_str(r#"{"scope":{}}"#).unwrap();
        assert!(scopes(&claims, &names).is_err());
    }

    #[test]
    fn scope_formats_are_enforced_when_set() {
        let string: Map<String, Value> = serde_json::from_str(r#"{"scp":"a b"}"#).unwrap();
        let array: Map<String, Value> = serde_json::from_str(r#"{"scp":["a","b"]}"#).unwrap();
        let only = |format| [ScopeClaim::new("scp").format(format)];
        assert_eq!(
            scopes(&string, &only(ScopeFormat::SpaceDelimited)).unwrap(),
            ["a", "b"]
        );
        assert!(scopes(&array, &only(ScopeFormat::SpaceDelimited)).is_err());
        assert_eq!(
            scopes(&array, &only(ScopeFormat::Array)).unwrap(),
            ["a", "b"]
        );
        assert!(scopes(&string, &only(ScopeFormat::Array)).is_err());
        assert_eq!(
            scopes(&string, &only(ScopeFormat::Any)).unwrap(),
            ["a", "b"]
        );
        assert_eq!(scopes(&array, &only(ScopeFormat::Any)).unwrap(), ["a", "b"]);
    }

    #[test]
    fn builder_refuses_bad_policies() {
        let keys = || crate::keys::StaticKeys::hmac(&[1; 32], Algorithm::HS256).unwrap();
        let base = || Validator::builder("https://mcp.example.com/mcp");
        let first =
            |built: Result<Validator, ConfigError>| built.unwrap_err().problems()[0].kind().clone();
        assert!(matches!(first(base().build()), ProblemKind::NoIssuer));
        assert!(matches!(
            first(base().issuer("http://auth.example.com", keys()).build()),
            ProblemKind::InvalidIssuer { .. }
        ));
        assert!(matches!(
            first(base().issuer("http://127.0.0.1:9", keys()).build()),
            ProblemKind::InvalidIssuer { .. }
        ));
        assert!(
            base()
                .issuer("http://127.0.0.1:9", keys())
                .allow_http_loopback(true)
                .algorithms([Algorithm::HS256])
                .build()
                .is_ok()
        );
        assert!(matches!(
            first(
                base()
                    .issuer("https://a.example", keys())
                    .issuer("https://a.example", keys())
                    .build()
            ),
            ProblemKind::DuplicateIssuer { .. }
        ));
        assert!(matches!(
            first(
                base()
                    .issuer("https://a.example", keys())
                    .leeway(301)
                    .build()
            ),
            ProblemKind::LeewayTooLarge { secs: 301 }
        ));
        assert!(matches!(
            first(
                base()
                    .issuer("https://a.example", keys())
                    .algorithms([])
                    .build()
            ),
            ProblemKind::NoAlgorithms
        ));
        assert!(matches!(
            first(base().issuer("https://a.example?x", keys()).build()),
            ProblemKind::InvalidIssuer { .. }
        ));
        assert!(matches!(
            first(base().issuer("https://a.example", keys()).build()),
            ProblemKind::KeysMatchNoAlgorithm { .. }
        ));
        assert!(matches!(
            first(
                Validator::builder("")
                    .issuer("https://a.example", keys())
                    .build()
            ),
            ProblemKind::InvalidAudience { .. }
        ));
    }
}
