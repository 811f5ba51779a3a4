//! Reading the bearer token from a request ([RFC 6750 §2], [OAuth 2.1 §5.1]).

use http::Uri;
use http::header::{self, HeaderMap};

/// What a request presented. Its `Debug` output never shows the token.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials<'a> {
    /// No bearer token in the `Authorization` header: no header, another scheme, or a token
    /// only in the query string (which is never read).
    None,
    /// A syntactically valid bearer token from the `Authorization` header.
    Bearer(&'a str),
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::None => f.write_str("None"),
            Credentials::Bearer(token) => write!(f, "Bearer(<redacted, {} bytes>)", token.len()),
        }
    }
}

/// Why the credentials in a request are malformed (answered with 400 `invalid_request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// More than one `Authorization` header.
    #[error("more than one authorization header")]
    RepeatedHeader,
    /// A token in the header and another in the query string.
    #[error("more than one token transmission method")]
    MultipleMethods,
    /// The `Bearer` credentials are empty, carry junk after the token, or use characters a
    /// `b64token` cannot hold.
    #[error("malformed bearer credentials")]
    Malformed,
}

impl ExtractError {
    /// A stable snake_case name, for logs and metrics labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            ExtractError::RepeatedHeader => "repeated_authorization_header",
            ExtractError::MultipleMethods => "multiple_token_methods",
            ExtractError::Malformed => "malformed_credentials",
        }
    }

    /// A fixed description for `error_description`.
    pub const fn description(self) -> &'static str {
        match self {
            ExtractError::RepeatedHeader => "The request has more than one Authorization header",
            ExtractError::MultipleMethods => {
                "The request uses more than one method to send an access token"
            }
            ExtractError::Malformed => "The Authorization header is malformed",
        }
    }
}

/// Reads the bearer token.
///
/// * The scheme is matched case-insensitively and must be followed by one or more spaces.
/// * The token must be a `b64token` (RFC 6750 §2.1) with nothing after it.
/// * A token in the `access_token` query parameter is never used; alone it counts as no
///   credentials, beside a header token it is a second method and an error.
///
/// # Errors
/// [`ExtractError`] for malformed or ambiguous credentials.
pub fn extract<'a>(headers: &'a HeaderMap, uri: &Uri) -> Result<Credentials<'a>, ExtractError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(Credentials::None);
    };
    if values.next().is_some() {
        return Err(ExtractError::RepeatedHeader);
    }
    let bytes = value.as_bytes();
    let scheme_end = bytes
        .iter()
        .position(|b| *b == b' ' || *b == b'\t')
        .unwrap_or(bytes.len());
    let (scheme, rest) = bytes.split_at(scheme_end);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Ok(Credentials::None);
    }
    // `Bearer` must be followed by spaces (RFC 6750 §2.1: `"Bearer" 1*SP b64token`); a tab
    // makes the credentials malformed, not another scheme.
    let token_start = rest.iter().position(|b| *b != b' ').unwrap_or(rest.len());
    let token = rest.get(token_start..).unwrap_or_default();
    if !is_b64token(token) {
        return Err(ExtractError::Malformed);
    }
    if has_query_token(uri) {
        return Err(ExtractError::MultipleMethods);
    }
    // `is_b64token` admits only ASCII, so this cannot fail.
    std::str::from_utf8(token)
        .map(Credentials::Bearer)
        .map_err(|_| ExtractError::Malformed)
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
fn is_b64token(token: &[u8]) -> bool {
    let padding = token.iter().rev().take_while(|b| **b == b'=').count();
    let body = token.get(..token.len() - padding).unwrap_or_default();
    // Every byte is checked, without branching per byte, so the loop vectorizes: tokens are
    // hundreds of bytes long and read on every request.
    !body.is_empty() && body.iter().fold(true, |ok, b| ok & is_b64token_char(*b))
}

fn is_b64token_char(b: u8) -> bool {
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    // `-`, `.`, `/` and the digits are the 13 bytes from 0x2D to 0x39.
    let dash_dot_slash_digit = b.wrapping_sub(b'-') < 13;
    letter | dash_dot_slash_digit | (b == b'_') | (b == b'~') | (b == b'+')
}

/// Whether the query has an `access_token` parameter (name percent-decoded).
pub(crate) fn has_query_token(uri: &Uri) -> bool {
    let Some(query) = uri.query() else {
        return false;
    };
    query.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or_default();
        percent_decoded_eq(name, "access_token")
    })
}

/// Compares a form-urlencoded name with an ASCII name, decoding `%XX` and `+`.
fn percent_decoded_eq(encoded: &str, expected: &str) -> bool {
    let mut bytes = encoded.bytes();
    let mut expected = expected.bytes();
    loop {
        let decoded = match bytes.next() {
            None => return expected.next().is_none(),
            Some(b'%') => {
                let hi = bytes.next().and_then(hex);
                let lo = bytes.next().and_then(hex);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => hi * 16 + lo,
                    _ => return false,
                }
            }
            Some(b'+') => b' ',
            Some(b) => b,
        };
        if expected.next() != Some(decoded) {
            return false;
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn run(values: &[&[u8]], uri: &str) -> Result<Option<String>, ExtractError> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                header::AUTHORIZATION,
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        let uri: Uri = uri.parse().unwrap();
        extract(&headers, &uri).map(|c| match c {
            Credentials::None => None,
            Credentials::Bearer(t) => Some(t.to_owned()),
        })
    }

    #[test]
    fn b64token_characters_are_exactly_the_grammar() {
        for b in 0..=u8::MAX {
            let expected =
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
            assert_eq!(is_b64token_char(b), expected, "byte {b:#04x}");
        }
        assert!(is_b64token(b"a=="));
        assert!(!is_b64token(b"=="));
        assert!(!is_b64token(b"a=b"));
        assert!(!is_b64token(b""));
    }

    #[test]
    fn extraction_table() {
        struct Case {
            name: &'static str,
            headers: &'static [&'static [u8]],
            uri: &'static str,
            expected: Result<Option<&'static str>, ExtractError>,
        }
        use ExtractError::*;
        let cases = [
            Case {
                name: "no header",
                headers: &[],
                uri: "/mcp",
                expected: Ok(None),
            },
            Case {
                name: "bearer",
                headers: &[b"Bearer abc.def-_~+/=="],
                uri: "/mcp",
                expected: Ok(Some("abc.def-_~+/==")),
            },
            Case {
                name: "lowercase scheme",
                headers: &[b"bearer abc"],
                uri: "/mcp",
                expected: Ok(Some("abc")),
            },
            Case {
                name: "mixed case scheme",
                headers: &[b"BeArEr abc"],
                uri: "/mcp",
                expected: Ok(Some("abc")),
            },
            Case {
                name: "several spaces",
                headers: &[b"Bearer    abc"],
                uri: "/mcp",
                expected: Ok(Some("abc")),
            },
            Case {
                name: "other scheme",
                headers: &[b"Basic YWxhZGRpbjpvcGVuc2VzYW1l"],
                uri: "/mcp",
                expected: Ok(None),
            },
            Case {
                name: "scheme prefix only",
                headers: &[b"Bearerabc"],
                uri: "/mcp",
                expected: Ok(None),
            },
            Case {
                name: "dpop scheme",
                headers: &[b"DPoP abc"],
                uri: "/mcp",
                expected: Ok(None),
            },
            Case {
                name: "query only",
                headers: &[],
                uri: "/mcp?access_token=abc",
                expected: Ok(None),
            },
            Case {
                name: "query and other scheme",
                headers: &[b"Basic x"],
                uri: "/mcp?access_token=abc",
                expected: Ok(None),
            },
            Case {
                name: "empty bearer",
                headers: &[b"Bearer"],
                uri: "/mcp",
                expected: Err(Malformed),
            },
            Case {
                name: "bearer and spaces",
                headers: &[b"Bearer   "],
                uri: "/mcp",
                expected: Err(Malformed),
            },
            Case {
                name: "trailing junk",
                headers: &[b"Bearer abc def"],
                uri: "/mcp",
                expected: Err(Malformed),
            },
            Case {
                name: "trailing space",
                headers: &[b"Bearer abc "],
                uri: "/mcp",
                expected: Err(Malformed),
            },
            Case {
                name: "comma",
                headers: &[b"Bearer abc,def"],
                uri: "/mcp",
                expected: Err(Malformed),
            },
            Case {
                name: "tab separator",
                headers: &[b"Bearer\tabc"],
                uri: "/mcp",
                expected: Err(Malformed),
            },
            Case {
                name: "other scheme with tab",
                headers: &[b"Basic\tabc"],
                uri: "/mcp",
                expected: Ok(None),
            },
            Case {
                name: "padding inside",
                headers: &[b"Bearer ab=c"],
                uri: "/mcp",
                expected: Err(Malformed),
            },
            Case {
                name: "only padding",
                headers: &[b"Bearer =="],
                uri: "/mcp",
                expected: Err(Malformed),
            },
            Case {
                name: "quote",
                headers: &[b"Bearer \"abc\""],
                uri: "/mcp",
                expected: Err(Malformed),
            },
            Case {
                name: "non-ascii",
                headers: &[b"Bearer ab\xc3\xa9"],
                uri: "/mcp",
                expected: Err(Malformed),
            },
            Case {
                name: "two headers",
                headers: &[b"Bearer a", b"Bearer b"],
                uri: "/mcp",
                expected: Err(RepeatedHeader),
            },
            Case {
                name: "two headers of other schemes",
                headers: &[b"Basic a", b"Basic b"],
                uri: "/mcp",
                expected: Err(RepeatedHeader),
            },
            Case {
                name: "header and query",
                headers: &[b"Bearer a"],
                uri: "/mcp?x=1&access_token=b",
                expected: Err(MultipleMethods),
            },
            Case {
                name: "header and encoded query name",
                headers: &[b"Bearer a"],
                uri: "/mcp?access%5Ftoken=b",
                expected: Err(MultipleMethods),
            },
            Case {
                name: "header and empty query token",
                headers: &[b"Bearer a"],
                uri: "/mcp?access_token",
                expected: Err(MultipleMethods),
            },
            Case {
                name: "similar query name",
                headers: &[b"Bearer a"],
                uri: "/mcp?access_tokens=b&xaccess_token=c",
                expected: Ok(Some("a")),
            },
        ];
        for case in cases {
            let got = run(case.headers, case.uri);
            let expected = case.expected.map(|o| o.map(str::to_owned));
            assert_eq!(got, expected, "{}", case.name);
        }
    }

    #[test]
    fn reason_names_and_descriptions_are_fixed() {
        // The names are log fields and metrics labels, the descriptions are sent to clients as
        // `error_description`: both are part of the interface.
        use ExtractError::*;
        let cases = [
            (
                RepeatedHeader,
                "repeated_authorization_header",
                "The request has more than one Authorization header",
            ),
            (
                MultipleMethods,
                "multiple_token_methods",
                "The request uses more than one method to send an access token",
            ),
            (
                Malformed,
                "malformed_credentials",
                "The Authorization header is malformed",
            ),
        ];
        for (error, name, description) in cases {
            assert_eq!(error.as_str(), name, "{error:?}");
            assert_eq!(error.description(), description, "{error:?}");
        }
    }

    #[test]
    fn debug_output_redacts_the_token() {
        let text = format!("{:?}", Credentials::Bearer("eyJhbGciOi.SECRET.SIG"));
        assert_eq!(text, "Bearer(<redacted, 21 bytes>)");
    }

    #[test]
    fn percent_decoding_of_names() {
        assert!(percent_decoded_eq("access_token", "access_token"));
        assert!(percent_decoded_eq("%61ccess%5ftoken", "access_token"));
        assert!(!percent_decoded_eq("access_token%", "access_token"));
        assert!(!percent_decoded_eq("access_toke", "access_token"));
        assert!(!percent_decoded_eq("access_tokenx", "access_token"));
        assert!(percent_decoded_eq("a+b", "a b"));
    }
}
