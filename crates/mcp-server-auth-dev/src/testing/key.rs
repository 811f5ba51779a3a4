//! Signing keys generated in memory, and the append-only chain that holds every key an issuer
//! ever made (so that `&str` key ids can be lent out from `&self` while keys rotate).

use std::fmt;
use std::sync::OnceLock;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use mcp_server_auth::keys::Algorithm;

enum SigningKey {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

/// One generated key pair with its key id and public JWK. Its `Debug` shows the key id and
/// algorithm only, never key material.
pub(super) struct KeyEntry {
    kid: String,
    key: SigningKey,
    jwk: Value,
}

impl fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyEntry")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl KeyEntry {
    /// A new key for `alg` (`ES256`, `RS256` with 2048 bits, or `EdDSA`; anything else gets
    /// ES256) with a new random key id.
    pub(super) fn generate(alg: Algorithm) -> Self {
        let rng = SystemRandom::new();
        let key = match alg {
            Algorithm::RS256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .ok()
                .map(SigningKey::Rs256),
            Algorithm::EdDSA => Ed25519KeyPair::generate().ok().map(SigningKey::EdDsa),
            _ => None,
        };
        let key = key.unwrap_or_else(|| {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .and_then(|doc| {
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
                        .map_err(|_| aws_lc_rs::error::Unspecified)
                });
            match pkcs8 {
                Ok(key) => SigningKey::Es256(key),
                // Key generation only fails when the system RNG does, which no test survives.
                Err(_) => unreachable_rng(),
            }
        });
        let mut kid_bytes = [0u8; 9];
        if aws_lc_rs::rand::fill(&mut kid_bytes).is_err() {
            unreachable_rng();
        }
        let kid = format!("test-{}", b64(&kid_bytes));
        let jwk = public_jwk(&key, &kid);
        KeyEntry { kid, key, jwk }
    }

    pub(super) fn kid(&self) -> &str {
        &self.kid
    }

    pub(super) fn algorithm(&self) -> Algorithm {
        match self.key {
            SigningKey::Es256(_) => Algorithm::ES256,
            SigningKey::Rs256(_) => Algorithm::RS256,
            SigningKey::EdDsa(_) => Algorithm::EdDSA,
        }
    }

    /// The public key as a JWK with `kid`, `use: sig` and `alg`.
    pub(super) fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    pub(super) fn public_key_der(&self) -> Vec<u8> {
        let der = match &self.key {
            SigningKey::Es256(key) => key.public_key().as_der().map(|d| d.as_ref().to_vec()),
            SigningKey::Rs256(key) => key.public_key().as_der().map(|d| d.as_ref().to_vec()),
            SigningKey::EdDsa(key) => key.public_key().as_der().map(|d| d.as_ref().to_vec()),
        };
        der.unwrap_or_default()
    }

    /// The raw JWS signature of `signing_input`.
    pub(super) fn sign(&self, signing_input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        let signature = match &self.key {
            SigningKey::Es256(key) => key.sign(&rng, signing_input).map(|s| s.as_ref().to_vec()),
            SigningKey::Rs256(key) => {
                let mut out = vec![0; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, signing_input, &mut out)
                    .map(|()| out)
            }
            SigningKey::EdDsa(key) => Ok(key.sign(signing_input).as_ref().to_vec()),
        };
        signature.unwrap_or_default()
    }

    /// `header.payload.signature` over these exact bytes.
    pub(super) fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let signature = self.sign(input.as_bytes());
        format!("{input}.{}", b64(&signature))
    }
}

fn public_jwk(key: &SigningKey, kid: &str) -> Value {
    let (mut jwk, alg) = match key {
        SigningKey::Es256(key) => {
            let point = key.public_key().as_ref();
            let (x, y) = point.get(1..33).zip(point.get(33..65)).unwrap_or_default();
            (
                json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)}),
                Algorithm::ES256,
            )
        }
        SigningKey::Rs256(key) => {
            let public = key.public_key();
            (
                json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                }),
                Algorithm::RS256,
            )
        }
        SigningKey::EdDsa(key) => (
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key.public_key().as_ref())}),
            Algorithm::EdDSA,
        ),
    };
    if let Value::Object(map) = &mut jwk {
        map.insert("kid".into(), kid.into());
        map.insert("use".into(), "sig".into());
        map.insert("alg".into(), alg.as_str().into());
    }
    jwk
}

/// Every key an issuer ever generated, in order, never shrinking: entries are only appended,
/// and a `&KeyEntry` lent out lives as long as the chain. Appends are serialized by the caller
/// (the issuer's key-state lock); a racing append would still be placed safely.
#[derive(Debug)]
pub(super) struct KeyChain {
    head: KeyNode,
}

#[derive(Debug)]
struct KeyNode {
    key: KeyEntry,
    next: OnceLock<Box<KeyNode>>,
}

impl KeyChain {
    pub(super) fn new(first: KeyEntry) -> Self {
        KeyChain {
            head: KeyNode {
                key: first,
                next: OnceLock::new(),
            },
        }
    }

    fn nodes(&self) -> impl Iterator<Item = &KeyNode> {
        std::iter::successors(Some(&self.head), |node| node.next.get().map(|next| &**next))
    }

    /// The key at `index` (0 is the first key); the first key if there is no such index.
    pub(super) fn get(&self, index: usize) -> &KeyEntry {
        self.nodes()
            .nth(index)
            .map_or(&self.head.key, |node| &node.key)
    }

    /// Appends a key and returns its index.
    pub(super) fn push(&self, key: KeyEntry) -> usize {
        let mut node = Box::new(KeyNode {
            key,
            next: OnceLock::new(),
        });
        let mut tail = &self.head;
        let mut index = 0;
        loop {
            match tail.next.get() {
                Some(next) => {
                    tail = next;
                    index += 1;
                }
                None => match tail.next.set(node) {
                    Ok(()) => return index + 1,
                    // Someone appended first: walk on and try again behind their key.
                    Err(back) => node = back,
                },
            }
        }
    }
}

impl Drop for KeyChain {
    fn drop(&mut self) {
        // Unlink iteratively, so that a long chain cannot overflow the stack.
        let mut next = self.head.next.take();
        while let Some(mut node) = next {
            next = node.next.take();
        }
    }
}

#[allow(clippy::panic)]
pub(crate) fn unreachable_rng() -> ! {
    panic!("the system random number generator failed")
}

pub(super) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
