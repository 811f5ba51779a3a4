//! Ready-made [profiles](crate::profile) for common identity providers.
//!
//! Each function returns a [`Recipe`]: the issuer identifier in the provider's exact form,
//! where the keys are published, and an [`IssuerProfile`] for the provider's token shape.
//! [`McpAuthBuilder::recipe`](crate::McpAuthBuilder::recipe) trusts the issuer with keys
//! fetched from there and applies the profile.

use crate::profile::IssuerProfile;

/// An identity provider's issuer, key location and token profile. Made by the functions of
/// this module; adjust the profile with [`map_profile`](Self::map_profile).
#[derive(Debug, Clone)]
#[must_use]
pub struct Recipe {
    issuer: String,
    jwks_uri: Option<String>,
    profile: IssuerProfile,
}

impl Recipe {
    /// A recipe for `issuer`, whose keys are found by discovery unless
    /// [`with_jwks_uri`](Self::with_jwks_uri) names them.
    pub fn new(issuer: impl Into<String>, profile: IssuerProfile) -> Self {
        Recipe {
            issuer: issuer.into(),
            jwks_uri: None,
            profile,
        }
    }

    /// Fetch keys from `jwks_uri` instead of discovering it.
    pub fn with_jwks_uri(mut self, jwks_uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(jwks_uri.into());
        self
    }

    /// Changes the profile, for example to add a [policy](IssuerProfile::policy).
    pub fn map_profile(mut self, change: impl FnOnce(IssuerProfile) -> IssuerProfile) -> Self {
        self.profile = change(self.profile);
        self
    }

    /// The issuer identifier, exactly as the provider writes `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Where the keys are published, when not found by discovery.
    pub fn jwks_uri(&self) -> Option<&str> {
        self.jwks_uri.as_deref()
    }

    /// The token profile.
    pub fn profile(&self) -> &IssuerProfile {
        &self.profile
    }

    /// The issuer, key location and profile.
    pub fn into_parts(self) -> (String, Option<String>, IssuerProfile) {
        (self.issuer, self.jwks_uri, self.profile)
    }
}
