//! Build-time configuration errors.

use crate::keys::set::{Algorithm, KeyDocumentError};

/// Why a configuration was refused when it was built.
///
/// Every problem is found by [`McpAuthBuilder::build`](crate::McpAuthBuilder::build) or by a
/// key source constructor, never on the request path. Variants carry the offending input, never
/// secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The resource identifier is not an absolute `https` URL without a fragment (or an `http`
    /// loopback URL with [`allow_http_loopback`](crate::McpAuthBuilder::allow_http_loopback)).
    #[error("invalid resource identifier `{resource}`: {reason}")]
    InvalidResource {
        /// The configured value.
        resource: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An issuer identifier is not an absolute `https` URL without query or fragment (or an
    /// `http` loopback URL with `allow_http_loopback`).
    #[error("invalid issuer `{issuer}`: {reason}")]
    InvalidIssuer {
        /// The configured value.
        issuer: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `jwks_uri` is not an absolute `https` URL (or an allowed loopback `http` one).
    #[error("invalid jwks_uri `{jwks_uri}` for issuer `{issuer}`: {reason}")]
    InvalidJwksUri {
        /// The issuer it belongs to.
        issuer: String,
        /// The configured value.
        jwks_uri: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No authorization server was configured.
    #[error("no authorization server configured")]
    NoIssuer,
    /// The same issuer was configured twice.
    #[error("issuer `{issuer}` is configured more than once")]
    DuplicateIssuer {
        /// The repeated issuer.
        issuer: String,
    },
    /// A scope is empty, holds characters RFC 6749 §3.3 does not allow (space, `"`, `\`,
    /// controls, non-ASCII), or is `offline_access` given as a required scope.
    #[error("invalid scope `{scope}`")]
    InvalidScope {
        /// The configured value.
        scope: String,
    },
    /// An audience alias is empty.
    #[error("invalid audience alias `{audience}`")]
    InvalidAudience {
        /// The configured value.
        audience: String,
    },
    /// The leeway exceeds the 300 second cap.
    #[error("leeway of {secs} seconds exceeds the 300 second cap")]
    LeewayTooLarge {
        /// The configured leeway.
        secs: u64,
    },
    /// The algorithm allow-list is empty.
    #[error("the algorithm allow-list is empty")]
    NoAlgorithms,
    /// The maximum token length is zero.
    #[error("the maximum token length must be at least 1 byte")]
    InvalidMaxTokenLength,
    /// A scope claim name is empty.
    #[error("a scope claim name is empty")]
    InvalidScopeClaim,
    /// An [`IssuerProfile`](crate::profile::IssuerProfile) cannot be used.
    #[error("invalid profile for issuer `{issuer}`: {reason}")]
    InvalidProfile {
        /// The issuer the profile was given for.
        issuer: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An introspection setting cannot be used.
    #[error("invalid introspection settings for issuer `{issuer}`: {reason}")]
    Introspection {
        /// The issuer the settings were given for.
        issuer: String,
        /// What is wrong with them.
        reason: &'static str,
    },
    /// A key document or PEM text could not be used.
    #[error("unusable key material: {0}")]
    Keys(#[from] KeyDocumentError),
    /// A key document parsed, but none of its keys can verify signatures.
    #[error("no usable verification key ({skipped} skipped)")]
    NoUsableKeys {
        /// How many keys were skipped.
        skipped: usize,
    },
    /// None of an issuer's keys can verify any algorithm of the allow-list (for example an HMAC
    /// secret with the default, asymmetric-only list).
    #[error("no key of issuer `{issuer}` supports an allowed algorithm")]
    KeysMatchNoAlgorithm {
        /// The issuer.
        issuer: String,
    },
    /// The set of supported MCP protocol versions is empty.
    #[error("no supported protocol version configured")]
    NoProtocolVersions,
    /// A duration setting is out of range (a zero timeout, inverted bounds).
    #[error("invalid duration for `{setting}`")]
    InvalidDuration {
        /// The setting.
        setting: &'static str,
    },
    /// A count setting is out of range (a zero burst).
    #[error("invalid count for `{setting}`")]
    InvalidCount {
        /// The setting.
        setting: &'static str,
    },
    /// The default HTTP client could not be created.
    #[error("cannot create the http client: {reason}")]
    HttpClient {
        /// What failed.
        reason: String,
    },
    /// A key is too weak: a short RSA modulus or HMAC secret.
    #[error("weak key: {reason}")]
    WeakKey {
        /// What is too weak, without key material.
        reason: String,
    },
    /// [`StaticKeys::hmac`](crate::keys::StaticKeys::hmac) was given a non-HMAC algorithm.
    #[error("{algorithm} is not an hmac algorithm")]
    NotHmac {
        /// The algorithm given.
        algorithm: Algorithm,
    },
}
