//! Property tests: the header parser, challenge builder, challenge parser and validator never
//! panic, and built challenges always read back to the parameters that were set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use http::{HeaderMap, HeaderValue, Uri, header};
use mcp_server_auth::bearer::{Credentials, extract};
use mcp_server_auth::challenge::{Challenge, ErrorCode, ParsedChallenge};
use mcp_server_auth::validate::Validator;
use mcp_server_auth_dev::testing::TestIssuer;
use proptest::prelude::*;

/// What the builder promises to keep of a value: printable ASCII minus `"` and `\`, trimmed.
fn kept(value: &str) -> Option<String> {
    let kept: String = value
        .chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .collect();
    let trimmed = kept.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

fn kept_scopes(scopes: &[String]) -> Option<String> {
    let mut out: Vec<String> = Vec::new();
    for scope in scopes {
        let token: String = scope
            .chars()
            .filter(|c| matches!(c, '!'..='~') && *c != '"' && *c != '\\')
            .collect();
        if !token.is_empty() && !out.contains(&token) {
            out.push(token);
        }
    }
    (!out.is_empty()).then(|| out.join(" "))
}

const DESCRIPTIONS: [&str; 3] = [
    "The access token expired",
    "a \"quoted\" \\ description",
    "",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn header_parser_never_panics_and_only_returns_b64tokens(
        values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..3),
        query in "[a-z_%=&0-9A-F]{0,30}",
    ) {
        let mut headers = HeaderMap::new();
        for value in &values {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                headers.append(header::AUTHORIZATION, value);
            }
        }
        let uri: Uri = format!("/mcp?{query}").parse().unwrap_or_else(|_| Uri::from_static("/mcp"));
        if let Ok(Credentials::Bearer(token)) = extract(&headers, &uri) {
            prop_assert!(!token.is_empty());
            let body = token.trim_end_matches('=');
            prop_assert!(!body.is_empty());
            prop_assert!(body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)));
            let raw = headers.get(header::AUTHORIZATION).unwrap().as_bytes();
            prop_assert!(raw.ends_with(token.as_bytes()));
            prop_assert!(raw[..6].eq_ignore_ascii_case(b"bearer"));
        }
    }

    #[test]
    fn bearer_prefix_with_spaces_extracts_exactly_the_token(
        scheme in "[bB][eE][aA][rR][eE][rR]",
        spaces in 1usize..5,
        token in "[A-Za-z0-9._~+/-]{1,60}={0,2}",
    ) {
        let mut headers = HeaderMap::new();
        let value = format!("{scheme}{}{token}", " ".repeat(spaces));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
        let got = extract(&headers, &Uri::from_static("/mcp"));
        prop_assert_eq!(got, Ok(Credentials::Bearer(token.as_str())));
    }

    #[test]
    fn built_challenges_reparse_to_the_same_params(
        realm in any::<Option<String>>(),
        metadata in any::<Option<String>>(),
        scopes in proptest::collection::vec(any::<String>(), 0..4),
        error in proptest::option::of(prop_oneof![
            Just(ErrorCode::InvalidRequest),
            Just(ErrorCode::InvalidToken),
            Just(ErrorCode::InsufficientScope),
        ]),
        description in 0usize..3,
    ) {
        let mut challenge = Challenge::bearer().scope(&scopes);
        if let Some(realm) = &realm {
            challenge = challenge.realm(realm);
        }
        if let Some(metadata) = &metadata {
            challenge = challenge.resource_metadata(metadata);
        }
        if let Some(error) = error {
            challenge = challenge.error(error);
        }
        challenge = challenge.error_description(DESCRIPTIONS[description]);
        let text = challenge.to_string();
        prop_assert!(text.starts_with("Bearer"));
        prop_assert!(text.bytes().all(|b| (b' '..=b'~').contains(&b)), "printable ASCII, one line");
        let header_value = challenge.to_header_value();
        prop_assert_eq!(header_value.to_str().unwrap(), text.as_str());

        let parsed = ParsedChallenge::parse(&text).unwrap();
        let mut expected: Vec<(String, String)> = Vec::new();
        let mut push = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                expected.push((name.to_owned(), value));
            }
        };
        push("realm", realm.as_deref().and_then(kept));
        push("error", error.map(|e| e.as_str().to_owned()));
        push("error_description", kept(DESCRIPTIONS[description]));
        push("scope", kept_scopes(&scopes));
        push("resource_metadata", metadata.as_deref().and_then(kept));
        prop_assert_eq!(parsed.params(), expected.as_slice());
        for (name, value) in parsed.params() {
            prop_assert!(!value.contains(['"', '\\']));
            prop_assert_eq!(text.matches(&format!("{name}=")).count(), 1, "param once");
        }
    }

    #[test]
    fn challenge_parser_never_panics(input in any::<String>()) {
        let _ = ParsedChallenge::parse(&input);
    }

    #[test]
    fn validator_never_panics_on_arbitrary_tokens(
        token in prop_oneof![
            any::<String>(),
            "[A-Za-z0-9_-]{0,40}(\\.[A-Za-z0-9_-]{0,40}){0,5}",
        ],
    ) {
        let validator = validator();
        prop_assert!(validator.validate(&token, 1_700_000_000).is_err());
    }

    #[test]
    fn validator_never_panics_on_arbitrary_json_segments(
        header in any::<String>(),
        payload in any::<String>(),
    ) {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let token = format!("{}.{}.{}", b64(&header), b64(&payload), b64("sig"));
        prop_assert!(validator().validate(&token, 1_700_000_000).is_err());
    }
}

fn validator() -> Validator {
    use std::sync::OnceLock;
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let issuer = TestIssuer::new("https://auth.example.com");
            Validator::builder("https://mcp.example.com/mcp")
                .issuer(issuer.issuer(), issuer.keys())
                .build()
                .unwrap()
        })
        .clone()
}
