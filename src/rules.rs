//! One home per configuration rule. Every builder and the configuration reader call these, so
//! each rule is written once; callers turn the fixed reason into their own error, with the name
//! of the setting.
//!
//! | rule | function |
//! |---|---|
//! | leeway at most [`MAX_LEEWAY_SECS`] | [`leeway`] |
//! | scope syntax (RFC 6749 §3.3) | [`scope`] |
//! | `offline_access` is never required | [`required_scope`] |
//! | a token size cap of at least one byte | [`token_cap`] |
//! | `https`, or `http` on a loopback host when allowed | [`secure_url`] |
//! | an issuer identifier: a [`secure_url`] without a query | [`issuer_url`] |

use crate::scope::OFFLINE_ACCESS;
use crate::url::{self, UrlParts};

/// The largest leeway accepted, in seconds.
pub(crate) const MAX_LEEWAY_SECS: u64 = 300;

/// A clock leeway for `exp`, `nbf` and `iat`: at most [`MAX_LEEWAY_SECS`].
pub(crate) fn leeway(secs: u64) -> Result<(), &'static str> {
    if secs > MAX_LEEWAY_SECS {
        Err("must be at most 300")
    } else {
        Ok(())
    }
}

/// A scope token (RFC 6749 §3.3): one or more printable ASCII characters other than space,
/// `"` and `\`.
pub(crate) fn scope(scope: &str) -> Result<(), &'static str> {
    if !scope.is_empty() && scope.chars().all(crate::challenge::is_scope_char) {
        Ok(())
    } else {
        Err("is not a scope (RFC 6749 §3.3)")
    }
}

/// A scope every request must carry: a [`scope`], and never `offline_access`, which access
/// tokens do not carry and MCP challenges must never ask for.
pub(crate) fn required_scope(required: &str) -> Result<(), &'static str> {
    scope(required)?;
    if required == OFFLINE_ACCESS {
        Err("offline_access cannot be required: access tokens do not carry it")
    } else {
        Ok(())
    }
}

/// A cap on the token length: at least one byte.
pub(crate) fn token_cap(bytes: usize) -> Result<(), &'static str> {
    if bytes == 0 {
        Err("must be at least 1")
    } else {
        Ok(())
    }
}

/// An absolute `https` URL, or `http` on a loopback host when `allow_http_loopback`.
pub(crate) fn secure_url(
    url: &str,
    allow_http_loopback: bool,
) -> Result<UrlParts<'_>, &'static str> {
    let parts = url::split(url)?;
    url::check_secure(&parts, allow_http_loopback)?;
    Ok(parts)
}

/// An issuer identifier (RFC 8414 §2): a [`secure_url`] without a query.
pub(crate) fn issuer_url(issuer: &str, allow_http_loopback: bool) -> Result<(), &'static str> {
    if secure_url(issuer, allow_http_loopback)?.query.is_some() {
        Err("must not contain a query")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_refuses_exactly_its_bad_values() {
        assert!(leeway(300).is_ok());
        assert!(leeway(301).is_err());
        assert!(scope("mcp:tools").is_ok());
        for bad in ["", "a b", "caf\u{e9}", "a\"b", "a\\b"] {
            assert!(scope(bad).is_err(), "{bad:?}");
        }
        assert!(required_scope("mcp:tools").is_ok());
        assert!(required_scope("offline_access").is_err());
        assert!(required_scope("a b").is_err());
        assert!(
            scope("offline_access").is_ok(),
            "it may be supported, just not required"
        );
        assert!(token_cap(1).is_ok());
        assert!(token_cap(0).is_err());
        assert!(secure_url("https://a.example/x", false).is_ok());
        assert!(secure_url("http://127.0.0.1:8080/x", false).is_err());
        assert!(secure_url("http://127.0.0.1:8080/x", true).is_ok());
        assert!(secure_url("http://a.example/x", true).is_err());
        assert!(issuer_url("https://a.example", false).is_ok());
        assert!(issuer_url("https://a.example?x=1", false).is_err());
        assert!(issuer_url("http://a.example", true).is_err());
    }
}
