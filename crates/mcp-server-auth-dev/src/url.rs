//! Absolute URLs as the development authorization server reads them (redirect URIs, client
//! id URLs, resources, its own issuer): parsed by [`http::Uri`], with the parts it lets
//! through (a fragment, user info) refused.

use http::Uri;

/// `url` parsed, when it is an absolute URL with a host, no user info and no fragment.
pub(crate) fn parse(url: &str) -> Option<Uri> {
    if url.contains('#') {
        return None;
    }
    let uri: Uri = url.parse().ok()?;
    let authority = uri.authority()?;
    if uri.scheme().is_none() || authority.as_str().contains('@') || authority.host().is_empty() {
        return None;
    }
    // `Uri` keeps a port it cannot read (`:99999`, `:`): refuse it here.
    let after_host = authority
        .as_str()
        .rsplit_once(']')
        .map_or(authority.as_str(), |(_, rest)| rest);
    let port = after_host.rsplit_once(':').map(|(_, port)| port);
    if port.is_some_and(|port| {
        port.parse::<u16>().is_err() || !port.bytes().all(|b| b.is_ascii_digit())
    }) {
        return None;
    }
    Some(uri)
}

/// Whether the scheme is `https`.
pub(crate) fn is_https(uri: &Uri) -> bool {
    uri.scheme_str()
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https"))
}

/// Whether the scheme is `http`.
pub(crate) fn is_http(uri: &Uri) -> bool {
    uri.scheme_str()
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http"))
}

/// Whether the host names this machine: `localhost`, `127.0.0.0/8` or `[::1]`.
pub(crate) fn is_loopback(uri: &Uri) -> bool {
    let host = uri.host().unwrap_or_default();
    host.eq_ignore_ascii_case("localhost")
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn absolute_urls_with_a_host_parse() {
        let uri = parse("http://127.0.0.1:33418").expect("parses");
        assert!(is_http(&uri) && is_loopback(&uri));
        assert_eq!(uri.path(), "/");
        let uri = parse("HTTPS://app.example.com/cb?x=1").expect("parses");
        assert!(is_https(&uri) && !is_loopback(&uri));
        assert_eq!(uri.query(), Some("x=1"));
        assert!(parse("http://[::1]:8080/cb").is_some_and(|uri| is_loopback(&uri)));
        assert!(parse("http://localhost/cb").is_some_and(|uri| is_loopback(&uri)));
    }

    #[test]
    fn fragments_user_info_and_relative_references_are_refused() {
        for url in [
            "https://app.example.com/cb#frag",
            "https://user@app.example.com/cb",
            "/cb",
            "app.example.com/cb",
            "https:///cb",
            "https://app.example.com:99999/",
            "https://app.example.com:/",
            "http://[::1]:70000/",
        ] {
            assert!(parse(url).is_none(), "{url}");
        }
    }
}
