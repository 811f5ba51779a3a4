//! A development token issuer: keys generated in memory at start-up, tokens minted on demand.
//!
//! **Never use this in production.** It exists so that examples and tests can run without an
//! identity provider. Keys are generated fresh by every [`TestIssuer::new`] and never written
//! anywhere.
//!
//! ```
//! use mcp_server_auth::testing::TestIssuer;
//!
//! let issuer = TestIssuer::new("https://auth.example.com");
//! let token = issuer
//!     .token()
//!     .audience("https://mcp.example.com/mcp")
//!     .scope("mcp:tools")
//!     .sign();
//!
//! let auth = mcp_server_auth::McpAuth::builder("https://mcp.example.com/mcp")
//!     .issuer(issuer.issuer(), issuer.keys())
//!     .build()?;
//! let verified = auth.validator().validate(&token, mcp_server_auth::testing::unix_now())?;
//! assert_eq!(verified.subject(), Some("test-user"));
//! assert_eq!(verified.scopes(), ["mcp:tools"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use crate::keys::{Algorithm, StaticKeys};

/// The current time in seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

enum SigningKey {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

/// An in-memory issuer with one freshly generated signing key. See the [module docs](self).
pub struct TestIssuer {
    issuer: String,
    kid: String,
    key: SigningKey,
}

impl fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl TestIssuer {
    /// An issuer signing with a new ES256 key.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self::with_algorithm(issuer, Algorithm::ES256)
    }

    /// An issuer signing with a new key for `alg`: `ES256`, `RS256` (2048 bits) or `EdDSA`.
    /// Any other algorithm gets an ES256 key.
    pub fn with_algorithm(issuer: impl Into<String>, alg: Algorithm) -> Self {
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
        let _ = aws_lc_rs::rand::fill(&mut kid_bytes);
        TestIssuer {
            issuer: issuer.into(),
            kid: format!("test-{}", URL_SAFE_NO_PAD.encode(kid_bytes)),
            key,
        }
    }

    /// The issuer identifier, as put in `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The key id, as put in `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match self.key {
            SigningKey::Es256(_) => Algorithm::ES256,
            SigningKey::Rs256(_) => Algorithm::RS256,
            SigningKey::EdDsa(_) => Algorithm::EdDSA,
        }
    }

    /// The public key as a JWK (with `kid`, `use: sig` and `alg`).
    pub fn jwk(&self) -> Value {
        let mut jwk = match &self.key {
            SigningKey::Es256(key) => {
                let point = key.public_key().as_ref();
                let (x, y) = point.get(1..33).zip(point.get(33..65)).unwrap_or_default();
                json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)})
            }
            SigningKey::Rs256(key) => {
                let public = key.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                })
            }
            SigningKey::EdDsa(key) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key.public_key().as_ref())})
            }
        };
        if let Value::Object(map) = &mut jwk {
            map.insert("kid".into(), self.kid.clone().into());
            map.insert("use".into(), "sig".into());
            map.insert("alg".into(), self.algorithm().as_str().into());
        }
        jwk
    }

    /// The JWKS document publishing the public key.
    pub fn jwks(&self) -> String {
        json!({ "keys": [self.jwk()] }).to_string()
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Vec<u8> {
        let der = match &self.key {
            SigningKey::Es256(key) => key.public_key().as_der().map(|d| d.as_ref().to_vec()),
            SigningKey::Rs256(key) => key.public_key().as_der().map(|d| d.as_ref().to_vec()),
            SigningKey::EdDsa(key) => key.public_key().as_der().map(|d| d.as_ref().to_vec()),
        };
        der.unwrap_or_default()
    }

    /// The public key as a `PUBLIC KEY` PEM document.
    pub fn public_key_pem(&self) -> String {
        let body = STANDARD.encode(self.public_key_der());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// A key source holding the public key.
    pub fn keys(&self) -> StaticKeys {
        match StaticKeys::from_jwks(self.jwks()) {
            Ok(keys) => keys,
            // The document is generated right here from a valid key.
            Err(_) => unreachable_rng(),
        }
    }

    /// Starts a token with RFC 9068 defaults: `typ: at+jwt`, this issuer's `kid`, and claims
    /// `iss`, `sub` (`test-user`), `client_id` (`test-client`), `iat` (now), `exp` (in one
    /// hour) and a random `jti`. Add `aud` and `scope` yourself.
    pub fn token(&self) -> TokenBuilder<'_> {
        let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
        let mut jti = [0u8; 12];
        let _ = aws_lc_rs::rand::fill(&mut jti);
        let header = json!({"alg": self.algorithm().as_str(), "typ": "at+jwt", "kid": self.kid});
        let claims = json!({
            "iss": self.issuer,
            "sub": "test-user",
            "client_id": "test-client",
            "iat": now,
            "exp": now + 3600,
            "jti": b64(&jti),
        });
        TokenBuilder {
            issuer: self,
            header: into_map(header),
            claims: into_map(claims),
        }
    }

    /// Signs `signing_input` (the `header.payload` of a JWS) with this issuer's key and returns
    /// the raw signature.
    pub fn sign_bytes(&self, signing_input: &[u8]) -> Vec<u8> {
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

    /// Signs any header and payload bytes as a compact JWS, whatever they hold.
    pub fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let signature = self.sign_bytes(input.as_bytes());
        format!("{input}.{}", b64(&signature))
    }
}

#[allow(clippy::panic)]
fn unreachable_rng() -> ! {
    panic!("the system random number generator failed")
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A token being minted by a [`TestIssuer`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TokenBuilder<'a> {
    issuer: &'a TestIssuer,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl TokenBuilder<'_> {
    /// Sets `aud`.
    pub fn audience(self, audience: impl Into<String>) -> Self {
        self.claim("aud", audience.into())
    }

    /// Sets `scope` (space-separated).
    pub fn scope(self, scope: impl Into<String>) -> Self {
        self.claim("scope", scope.into())
    }

    /// Sets `sub`.
    pub fn subject(self, subject: impl Into<String>) -> Self {
        self.claim("sub", subject.into())
    }

    /// Sets `client_id`.
    pub fn client_id(self, client_id: impl Into<String>) -> Self {
        self.claim("client_id", client_id.into())
    }

    /// Sets `exp` to now plus `secs` (negative for the past).
    pub fn expires_in(self, secs: i64) -> Self {
        let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
        self.claim("exp", now + secs)
    }

    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a claim.
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets any header member.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a header member.
    pub fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    /// The header and claims as they stand.
    pub fn parts(&self) -> (&Map<String, Value>, &Map<String, Value>) {
        (&self.header, &self.claims)
    }

    /// Signs the token with the issuer's key, whatever `alg` the header claims.
    pub fn sign(self) -> String {
        let header = Value::Object(self.header).to_string();
        let claims = Value::Object(self.claims).to_string();
        self.issuer.sign_raw(header.as_bytes(), claims.as_bytes())
    }
}
