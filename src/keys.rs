//! Signing keys: the [`KeySource`] trait, the parsed [`KeySet`] it hands out, and
//! [`StaticKeys`], a source for keys known at build time.
//!
//! Keys are parsed into verification-ready form once, when a key set is built, and never per
//! request. Each key is usable only with the algorithms its type allows (`kty`/`crv`), narrowed
//! further by its JWK `alg` when present. Keys the crate cannot use are skipped, not fatal: keys
//! published for encryption (`use: enc`, or `key_ops` without `verify`), RSA keys under 2048
//! bits, other curves, symmetric (`oct`) keys inside a JWKS document, and malformed entries.
//! HMAC keys exist only when configured explicitly with [`StaticKeys::hmac`].
//!
//! ```
//! use mcp_server_auth::keys::{Algorithm, KeySource, StaticKeys};
//!
//! let jwks = r#"{"keys":[
//!   {"kty":"EC","crv":"P-256","kid":"k1","use":"sig",
//!    "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"},
//!   {"kty":"EC","crv":"P-256","kid":"enc","use":"enc",
//!    "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}
//! ]}"#;
//! let keys = StaticKeys::from_jwks(jwks)?;
//! let set = keys.current()?;
//! assert_eq!(set.len(), 1); // the encryption key was skipped
//! assert_eq!(set.skipped().len(), 1);
//! assert!(set.iter().next().unwrap().supports(Algorithm::ES256));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{ConfigError, ProblemKind};

#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub mod remote;
pub(crate) mod set;

#[cfg(feature = "remote")]
pub use remote::RemoteJwks;
pub(crate) use set::KeySetId;
use set::Verifier;
pub use set::{
    Algorithm, KeyDocumentError, KeySet, KeyType, MAX_JWKS_BYTES, MAX_KEYS, MAX_KIDLESS_CANDIDATES,
    MIN_RSA_BITS, SkipReason, SkippedKey, VerifyingKey,
};

/// The keys of one issuer are unavailable: never loaded, too stale to trust, or (from
/// [`KeySource::refresh`]) not refetched for a key id because the rate limit forbids it now.
///
/// Requests meet this as `503 Service Unavailable` with `Retry-After`, never as a token
/// rejection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing keys are unavailable")]
pub struct KeysUnavailable {
    retry_after_secs: u64,
}

impl KeysUnavailable {
    /// Keys are unavailable; clients should retry after this many seconds.
    pub fn new(retry_after_secs: u64) -> Self {
        KeysUnavailable { retry_after_secs }
    }

    /// Seconds after which a retry may succeed.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after_secs
    }
}

/// A boxed future returned by [`KeySource::refresh`].
pub type RefreshFuture =
    Pin<Box<dyn Future<Output = Result<Arc<KeySet>, KeysUnavailable>> + Send + 'static>>;

/// A boxed future returned by [`KeySource::prefetch`].
pub type PrefetchFuture = Pin<
    Box<dyn Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>> + Send + 'static>,
>;

/// Where an issuer's verification keys come from.
///
/// Validation asks [`current`](Self::current) on every request, so it must be cheap and must
/// never block on I/O. When a token names a `kid` the current set lacks, or its signature fails
/// under the key its `kid` names (the issuer may have replaced the key), the layer calls
/// [`refresh`](Self::refresh) once and decides again; a remote source may fetch there
/// (rate-limited and single-flight), a static one simply answers again.
pub trait KeySource: fmt::Debug + Send + Sync + 'static {
    /// The keys to verify with right now.
    ///
    /// # Errors
    /// [`KeysUnavailable`] when no trustworthy key set is at hand.
    fn current(&self) -> Result<Arc<KeySet>, KeysUnavailable>;

    /// Called when a token names a key id the current set lacks, or fails its signature check
    /// under a key id the set has. A remote source refetches here, single-flight and
    /// rate-limited, so that a flood of random key ids costs the identity provider a bounded
    /// number of fetches. The default answers with [`current`](Self::current).
    ///
    /// The layer decides again after the future completes, with [`current`](Self::current).
    ///
    /// # Errors
    /// [`KeysUnavailable`] when no usable key set is at hand, and also when the source did
    /// not look for newer keys because its rate limit forbids it right now; `retry_after_secs`
    /// then says when it will. A token the current set still cannot verify is then answered
    /// 503 with `Retry-After`, not 401: a valid token signed with a newly published key must
    /// not be refused because of the rate limit. `Ok` means the source looked (or had nothing
    /// to look for), so a token it still cannot verify is refused with 401.
    fn refresh(&self) -> RefreshFuture {
        let current = self.current();
        Box::pin(std::future::ready(current))
    }

    /// Whether [`refresh`](Self::refresh) can ever yield keys `current` did not. Static
    /// sources return `false`, which spares an unknown `kid` or a bad signature the detour.
    /// Defaults to `true`.
    fn can_refresh(&self) -> bool {
        true
    }

    /// Whether requests can be verified right now, for readiness probes. Defaults to whether
    /// [`current`](Self::current) succeeds.
    fn is_ready(&self) -> bool {
        self.current().is_ok()
    }

    /// Loads the keys now, ignoring refresh rate limits, and says what went wrong if that
    /// failed. Used by [`McpAuth::prefetch`](crate::McpAuth::prefetch). The default reports
    /// whether [`current`](Self::current) succeeds.
    fn prefetch(&self) -> PrefetchFuture {
        let result = self
            .current()
            .map(|_| ())
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>);
        Box::pin(std::future::ready(result))
    }
}

/// Keys fixed at build time: a JWKS document, PEM public keys, or an HMAC secret.
///
/// ```
/// use mcp_server_auth::keys::{Algorithm, StaticKeys};
///
/// let secret = [7u8; 32];
/// let keys = StaticKeys::hmac(&secret, Algorithm::HS256)?;
/// # Ok::<(), mcp_server_auth::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct StaticKeys {
    set: Arc<KeySet>,
}

impl StaticKeys {
    /// Parses a JWKS document.
    ///
    /// # Errors
    /// A [`ConfigError`] with one problem (setting `from_jwks`): [`ProblemKind::Keys`] when
    /// the document is unusable, and [`ProblemKind::NoUsableKeys`] when it parsed but no key
    /// in it can verify anything.
    pub fn from_jwks(document: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let problem = |kind| ConfigError::new("from_jwks", kind);
        let set = KeySet::from_jwks(document.as_ref()).map_err(|e| problem(e.into()))?;
        Self::from_set(set).map_err(problem)
    }

    /// Parses one PEM public key: `PUBLIC KEY` (SubjectPublicKeyInfo: RSA, P-256, P-384 or
    /// Ed25519) or `RSA PUBLIC KEY` (PKCS#1). With `kid: None` the key verifies tokens of its
    /// issuer whatever `kid` they name (see [`KeySet::candidates`]).
    ///
    /// # Errors
    /// A [`ConfigError`] with one problem (setting `from_pem`): [`ProblemKind::Keys`] when the
    /// text is not such a key, [`ProblemKind::WeakKey`] for an RSA key under 2048 bits.
    pub fn from_pem(pem: impl AsRef<[u8]>, kid: Option<&str>) -> Result<Self, ConfigError> {
        let problem = |kind| ConfigError::new("from_pem", kind);
        let key = parse_pem(pem.as_ref())
            .map_err(problem)?
            .with_kid(kid.map(str::to_owned));
        Self::from_set(KeySet::from_keys([key])).map_err(problem)
    }

    /// An HMAC shared secret for one algorithm. The secret must be at least as long as the
    /// hash output (32, 48 or 64 bytes; RFC 7518 §3.2). It has no `kid`, so it verifies tokens
    /// of its issuer whatever `kid` they name; set one with [`with_kid`](Self::with_kid).
    ///
    /// # Security
    /// Anyone holding the secret can mint tokens; prefer asymmetric keys.
    ///
    /// # Errors
    /// A [`ConfigError`] with one problem (setting `hmac`): [`ProblemKind::WeakKey`] when the
    /// secret is too short, [`ProblemKind::NotHmac`] when `alg` is not an HMAC algorithm.
    pub fn hmac(secret: &[u8], alg: Algorithm) -> Result<Self, ConfigError> {
        let problem = |kind| ConfigError::new("hmac", kind);
        let params = alg
            .hmac_params()
            .ok_or_else(|| problem(ProblemKind::NotHmac { algorithm: alg }))?;
        let min = params.digest_algorithm().output_len();
        if secret.len() < min {
            return Err(problem(ProblemKind::WeakKey {
                reason: format!("{alg} secret of {} bytes is under {min}", secret.len()),
            }));
        }
        let key = VerifyingKey {
            kid: None,
            kind: KeyType::Hmac,
            verifiers: vec![(
                alg,
                Verifier::Hmac(Box::new(hmac::Key::new(params, secret))),
            )],
        };
        Self::from_set(KeySet::from_keys([key])).map_err(problem)
    }

    /// Gives every key that has no `kid` this one.
    #[must_use]
    pub fn with_kid(self, kid: &str) -> Self {
        let mut set = KeySet::clone(&self.set);
        for key in &mut set.keys {
            if key.kid.is_none() {
                key.kid = Some(kid.to_owned());
            }
        }
        StaticKeys { set: Arc::new(set) }
    }

    /// Adds the keys of `other` to this source.
    #[must_use]
    pub fn merge(self, other: &StaticKeys) -> Self {
        let mut set = KeySet::clone(&self.set);
        set.keys.extend(other.set.keys.iter().cloned());
        set.skipped.extend(other.set.skipped.iter().cloned());
        StaticKeys { set: Arc::new(set) }
    }

    /// No keys at all: for an issuer whose key source could not be built, so that the
    /// problems of the issuer are each reported once.
    #[cfg(feature = "remote")]
    pub(crate) fn none() -> Self {
        StaticKeys {
            set: Arc::new(KeySet::from_keys([])),
        }
    }

    fn from_set(set: KeySet) -> Result<Self, ProblemKind> {
        if set.is_empty() {
            return Err(ProblemKind::NoUsableKeys {
                skipped: set.skipped.len(),
            });
        }
        Ok(StaticKeys { set: Arc::new(set) })
    }
}

impl KeySource for StaticKeys {
    fn current(&self) -> Result<Arc<KeySet>, KeysUnavailable> {
        Ok(Arc::clone(&self.set))
    }

    fn can_refresh(&self) -> bool {
        false
    }
}

fn parse_pem(pem: &[u8]) -> Result<VerifyingKey, ProblemKind> {
    let text = std::str::from_utf8(pem).map_err(|_| KeyDocumentError::InvalidPem)?;
    let (label, der) = decode_pem(text).ok_or(KeyDocumentError::InvalidPem)?;
    match label {
        "RSA PUBLIC KEY" => rsa_from_der(&der),
        "PUBLIC KEY" => match rsa_from_der(&der) {
            Ok(key) => Ok(key),
            Err(weak @ ProblemKind::WeakKey { .. }) => Err(weak),
            Err(_) => [KeyType::EcP256, KeyType::EcP384, KeyType::Ed25519]
                .into_iter()
                .find_map(|kind| VerifyingKey::single(kind, &der).ok())
                .ok_or_else(|| KeyDocumentError::InvalidPem.into()),
        },
        _ => Err(KeyDocumentError::InvalidPem.into()),
    }
}

fn rsa_from_der(der: &[u8]) -> Result<VerifyingKey, ProblemKind> {
    let key = aws_lc_rs::rsa::PublicKey::from_der(der).map_err(|_| KeyDocumentError::InvalidPem)?;
    VerifyingKey::rsa(
        key.modulus().big_endian_without_leading_zero(),
        key.exponent().big_endian_without_leading_zero(),
        None,
    )
    .map_err(ProblemKind::from)
}

/// Returns the label and decoded body of the first PEM block.
fn decode_pem(text: &str) -> Option<(&str, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = text.get(start + "-----BEGIN ".len()..)?;
    let label_end = rest.find("-----")?;
    let label = rest.get(..label_end)?;
    let body_start = label_end + "-----".len();
    let end_marker = format!("-----END {label}-----");
    let body_end = rest.find(&end_marker)?;
    let body: String = rest
        .get(body_start..body_end)?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    Some((label, STANDARD.decode(body).ok()?))
}

impl From<SkipReason> for ProblemKind {
    fn from(reason: SkipReason) -> Self {
        match reason {
            SkipReason::WeakRsaKey { .. } => ProblemKind::WeakKey {
                reason: reason.to_string(),
            },
            _ => ProblemKind::Keys(KeyDocumentError::InvalidPem),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_are_case_sensitive_and_none_does_not_exist() {
        for name in [
            "none", "None", "NONE", "nOnE", "rs256", "Rs256", "ES512", "",
        ] {
            assert_eq!(Algorithm::from_name(name), None, "{name}");
        }
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.as_str()), Some(alg));
        }
    }

    #[test]
    fn short_hmac_secrets_are_refused() {
        for (alg, min) in [
            (Algorithm::HS256, 32),
            (Algorithm::HS384, 48),
            (Algorithm::HS512, 64),
        ] {
            assert!(StaticKeys::hmac(&vec![1; min - 1], alg).is_err());
            assert!(StaticKeys::hmac(&vec![1; min], alg).is_ok());
        }
        assert!(matches!(
            StaticKeys::hmac(&[1; 64], Algorithm::RS256)
                .unwrap_err()
                .problems()[0]
                .kind(),
            ProblemKind::NotHmac { .. }
        ));
    }

    #[test]
    fn key_documents_are_bounded() {
        let big = vec![b' '; MAX_JWKS_BYTES + 1];
        assert_eq!(
            KeySet::from_jwks(&big).unwrap_err(),
            KeyDocumentError::TooLarge
        );
        let many = format!(r#"{{"keys":[{}]}}"#, vec!["{}"; MAX_KEYS + 1].join(","));
        assert_eq!(
            KeySet::from_jwks(many.as_bytes()).unwrap_err(),
            KeyDocumentError::TooManyKeys
        );
        assert_eq!(
            KeySet::from_jwks(b"[1,2]").unwrap_err(),
            KeyDocumentError::NotAKeySet
        );
    }

    #[test]
    fn unusable_keys_are_skipped_with_a_reason() {
        let doc = br#"{"keys":[
            {"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0","kid":"hmac"},
            {"kty":"EC","crv":"P-521","x":"AA","y":"AA","kid":"p521"},
            {"kty":"RSA","n":"AQAB","e":"AQAB","kid":"tiny"},
            {"kty":"EC","crv":"P-256","x":"!!","y":"AA","kid":"bad"},
            {"kty":"OKP","crv":"X25519","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","kid":"x"},
            {"kty":"what","kid":"w"},
            "not an object"
        ]}"#;
        let set = KeySet::from_jwks(doc).unwrap();
        assert!(set.is_empty());
        let reasons: Vec<_> = set.skipped().iter().map(|s| s.reason.clone()).collect();
        assert_eq!(
            reasons,
            vec![
                SkipReason::SymmetricInDocument,
                SkipReason::UnsupportedKeyType,
                SkipReason::WeakRsaKey { bits: 17 },
                SkipReason::Malformed,
                SkipReason::UnsupportedKeyType,
                SkipReason::UnsupportedKeyType,
                SkipReason::Malformed,
            ]
        );
        assert!(matches!(
            StaticKeys::from_jwks(doc).unwrap_err().problems()[0].kind(),
            ProblemKind::NoUsableKeys { skipped: 7 }
        ));
    }

    #[test]
    fn tokens_without_kid_try_a_bounded_number_of_keys() {
        let keys: Vec<String> = (0..MAX_KIDLESS_CANDIDATES + 3)
            .map(|i| {
                format!(
                    r#"{{"kty":"EC","crv":"P-256","kid":"k{i}",
                    "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
                    "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}}"#
                )
            })
            .collect();
        let doc = format!(r#"{{"keys":[{}]}}"#, keys.join(","));
        let set = KeySet::from_jwks(doc.as_bytes()).unwrap();
        assert_eq!(set.len(), MAX_KIDLESS_CANDIDATES + 3);
        assert_eq!(
            set.candidates(None, Algorithm::ES256).count(),
            MAX_KIDLESS_CANDIDATES
        );
        assert_eq!(set.candidates(Some("k6"), Algorithm::ES256).count(), 1);
        assert_eq!(set.candidates(Some("k6"), Algorithm::ES384).count(), 0);
        assert_eq!(set.candidates(Some("nope"), Algorithm::ES256).count(), 0);
    }

    #[test]
    fn keys_without_kid_match_any_kid_their_named_siblings_do_not_claim() {
        let secret = [9u8; 32];
        let keys = StaticKeys::hmac(&secret, Algorithm::HS256).unwrap();
        let set = keys.current().unwrap();
        assert_eq!(
            set.candidates(Some("from-idp"), Algorithm::HS256).count(),
            1
        );
        assert_eq!(set.candidates(None, Algorithm::HS256).count(), 1);
        assert_eq!(
            set.candidates(Some("from-idp"), Algorithm::HS384).count(),
            0
        );

        let named = keys.with_kid("k1").current().unwrap();
        assert_eq!(named.candidates(Some("k1"), Algorithm::HS256).count(), 1);
        assert_eq!(named.candidates(Some("k2"), Algorithm::HS256).count(), 0);
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let keys = StaticKeys::hmac(b"0123456789abcdef0123456789abcdef", Algorithm::HS256).unwrap();
        let text = format!("{keys:?}");
        assert!(!text.contains("0123456789"), "{text}");
        assert!(text.contains("HS256"), "{text}");
    }
}
