//! The resource / well-known URL functions: `well_known_url`, `well_known_path`,
//! `discovery_urls`, `ProtectedResourceMetadata`, `OriginPolicy::for_resource`, and the
//! crate-private URL splitter (through the `fuzzing` feature).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_server_auth::fuzzing::{is_loopback_host, url_check_secure, url_split};
use mcp_server_auth::keys::remote::discovery_urls;
use mcp_server_auth::metadata::{well_known_path, well_known_url};
use mcp_server_auth::origin::OriginPolicy;

const SUFFIX: &str = "/.well-known/oauth-protected-resource";

fuzz_target!(|input: &str| {
    let split = url_split(input);
    let url = well_known_url(input);
    let path = well_known_path(input);
    assert_eq!(split.is_ok(), url.is_ok());
    assert_eq!(url.is_ok(), path.is_ok());
    let _ = is_loopback_host(input);
    let secure = url_check_secure(input, false);
    let secure_dev = url_check_secure(input, true);
    if secure.is_ok() {
        assert!(secure_dev.is_ok(), "allowing loopback http refused a URL");
    }
    if let Ok((scheme, authority, host, path_part, query)) = split {
        // The parts put back together are the input: nothing is re-serialized.
        let mut again = format!("{scheme}://{authority}{path_part}");
        if let Some(q) = query {
            again.push('?');
            again.push_str(q);
        }
        assert_eq!(again, input);
        assert!(!host.is_empty() && authority.starts_with(host));
        assert!(!input.contains('#'));
        if secure_dev.is_ok() && secure.is_err() {
            assert!(is_loopback_host(host) && scheme.eq_ignore_ascii_case("http"));
        }

        let url = url.expect("split ok");
        let path = path.expect("split ok");
        assert!(path.starts_with(SUFFIX));
        let mut expected = format!("{scheme}://{authority}{path}");
        if let Some(q) = query {
            expected.push('?');
            expected.push_str(q);
        }
        assert_eq!(url, expected);
        // The well-known URL is itself a URL the crate accepts, on the same origin.
        let (s2, a2, _, p2, q2) = url_split(&url).expect("well-known url splits");
        assert_eq!((s2, a2, p2, q2), (scheme, authority, path.as_str(), query));
    }
    let discovery = discovery_urls(input);
    assert!(!discovery.is_empty() && discovery.len() <= 2);
    let _ = OriginPolicy::for_resource(input);
});
