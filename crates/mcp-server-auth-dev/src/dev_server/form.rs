//! `application/x-www-form-urlencoded` decoding (query strings and form bodies) and the
//! percent-encoding of values put into redirect URLs.

/// The decoded `name=value` pairs of a query string or form body, in order. `+` is a space,
/// `%XX` a byte; a pair without `=` has an empty value. `None` when a `%` escape is broken or
/// the decoded bytes are not UTF-8.
pub(crate) fn parse(input: &str) -> Option<Vec<(String, String)>> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(name)?, decode(value)?))
        })
        .collect()
}

fn decode(input: &str) -> Option<String> {
    let mut out = Vec::with_capacity(input.len());
    let mut bytes = input.bytes();
    while let Some(byte) = bytes.next() {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let high = hex(bytes.next()?)?;
                let low = hex(bytes.next()?)?;
                out.push(high << 4 | low);
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok()
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes `value` for a query component: unreserved characters stay, everything
/// else becomes `%XX`.
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The parameters of one request, where each may appear at most once (RFC 6749 §3.1).
#[derive(Debug, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Self {
        Params { pairs }
    }

    /// The value of `name`: `Ok(None)` when absent or empty, `Err(Repeated)` when repeated.
    pub(crate) fn get(&self, name: &str) -> Result<Option<&str>, Repeated> {
        let mut values = self
            .pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(Repeated);
        }
        Ok(first.filter(|v| !v.is_empty()))
    }
}

/// A parameter that must appear once appeared more often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Repeated;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs_in_order() {
        struct Case {
            name: &'static str,
            input: &'static str,
            want: Option<Vec<(&'static str, &'static str)>>,
        }
        let cases = [
            Case {
                name: "empty",
                input: "",
                want: Some(vec![]),
            },
            Case {
                name: "plain",
                input: "a=1&b=2",
                want: Some(vec![("a", "1"), ("b", "2")]),
            },
            Case {
                name: "plus is space, escapes decoded",
                input: "scope=mcp%3Atools+mcp%3aadmin",
                want: Some(vec![("scope", "mcp:tools mcp:admin")]),
            },
            Case {
                name: "no equals sign, empty pieces skipped",
                input: "flag&&x=",
                want: Some(vec![("flag", ""), ("x", "")]),
            },
            Case {
                name: "value keeps later equals signs",
                input: "a=b=c",
                want: Some(vec![("a", "b=c")]),
            },
            Case {
                name: "utf-8",
                input: "n=%C3%A9",
                want: Some(vec![("n", "é")]),
            },
            Case {
                name: "truncated escape",
                input: "a=%4",
                want: None,
            },
            Case {
                name: "bad hex",
                input: "a=%zz",
                want: None,
            },
            Case {
                name: "invalid utf-8",
                input: "a=%FF",
                want: None,
            },
        ];
        for case in cases {
            let got = parse(case.input);
            let want = case.want.map(|pairs| {
                pairs
                    .into_iter()
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect::<Vec<_>>()
            });
            assert_eq!(got, want, "{}", case.name);
        }
    }

    #[test]
    fn encode_round_trips() {
        for value in ["", "abc", "a b&c=d", "http://127.0.0.1:1/cb?x=1", "é\"<>"] {
            let encoded = encode(value);
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b))
            );
            assert_eq!(decode(&encoded).unwrap(), value);
        }
    }

    proptest::proptest! {
        /// Whatever pairs are encoded, decoding gives them back.
        #[test]
        fn encoded_pairs_decode_to_themselves(pairs in proptest::collection::vec((".+", ".*"), 0..6)) {
            let input = pairs
                .iter()
                .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            proptest::prop_assert_eq!(parse(&input), Some(pairs));
        }

        /// Any input is decoded or refused, never a panic.
        #[test]
        fn any_input_is_decoded_or_refused(input in ".*") {
            let _ = parse(&input);
        }
    }

    #[test]
    fn repeated_parameters_are_reported() {
        let params = Params::new(parse("a=1&a=2&b=&c=3").unwrap());
        assert_eq!(params.get("a"), Err(Repeated));
        assert_eq!(params.get("b"), Ok(None));
        assert_eq!(params.get("c"), Ok(Some("3")));
        assert_eq!(params.get("d"), Ok(None));
    }
}
