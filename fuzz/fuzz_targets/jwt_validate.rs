//! `Validator::validate` on arbitrary bytes as a token, against a fixed key set. Must never
//! panic; whatever is accepted must satisfy the policy.
#![no_main]

#[path = "../common/keys.rs"]
mod keys;

use keys::{FIXTURE, HMAC_ISSUER, ISSUER, LEEWAY, NOW, RESOURCE};
use libfuzzer_sys::fuzz_target;
use mcp_server_auth::validate::Validator;

fn check(validator: &Validator, token: &str, issuers: &[&str]) {
    match validator.validate(token, NOW) {
        Ok(verified) => {
            assert!(
                issuers.contains(&verified.issuer()),
                "untrusted issuer accepted"
            );
            assert!(
                verified.audience().iter().any(|a| a == RESOURCE),
                "wrong audience accepted"
            );
            assert!(
                verified.expires_at_unix().saturating_add(LEEWAY) > NOW as i64,
                "expired token accepted"
            );
        }
        Err(error) => {
            assert!(!error.description().is_empty());
            let shown = format!("{error} {error:?}");
            // Nothing of the token reaches the error (the error text has no `.`; a JWT does).
            if token.len() >= 16 && token.contains('.') {
                assert!(!shown.contains(token), "token echoed in error: {shown}");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let fixture = &*FIXTURE;
    check(&fixture.asymmetric, &token, &[ISSUER]);
    check(&fixture.mixed, &token, &[ISSUER, HMAC_ISSUER]);
});
