//! `WWW-Authenticate` challenges ([RFC 6750 §3], [RFC 9728 §5.1]).
//!
//! [`Challenge`] builds one `Bearer` challenge that every client can read:
//!
//! * the scheme comes first, all on one line (set at least one parameter: a bare `Bearer` is
//!   not a conformant challenge; the layers always set `resource_metadata`);
//! * every value is a quoted string, and each parameter appears at most once;
//! * `"` and `\` are **stripped** from values, never escaped (RFC 6750 §3 allows neither), as
//!   is anything outside printable ASCII; a value left empty is omitted, since the official
//!   TypeScript client's `name="([^"]+)"` pattern cannot read `""`;
//! * `error_description` only takes `&'static str`, so it can only ever be text written into
//!   a program, never token content such as a `kid` or a claim value.
//!
//! ```
//! use mcp_server_auth::challenge::{Challenge, ErrorCode};
//!
//! let value = Challenge::bearer()
//!     .error(ErrorCode::InsufficientScope)
//!     .error_description("The access token lacks a required scope")
//!     .scope(["files:write", "files:read"])
//!     .resource_metadata("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
//!     .to_string();
//! assert_eq!(
//!     value,
//!     "Bearer error=\"insufficient_scope\", \
//!      error_description=\"The access token lacks a required scope\", \
//!      scope=\"files:write files:read\", \
//!      resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\""
//! );
//!
//! // Parsing reads any challenge back, case-insensitively.
//! let parsed = mcp_server_auth::challenge::ParsedChallenge::parse(&value).unwrap();
//! assert_eq!(parsed.scheme(), "Bearer");
//! assert_eq!(parsed.get("SCOPE"), Some("files:write files:read"));
//! ```
//!
//! [RFC 6750 §3]: https://www.rfc-editor.org/rfc/rfc6750#section-3
//! [RFC 9728 §5.1]: https://www.rfc-editor.org/rfc/rfc9728#section-5.1

use std::fmt;

use http::HeaderValue;

/// The RFC 6750 §3.1 error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid_request`: a malformed request (answered with 400).
    InvalidRequest,
    /// `invalid_token`: the token is expired, malformed or otherwise invalid (answered with
    /// 401).
    InvalidToken,
    /// `insufficient_scope`: the token lacks a needed scope (answered with 403).
    InsufficientScope,
    /// `access_denied`: the token is valid but its holder may not use the resource (answered
    /// with 403). Not an RFC 6750 code: used for [policy](crate::profile::IssuerProfile::policy)
    /// denials, so that clients do not re-authorize for scopes that would not help.
    AccessDenied,
}

impl ErrorCode {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::AccessDenied => "access_denied",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A builder for one `WWW-Authenticate` challenge. See the [module docs](self).
///
/// Setting a parameter twice replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Challenge {
    scheme: &'static str,
    realm: Option<String>,
    error: Option<ErrorCode>,
    error_description: Option<&'static str>,
    scope: Option<String>,
    resource_metadata: Option<String>,
}

impl Challenge {
    /// A `Bearer` challenge with no parameters yet.
    pub fn bearer() -> Self {
        Self::with_scheme("Bearer")
    }

    /// A challenge with another scheme, such as `DPoP` ([RFC 9449 §7.1]). The scheme must be
    /// an HTTP token; characters that are not are dropped.
    ///
    /// [RFC 9449 §7.1]: https://www.rfc-editor.org/rfc/rfc9449#section-7.1
    pub fn with_scheme(scheme: &'static str) -> Self {
        Challenge {
            scheme,
            realm: None,
            error: None,
            error_description: None,
            scope: None,
            resource_metadata: None,
        }
    }

    /// Sets `realm`.
    pub fn realm(mut self, realm: impl AsRef<str>) -> Self {
        self.realm = non_empty(sanitize(realm.as_ref()));
        self
    }

    /// Sets `error`.
    pub fn error(mut self, code: ErrorCode) -> Self {
        self.error = Some(code);
        self
    }

    /// Sets `error_description`. Only static text is accepted, so that nothing taken from a
    /// request can reach the header.
    pub fn error_description(mut self, description: &'static str) -> Self {
        self.error_description = Some(description);
        self
    }

    /// Sets `scope` from individual scope tokens. Characters RFC 6749 §3.3 forbids in a scope
    /// token are dropped, empty tokens and repeats are skipped, and order is kept. When nothing
    /// is left, `scope` is omitted.
    pub fn scope<I>(mut self, scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut joined = String::new();
        let mut seen: Vec<String> = Vec::new();
        for scope in scopes {
            let token: String = scope
                .as_ref()
                .chars()
                .filter(|c| is_scope_char(*c))
                .collect();
            if token.is_empty() || seen.contains(&token) {
                continue;
            }
            if !joined.is_empty() {
                joined.push(' ');
            }
            joined.push_str(&token);
            seen.push(token);
        }
        self.scope = non_empty(joined);
        self
    }

    /// Sets `resource_metadata`, the URL of the protected resource metadata ([RFC 9728 §5.1]).
    ///
    /// [RFC 9728 §5.1]: https://www.rfc-editor.org/rfc/rfc9728#section-5.1
    pub fn resource_metadata(mut self, url: impl AsRef<str>) -> Self {
        self.resource_metadata = non_empty(sanitize(url.as_ref()));
        self
    }

    /// The challenge as a header value.
    pub fn to_header_value(&self) -> HeaderValue {
        // Every byte written is printable ASCII (see `sanitize`), which `HeaderValue` accepts.
        HeaderValue::try_from(self.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme: String = self.scheme.chars().filter(|c| is_tchar(*c)).collect();
        f.write_str(&scheme)?;
        let description = self.error_description.map(sanitize).and_then(non_empty);
        let params = [
            ("realm", self.realm.as_deref()),
            ("error", self.error.map(ErrorCode::as_str)),
            ("error_description", description.as_deref()),
            ("scope", self.scope.as_deref()),
            ("resource_metadata", self.resource_metadata.as_deref()),
        ];
        let mut first = true;
        for (name, value) in params {
            let Some(value) = value else { continue };
            f.write_str(if first { " " } else { ", " })?;
            first = false;
            write!(f, "{name}=\"{value}\"")?;
        }
        Ok(())
    }
}

/// Keeps printable ASCII except `"` and `\`: the characters RFC 6750 §3 allows in `error`,
/// `error_description` and (a superset of) `error_uri` values.
fn sanitize(value: &str) -> String {
    value
        .chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .collect()
}

fn non_empty(value: String) -> Option<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        None
    } else if trimmed.len() == value.len() {
        Some(value)
    } else {
        Some(trimmed.to_owned())
    }
}

/// `scope-token` characters: `%x21 / %x23-5B / %x5D-7E` (RFC 6749 §3.3).
pub(crate) fn is_scope_char(c: char) -> bool {
    matches!(c, '!'..='~') && c != '"' && c != '\\'
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// A challenge read back from a `WWW-Authenticate` value: the first challenge's scheme and its
/// auth-params. Used by tests and by clients; the layer never parses challenges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedChallenge {
    scheme: String,
    params: Vec<(String, String)>,
}

/// Why a `WWW-Authenticate` value could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeParseError {
    /// The value does not follow the RFC 9110 §11.6.1 grammar.
    #[error("malformed challenge")]
    Malformed,
    /// A parameter name appears twice in one challenge.
    #[error("repeated challenge parameter")]
    RepeatedParameter,
}

impl ParsedChallenge {
    /// Parses the first challenge of a `WWW-Authenticate` value (RFC 9110 §11.6.1), stopping
    /// where a second challenge begins. Quoted strings may use `\` escapes. Parameter names
    /// are lowercased; a repeated name is an error.
    ///
    /// # Errors
    /// [`ChallengeParseError`] when the value is not a well-formed challenge.
    pub fn parse(value: &str) -> Result<Self, ChallengeParseError> {
        let mut rest = value.trim_start_matches([' ', '\t']);
        let scheme_len = rest.find(|c: char| !is_tchar(c)).unwrap_or(rest.len());
        if scheme_len == 0 {
            return Err(ChallengeParseError::Malformed);
        }
        let (scheme, tail) = rest.split_at(scheme_len);
        rest = tail;
        let mut params: Vec<(String, String)> = Vec::new();
        if rest.is_empty() {
            return Ok(ParsedChallenge {
                scheme: scheme.to_owned(),
                params,
            });
        }
        if !rest.starts_with(' ') {
            return Err(ChallengeParseError::Malformed);
        }
        loop {
            rest = rest.trim_start_matches([' ', '\t']);
            let name_len = rest.find(|c: char| !is_tchar(c)).unwrap_or(rest.len());
            let (name, after_name) = rest.split_at(name_len);
            let after_ws = after_name.trim_start_matches([' ', '\t']);
            if name.is_empty() || !after_ws.starts_with('=') {
                // A token not followed by `=` starts the next challenge (or is token68 syntax,
                // which Bearer challenges never use).
                if params.is_empty() && !name.is_empty() {
                    return Err(ChallengeParseError::Malformed);
                }
                break;
            }
            rest = after_ws
                .get(1..)
                .unwrap_or_default()
                .trim_start_matches([' ', '\t']);
            let value;
            if let Some(quoted) = rest.strip_prefix('"') {
                let (text, remaining) = read_quoted(quoted)?;
                value = text;
                rest = remaining;
            } else {
                let len = rest.find(|c: char| !is_tchar(c)).unwrap_or(rest.len());
                if len == 0 {
                    return Err(ChallengeParseError::Malformed);
                }
                let (token, remaining) = rest.split_at(len);
                value = token.to_owned();
                rest = remaining;
            }
            let name = name.to_ascii_lowercase();
            if params.iter().any(|(n, _)| *n == name) {
                return Err(ChallengeParseError::RepeatedParameter);
            }
            params.push((name, value));
            rest = rest.trim_start_matches([' ', '\t']);
            if rest.is_empty() {
                break;
            }
            rest = rest
                .strip_prefix(',')
                .ok_or(ChallengeParseError::Malformed)?;
        }
        Ok(ParsedChallenge {
            scheme: scheme.to_owned(),
            params,
        })
    }

    /// The scheme, as written.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The value of a parameter, looked up case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All parameters, names lowercased, in order.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }
}

/// Reads a quoted string whose opening quote was consumed; returns the unescaped text and
/// what follows the closing quote.
fn read_quoted(input: &str) -> Result<(String, &str), ChallengeParseError> {
    let mut out = String::new();
    let mut chars = input.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, input.get(i + 1..).unwrap_or_default())),
            '\\' => match chars.next() {
                Some((_, escaped)) => out.push(escaped),
                None => return Err(ChallengeParseError::Malformed),
            },
            c if c == '\t' || (' '..='~').contains(&c) || !c.is_ascii() => out.push(c),
            _ => return Err(ChallengeParseError::Malformed),
        }
    }
    Err(ChallengeParseError::Malformed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_display_as_their_wire_names() {
        for (code, name) in [
            (ErrorCode::InvalidRequest, "invalid_request"),
            (ErrorCode::InvalidToken, "invalid_token"),
            (ErrorCode::InsufficientScope, "insufficient_scope"),
            (ErrorCode::AccessDenied, "access_denied"),
        ] {
            assert_eq!(code.as_str(), name);
            assert_eq!(code.to_string(), name);
        }
    }

    #[test]
    fn quotes_backslashes_and_controls_are_stripped_not_escaped() {
        let value = Challenge::bearer()
            .realm("a\"b\\c\r\nd\u{0}é")
            .resource_metadata("https://h/x\"y")
            .to_string();
        assert_eq!(
            value,
            "Bearer realm=\"abcd\", resource_metadata=\"https://h/xy\""
        );
    }

    #[test]
    fn scope_tokens_are_sanitized_deduplicated_and_empty_ones_skipped() {
        let value = Challenge::bearer()
            .scope(["a", "", "b\"c", "a", "d e"])
            .to_string();
        assert_eq!(value, "Bearer scope=\"a bc de\"");
        assert_eq!(
            Challenge::bearer().scope(["", "\""]).to_string(),
            "Bearer",
            "a scope with nothing left is omitted"
        );
    }

    #[test]
    fn empty_values_are_omitted() {
        let value = Challenge::bearer()
            .realm("\"\"")
            .error_description("\\")
            .error(ErrorCode::InvalidToken)
            .to_string();
        assert_eq!(value, "Bearer error=\"invalid_token\"");
    }

    #[test]
    fn parser_reads_tokens_quoted_pairs_and_stops_at_the_next_challenge() {
        let parsed = ParsedChallenge::parse(
            r#"bearer Realm=x, error="a\"b" ,  scope="s t", DPoP algs="ES256""#,
        )
        .unwrap();
        assert_eq!(parsed.scheme(), "bearer");
        assert_eq!(
            parsed.params(),
            &[
                ("realm".to_owned(), "x".to_owned()),
                ("error".to_owned(), "a\"b".to_owned()),
                ("scope".to_owned(), "s t".to_owned()),
            ]
        );
    }

    #[test]
    fn parser_rejects_malformed_values() {
        struct Case {
            name: &'static str,
            value: &'static str,
            error: ChallengeParseError,
        }
        let cases = [
            Case {
                name: "empty",
                value: "",
                error: ChallengeParseError::Malformed,
            },
            Case {
                name: "unterminated quote",
                value: "Bearer a=\"x",
                error: ChallengeParseError::Malformed,
            },
            Case {
                name: "repeated param",
                value: "Bearer a=1, A=2",
                error: ChallengeParseError::RepeatedParameter,
            },
            Case {
                name: "missing value",
                value: "Bearer a=",
                error: ChallengeParseError::Malformed,
            },
            Case {
                name: "junk after value",
                value: "Bearer a=\"x\" y",
                error: ChallengeParseError::Malformed,
            },
            Case {
                name: "newline in quotes",
                value: "Bearer a=\"x\ny\"",
                error: ChallengeParseError::Malformed,
            },
            Case {
                name: "no space after scheme",
                value: "Bearer,a=1",
                error: ChallengeParseError::Malformed,
            },
            Case {
                name: "token68 instead of parameters",
                value: "Bearer mF_9.B5f-4.1JqM",
                error: ChallengeParseError::Malformed,
            },
        ];
        for case in cases {
            assert_eq!(
                ParsedChallenge::parse(case.value),
                Err(case.error),
                "{}",
                case.name
            );
        }
    }
}
