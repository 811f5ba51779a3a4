//! Validly signed tokens whose header and claims are built from fuzz input (every JOSE header
//! and claim the validator cares about, with right, wrong-typed, duplicated and hostile
//! values), optionally tampered with after signing. Whatever the validator accepts must be an
//! untampered token whose `alg` names the signing key's algorithm, from the right issuer, for
//! this resource, not expired.
#![no_main]

#[path = "../common/keys.rs"]
mod keys;

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keys::{FIXTURE, ISSUER, LEEWAY, NOW, RESOURCE};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

#[derive(Debug, Arbitrary)]
enum J {
    /// The value a well-formed token would have for this member.
    Good,
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

#[derive(Debug, Arbitrary)]
enum HeaderKey {
    Alg,
    Typ,
    Kid,
    Crit,
    Enc,
    Jku,
    Jwk,
    X5c,
    Cty,
    B64,
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum ClaimKey {
    Iss,
    Aud,
    Exp,
    Nbf,
    Iat,
    Sub,
    ClientId,
    Azp,
    Scope,
    Scp,
    Jti,
    Nonce,
    AtHash,
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum Tamper {
    None,
    FlipSignatureByte(u16, u8),
    EmptySignature,
    SignatureBytes(Vec<u8>),
    AppendToPayload(String),
    ExtraSegment(String),
    PaddedSegments,
    SwapSegments,
}

#[derive(Debug, Arbitrary)]
struct Input {
    signer: u8,
    /// Use the RFC 9068 default header (`alg`, `typ`, `kid`) before `header`.
    default_header: bool,
    header: Vec<(HeaderKey, J)>,
    /// Use good `iss`, `aud`, `exp` before `claims`.
    default_claims: bool,
    claims: Vec<(ClaimKey, J)>,
    tamper: Tamper,
}

fn to_json(value: &J, good: &Value, depth: usize) -> Value {
    match value {
        J::Good => good.clone(),
        J::Null => Value::Null,
        J::Bool(b) => json!(b),
        J::Int(i) => json!(i),
        J::Float(f) => json!(f),
        J::Str(s) => json!(s),
        J::Arr(items) if depth < 4 => {
            Value::Array(items.iter().map(|v| to_json(v, good, depth + 1)).collect())
        }
        J::Obj(members) if depth < 4 => Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v, good, depth + 1)))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// Serializes members in order, keeping duplicate names (serde_json's map would merge them).
fn object(members: &[(String, Value)]) -> String {
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v))
        .collect();
    format!("{{{}}}", body.join(","))
}

fuzz_target!(|input: Input| {
    let fixture = &*FIXTURE;
    let signer = &fixture.signers[usize::from(input.signer) % fixture.signers.len()];
    let alg = signer.algorithm().as_str();

    let mut header: Vec<(String, Value)> = Vec::new();
    if input.default_header {
        header.push(("alg".into(), json!(alg)));
        header.push(("typ".into(), json!("at+jwt")));
        header.push(("kid".into(), json!(signer.kid())));
    }
    for (key, value) in input.header.iter().take(12) {
        let (name, good) = match key {
            HeaderKey::Alg => ("alg".to_owned(), json!(alg)),
            HeaderKey::Typ => ("typ".to_owned(), json!("at+jwt")),
            HeaderKey::Kid => ("kid".to_owned(), json!(signer.kid())),
            HeaderKey::Crit => ("crit".to_owned(), json!(["exp"])),
            HeaderKey::Enc => ("enc".to_owned(), json!("A256GCM")),
            HeaderKey::Jku => ("jku".to_owned(), json!("https://attacker.example/jwks")),
            HeaderKey::Jwk => ("jwk".to_owned(), signer.jwk()),
            HeaderKey::X5c => ("x5c".to_owned(), json!(["MIIB"])),
            HeaderKey::Cty => ("cty".to_owned(), json!("JWT")),
            HeaderKey::B64 => ("b64".to_owned(), json!(false)),
            HeaderKey::Other(name) => (name.clone(), json!("x")),
        };
        header.push((name, to_json(value, &good, 0)));
    }

    let now = NOW as i64;
    let mut claims: Vec<(String, Value)> = Vec::new();
    if input.default_claims {
        claims.push(("iss".into(), json!(ISSUER)));
        claims.push(("aud".into(), json!(RESOURCE)));
        claims.push(("exp".into(), json!(now + 600)));
    }
    for (key, value) in input.claims.iter().take(16) {
        let (name, good) = match key {
            ClaimKey::Iss => ("iss".to_owned(), json!(ISSUER)),
            ClaimKey::Aud => ("aud".to_owned(), json!([RESOURCE])),
            ClaimKey::Exp => ("exp".to_owned(), json!(now + 600)),
            ClaimKey::Nbf => ("nbf".to_owned(), json!(now - 10)),
            ClaimKey::Iat => ("iat".to_owned(), json!(now - 10)),
            ClaimKey::Sub => ("sub".to_owned(), json!("user")),
            ClaimKey::ClientId => ("client_id".to_owned(), json!("client")),
            ClaimKey::Azp => ("azp".to_owned(), json!("client")),
            ClaimKey::Scope => ("scope".to_owned(), json!("read write")),
            ClaimKey::Scp => ("scp".to_owned(), json!(["read"])),
            ClaimKey::Jti => ("jti".to_owned(), json!("id")),
            ClaimKey::Nonce => ("nonce".to_owned(), json!("n")),
            ClaimKey::AtHash => ("at_hash".to_owned(), json!("h")),
            ClaimKey::Other(name) => (name.clone(), json!("x")),
        };
        claims.push((name, to_json(value, &good, 0)));
    }

    let header_json = object(&header);
    let claims_json = object(&claims);
    let signed = signer.sign_raw(header_json.as_bytes(), claims_json.as_bytes());
    let mut parts: Vec<String> = signed.split('.').map(str::to_owned).collect();
    match &input.tamper {
        Tamper::None => {}
        Tamper::FlipSignatureByte(at, mask) => {
            let mut sig = URL_SAFE_NO_PAD.decode(&parts[2]).unwrap_or_default();
            if !sig.is_empty() {
                let i = usize::from(*at) % sig.len();
                sig[i] ^= mask | 1;
            }
            parts[2] = URL_SAFE_NO_PAD.encode(sig);
        }
        Tamper::EmptySignature => parts[2].clear(),
        Tamper::SignatureBytes(bytes) => parts[2] = URL_SAFE_NO_PAD.encode(bytes),
        Tamper::AppendToPayload(extra) => parts[1].push_str(extra),
        Tamper::ExtraSegment(extra) => parts.push(extra.clone()),
        Tamper::PaddedSegments => {
            for p in &mut parts {
                while p.len() % 4 != 0 {
                    p.push('=');
                }
            }
        }
        Tamper::SwapSegments => parts.swap(0, 1),
    }
    let token = parts.join(".");

    for validator in [&fixture.asymmetric, &fixture.mixed] {
        let Ok(verified) = validator.validate(&token, NOW) else {
            continue;
        };
        // Some tampering is a no-op (appending "", padding a segment that needs none).
        assert_eq!(token, signed, "tampered token accepted: {:?}", input.tamper);
        let header: Value = serde_json::from_str(&header_json).expect("own json");
        assert_eq!(
            header.get("alg"),
            Some(&json!(alg)),
            "accepted with another alg: {header_json}"
        );
        assert_eq!(verified.issuer(), ISSUER);
        assert!(verified.audience().iter().any(|a| a == RESOURCE));
        assert!(verified.expires_at_unix().saturating_add(LEEWAY) > now);
    }
});
