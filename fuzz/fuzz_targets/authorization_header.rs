//! `bearer::extract`: arbitrary `Authorization` header bytes (zero or more values) and an
//! arbitrary request URI.
#![no_main]

use arbitrary::Arbitrary;
use http::Uri;
use http::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use mcp_server_auth::bearer::{Credentials, ExtractError, extract};

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    values: Vec<&'a [u8]>,
    uri: &'a str,
}

fn is_b64token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

fuzz_target!(|input: Input<'_>| {
    let mut headers = HeaderMap::new();
    for value in input.values.iter().take(4) {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(AUTHORIZATION, value);
        }
    }
    let uri: Uri = input
        .uri
        .parse()
        .unwrap_or_else(|_| Uri::from_static("/mcp"));
    let count = headers.get_all(AUTHORIZATION).iter().count();
    let result = extract(&headers, &uri);
    match (count, &result) {
        (0, r) => assert_eq!(
            *r,
            Ok(Credentials::None),
            "no header must mean no credentials"
        ),
        (1, _) => {}
        (_, r) => assert_eq!(*r, Err(ExtractError::RepeatedHeader)),
    }
    if let Ok(Credentials::Bearer(token)) = result {
        let value = headers
            .get(AUTHORIZATION)
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        // Scheme, then one or more spaces, then exactly the token.
        assert!(value.len() > 6 && value[..6].eq_ignore_ascii_case(b"bearer"));
        assert!(value.ends_with(token.as_bytes()));
        let between = &value[6..value.len() - token.len()];
        assert!(!between.is_empty() && between.iter().all(|b| *b == b' '));
        // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
        let body = token.trim_end_matches('=');
        assert!(
            !body.is_empty() && body.bytes().all(is_b64token_char),
            "{token:?}"
        );
        // `Debug` never shows the token (longer than any word of the redacted form).
        if token.len() > 8 {
            let shown = format!("{:?}", Credentials::Bearer(token));
            assert!(!shown.contains(token));
        }
    }
    if let Err(e) = result {
        assert!(!e.description().is_empty());
        let _ = e.to_string();
    }
});
