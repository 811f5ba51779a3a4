//! The small slice of URL handling the crate needs: splitting an absolute URL into parts
//! without re-serializing it, so that configured identifiers are published verbatim.

/// An absolute URL split into borrowed parts; `original` is never re-serialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UrlParts<'a> {
    /// The scheme, as written (compare case-insensitively).
    pub(crate) scheme: &'a str,
    /// Everything between `//` and the path: host and optional port.
    pub(crate) authority: &'a str,
    /// The host without port; IPv6 literals keep their brackets.
    pub(crate) host: &'a str,
    /// The path, possibly empty.
    pub(crate) path: &'a str,
    /// The query without `?`, if any.
    pub(crate) query: Option<&'a str>,
}

/// Why a string is not an absolute URL the crate accepts.
pub(crate) type UrlError = &'static str;

/// Splits `url` into parts. It must be an absolute `scheme://authority[path][?query]` URL,
/// printable ASCII only, with no fragment and no user info.
pub(crate) fn split(url: &str) -> Result<UrlParts<'_>, UrlError> {
    // RFC 3986 characters only: unreserved, reserved and `%`.
    if !url
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b))
    {
        return Err("holds characters a URL cannot");
    }
    if url.contains('#') {
        return Err("must not contain a fragment");
    }
    let (scheme, rest) = url.split_once("://").ok_or("must be an absolute URL")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return Err("has an invalid scheme");
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err("must not contain user info");
    }
    let host = if authority.starts_with('[') {
        let close = authority.find(']').ok_or("has an invalid host")?;
        authority.get(..=close).ok_or("has an invalid host")?
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err("has no host");
    }
    let port = authority.get(host.len()..).unwrap_or_default();
    if !port.is_empty() {
        let digits = port.strip_prefix(':').ok_or("has an invalid port")?;
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.parse::<u16>().is_err()
        {
            return Err("has an invalid port");
        }
    }
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    };
    Ok(UrlParts {
        scheme,
        authority,
        host,
        path,
        query,
    })
}

impl UrlParts<'_> {
    /// Whether the scheme is `https`, case-insensitively.
    pub(crate) fn is_https(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("https")
    }

    /// Whether the scheme is `http`, case-insensitively.
    pub(crate) fn is_http(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("http")
    }

    /// Whether the host is a loopback name or address: `localhost`, `127.0.0.0/8` or `[::1]`.
    pub(crate) fn is_loopback(&self) -> bool {
        is_loopback_host(self.host)
    }
}

/// Whether `host` (no port; IPv6 in brackets) names this machine.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") || host == "[::1]" {
        return true;
    }
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// Checks an `https` URL, or an `http` one on a loopback host when `allow_http_loopback`.
pub(crate) fn check_secure(
    parts: &UrlParts<'_>,
    allow_http_loopback: bool,
) -> Result<(), UrlError> {
    if parts.is_https() {
        Ok(())
    } else if parts.is_http() && parts.is_loopback() {
        if allow_http_loopback {
            Ok(())
        } else {
            Err(
                "uses http, allowed only on loopback hosts when http loopback is enabled for development",
            )
        }
    } else {
        Err("must use https")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn splits_absolute_urls_without_rewriting() {
        let p = split("HTTPS://Mcp.Example.com:8443/a/b?x=1&y").unwrap();
        assert_eq!(
            (p.scheme, p.authority, p.host, p.path, p.query),
            (
                "HTTPS",
                "Mcp.Example.com:8443",
                "Mcp.Example.com",
                "/a/b",
                Some("x=1&y")
            )
        );
        assert!(p.is_https());
        let p = split("http://[::1]:80").unwrap();
        assert_eq!((p.host, p.path, p.query), ("[::1]", "", None));
        assert!(p.is_loopback());
    }

    #[test]
    fn rejects_what_is_not_an_absolute_url() {
        for bad in [
            "",
            "mcp.example.com/mcp",
            "https://",
            "https://h/#frag",
            "https://user@h/",
            "https://h:port/",
            "https://h:/",
            "https://h/ space",
            "https://h/é",
            "https://h/a\"b",
            "https://h/a\\b",
            "https://h/<x>",
            "https://h:65536/",
            "://h/",
            "ht tp://h/",
            "https://[::1/",
        ] {
            assert!(split(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "[::1]"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "localhost.evil.com",
            "128.0.0.1",
            "[::2]",
            "0.0.0.0",
            "example.com",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
