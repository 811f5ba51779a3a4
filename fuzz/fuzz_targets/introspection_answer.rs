//! An introspection endpoint's answer (arbitrary bytes), checked with a profile as the layer
//! checks a `200` answer. Must never panic; whatever is accepted must be an active access token
//! of the issuer, for this resource (or its alias), not expired, meeting the required claim.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mcp_server_auth::fuzzing::check_introspection_answer;
use mcp_server_auth::introspect::Introspection;
use mcp_server_auth::profile::{ClaimRequirement, IssuerProfile};
use mcp_server_auth::validate::Validator;
use serde_json::Value;

const ISSUER: &str = "https://issuer.example";
const RESOURCE: &str = "https://mcp.example/mcp";
const ALIAS: &str = "api://mcp";
/// 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;
const LEEWAY: i64 = 60;

static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    Validator::builder(RESOURCE)
        .introspection(
            ISSUER,
            Introspection::new("rs", "secret").endpoint("https://issuer.example/introspect"),
        )
        .profile(
            ISSUER,
            IssuerProfile::new()
                .audience(ALIAS)
                .require_claim(ClaimRequirement::contains("groups", "staff")),
        )
        .build()
        .expect("validator")
});

fuzz_target!(|data: &[u8]| {
    let Ok(token) = check_introspection_answer(&VALIDATOR, ISSUER, data, NOW) else {
        return;
    };
    let answer: serde_json::Map<String, Value> =
        serde_json::from_slice(data).expect("an accepted answer is a json object");
    assert_eq!(answer.get("active"), Some(&Value::Bool(true)), "inactive accepted");
    assert_eq!(token.issuer(), ISSUER);
    assert!(
        token.audience().iter().any(|a| a == RESOURCE || a == ALIAS),
        "wrong audience accepted"
    );
    assert!(token.expires_at_unix().saturating_add(LEEWAY) > NOW as i64, "expired token accepted");
    let groups = answer.get("groups").expect("required claim missing");
    assert!(
        groups == "staff" || groups.as_array().is_some_and(|g| g.iter().any(|v| v == "staff")),
        "required claim not met"
    );
    if let Some(token_type) = answer.get("token_type").and_then(Value::as_str) {
        assert!(!token_type.to_ascii_lowercase().contains("refresh"), "refresh token accepted");
    }
});
