//! Key material: the algorithms this crate verifies, verifying keys parsed once from JWKs,
//! and key sets with their bounds. Nothing here fetches or configures: key sources
//! ([`super::KeySource`]) publish [`KeySet`]s.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::algorithm::Algorithm;
pub use crate::error::KeyDocumentError;
pub use crate::limits::{MAX_JWKS_BYTES, MAX_KEYS};
use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};

/// How many keys a token without `kid` is tried against, at most.
pub const MAX_KIDLESS_CANDIDATES: usize = 4;
/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// What kind of key material a [`VerifyingKey`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyType {
    /// An RSA public key of at least 2048 bits.
    Rsa,
    /// An EC public key on P-256.
    EcP256,
    /// An EC public key on P-384.
    EcP384,
    /// An Ed25519 public key.
    Ed25519,
    /// A shared HMAC secret.
    Hmac,
}

#[derive(Clone)]
pub(super) enum Verifier {
    Public(ParsedPublicKey),
    Hmac(Box<hmac::Key>),
}

/// One key, parsed and ready to verify signatures.
///
/// Its `Debug` output names the key id, type and algorithms, never key material.
#[derive(Clone)]
pub struct VerifyingKey {
    pub(super) kid: Option<String>,
    pub(super) kind: KeyType,
    /// One verifier per algorithm the key may be used with.
    pub(super) verifiers: Vec<(Algorithm, Verifier)>,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("algorithms", &self.algorithms().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// The key id (`kid`), if the key has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The kind of key material.
    pub fn key_type(&self) -> KeyType {
        self.kind
    }

    /// The algorithms this key may verify.
    pub fn algorithms(&self) -> impl Iterator<Item = Algorithm> + '_ {
        self.verifiers.iter().map(|(alg, _)| *alg)
    }

    /// Whether this key may verify signatures made with `alg`.
    pub fn supports(&self, alg: Algorithm) -> bool {
        self.verifiers.iter().any(|(a, _)| *a == alg)
    }

    /// Verifies `signature` over `message` with `alg`. Returns `false` for a wrong signature
    /// and for an algorithm the key does not support.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        let Some((_, verifier)) = self.verifiers.iter().find(|(a, _)| *a == alg) else {
            return false;
        };
        match verifier {
            Verifier::Public(key) => key.verify_sig(message, signature).is_ok(),
            Verifier::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
        }
    }

    pub(super) fn with_kid(mut self, kid: Option<String>) -> Self {
        self.kid = kid;
        self
    }

    /// Keeps only `alg`, if the key type allows it.
    fn restrict_to(mut self, alg: Algorithm) -> Result<Self, SkipReason> {
        self.verifiers.retain(|(a, _)| *a == alg);
        if self.verifiers.is_empty() {
            Err(SkipReason::AlgorithmMismatch)
        } else {
            Ok(self)
        }
    }

    /// An RSA key, parsed for `pinned` only or else for every RSA algorithm.
    pub(super) fn rsa(n: &[u8], e: &[u8], pinned: Option<Algorithm>) -> Result<Self, SkipReason> {
        let n = strip_leading_zeros(n);
        let bits = bit_length(n);
        if bits < MIN_RSA_BITS {
            return Err(SkipReason::WeakRsaKey { bits });
        }
        let components = RsaPublicKeyComponents { n, e };
        let mut verifiers = Vec::with_capacity(6);
        for alg in Algorithm::ALL {
            if pinned.is_some_and(|pinned| pinned != alg) {
                continue;
            }
            if let Some(params) = alg.rsa_params() {
                let parsed = components
                    .to_parsed_public_key(params)
                    .map_err(|_| SkipReason::Malformed)?;
                verifiers.push((alg, Verifier::Public(parsed)));
            }
        }
        if verifiers.is_empty() {
            return Err(SkipReason::AlgorithmMismatch);
        }
        Ok(VerifyingKey {
            kid: None,
            kind: KeyType::Rsa,
            verifiers,
        })
    }

    /// An EC or Ed25519 key from bytes aws-lc accepts (a SEC1 point, a raw Ed25519 key or a
    /// SubjectPublicKeyInfo).
    pub(super) fn single(kind: KeyType, bytes: &[u8]) -> Result<Self, SkipReason> {
        let (alg, verification): (Algorithm, &'static dyn signature::VerificationAlgorithm) =
            match kind {
                KeyType::EcP256 => (Algorithm::ES256, &signature::ECDSA_P256_SHA256_FIXED),
                KeyType::EcP384 => (Algorithm::ES384, &signature::ECDSA_P384_SHA384_FIXED),
                KeyType::Ed25519 => (Algorithm::EdDSA, &signature::ED25519),
                KeyType::Rsa | KeyType::Hmac => return Err(SkipReason::UnsupportedKeyType),
            };
        let parsed =
            ParsedPublicKey::new(verification, bytes).map_err(|_| SkipReason::Malformed)?;
        Ok(VerifyingKey {
            kid: None,
            kind,
            verifiers: vec![(alg, Verifier::Public(parsed))],
        })
    }

    fn from_jwk(jwk: &Jwk) -> Result<Self, SkipReason> {
        match &jwk.common.public_key_use {
            None | Some(PublicKeyUse::Signature) => {}
            Some(_) => return Err(SkipReason::NotForSignatures),
        }
        if let Some(ops) = &jwk.common.key_operations
            && !ops.iter().any(|op| matches!(op, KeyOperations::Verify))
        {
            return Err(SkipReason::NotForSignatures);
        }
        let pinned = match &jwk.common.key_algorithm {
            None => None,
            Some(alg) => Some(Algorithm::from_jwk_alg(alg).ok_or(SkipReason::AlgorithmMismatch)?),
        };
        let key = match &jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => {
                VerifyingKey::rsa(&b64url(&rsa.n)?, &b64url(&rsa.e)?, pinned)?
            }
            AlgorithmParameters::EllipticCurve(ec) => {
                let (kind, len) = match ec.curve {
                    EllipticCurve::P256 => (KeyType::EcP256, 32),
                    EllipticCurve::P384 => (KeyType::EcP384, 48),
                    _ => return Err(SkipReason::UnsupportedKeyType),
                };
                let (x, y) = (b64url(&ec.x)?, b64url(&ec.y)?);
                if x.len() != len || y.len() != len {
                    return Err(SkipReason::Malformed);
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                VerifyingKey::single(kind, &point)?
            }
            AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
                EllipticCurve::Ed25519 => {
                    let x = b64url(&okp.x)?;
                    if x.len() != 32 {
                        return Err(SkipReason::Malformed);
                    }
                    VerifyingKey::single(KeyType::Ed25519, &x)?
                }
                _ => return Err(SkipReason::UnsupportedKeyType),
            },
            // Shared secrets never come from a key document (RFC 8725 §3.2; DESIGN: HMAC only
            // with an explicitly configured secret).
            AlgorithmParameters::OctetKey(_) => return Err(SkipReason::SymmetricInDocument),
            _ => return Err(SkipReason::UnsupportedKeyType),
        };
        let key = key.with_kid(jwk.common.key_id.clone());
        match pinned {
            Some(alg) => key.restrict_to(alg),
            None => Ok(key),
        }
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

fn bit_length(big_endian: &[u8]) -> usize {
    match big_endian.first() {
        None => 0,
        Some(first) => big_endian.len() * 8 - first.leading_zeros() as usize,
    }
}

fn b64url(value: &str) -> Result<Vec<u8>, SkipReason> {
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| SkipReason::Malformed)
}

/// Why a key in a key document was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// The key is published for encryption (`use` other than `sig`, or `key_ops` without
    /// `verify`).
    NotForSignatures,
    /// The key type or curve is not one this crate verifies with.
    UnsupportedKeyType,
    /// The JWK `alg` names an algorithm this crate does not verify, or one its type cannot do.
    AlgorithmMismatch,
    /// An RSA key shorter than 2048 bits.
    WeakRsaKey {
        /// The modulus length.
        bits: usize,
    },
    /// A symmetric (`oct`) key inside a key document; shared secrets must be configured
    /// explicitly.
    SymmetricInDocument,
    /// The key's parameters do not decode or do not form a valid key.
    Malformed,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NotForSignatures => f.write_str("key is not for signature verification"),
            SkipReason::UnsupportedKeyType => f.write_str("unsupported key type or curve"),
            SkipReason::AlgorithmMismatch => f.write_str("unsupported or mismatched key algorithm"),
            SkipReason::WeakRsaKey { bits } => {
                write!(f, "rsa key of {bits} bits is under {MIN_RSA_BITS}")
            }
            SkipReason::SymmetricInDocument => f.write_str("symmetric key in a key document"),
            SkipReason::Malformed => f.write_str("malformed key parameters"),
        }
    }
}

/// A key that was left out of a [`KeySet`], and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedKey {
    /// The key's `kid`, when it had a string one.
    pub kid: Option<String>,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// An immutable set of parsed keys, shared cheaply behind an `Arc`.
///
/// Every set has an identity of its own: a clone is a new set. The verified-token cache
/// remembers which set verified each token and answers from memory only while its issuer's
/// source still returns that very set, so a [`KeySource`](super::KeySource) should hand out the same `Arc` for as
/// long as its keys are unchanged.
#[derive(Debug, Default)]
pub struct KeySet {
    id: KeySetId,
    pub(super) keys: Vec<VerifyingKey>,
    pub(super) skipped: Vec<SkippedKey>,
}

/// A process-unique number for each [`KeySet`] made, never reused (unlike an address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeySetId(u64);

impl KeySetId {
    pub(crate) fn get(self) -> u64 {
        self.0
    }
}

impl Default for KeySetId {
    fn default() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        KeySetId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl Clone for KeySet {
    fn clone(&self) -> Self {
        KeySet {
            id: KeySetId::default(),
            keys: self.keys.clone(),
            skipped: self.skipped.clone(),
        }
    }
}

impl KeySet {
    /// Parses a JWKS document ([RFC 7517 §5]). Unusable keys are skipped and listed in
    /// [`skipped`](Self::skipped); each skip is also logged at `warn`.
    ///
    /// # Errors
    /// When the document is too large, not a key set, or has too many keys.
    ///
    /// [RFC 7517 §5]: https://www.rfc-editor.org/rfc/rfc7517#section-5
    pub fn from_jwks(document: &[u8]) -> Result<Self, KeyDocumentError> {
        #[derive(serde::Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        if document.len() > MAX_JWKS_BYTES {
            return Err(KeyDocumentError::TooLarge);
        }
        let doc: Document =
            serde_json::from_slice(document).map_err(|_| KeyDocumentError::NotAKeySet)?;
        if doc.keys.len() > MAX_KEYS {
            return Err(KeyDocumentError::TooManyKeys);
        }
        let mut set = KeySet::default();
        for value in doc.keys {
            let kid = value
                .get("kid")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned);
            let parsed = serde_json::from_value::<Jwk>(value)
                .map_err(|_| SkipReason::Malformed)
                .and_then(|jwk| VerifyingKey::from_jwk(&jwk));
            match parsed {
                Ok(key) => set.keys.push(key),
                Err(reason) => {
                    tracing::warn!(target: crate::observe::TRACE_TARGET, kid = ?kid, %reason, "skipping key");
                    set.skipped.push(SkippedKey { kid, reason });
                }
            }
        }
        Ok(set)
    }

    /// Builds a set from keys already parsed.
    pub fn from_keys(keys: impl IntoIterator<Item = VerifyingKey>) -> Self {
        KeySet {
            id: KeySetId::default(),
            keys: keys.into_iter().collect(),
            skipped: Vec::new(),
        }
    }

    pub(crate) fn id(&self) -> KeySetId {
        self.id
    }

    /// The usable keys.
    pub fn iter(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.keys.iter()
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Keys from the source document that were left out, and why.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// Whether any key carries this `kid`.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid() == Some(kid))
    }

    /// The keys that may verify a token with this header, all supporting `alg`:
    ///
    /// * with a `kid`, the keys carrying that `kid`; if none does, the keys that have no `kid`
    ///   at all (a key configured without one, such as an HMAC secret or a PEM key, matches any
    ///   `kid` of its issuer: RFC 7515 makes `kid` a hint);
    /// * without a `kid`, every key.
    ///
    /// Apart from keys named by their `kid`, at most [`MAX_KIDLESS_CANDIDATES`] keys are
    /// returned, so that no token costs more than that many signature checks.
    pub fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a VerifyingKey> + 'a {
        let named = kid.is_some_and(|kid| self.keys.iter().any(|k| k.kid() == Some(kid)));
        let limit = if named {
            usize::MAX
        } else {
            MAX_KIDLESS_CANDIDATES
        };
        self.keys
            .iter()
            .filter(move |k| {
                k.supports(alg)
                    && match kid {
                        Some(_) if named => k.kid() == kid,
                        Some(_) => k.kid().is_none(),
                        None => true,
                    }
            })
            .take(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_length_counts_from_the_first_set_bit() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0x80, 0]), 16);
        assert_eq!(bit_length(strip_leading_zeros(&[0, 0, 0x7f, 0])), 15);
    }
}
