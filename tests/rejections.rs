//! Token rejections (checklist §E, vectors T6–T10): every validation rule, each in its own test.
//!
//! Each test sends the token through a real axum server guarded by the layer and asserts the
//! 401 `invalid_token` challenge, then asks the server's validator for the precise
//! [`TokenErrorKind`], so a test fails when its one rule is removed. Every bad token differs from
//! an accepted token in exactly the property under test; where that is not obvious, a control
//! test shows the token without that property is accepted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, RsaPublicKeyComponents,
    UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use common::*;
use mcp_server_auth::keys::{Algorithm, KeySource, SkipReason, StaticKeys};
use mcp_server_auth::validate::{DEFAULT_MAX_TOKEN_BYTES, TokenErrorKind};
use mcp_server_auth_dev::testing::{TestIssuer, TokenBuilder, unix_now};
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A token the server accepts, still open for one change: its issuer, its audience, the
/// endpoint scope.
fn valid(server: &Server) -> TokenBuilder<'_> {
    server
        .issuer
        .token()
        .audience(server.resource.clone())
        .scope("mcp:tools")
}

/// The validator gives `kind`, and the server answers 401 with an `invalid_token` challenge.
async fn assert_rejected(server: &Server, token: &str, kind: TokenErrorKind, what: &str) {
    assert_eq!(server.reason(token), Err(kind), "validator reason: {what}");
    assert_invalid_token(server, token).await;
}

/// The validator accepts the token and the request reaches the handler with it.
async fn assert_accepted(server: &Server, token: &str, what: &str) {
    assert_eq!(server.reason(token), Ok(()), "validator: {what}");
    let response = post_token(server, token).await;
    assert_eq!(response.status(), 200, "status: {what}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["verified"]["iss"],
        server.issuer.issuer(),
        "verified token reached the handler: {what}"
    );
}

fn now() -> i64 {
    i64::try_from(unix_now()).unwrap()
}

/// The three segments of a compact JWS.
fn segments(token: &str) -> [&str; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS");
    [parts[0], parts[1], parts[2]]
}

/// `header.payload` of a compact JWS.
fn signing_input(token: &str) -> &str {
    let [header, payload, _] = segments(token);
    &token[..header.len() + 1 + payload.len()]
}

fn decode(segment: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(segment).unwrap()
}

fn json_bytes(object: &Map<String, Value>) -> Vec<u8> {
    Value::Object(object.clone()).to_string().into_bytes()
}

/// `object` serialized, with `members` (raw JSON text) appended as its last members. Lets a test
/// write what a JSON map cannot hold, such as a repeated member.
fn with_raw_members(object: &Map<String, Value>, members: &str) -> Vec<u8> {
    let text = Value::Object(object.clone()).to_string();
    let open = text.strip_suffix('}').unwrap();
    let comma = if object.is_empty() { "" } else { "," };
    format!("{open}{comma}{members}}}").into_bytes()
}

/// The header and claims of `builder`, serialized.
fn raw_parts(builder: &TokenBuilder<'_>) -> (Vec<u8>, Vec<u8>) {
    let (header, claims) = builder.parts();
    (json_bytes(header), json_bytes(claims))
}

/// The uncompressed SEC1 point of an EC JWK.
fn ec_point(jwk: &Value) -> Vec<u8> {
    let mut point = vec![0x04];
    point.extend(decode(jwk["x"].as_str().unwrap()));
    point.extend(decode(jwk["y"].as_str().unwrap()));
    point
}

// ---------------------------------------------------------------------------------------------
// Positive controls
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unmodified_token_is_accepted() {
    let server = start(|b| b).await;
    assert_accepted(&server, &server.token(), "the unmodified token").await;
}

#[tokio::test]
async fn unmodified_rs256_token_is_accepted() {
    let server =
        start_with_issuer(TestIssuer::with_algorithm(ISSUER, Algorithm::RS256), |b| b).await;
    assert_accepted(&server, &server.token(), "the unmodified RS256 token").await;
}

#[tokio::test]
async fn hand_written_header_and_payload_are_accepted() {
    // The control for the tests below that write JSON by hand.
    let server = start(|b| b).await;
    let builder = valid(&server).without_header("alg").without_claim("aud");
    let (header, claims) = builder.parts();
    let header = with_raw_members(header, r#""alg":"ES256""#);
    let aud = json!(server.resource).to_string();
    let claims = with_raw_members(claims, &format!(r#""aud":{aud}"#));
    let token = server.issuer.sign_raw(&header, &claims);
    assert_accepted(&server, &token, "hand-written header and payload").await;
}

// ---------------------------------------------------------------------------------------------
// alg: none in every casing, with and without a signature
// ---------------------------------------------------------------------------------------------

macro_rules! alg_none_is_rejected {
    ($($name:ident: $alg:literal, signed: $signed:literal;)*) => {$(
        #[tokio::test]
        async fn $name() {
            let server = start(|b| b).await;
            // Signed by the issuer's real key over a header that says `none`.
            let signed = valid(&server).header("alg", $alg).sign();
            let token = if $signed {
                signed
            } else {
                format!("{}.", signing_input(&signed))
            };
            assert_rejected(
                &server,
                &token,
                TokenErrorKind::UnsupportedAlgorithm,
                if $signed {
                    concat!("alg ", $alg, " with a signature")
                } else {
                    concat!("alg ", $alg, " unsigned")
                },
            )
            .await;
        }
    )*};
}

alg_none_is_rejected! {
    alg_none_lowercase_with_empty_signature_is_rejected: "none", signed: false;
    alg_none_lowercase_with_signature_is_rejected: "none", signed: true;
    alg_none_capitalized_with_empty_signature_is_rejected: "None", signed: false;
    alg_none_capitalized_with_signature_is_rejected: "None", signed: true;
    alg_none_uppercase_with_empty_signature_is_rejected: "NONE", signed: false;
    alg_none_uppercase_with_signature_is_rejected: "NONE", signed: true;
    alg_none_mixed_case_with_empty_signature_is_rejected: "nOnE", signed: false;
    alg_none_mixed_case_with_signature_is_rejected: "nOnE", signed: true;
}

#[tokio::test]
async fn alg_name_in_wrong_case_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).header("alg", "es256").sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::UnsupportedAlgorithm,
        "alg es256",
    )
    .await;
}

#[tokio::test]
async fn alg_missing_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).without_header("alg").sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::UnsupportedAlgorithm,
        "no alg",
    )
    .await;
}

#[tokio::test]
async fn alg_outside_the_configured_allow_list_is_rejected() {
    // The issuer publishes an ES256 and an EdDSA key; only EdDSA (and RS256) are allowed.
    let issuer = TestIssuer::new(ISSUER);
    let eddsa = TestIssuer::with_algorithm(ISSUER, Algorithm::EdDSA);
    let keys = issuer.keys().merge(&eddsa.keys());
    let server = start_with_keys(issuer, keys, |b| {
        b.algorithms([Algorithm::RS256, Algorithm::EdDSA])
    })
    .await;
    assert_rejected(
        &server,
        &server.token(),
        TokenErrorKind::UnsupportedAlgorithm,
        "ES256 when only RS256 and EdDSA are allowed",
    )
    .await;
}

#[tokio::test]
async fn alg_the_key_does_not_support_is_rejected() {
    // The ES256 key signs, but the header claims RS256 (allowed in general, not for this key).
    let server = start(|b| b).await;
    let token = valid(&server).header("alg", "RS256").sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::UnknownKey,
        "RS256 header on an EC key",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// RSA → HMAC key confusion (T8)
// ---------------------------------------------------------------------------------------------

/// An HS256 token whose HMAC key is `secret`, otherwise the server's valid token.
fn hs256_token(server: &Server, secret: &[u8]) -> String {
    let builder = valid(server).header("alg", "HS256");
    let (header, claims) = raw_parts(&builder);
    let input = format!("{}.{}", b64(&header), b64(&claims));
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

#[derive(Clone, Copy)]
enum PublicKeyForm {
    Pem,
    Der,
    Jwk,
}

fn public_key_bytes(issuer: &TestIssuer, form: PublicKeyForm) -> Vec<u8> {
    match form {
        PublicKeyForm::Pem => issuer.public_key_pem().into_bytes(),
        PublicKeyForm::Der => issuer.public_key_der(),
        PublicKeyForm::Jwk => issuer.jwk().to_string().into_bytes(),
    }
}

async fn hs256_with_rsa_public_key_case(form: PublicKeyForm, allow_hs256: bool) {
    let issuer = TestIssuer::with_algorithm(ISSUER, Algorithm::RS256);
    let server = start_with_issuer(issuer, |b| {
        if allow_hs256 {
            b.algorithms([Algorithm::RS256, Algorithm::HS256])
        } else {
            b
        }
    })
    .await;
    let secret = public_key_bytes(&server.issuer, form);
    let token = hs256_token(&server, &secret);
    let kind = if allow_hs256 {
        // HS256 passes the allow-list, but no RSA key ever verifies an HMAC.
        TokenErrorKind::UnknownKey
    } else {
        TokenErrorKind::UnsupportedAlgorithm
    };
    assert_rejected(&server, &token, kind, "HS256 keyed with the RSA public key").await;
}

#[tokio::test]
async fn hs256_keyed_with_rsa_public_key_pem_is_rejected() {
    hs256_with_rsa_public_key_case(PublicKeyForm::Pem, false).await;
}

#[tokio::test]
async fn hs256_keyed_with_rsa_public_key_der_is_rejected() {
    hs256_with_rsa_public_key_case(PublicKeyForm::Der, false).await;
}

#[tokio::test]
async fn hs256_keyed_with_rsa_public_key_jwk_is_rejected() {
    hs256_with_rsa_public_key_case(PublicKeyForm::Jwk, false).await;
}

#[tokio::test]
async fn hs256_keyed_with_rsa_public_key_pem_is_rejected_even_when_hs256_is_allowed() {
    hs256_with_rsa_public_key_case(PublicKeyForm::Pem, true).await;
}

#[tokio::test]
async fn hs256_keyed_with_rsa_public_key_der_is_rejected_even_when_hs256_is_allowed() {
    hs256_with_rsa_public_key_case(PublicKeyForm::Der, true).await;
}

#[tokio::test]
async fn hs256_keyed_with_rsa_public_key_jwk_is_rejected_even_when_hs256_is_allowed() {
    hs256_with_rsa_public_key_case(PublicKeyForm::Jwk, true).await;
}

// ---------------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn es256_signature_with_r_and_s_zero_is_rejected() {
    let server = start(|b| b).await;
    let token = format!("{}.{}", signing_input(&server.token()), b64(&[0; 64]));
    assert_rejected(&server, &token, TokenErrorKind::BadSignature, "r = s = 0").await;
}

#[tokio::test]
async fn es256_signature_in_der_form_is_rejected() {
    let server = start(|b| b).await;
    let valid_token = server.token();
    let input = signing_input(&valid_token);
    let der = ecdsa_der(&decode(segments(&valid_token)[2]));
    // The same signature, re-encoded: it verifies as ASN.1 ECDSA, but JWS uses fixed r || s.
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, ec_point(&server.issuer.jwk()))
        .verify(input.as_bytes(), &der)
        .expect("the DER form is the same valid signature");
    let token = format!("{input}.{}", b64(&der));
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::BadSignature,
        "DER ECDSA signature",
    )
    .await;
}

#[tokio::test]
async fn payload_changed_after_signing_is_rejected() {
    let server = start(|b| b).await;
    let original = server.token();
    let [header, _, signature] = segments(&original);
    let changed = valid(&server).subject("someone-else");
    let (_, claims) = raw_parts(&changed);
    let token = format!("{header}.{}.{signature}", b64(&claims));
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::BadSignature,
        "payload changed after signing",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Keys: unknown kid, keys the issuer does not publish for signing, weak RSA keys
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_kid_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).header("kid", "no-such-key").sign();
    assert_rejected(&server, &token, TokenErrorKind::UnknownKey, "unknown kid").await;
}

/// A server whose issuer publishes its own key with `edit` applied, beside another valid key.
async fn start_with_edited_key(edit: impl FnOnce(&mut Value)) -> Server {
    let issuer = TestIssuer::new(ISSUER);
    let other = TestIssuer::new(ISSUER);
    let mut jwk = issuer.jwk();
    edit(&mut jwk);
    let jwks = json!({ "keys": [jwk, other.jwk()] }).to_string();
    let keys = StaticKeys::from_jwks(jwks).unwrap();
    start_with_keys(issuer, keys, |b| b).await
}

#[tokio::test]
async fn key_published_for_signatures_in_a_two_key_document_is_used() {
    // Control for the two tests below: the same document, the key left for signatures.
    let server = start_with_edited_key(|jwk| jwk["use"] = json!("sig")).await;
    assert_accepted(&server, &server.token(), "key with use: sig").await;
}

#[tokio::test]
async fn key_published_with_use_enc_is_never_used() {
    let server = start_with_edited_key(|jwk| jwk["use"] = json!("enc")).await;
    assert_rejected(
        &server,
        &server.token(),
        TokenErrorKind::UnknownKey,
        "signed with a use: enc key",
    )
    .await;
}

#[tokio::test]
async fn key_published_with_key_ops_without_verify_is_never_used() {
    let server = start_with_edited_key(|jwk| {
        jwk.as_object_mut().unwrap().remove("use");
        jwk["key_ops"] = json!(["encrypt", "wrapKey"]);
    })
    .await;
    assert_rejected(
        &server,
        &server.token(),
        TokenErrorKind::UnknownKey,
        "signed with a key_ops: [encrypt] key",
    )
    .await;
}

/// An RSA key generated by the `openssl` command-line tool (aws-lc-rs refuses to generate keys
/// under 2048 bits), kept in a fresh directory under the test target directory.
struct OpensslRsaKey {
    dir: PathBuf,
    modulus: Vec<u8>,
}

fn openssl(args: &[&str], dir: &Path) -> Vec<u8> {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command-line tool is installed");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

impl OpensslRsaKey {
    fn generate(bits: u32) -> Self {
        let mut nonce = [0u8; 8];
        aws_lc_rs::rand::fill(&mut nonce).unwrap();
        let dir =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("rsa-{bits}-{}", hex(&nonce)));
        std::fs::create_dir_all(&dir).unwrap();
        openssl(&["genrsa", "-out", "key.pem", &bits.to_string()], &dir);
        let text = String::from_utf8(openssl(
            &["rsa", "-in", "key.pem", "-noout", "-modulus"],
            &dir,
        ))
        .unwrap();
        let hex_modulus = text.trim().strip_prefix("Modulus=").unwrap();
        let modulus = (0..hex_modulus.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex_modulus[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>();
        assert_eq!(modulus.len() * 8, bits as usize, "modulus length");
        assert!(modulus[0] & 0x80 != 0, "top bit set: exactly {bits} bits");
        OpensslRsaKey { dir, modulus }
    }

    /// OpenSSL's default public exponent.
    const EXPONENT: [u8; 3] = [1, 0, 1];

    fn jwk(&self, kid: &str) -> Value {
        json!({
            "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": b64(&self.modulus), "e": b64(&Self::EXPONENT),
        })
    }

    /// An RS256 (PKCS#1 v1.5, SHA-256) signature over `message`.
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        std::fs::write(self.dir.join("input"), message).unwrap();
        openssl(
            &[
                "dgst", "-sha256", "-sign", "key.pem", "-out", "sig", "input",
            ],
            &self.dir,
        );
        let signature = std::fs::read(self.dir.join("sig")).unwrap();
        RsaPublicKeyComponents {
            n: self.modulus.as_slice(),
            e: Self::EXPONENT.as_slice(),
        }
        .verify(
            &RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            message,
            &signature,
        )
        .expect("openssl made a valid RS256 signature");
        signature
    }

    /// A token signed with this key under `kid`, otherwise the server's valid token.
    fn token(&self, server: &Server, kid: &str) -> String {
        let builder = valid(server).header("alg", "RS256").header("kid", kid);
        let (header, claims) = raw_parts(&builder);
        let input = format!("{}.{}", b64(&header), b64(&claims));
        format!("{input}.{}", b64(&self.sign(input.as_bytes())))
    }
}

impl Drop for OpensslRsaKey {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A server whose issuer publishes `rsa` under `kid` beside the issuer's own key.
async fn start_with_rsa_key(rsa: &OpensslRsaKey, kid: &str) -> Server {
    let issuer = TestIssuer::new(ISSUER);
    let jwks = json!({ "keys": [rsa.jwk(kid), issuer.jwk()] }).to_string();
    start_with_keys(issuer, StaticKeys::from_jwks(jwks).unwrap(), |b| b).await
}

#[test]
fn rsa_pem_under_2048_bits_is_refused_as_weak_in_both_pem_forms() {
    let rsa = OpensslRsaKey::generate(1024);
    for (form, args) in [
        (
            "SubjectPublicKeyInfo",
            &["rsa", "-in", "key.pem", "-pubout"][..],
        ),
        (
            "PKCS#1",
            &["rsa", "-in", "key.pem", "-RSAPublicKey_out"][..],
        ),
    ] {
        let pem = openssl(args, &rsa.dir);
        let result = StaticKeys::from_pem(&pem, None);
        assert!(
            matches!(
                result.as_ref().map_err(|e| e.problems()[0].kind()),
                Err(mcp_server_auth::error::ProblemKind::WeakKey { .. })
            ),
            "{form}: {result:?}"
        );
    }
}

#[tokio::test]
async fn rsa_key_of_2048_bits_made_by_openssl_is_used() {
    // Control for the 1024-bit test: the same key pipeline with a key of the minimum size.
    let rsa = OpensslRsaKey::generate(2048);
    let server = start_with_rsa_key(&rsa, "rsa-2048").await;
    let token = rsa.token(&server, "rsa-2048");
    assert_accepted(&server, &token, "RS256 with a 2048-bit key").await;
}

#[tokio::test]
async fn rsa_key_under_2048_bits_is_never_used() {
    let rsa = OpensslRsaKey::generate(1024);
    let server = start_with_rsa_key(&rsa, "rsa-1024").await;
    let keys = StaticKeys::from_jwks(json!({ "keys": [rsa.jwk("rsa-1024")] }).to_string());
    assert!(
        keys.is_err(),
        "a document with only the weak key is refused"
    );
    let token = rsa.token(&server, "rsa-1024");
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::UnknownKey,
        "RS256 with a 1024-bit key",
    )
    .await;
}

#[tokio::test]
async fn rsa_key_under_2048_bits_is_skipped_with_its_size() {
    let rsa = OpensslRsaKey::generate(1024);
    let issuer = TestIssuer::new(ISSUER);
    let jwks = json!({ "keys": [rsa.jwk("rsa-1024"), issuer.jwk()] }).to_string();
    let set = StaticKeys::from_jwks(jwks).unwrap().current().unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set.skipped().len(), 1);
    assert_eq!(set.skipped()[0].kid.as_deref(), Some("rsa-1024"));
    assert_eq!(
        set.skipped()[0].reason,
        SkipReason::WeakRsaKey { bits: 1024 }
    );
}

// ---------------------------------------------------------------------------------------------
// Keys named by the token: jku, x5u, jwk, x5c (RFC 8725 §3.10)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum EmbeddedKeySigner {
    /// The attacker's key, with the legitimate issuer's `kid`.
    AttackerWithLegitKid,
    /// The attacker's key, with the attacker's own `kid`.
    AttackerWithOwnKid,
    /// The legitimate issuer's key: the member is ignored.
    Legit,
}

async fn embedded_key_case(member: &str, signer: EmbeddedKeySigner) {
    let server = start(|b| b).await;
    let attacker = TestIssuer::new(ISSUER);
    let (base, hits) = serve_attacker_keys(&attacker).await;
    let value = match member {
        "jku" => json!(format!("{base}/jwks.json")),
        "x5u" => json!(format!("{base}/cert.pem")),
        "jwk" => attacker.jwk(),
        "x5c" => json!([STANDARD.encode(attacker.public_key_der())]),
        _ => unreachable!("{member}"),
    };
    let attacker_token = || {
        attacker
            .token()
            .audience(server.resource.clone())
            .scope("mcp:tools")
            .header(member, value.clone())
    };
    let what = format!("{member} naming the attacker's key, {signer:?}");
    match signer {
        EmbeddedKeySigner::AttackerWithLegitKid => {
            let token = attacker_token().header("kid", server.issuer.kid()).sign();
            assert_rejected(&server, &token, TokenErrorKind::BadSignature, &what).await;
        }
        EmbeddedKeySigner::AttackerWithOwnKid => {
            let token = attacker_token().sign();
            assert_rejected(&server, &token, TokenErrorKind::UnknownKey, &what).await;
        }
        EmbeddedKeySigner::Legit => {
            let token = valid(&server).header(member, value.clone()).sign();
            assert_accepted(&server, &token, &what).await;
        }
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the token's URL was fetched"
    );
}

#[tokio::test]
async fn jku_naming_attacker_keys_with_legit_kid_is_rejected() {
    embedded_key_case("jku", EmbeddedKeySigner::AttackerWithLegitKid).await;
}

#[tokio::test]
async fn jku_naming_attacker_keys_with_attacker_kid_is_rejected() {
    embedded_key_case("jku", EmbeddedKeySigner::AttackerWithOwnKid).await;
}

#[tokio::test]
async fn jku_on_a_legitimately_signed_token_is_ignored() {
    embedded_key_case("jku", EmbeddedKeySigner::Legit).await;
}

#[tokio::test]
async fn x5u_naming_attacker_key_with_legit_kid_is_rejected() {
    embedded_key_case("x5u", EmbeddedKeySigner::AttackerWithLegitKid).await;
}

#[tokio::test]
async fn x5u_naming_attacker_key_with_attacker_kid_is_rejected() {
    embedded_key_case("x5u", EmbeddedKeySigner::AttackerWithOwnKid).await;
}

#[tokio::test]
async fn x5u_on_a_legitimately_signed_token_is_ignored() {
    embedded_key_case("x5u", EmbeddedKeySigner::Legit).await;
}

#[tokio::test]
async fn embedded_jwk_of_attacker_with_legit_kid_is_rejected() {
    embedded_key_case("jwk", EmbeddedKeySigner::AttackerWithLegitKid).await;
}

#[tokio::test]
async fn embedded_jwk_of_attacker_with_attacker_kid_is_rejected() {
    embedded_key_case("jwk", EmbeddedKeySigner::AttackerWithOwnKid).await;
}

#[tokio::test]
async fn embedded_jwk_on_a_legitimately_signed_token_is_ignored() {
    embedded_key_case("jwk", EmbeddedKeySigner::Legit).await;
}

#[tokio::test]
async fn x5c_of_attacker_with_legit_kid_is_rejected() {
    embedded_key_case("x5c", EmbeddedKeySigner::AttackerWithLegitKid).await;
}

#[tokio::test]
async fn x5c_of_attacker_with_attacker_kid_is_rejected() {
    embedded_key_case("x5c", EmbeddedKeySigner::AttackerWithOwnKid).await;
}

#[tokio::test]
async fn x5c_on_a_legitimately_signed_token_is_ignored() {
    embedded_key_case("x5c", EmbeddedKeySigner::Legit).await;
}

// ---------------------------------------------------------------------------------------------
// Issuers (T9)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn iss_missing_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).without_claim("iss").sign();
    assert_rejected(&server, &token, TokenErrorKind::MissingClaim, "no iss").await;
}

#[tokio::test]
async fn iss_of_an_unconfigured_issuer_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server)
        .claim("iss", "https://evil.example.com")
        .sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::UntrustedIssuer,
        "another iss",
    )
    .await;
}

#[tokio::test]
async fn iss_differing_by_a_trailing_slash_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).claim("iss", format!("{ISSUER}/")).sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::UntrustedIssuer,
        "iss with a trailing slash",
    )
    .await;
}

#[tokio::test]
async fn iss_as_a_number_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).claim("iss", 42).sign();
    assert_rejected(&server, &token, TokenErrorKind::InvalidClaim, "numeric iss").await;
}

#[tokio::test]
async fn iss_as_an_array_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).claim("iss", json!([ISSUER])).sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::InvalidClaim,
        "iss array holding the issuer",
    )
    .await;
}

/// A server trusting two issuers, the test issuer first and `second` too, each with its own
/// keys.
async fn start_with_two_issuers(second: &TestIssuer) -> Server {
    let (id, keys) = (second.issuer().to_owned(), second.keys());
    start(move |b| b.issuer(id, keys)).await
}

const SECOND_ISSUER: &str = "https://other-auth.example.com";

#[tokio::test]
async fn token_of_the_second_configured_issuer_is_accepted() {
    let second = TestIssuer::new(SECOND_ISSUER);
    let server = start_with_two_issuers(&second).await;
    let token = second
        .token()
        .audience(server.resource.clone())
        .scope("mcp:tools")
        .sign();
    assert_eq!(server.reason(&token), Ok(()));
    assert_eq!(post_token(&server, &token).await.status(), 200);
}

#[tokio::test]
async fn token_claiming_one_issuer_signed_by_another_issuers_key_is_rejected() {
    let second = TestIssuer::new(SECOND_ISSUER);
    let server = start_with_two_issuers(&second).await;
    let token = second
        .token()
        .claim("iss", ISSUER)
        .audience(server.resource.clone())
        .scope("mcp:tools")
        .sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::UnknownKey,
        "iss A, signed by B with B's kid",
    )
    .await;
}

#[tokio::test]
async fn token_claiming_one_issuer_signed_by_another_issuers_key_under_its_kid_is_rejected() {
    let second = TestIssuer::new(SECOND_ISSUER);
    let server = start_with_two_issuers(&second).await;
    let token = second
        .token()
        .claim("iss", ISSUER)
        .header("kid", server.issuer.kid())
        .audience(server.resource.clone())
        .scope("mcp:tools")
        .sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::BadSignature,
        "iss A, signed by B with A's kid",
    )
    .await;
}

#[tokio::test]
async fn token_claiming_one_issuer_signed_by_another_issuers_key_without_kid_is_rejected() {
    let second = TestIssuer::new(SECOND_ISSUER);
    let server = start_with_two_issuers(&second).await;
    let token = second
        .token()
        .claim("iss", ISSUER)
        .without_header("kid")
        .audience(server.resource.clone())
        .scope("mcp:tools")
        .sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::BadSignature,
        "iss A, signed by B without kid",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Audience (T7)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn aud_missing_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).without_claim("aud").sign();
    assert_rejected(&server, &token, TokenErrorKind::MissingClaim, "no aud").await;
}

#[tokio::test]
async fn aud_of_another_resource_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server)
        .audience("https://other.example.com/mcp")
        .sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::WrongAudience,
        "another aud",
    )
    .await;
}

#[tokio::test]
async fn aud_differing_by_a_trailing_slash_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server)
        .audience(format!("{}/", server.resource))
        .sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::WrongAudience,
        "aud with a trailing slash",
    )
    .await;
}

#[tokio::test]
async fn aud_as_a_number_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).claim("aud", 42).sign();
    assert_rejected(&server, &token, TokenErrorKind::InvalidClaim, "numeric aud").await;
}

#[tokio::test]
async fn aud_as_an_object_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server)
        .claim("aud", json!({ "aud": server.resource }))
        .sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::InvalidClaim,
        "aud object naming us",
    )
    .await;
}

#[tokio::test]
async fn aud_array_with_a_non_string_beside_us_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server)
        .claim("aud", json!([server.resource, 42]))
        .sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::InvalidClaim,
        "aud array with a number",
    )
    .await;
}

#[tokio::test]
async fn aud_array_without_us_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server)
        .claim(
            "aud",
            json!(["https://other.example.com/mcp", "https://api.example.com"]),
        )
        .sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::WrongAudience,
        "aud array without us",
    )
    .await;
}

#[tokio::test]
async fn aud_empty_array_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).claim("aud", json!([])).sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::WrongAudience,
        "empty aud array",
    )
    .await;
}

#[tokio::test]
async fn aud_array_with_us_among_others_is_accepted() {
    let server = start(|b| b).await;
    let token = valid(&server)
        .claim(
            "aud",
            json!(["https://other.example.com/mcp", server.resource, "x"]),
        )
        .sign();
    assert_accepted(&server, &token, "aud array naming us among others").await;
}

// ---------------------------------------------------------------------------------------------
// Time claims (T6); default leeway 60 s
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn exp_missing_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).without_claim("exp").sign();
    assert_rejected(&server, &token, TokenErrorKind::MissingClaim, "no exp").await;
}

#[tokio::test]
async fn exp_as_a_string_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server)
        .claim("exp", (now() + 3600).to_string())
        .sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::InvalidClaim,
        "exp as a string",
    )
    .await;
}

#[tokio::test]
async fn exp_an_hour_ago_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).expires_in(-3600).sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::Expired,
        "expired an hour ago",
    )
    .await;
}

#[tokio::test]
async fn exp_30_seconds_ago_is_accepted_within_the_leeway() {
    let server = start(|b| b).await;
    let token = valid(&server).expires_in(-30).sign();
    assert_accepted(&server, &token, "expired 30 s ago").await;
}

#[tokio::test]
async fn exp_90_seconds_ago_is_rejected_beyond_the_leeway() {
    let server = start(|b| b).await;
    let token = valid(&server).expires_in(-90).sign();
    assert_rejected(&server, &token, TokenErrorKind::Expired, "expired 90 s ago").await;
}

#[tokio::test]
async fn nbf_an_hour_ahead_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).claim("nbf", now() + 3600).sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::NotYetValid,
        "nbf in an hour",
    )
    .await;
}

#[tokio::test]
async fn nbf_90_seconds_ahead_is_rejected_beyond_the_leeway() {
    let server = start(|b| b).await;
    let token = valid(&server).claim("nbf", now() + 90).sign();
    assert_rejected(&server, &token, TokenErrorKind::NotYetValid, "nbf in 90 s").await;
}

#[tokio::test]
async fn nbf_30_seconds_ahead_is_accepted_within_the_leeway() {
    let server = start(|b| b).await;
    let token = valid(&server).claim("nbf", now() + 30).sign();
    assert_accepted(&server, &token, "nbf in 30 s").await;
}

#[tokio::test]
async fn iat_a_day_ahead_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).claim("iat", now() + 86_400).sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::IssuedInFuture,
        "iat in a day",
    )
    .await;
}

#[tokio::test]
async fn iat_30_seconds_ahead_is_accepted_within_the_leeway() {
    let server = start(|b| b).await;
    let token = valid(&server).claim("iat", now() + 30).sign();
    assert_accepted(&server, &token, "iat in 30 s").await;
}

// ---------------------------------------------------------------------------------------------
// crit
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn crit_naming_a_registered_claim_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).header("crit", json!(["exp"])).sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::CriticalHeader,
        "crit [exp]",
    )
    .await;
}

#[tokio::test]
async fn crit_empty_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).header("crit", json!([])).sign();
    assert_rejected(&server, &token, TokenErrorKind::CriticalHeader, "crit []").await;
}

#[tokio::test]
async fn crit_b64_with_unencoded_payload_flag_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server)
        .header("crit", json!(["b64"]))
        .header("b64", false)
        .sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::CriticalHeader,
        "crit [b64], b64 false",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Size cap
// ---------------------------------------------------------------------------------------------

/// A valid ES256 token of exactly `target` bytes, padded with a `pad` claim (and, when the
/// payload alone cannot reach the length, a `pad` header member).
fn token_of_length(server: &Server, target: usize) -> String {
    let signature_len = segments(&server.token())[2].len();
    let b64_len = |bytes: usize| (bytes * 4).div_ceil(3);
    for header_pad in 0..4 {
        let base = valid(server)
            .header("pad", "h".repeat(header_pad))
            .claim("pad", "");
        let (header, claims) = raw_parts(&base);
        let Some(payload_len) = target.checked_sub(b64_len(header.len()) + signature_len + 2)
        else {
            continue;
        };
        // Unpadded base64 never has a length of 4k + 1.
        if payload_len % 4 == 1 {
            continue;
        }
        let Some(extra) = (payload_len * 3 / 4).checked_sub(claims.len()) else {
            continue;
        };
        let token = base.claim("pad", "p".repeat(extra)).sign();
        assert_eq!(token.len(), target, "padded token length");
        return token;
    }
    panic!("no padding gives a token of {target} bytes");
}

#[tokio::test]
async fn token_at_the_default_size_cap_is_accepted() {
    let server = start(|b| b).await;
    let token = token_of_length(&server, DEFAULT_MAX_TOKEN_BYTES);
    assert_accepted(&server, &token, "token of 16 KiB").await;
}

#[tokio::test]
async fn token_one_byte_over_the_default_size_cap_is_rejected() {
    let server = start(|b| b).await;
    let token = token_of_length(&server, DEFAULT_MAX_TOKEN_BYTES + 1);
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::TooLarge,
        "token of 16 KiB + 1",
    )
    .await;
}

#[tokio::test]
async fn token_at_a_configured_size_cap_is_accepted() {
    let server = start(|b| b.max_token_bytes(2048)).await;
    let token = token_of_length(&server, 2048);
    assert_accepted(&server, &token, "token of 2048 bytes, cap 2048").await;
}

#[tokio::test]
async fn token_one_byte_over_a_configured_size_cap_is_rejected() {
    let server = start(|b| b.max_token_bytes(2048)).await;
    let token = token_of_length(&server, 2049);
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::TooLarge,
        "token of 2049 bytes, cap 2048",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Malformed tokens
// ---------------------------------------------------------------------------------------------

/// `token` with the character at `index` of its header segment replaced by `with`.
fn replace_header_char(token: &str, index: usize, with: char) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    assert!(index < segments(token)[0].len());
    chars[index] = with;
    chars.into_iter().collect()
}

#[tokio::test]
async fn header_segment_with_a_character_outside_base64url_is_rejected() {
    // `~` is a legal b64token character (so the request reaches the validator), not base64url.
    let server = start(|b| b).await;
    let token = replace_header_char(&server.token(), 5, '~');
    assert_rejected(&server, &token, TokenErrorKind::Malformed, "header with ~").await;
}

#[tokio::test]
async fn header_segment_with_an_asterisk_is_refused_as_a_malformed_request() {
    // `*` is not even a b64token character: the layer refuses the `Authorization` header
    // (400 invalid_request) before validation, which would answer Malformed.
    let server = start(|b| b).await;
    let token = replace_header_char(&server.token(), 5, '*');
    assert_eq!(server.reason(&token), Err(TokenErrorKind::Malformed));
    let response = post_token(&server, &token).await;
    assert_eq!(response.status(), 400);
    let challenge = challenge(&response);
    assert_eq!(challenge.get("error"), Some("invalid_request"));
    assert_eq!(
        challenge.get("resource_metadata"),
        Some(server.metadata_url.as_str())
    );
}

#[tokio::test]
async fn header_segment_in_the_standard_base64_alphabet_is_rejected() {
    let server = start(|b| b).await;
    // A header member whose encoding differs between the two alphabets: `?` (0x3f) runs give
    // `/` in standard base64 and `_` in base64url.
    let builder = valid(&server).header("note", "??????");
    let (header, claims) = raw_parts(&builder);
    let standard = STANDARD_NO_PAD.encode(&header);
    assert!(standard.contains(['+', '/']), "the alphabets differ here");
    let url_safe_token = server.issuer.sign_raw(&header, &claims);
    assert_accepted(&server, &url_safe_token, "the same header in base64url").await;
    let input = format!("{standard}.{}", b64(&claims));
    let token = format!(
        "{input}.{}",
        b64(&server.issuer.sign_bytes(input.as_bytes()))
    );
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::Malformed,
        "header in standard base64",
    )
    .await;
}

#[tokio::test]
async fn signature_segment_with_base64_padding_is_rejected() {
    let server = start(|b| b).await;
    // 64 signature bytes encode to 86 characters: padded base64 appends `==`.
    let token = format!("{}==", server.token());
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::Malformed,
        "padded signature",
    )
    .await;
}

#[tokio::test]
async fn signature_segment_with_non_canonical_trailing_bits_is_rejected() {
    let server = start(|b| b).await;
    let original = server.token();
    let input = signing_input(&original);
    let signature = segments(&original)[2];
    // 86 characters carry 516 bits for 512: the last character's low 4 bits are padding.
    // Setting one of them leaves the decoded bytes unchanged under a lax decoder.
    let last = signature.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = alphabet.find(last).unwrap();
    assert_eq!(index & 0x0f, 0, "canonical encoding has zero trailing bits");
    let altered = alphabet.chars().nth(index | 1).unwrap();
    let token = format!("{input}.{}{altered}", &signature[..signature.len() - 1]);
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::Malformed,
        "signature with non-zero trailing bits",
    )
    .await;
}

#[tokio::test]
async fn header_that_is_not_json_is_rejected() {
    let server = start(|b| b).await;
    let (header, claims) = raw_parts(&valid(&server));
    // The valid header without its closing brace.
    let token = server.issuer.sign_raw(&header[..header.len() - 1], &claims);
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::Malformed,
        "truncated header JSON",
    )
    .await;
}

#[tokio::test]
async fn header_that_is_a_json_array_is_rejected() {
    let server = start(|b| b).await;
    let (header, claims) = raw_parts(&valid(&server));
    let array = [b"[".as_slice(), &header, b"]"].concat();
    let token = server.issuer.sign_raw(&array, &claims);
    assert_rejected(&server, &token, TokenErrorKind::Malformed, "header array").await;
}

#[tokio::test]
async fn payload_that_is_not_json_is_rejected() {
    let server = start(|b| b).await;
    let (header, claims) = raw_parts(&valid(&server));
    // The valid payload without its closing brace.
    let token = server.issuer.sign_raw(&header, &claims[..claims.len() - 1]);
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::Malformed,
        "truncated payload JSON",
    )
    .await;
}

#[tokio::test]
async fn payload_that_is_a_json_array_is_rejected() {
    let server = start(|b| b).await;
    let (header, claims) = raw_parts(&valid(&server));
    let array = [b"[".as_slice(), &claims, b"]"].concat();
    let token = server.issuer.sign_raw(&header, &array);
    assert_rejected(&server, &token, TokenErrorKind::Malformed, "payload array").await;
}

#[tokio::test]
async fn five_segment_jwe_is_rejected() {
    let server = start(|b| b).await;
    let header = json!({
        "alg": "dir", "enc": "A256GCM", "typ": "at+jwt", "kid": server.issuer.kid(),
    });
    let (_, claims) = raw_parts(&valid(&server));
    let token = [
        b64(header.to_string().as_bytes()),
        String::new(),
        b64(&[7; 12]),
        b64(&claims),
        b64(&[9; 16]),
    ]
    .join(".");
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::Malformed,
        "JWE compact serialization",
    )
    .await;
}

#[tokio::test]
async fn jws_with_a_jwe_enc_header_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).header("enc", "A256GCM").sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::Malformed,
        "enc header on a JWS",
    )
    .await;
}

#[tokio::test]
async fn token_with_a_fourth_segment_is_rejected() {
    let server = start(|b| b).await;
    let token = format!("{}.{}", server.token(), b64(b"extra"));
    assert_rejected(&server, &token, TokenErrorKind::Malformed, "four segments").await;
}

#[tokio::test]
async fn token_without_signature_segment_is_rejected() {
    let server = start(|b| b).await;
    let token = signing_input(&server.token()).to_owned();
    assert_rejected(&server, &token, TokenErrorKind::Malformed, "two segments").await;
}

#[tokio::test]
async fn header_with_a_repeated_alg_is_rejected() {
    let server = start(|b| b).await;
    let builder = valid(&server).without_header("alg");
    let (header, claims) = builder.parts();
    let header = with_raw_members(header, r#""alg":"ES256","alg":"ES256""#);
    let token = server.issuer.sign_raw(&header, &json_bytes(claims));
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::Malformed,
        "alg twice, same value",
    )
    .await;
}

#[tokio::test]
async fn header_with_alg_none_overridden_by_a_repeated_alg_is_rejected() {
    // A last-wins parser reads ES256, a first-wins parser reads none.
    let server = start(|b| b).await;
    let builder = valid(&server).without_header("alg");
    let (header, claims) = builder.parts();
    let header = with_raw_members(header, r#""alg":"none","alg":"ES256""#);
    let token = server.issuer.sign_raw(&header, &json_bytes(claims));
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::Malformed,
        "alg none then ES256",
    )
    .await;
}

#[tokio::test]
async fn header_with_alg_repeated_under_a_json_escape_is_rejected() {
    let server = start(|b| b).await;
    let builder = valid(&server).without_header("alg");
    let (header, claims) = builder.parts();
    let header = with_raw_members(header, r#""alg":"ES256","\u0061lg":"ES256""#);
    let token = server.issuer.sign_raw(&header, &json_bytes(claims));
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::Malformed,
        "alg and an escaped alg",
    )
    .await;
}

#[tokio::test]
async fn payload_with_a_repeated_aud_is_rejected() {
    // A last-wins parser reads our resource.
    let server = start(|b| b).await;
    let builder = valid(&server).without_claim("aud");
    let (header, claims) = builder.parts();
    let aud = json!(server.resource).to_string();
    let claims = with_raw_members(
        claims,
        &format!(r#""aud":"https://other.example.com/mcp","aud":{aud}"#),
    );
    let token = server.issuer.sign_raw(&json_bytes(header), &claims);
    assert_rejected(&server, &token, TokenErrorKind::Malformed, "aud twice").await;
}

#[tokio::test]
async fn payload_with_aud_repeated_with_the_same_value_is_rejected() {
    let server = start(|b| b).await;
    let builder = valid(&server).without_claim("aud");
    let (header, claims) = builder.parts();
    let aud = json!(server.resource).to_string();
    let claims = with_raw_members(claims, &format!(r#""aud":{aud},"aud":{aud}"#));
    let token = server.issuer.sign_raw(&json_bytes(header), &claims);
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::Malformed,
        "aud twice, same value",
    )
    .await;
}

#[tokio::test]
async fn kid_as_a_number_is_rejected() {
    let server = start(|b| b).await;
    let token = valid(&server).header("kid", 7).sign();
    assert_rejected(&server, &token, TokenErrorKind::Malformed, "numeric kid").await;
}

#[tokio::test]
async fn kid_as_an_array_holding_the_kid_is_rejected() {
    let server = start(|b| b).await;
    let kid = server.issuer.kid().to_owned();
    let token = valid(&server).header("kid", json!([kid])).sign();
    assert_rejected(&server, &token, TokenErrorKind::Malformed, "kid array").await;
}

// ---------------------------------------------------------------------------------------------
// typ (T10)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn typ_jwt_is_accepted_by_default() {
    // Control for the strict test below.
    let server = start(|b| b).await;
    let token = valid(&server).header("typ", "JWT").sign();
    assert_accepted(&server, &token, "typ JWT, lenient").await;
}

#[tokio::test]
async fn typ_jwt_is_rejected_when_at_jwt_is_required() {
    let server = start(|b| b.require_at_jwt(true)).await;
    let token = valid(&server).header("typ", "JWT").sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::UnacceptedType,
        "typ JWT, strict",
    )
    .await;
}

#[tokio::test]
async fn typ_missing_is_rejected_when_at_jwt_is_required() {
    let server = start(|b| b.require_at_jwt(true)).await;
    let token = valid(&server).without_header("typ").sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::UnacceptedType,
        "no typ, strict",
    )
    .await;
}

#[tokio::test]
async fn typ_at_jwt_in_uppercase_is_accepted_when_at_jwt_is_required() {
    let server = start(|b| b.require_at_jwt(true)).await;
    let token = valid(&server).header("typ", "AT+JWT").sign();
    assert_accepted(&server, &token, "typ AT+JWT, strict").await;
}

#[tokio::test]
async fn typ_application_at_jwt_is_accepted_when_at_jwt_is_required() {
    let server = start(|b| b.require_at_jwt(true)).await;
    let token = valid(&server).header("typ", "application/at+jwt").sign();
    assert_accepted(&server, &token, "typ application/at+jwt, strict").await;
}

#[tokio::test]
async fn typ_of_another_jwt_kind_is_rejected_by_default() {
    // RFC 8725 §3.11: an ID token or event token never passes as an access token.
    let server = start(|b| b).await;
    let token = valid(&server).header("typ", "secevent+jwt").sign();
    assert_rejected(
        &server,
        &token,
        TokenErrorKind::UnacceptedType,
        "typ secevent+jwt",
    )
    .await;
}
