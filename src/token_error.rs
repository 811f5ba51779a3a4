//! What can be wrong with a token: [`TokenErrorKind`] and [`TokenError`], each with a fixed
//! description and a stable name.

use std::fmt;

use crate::keys::KeysUnavailable;

/// What was wrong with a token. Every kind maps to a fixed [`description`](TokenError::description).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenErrorKind {
    /// Longer than the configured cap.
    TooLarge,
    /// Not a compact JWS: wrong segment count, bad base64url, not a JSON object, repeated
    /// members, or a header member of the wrong type.
    Malformed,
    /// `alg` missing, unknown, not allowed, or not allowed for the key.
    UnsupportedAlgorithm,
    /// A `crit` header is present.
    CriticalHeader,
    /// The `typ` header is not accepted by the policy.
    UnacceptedType,
    /// A required claim (`iss`, `aud`, `exp`) is missing.
    MissingClaim,
    /// A claim has the wrong JSON type.
    InvalidClaim,
    /// `iss` is not a configured issuer.
    UntrustedIssuer,
    /// No key of the issuer matches the token's `kid` and `alg`.
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `aud` does not name this resource.
    WrongAudience,
    /// The issuer's keys are unavailable; answered with 503, not 401.
    KeysUnavailable,
    /// A claim an [`IssuerProfile`](crate::profile::IssuerProfile) requires is missing or has
    /// another value.
    ClaimMismatch,
    /// A [`policy`](crate::profile::IssuerProfile::policy) check refused the token's holder;
    /// answered with 403 and the policy's description.
    PolicyDenied,
    /// The authorization server's introspection endpoint says the token is not active
    /// (unknown, expired or revoked).
    Inactive,
    /// The token needs introspection, a network round trip [`Validator::validate`](crate::validate::Validator::validate) never makes:
    /// use [`Validator::validate_async`](crate::validate::Validator::validate_async), or the layer.
    IntrospectionRequired,
    /// The introspection endpoint could not be asked, or gave no usable answer; answered with
    /// 503, not 401.
    IntrospectionUnavailable,
}

impl TokenErrorKind {
    /// A stable snake_case name, for logs and metrics labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenErrorKind::TooLarge => "token_too_large",
            TokenErrorKind::Malformed => "token_malformed",
            TokenErrorKind::UnsupportedAlgorithm => "unsupported_algorithm",
            TokenErrorKind::CriticalHeader => "critical_header",
            TokenErrorKind::UnacceptedType => "unaccepted_type",
            TokenErrorKind::MissingClaim => "missing_claim",
            TokenErrorKind::InvalidClaim => "invalid_claim",
            TokenErrorKind::UntrustedIssuer => "untrusted_issuer",
            TokenErrorKind::UnknownKey => "unknown_key",
            TokenErrorKind::BadSignature => "bad_signature",
            TokenErrorKind::Expired => "expired",
            TokenErrorKind::NotYetValid => "not_yet_valid",
            TokenErrorKind::IssuedInFuture => "issued_in_future",
            TokenErrorKind::WrongAudience => "wrong_audience",
            TokenErrorKind::KeysUnavailable => "keys_unavailable",
            TokenErrorKind::ClaimMismatch => "claim_mismatch",
            TokenErrorKind::PolicyDenied => "policy_denied",
            TokenErrorKind::Inactive => "inactive",
            TokenErrorKind::IntrospectionRequired => "introspection_required",
            TokenErrorKind::IntrospectionUnavailable => "introspection_unavailable",
        }
    }

    /// A fixed, human-readable description, safe for `error_description`.
    pub const fn description(self) -> &'static str {
        match self {
            TokenErrorKind::TooLarge => "The access token is too large",
            TokenErrorKind::Malformed => "The access token is malformed",
            TokenErrorKind::UnsupportedAlgorithm => "The access token algorithm is not accepted",
            TokenErrorKind::CriticalHeader => "The access token has an unsupported critical header",
            TokenErrorKind::UnacceptedType => "The access token type is not accepted",
            TokenErrorKind::MissingClaim => "The access token lacks a required claim",
            TokenErrorKind::InvalidClaim => "The access token has a claim of the wrong type",
            TokenErrorKind::UntrustedIssuer => "The access token issuer is not trusted",
            TokenErrorKind::UnknownKey => "The access token signing key is unknown",
            TokenErrorKind::BadSignature => "The access token signature is invalid",
            TokenErrorKind::Expired => "The access token expired",
            TokenErrorKind::NotYetValid => "The access token is not valid yet",
            TokenErrorKind::IssuedInFuture => "The access token was issued in the future",
            TokenErrorKind::WrongAudience => "The access token was not issued for this resource",
            TokenErrorKind::KeysUnavailable => "Signing keys are temporarily unavailable",
            TokenErrorKind::ClaimMismatch => {
                "The access token lacks a claim value this resource requires"
            }
            TokenErrorKind::PolicyDenied => "Access to this resource is denied",
            TokenErrorKind::Inactive => "The access token is not active",
            TokenErrorKind::IntrospectionRequired => "The access token must be introspected",
            TokenErrorKind::IntrospectionUnavailable => {
                "Token introspection is temporarily unavailable"
            }
        }
    }
}

/// Why a token was rejected. Opaque: read [`kind`](Self::kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    pub(super) kind: TokenErrorKind,
    /// For [`TokenErrorKind::UnknownKey`] and [`TokenErrorKind::BadSignature`] with a `kid`,
    /// and for [`TokenErrorKind::KeysUnavailable`]: the index of the issuer whose key source may
    /// fix it by refreshing.
    pub(super) refresh: Option<usize>,
    /// For [`TokenErrorKind::IntrospectionRequired`]: the index of the issuer to ask.
    pub(crate) introspect: Option<usize>,
    pub(super) retry_after: Option<u64>,
    /// For [`TokenErrorKind::PolicyDenied`]: the policy's description.
    pub(super) denial: Option<&'static str>,
}

impl TokenError {
    pub(super) fn new(kind: TokenErrorKind) -> Self {
        TokenError {
            kind,
            refresh: None,
            introspect: None,
            retry_after: None,
            denial: None,
        }
    }

    pub(super) fn introspect(issuer: usize) -> Self {
        TokenError {
            introspect: Some(issuer),
            ..TokenError::new(TokenErrorKind::IntrospectionRequired)
        }
    }

    pub(crate) fn unavailable(kind: TokenErrorKind, retry_after: u64) -> Self {
        TokenError {
            retry_after: Some(retry_after),
            ..TokenError::new(kind)
        }
    }

    /// What was wrong.
    pub fn kind(&self) -> TokenErrorKind {
        self.kind
    }

    /// A fixed description of the problem, never containing token content: the kind's, or
    /// for [`TokenErrorKind::PolicyDenied`] the policy's.
    pub fn description(&self) -> &'static str {
        self.denial.unwrap_or(self.kind.description())
    }

    /// For [`TokenErrorKind::KeysUnavailable`] and
    /// [`TokenErrorKind::IntrospectionUnavailable`]: seconds after which to retry.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.description();
        // Lowercase the first letter: error messages are short and lowercase.
        let mut chars = text.chars();
        if let Some(first) = chars.next() {
            write!(f, "{}{}", first.to_ascii_lowercase(), chars.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for TokenError {}

impl From<TokenErrorKind> for TokenError {
    fn from(kind: TokenErrorKind) -> Self {
        TokenError::new(kind)
    }
}

impl From<KeysUnavailable> for TokenError {
    fn from(err: KeysUnavailable) -> Self {
        TokenError::unavailable(TokenErrorKind::KeysUnavailable, err.retry_after_secs())
    }
}
