//! `Challenge` builder fed arbitrary strings through every setter: the header value must be one
//! line of printable ASCII and must parse back (with `ParsedChallenge`) to exactly the
//! sanitized parameters. Also `ParsedChallenge::parse` on arbitrary text.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mcp_server_auth::challenge::{Challenge, ErrorCode, ParsedChallenge};

/// `error_description` and the scheme take `&'static str` only; these include hostile ones.
const DESCRIPTIONS: &[&str] = &[
    "The access token expired",
    "",
    "   ",
    "line\r\nSet-Cookie: a=b",
    "quote \" and back\\slash",
    "caf\u{e9} \u{1F600} \0 nul",
    "\t tab \x7f del ",
];
const SCHEMES: &[&str] = &[
    "Bearer",
    "DPoP",
    "bad scheme\r\n",
    "Be\"arer",
    "b\u{e9}arer!",
];

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    scheme: u8,
    realm: Option<&'a str>,
    error: Option<u8>,
    description: Option<u8>,
    scopes: Option<Vec<&'a str>>,
    resource_metadata: Option<&'a str>,
    raw: &'a str,
}

fn sanitize(value: &str) -> Option<String> {
    let kept: String = value
        .chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .collect();
    let trimmed = kept.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

fuzz_target!(|input: Input<'_>| {
    // The parser alone, on anything.
    if let Ok(parsed) = ParsedChallenge::parse(input.raw) {
        assert!(!parsed.scheme().is_empty());
        for (name, _) in parsed.params() {
            assert_eq!(*name, name.to_ascii_lowercase());
            assert!(parsed.get(name).is_some());
        }
    }

    let scheme = SCHEMES[usize::from(input.scheme) % SCHEMES.len()];
    let mut challenge = Challenge::with_scheme(scheme);
    let mut expected: Vec<(String, String)> = Vec::new();
    if let Some(realm) = input.realm {
        challenge = challenge.realm(realm);
        if let Some(v) = sanitize(realm) {
            expected.push(("realm".into(), v));
        }
    }
    if let Some(e) = input.error {
        let code = [
            ErrorCode::InvalidRequest,
            ErrorCode::InvalidToken,
            ErrorCode::InsufficientScope,
        ][usize::from(e) % 3];
        challenge = challenge.error(code);
        expected.push(("error".into(), code.as_str().into()));
    }
    if let Some(d) = input.description {
        let d = DESCRIPTIONS[usize::from(d) % DESCRIPTIONS.len()];
        challenge = challenge.error_description(d);
        if let Some(v) = sanitize(d) {
            expected.push(("error_description".into(), v));
        }
    }
    if let Some(scopes) = &input.scopes {
        challenge = challenge.scope(scopes.iter());
        let mut seen: Vec<String> = Vec::new();
        for s in scopes {
            let t: String = s
                .chars()
                .filter(|c| matches!(c, '!'..='~') && *c != '"' && *c != '\\')
                .collect();
            if !t.is_empty() && !seen.contains(&t) {
                seen.push(t);
            }
        }
        if !seen.is_empty() {
            expected.push(("scope".into(), seen.join(" ")));
        }
    }
    if let Some(url) = input.resource_metadata {
        challenge = challenge.resource_metadata(url);
        if let Some(v) = sanitize(url) {
            expected.push(("resource_metadata".into(), v));
        }
    }

    let value = challenge.to_header_value();
    let bytes = value.as_bytes();
    assert!(
        bytes.iter().all(|b| (b' '..=b'~').contains(b)),
        "challenge is not one line of printable ASCII: {value:?}"
    );
    let text = value.to_str().expect("printable ASCII is a str");
    assert_eq!(
        text,
        challenge.to_string(),
        "header value and Display differ"
    );

    let parsed = ParsedChallenge::parse(text)
        .unwrap_or_else(|e| panic!("own challenge does not parse ({e}): {text:?}"));
    let expected_scheme: String = scheme
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(*c))
        .collect();
    assert_eq!(parsed.scheme(), expected_scheme);
    assert_eq!(
        parsed.params(),
        expected.as_slice(),
        "round trip of {text:?}"
    );
});
