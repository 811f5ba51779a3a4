//! The bounds and the `typ` rule every issuer's tokens and key documents are read with, and
//! their defaults.

/// Default leeway for `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;
/// The largest leeway the builder accepts, in seconds.
pub const MAX_LEEWAY_SECS: u64 = crate::rules::MAX_LEEWAY_SECS;
/// The largest JWKS document a key source will parse, in bytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// The most keys a key set may hold; a document with more is rejected.
pub const MAX_KEYS: usize = 100;
/// Default cap on the token length, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Which `typ` header values are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TypPolicy {
    /// `at+jwt`, `application/at+jwt`, `JWT`, `application/jwt` (all case-insensitive) or no
    /// `typ`. Many identity providers issue `typ: JWT` access tokens.
    #[default]
    Lenient,
    /// Only `at+jwt` or `application/at+jwt`, case-insensitive ([RFC 9068 §4]).
    ///
    /// [RFC 9068 §4]: https://www.rfc-editor.org/rfc/rfc9068#section-4
    Strict,
}

impl TypPolicy {
    pub(crate) fn accepts(self, typ: Option<&str>) -> bool {
        match typ {
            None => self == TypPolicy::Lenient,
            Some(typ) => {
                is_at_jwt(typ)
                    || (self == TypPolicy::Lenient && media_type(typ).eq_ignore_ascii_case("jwt"))
            }
        }
    }
}

/// RFC 7515 §4.1.9: `application/` may be omitted, and media types compare case-insensitively.
fn media_type(typ: &str) -> &str {
    match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => {
            typ.get(12..).unwrap_or_default()
        }
        _ => typ,
    }
}

pub(crate) fn is_at_jwt(typ: &str) -> bool {
    media_type(typ).eq_ignore_ascii_case("at+jwt")
}
