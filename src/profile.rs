//! Per-issuer profiles: what one authorization server's tokens look like, and what this
//! resource asks of them beyond the standard checks.
//!
//! Identity providers disagree on the details of an access token: Microsoft Entra ID puts the
//! application's client id in `aud`, Okta and Entra name scopes `scp` and the client `cid` or
//! `appid`, Keycloak types its tokens `JWT`. An [`IssuerProfile`] states these details for one
//! issuer, and adds rules of your own; give it to
//! [`McpAuthBuilder::profile`](crate::McpAuthBuilder::profile) (or
//! [`ValidatorBuilder::profile`](crate::validate::ValidatorBuilder::profile)) with the issuer it
//! applies to. The [`recipes`](crate::recipes) hold ready-made profiles for common providers.
//!
//! | setting | default (the validator's setting) | for example |
//! |---|---|---|
//! | [`audience`](IssuerProfile::audience) | the resource, plus the validator's aliases | Entra v2: the application (client) id |
//! | [`typ`](IssuerProfile::typ) | [`TypPolicy::Lenient`] | [`TypPolicy::Strict`] for RFC 9068 servers |
//! | [`scope_claims`](IssuerProfile::scope_claims) | `scope` and `scp`, string or array | Auth0 RBAC: `permissions` |
//! | [`scope_prefix`](IssuerProfile::scope_prefix) | none | Entra: `api://{application id}/` |
//! | [`client_id_claims`](IssuerProfile::client_id_claims) | `client_id`, then `azp` | Okta: `cid`; Entra v1: `appid` |
//! | [`leeway`](IssuerProfile::leeway) | 60 seconds | |
//! | [`require_claim`](IssuerProfile::require_claim) | none | Entra: `tid` equal to your tenant |
//! | [`policy`](IssuerProfile::policy) | none | Google Workspace: `hd` equal to your domain |
//!
//! A token that fails a [`ClaimRequirement`] is not a token for this resource: 401
//! `invalid_token`. A token that fails a [`policy`](IssuerProfile::policy) check is valid but
//! its holder may not use this resource: 403 with `error="access_denied"` and the policy's
//! fixed description. That is deliberately not `insufficient_scope`, since no scope would
//! change the answer and clients would re-authorize in a loop.
//!
//! ```
//! use mcp_server_auth::profile::{ClaimRequirement, IssuerProfile, ScopeClaim, ScopeFormat};
//! use mcp_server_auth_dev::testing::{TestIssuer, unix_now};
//! use mcp_server_auth::McpAuth;
//! use serde_json::json;
//!
//! let resource = "https://mcp.example.com/mcp";
//! let issuer = TestIssuer::new("https://login.example.com/tenant-1/v2.0");
//! let auth = McpAuth::builder(resource)
//!     .issuer(issuer.issuer(), issuer.keys())
//!     .profile(
//!         issuer.issuer(),
//!         IssuerProfile::new()
//!             .audience("api://6e1f4c2a")
//!             .scope_claims([ScopeClaim::new("scp").format(ScopeFormat::SpaceDelimited)])
//!             .require_claim(ClaimRequirement::equals("tid", "tenant-1"))
//!             .policy("Only staff may use this server", |token| {
//!                 token.claims().get("email").and_then(|e| e.as_str())
//!                     .is_some_and(|e| e.ends_with("@example.com"))
//!             }),
//!     )
//!     .build()?;
//!
//! let token = issuer.token().audience("api://6e1f4c2a").claim("scp", json!("mcp:tools"))
//!     .claim("tid", json!("tenant-1")).claim("email", json!("ada@example.com")).sign();
//! let verified = auth.validator().validate(&token, unix_now())?;
//! assert_eq!(verified.scopes(), ["mcp:tools"]);
//!
//! let outsider = issuer.token().audience("api://6e1f4c2a").claim("tid", json!("tenant-1"))
//!     .claim("email", json!("eve@elsewhere.example")).sign();
//! let denied = auth.validator().validate(&outsider, unix_now()).unwrap_err();
//! assert_eq!(denied.description(), "Only staff may use this server");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::limits::TypPolicy;

/// Claims the validator consumes for its own checks before it looks for the client id.
const NOT_CLIENT_ID_CLAIMS: [&str; 5] = ["iss", "aud", "exp", "nbf", "iat"];
use crate::token::VerifiedToken;

/// How a scope claim is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ScopeFormat {
    /// A space-separated string or an array of strings.
    #[default]
    Any,
    /// Only a space-separated string (`scope` in RFC 8693 §4.2, RFC 9068 §2.2.3); an array is
    /// refused as an invalid claim.
    SpaceDelimited,
    /// Only an array of strings (Okta's `scp`, Auth0's `permissions`, Entra's `roles`); a
    /// string is refused as an invalid claim.
    Array,
}

/// A claim scopes are read from, and its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeClaim {
    pub(crate) name: String,
    pub(crate) format: ScopeFormat,
}

impl ScopeClaim {
    /// The claim `name`, in either format.
    pub fn new(name: impl Into<String>) -> Self {
        ScopeClaim {
            name: name.into(),
            format: ScopeFormat::Any,
        }
    }

    /// Accept only this format. Defaults to [`ScopeFormat::Any`].
    #[must_use]
    pub fn format(mut self, format: ScopeFormat) -> Self {
        self.format = format;
        self
    }

    /// The claim's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl From<&str> for ScopeClaim {
    fn from(name: &str) -> Self {
        ScopeClaim::new(name)
    }
}

impl From<String> for ScopeClaim {
    fn from(name: String) -> Self {
        ScopeClaim::new(name)
    }
}

/// A claim a token must carry, with a given value.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRequirement {
    pub(crate) name: String,
    expect: Expect,
}

#[derive(Debug, Clone, PartialEq)]
enum Expect {
    Equals(Value),
    Contains(Value),
    Present,
}

impl ClaimRequirement {
    /// The claim `name` must be present and equal `value` (JSON equality: the string `"2"` is
    /// not the number `2`).
    pub fn equals(name: impl Into<String>, value: impl Into<Value>) -> Self {
        ClaimRequirement {
            name: name.into(),
            expect: Expect::Equals(value.into()),
        }
    }

    /// The claim `name` must be an array holding `value`, or be `value` itself.
    pub fn contains(name: impl Into<String>, value: impl Into<Value>) -> Self {
        ClaimRequirement {
            name: name.into(),
            expect: Expect::Contains(value.into()),
        }
    }

    /// The claim `name` must be present, with any value (not `null`). Tells apart token kinds
    /// that differ by a claim only one carries, such as Entra ID access tokens (`azp`,
    /// `appid`) and ID tokens.
    pub fn present(name: impl Into<String>) -> Self {
        ClaimRequirement {
            name: name.into(),
            expect: Expect::Present,
        }
    }

    /// The claim's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `claim` (absent: `None`) meets the requirement.
    pub fn is_met_by(&self, claim: Option<&Value>) -> bool {
        match (&self.expect, claim) {
            (_, None) => false,
            (Expect::Present, Some(got)) => !got.is_null(),
            (Expect::Equals(want), Some(got)) => got == want,
            (Expect::Contains(want), Some(Value::Array(items))) => items.contains(want),
            (Expect::Contains(want), Some(got)) => got == want,
        }
    }
}

type Check = dyn Fn(&VerifiedToken) -> bool + Send + Sync;

/// A check of your own on verified tokens; see [`IssuerProfile::policy`].
#[derive(Clone)]
pub(crate) struct Policy {
    pub(crate) description: &'static str,
    pub(crate) allows: Arc<Check>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// What one issuer's tokens look like and must satisfy. Unset settings take the validator's
/// value; see the [module docs](self).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct IssuerProfile {
    pub(crate) audiences: Vec<String>,
    pub(crate) typ: Option<TypPolicy>,
    pub(crate) scope_claims: Option<Vec<ScopeClaim>>,
    pub(crate) scope_prefix: Option<String>,
    pub(crate) client_id_claims: Option<Vec<String>>,
    pub(crate) leeway: Option<u64>,
    pub(crate) required: Vec<ClaimRequirement>,
    pub(crate) policies: Vec<Policy>,
    /// What the setters refused: the setting and why, found when set and reported when built.
    pub(crate) problems: Vec<(String, &'static str)>,
}

impl IssuerProfile {
    /// A profile that changes nothing.
    pub fn new() -> Self {
        IssuerProfile::default()
    }

    /// Also accept this issuer's tokens whose `aud` holds `audience` (Entra ID v2 tokens carry
    /// the application's client id). Accumulates; the resource itself is always accepted.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        let audience = audience.into();
        self.check("audience", !audience.is_empty(), "an audience is empty");
        self.audiences.push(audience);
        self
    }

    /// Which `typ` header values to accept from this issuer.
    pub fn typ(mut self, typ: TypPolicy) -> Self {
        self.typ = Some(typ);
        self
    }

    /// The claims this issuer's scopes are read from, replacing the validator's list.
    pub fn scope_claims<I>(mut self, claims: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<ScopeClaim>,
    {
        let claims: Vec<ScopeClaim> = claims.into_iter().map(Into::into).collect();
        self.forget("scope_claims");
        let named = claims.iter().all(|c| !c.name.is_empty());
        self.check("scope_claims", named, "a scope claim name is empty");
        self.scope_claims = Some(claims);
        self
    }

    /// Reads this issuer's scopes as `prefix` followed by the name in the token (unless the
    /// name already starts with it). Microsoft Entra ID puts the short name (`mcp.tools`) in
    /// `scp`, while clients must ask for the full one (`api://{application id}/mcp.tools`):
    /// with the prefix, the scopes you require, publish and name in challenges are the ones
    /// clients can request. Defaults to none.
    pub fn scope_prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.forget("scope_prefix");
        let valid = crate::rules::scope(&prefix).is_ok();
        self.check(
            "scope_prefix",
            valid,
            "the scope prefix must be scope characters",
        );
        self.scope_prefix = Some(prefix);
        self
    }

    /// The claims the client id is read from, the first present one winning. Defaults to
    /// `client_id` (RFC 9068), then `azp`. `sub` may be one (machine clients whose subject is
    /// their client id); the claims the validator reads for their own check (`iss`, `aud`,
    /// `exp`, `nbf`, `iat`) may not, and are refused at build time.
    pub fn client_id_claims<I>(mut self, claims: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let claims: Vec<String> = claims.into_iter().map(Into::into).collect();
        self.forget("client_id_claims");
        let named = claims.iter().all(|c| !c.is_empty());
        self.check("client_id_claims", named, "a client id claim name is empty");
        let usable = !claims
            .iter()
            .any(|c| NOT_CLIENT_ID_CLAIMS.contains(&c.as_str()));
        self.check(
            "client_id_claims",
            usable,
            "`iss`, `aud`, `exp`, `nbf` and `iat` are read for their own checks and cannot name the client",
        );
        self.client_id_claims = Some(claims);
        self
    }

    /// Clock leeway for this issuer's `exp`, `nbf` and `iat`, at most 300 seconds.
    pub fn leeway(mut self, secs: u64) -> Self {
        self.forget("leeway");
        let valid = crate::rules::leeway(secs).is_ok();
        self.check("leeway", valid, "the leeway exceeds 300 seconds");
        self.leeway = Some(secs);
        self
    }

    /// A claim this issuer's tokens must carry (checked after the signature; failing it is 401
    /// `invalid_token`). Accumulates. `iss` cannot be required: it already names the issuer.
    pub fn require_claim(mut self, requirement: ClaimRequirement) -> Self {
        let named = !requirement.name.is_empty();
        self.check("require_claim", named, "a required claim name is empty");
        let not_iss = requirement.name != "iss";
        self.check(
            "require_claim",
            not_iss,
            "`iss` cannot be a required claim: it names the issuer",
        );
        self.required.push(requirement);
        self
    }

    /// A check of your own, run on every verified token of this issuer after all other checks.
    /// When `allows` returns `false` the request gets 403 `access_denied` with `description`,
    /// a fixed text (at most 200 printable ASCII characters, without `"` or `\`) that must not
    /// reveal more than you want every caller to read. Accumulates; checks run in order.
    ///
    /// The verdict is cached with the token, so it must depend on the token's claims only.
    pub fn policy(
        mut self,
        description: &'static str,
        allows: impl Fn(&VerifiedToken) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.check(
            "policy",
            is_fixed_description(description),
            "a policy description must be 1 to 200 printable ascii characters without `\"` or `\\`",
        );
        self.policies.push(Policy {
            description,
            allows: Arc::new(allows),
        });
        self
    }

    /// Records `reason` against `setting` unless `valid`.
    fn check(&mut self, setting: &str, valid: bool, reason: &'static str) {
        if !valid {
            self.problems.push((setting.to_owned(), reason));
        }
    }

    /// Drops the problems of an earlier call of a setter whose value is replaced.
    fn forget(&mut self, setting: &str) {
        self.problems.retain(|(name, _)| name != setting);
    }

    /// Names the problems found since `mark` (a count of problems) `setting` instead.
    pub(crate) fn rename_problems_since(&mut self, mark: usize, setting: &str) {
        for (name, _) in self.problems.iter_mut().skip(mark) {
            setting.clone_into(name);
        }
    }

    /// The first problem with the profile, if any.
    #[cfg(test)]
    fn problem(&self) -> Option<&'static str> {
        self.problems.first().map(|(_, reason)| *reason)
    }
}

/// Whether `text` can be an `error_description` as is (RFC 6750 §3).
fn is_fixed_description(text: &str) -> bool {
    (1..=200).contains(&text.len())
        && text
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requirements_compare_json_values() {
        let tid = ClaimRequirement::equals("tid", "t1");
        assert!(tid.is_met_by(Some(&json!("t1"))));
        assert!(!tid.is_met_by(Some(&json!("t2"))));
        assert!(!tid.is_met_by(Some(&json!(["t1"]))));
        assert!(!tid.is_met_by(None));
        let ver = ClaimRequirement::equals("ver", 1);
        assert!(ver.is_met_by(Some(&json!(1))));
        assert!(!ver.is_met_by(Some(&json!("1"))));

        let groups = ClaimRequirement::contains("groups", "staff");
        assert!(groups.is_met_by(Some(&json!(["a", "staff"]))));
        assert!(groups.is_met_by(Some(&json!("staff"))));
        assert!(!groups.is_met_by(Some(&json!(["a"]))));
        assert!(!groups.is_met_by(Some(&json!("staff2"))));
        assert!(!groups.is_met_by(Some(&json!({"staff": true}))));
        assert!(!groups.is_met_by(None));

        let azp = ClaimRequirement::present("azp");
        assert!(azp.is_met_by(Some(&json!("client"))));
        assert!(azp.is_met_by(Some(&json!(""))));
        assert!(!azp.is_met_by(Some(&json!(null))));
        assert!(!azp.is_met_by(None));
    }

    #[test]
    fn problems_are_found() {
        assert_eq!(IssuerProfile::new().problem(), None);
        let cases = [
            IssuerProfile::new().audience(""),
            IssuerProfile::new().scope_claims([""]),
            IssuerProfile::new().client_id_claims([""]),
            IssuerProfile::new().leeway(301),
            IssuerProfile::new().scope_prefix(""),
            IssuerProfile::new().scope_prefix("api://x y/"),
            IssuerProfile::new().require_claim(ClaimRequirement::equals("", 1)),
            IssuerProfile::new().require_claim(ClaimRequirement::equals("iss", "x")),
            IssuerProfile::new().policy("", |_| true),
            IssuerProfile::new().policy("say \"no\"", |_| true),
            IssuerProfile::new().policy("line\nbreak", |_| true),
            IssuerProfile::new().policy("caf\u{e9}", |_| true),
        ];
        for case in cases {
            assert!(case.problem().is_some(), "{case:?}");
        }
        let long: &'static str = Box::leak("x".repeat(201).into_boxed_str());
        assert!(
            IssuerProfile::new()
                .policy(long, |_| true)
                .problem()
                .is_some()
        );
        assert!(
            IssuerProfile::new()
                .leeway(300)
                .policy("Members only", |_| true)
                .problem()
                .is_none()
        );
    }
}
