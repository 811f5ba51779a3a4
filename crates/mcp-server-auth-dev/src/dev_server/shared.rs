//! What every route of the development authorization server shares: its limits, its paths,
//! and the state behind them.

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{HeaderMap, Uri};
use serde_json::{Value, json};

use super::store::Store;
use crate::testing::TestIssuer;
use mcp_server_auth::keys::remote::ReqwestFetcher;

/// Largest request body read (registration, consent and token forms).
pub(super) const MAX_BODY_BYTES: usize = 16 * 1024;
/// Largest client metadata document fetched.
pub(super) const MAX_CIMD_BYTES: usize = 16 * 1024;
/// Time allowed to fetch a client metadata document.
pub(super) const CIMD_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest `client_name` accepted at registration.
pub(super) const MAX_CLIENT_NAME: usize = 200;
/// Longest authorization request query string.
pub(super) const MAX_AUTHORIZE_QUERY: usize = 8 * 1024;
/// Longest `state` parameter.
pub(super) const MAX_STATE: usize = 1024;
/// The scope a client may always ask for: refresh tokens go to every client registered for
/// the `refresh_token` grant, with or without it.
pub(super) const OFFLINE_ACCESS: &str = "offline_access";

pub(super) const AUTHORIZE: &str = "/authorize";
pub(super) const CONSENT: &str = "/consent";
pub(super) const TOKEN: &str = "/token";
pub(super) const REGISTER: &str = "/register";
pub(super) const JWKS: &str = "/jwks";
pub(super) const RFC8414: &str = "/.well-known/oauth-authorization-server";
pub(super) const OPENID: &str = "/.well-known/openid-configuration";

/// What the handle and the request handlers share.
pub(super) struct Shared {
    pub(super) issuer: String,
    /// The address the server is bound to.
    pub(super) addr: SocketAddr,
    pub(super) signer: TestIssuer,
    pub(super) resources: Vec<String>,
    pub(super) scopes: Vec<String>,
    pub(super) subject: String,
    pub(super) auto_approve: AtomicBool,
    pub(super) cimd_hosts: Vec<String>,
    pub(super) cimd_http_loopback: bool,
    pub(super) fetcher: ReqwestFetcher,
    pub(super) access_token_lifetime: Duration,
    pub(super) store: Mutex<Store>,
}

impl Shared {
    pub(super) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// Whether the request was addressed to this server: its `Host` header and any
    /// absolute-form authority name it (see [`is_own_host`]).
    pub(super) fn is_addressed_here(&self, headers: &HeaderMap, uri: &Uri) -> bool {
        let own = |host: &str| is_own_host(self.addr, host);
        let host = headers.get(header::HOST).map(HeaderValue::to_str);
        let authority = uri.authority().map(|a| a.as_str());
        match (host, authority) {
            (None, None) | (Some(Err(_)), _) => false,
            (Some(Ok(host)), authority) => own(host) && authority.is_none_or(own),
            (None, Some(authority)) => own(authority),
        }
    }

    pub(super) fn metadata(&self, openid: bool) -> Value {
        let mut scopes = self.scopes.clone();
        if !scopes.iter().any(|s| s == OFFLINE_ACCESS) {
            scopes.push(OFFLINE_ACCESS.to_owned());
        }
        let mut document = json!({
            "issuer": self.issuer,
            "authorization_endpoint": self.url(AUTHORIZE),
            "token_endpoint": self.url(TOKEN),
            "registration_endpoint": self.url(REGISTER),
            "jwks_uri": self.url(JWKS),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": scopes,
            "authorization_response_iss_parameter_supported": true,
            "client_id_metadata_document_supported": !self.cimd_hosts.is_empty(),
        });
        if let (true, Some(map)) = (openid, document.as_object_mut()) {
            map.insert("subject_types_supported".into(), json!(["public"]));
            map.insert(
                "id_token_signing_alg_values_supported".into(),
                json!([self.signer.algorithm().as_str()]),
            );
        }
        document
    }
}

/// Whether `host` (a `Host` header or request-target authority) names the server bound to
/// `addr`: the bound address, or `localhost`, `127.0.0.1` or `[::1]`, with the bound port.
/// Anything else is a DNS rebinding attempt (a foreign name resolving to loopback) or a
/// mistake.
fn is_own_host(addr: SocketAddr, host: &str) -> bool {
    let ip = match addr {
        SocketAddr::V4(v4) => v4.ip().to_string(),
        SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
    };
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && !port.contains(']') => {
            (name, port.parse::<u16>().ok())
        }
        // No port: the default one.
        _ => (host, Some(80)),
    };
    port == Some(addr.port())
        && [ip.as_str(), "localhost", "127.0.0.1", "[::1]"]
            .iter()
            .any(|known| known.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_names_with_the_bound_port_are_this_server() {
        let v4: SocketAddr = ([127, 0, 0, 1], 8123).into();
        for (host, own) in [
            ("127.0.0.1:8123", true),
            ("localhost:8123", true),
            ("LOCALHOST:8123", true),
            ("[::1]:8123", true),
            ("127.0.0.1:8124", false),
            ("127.0.0.1", false),
            ("evil.example:8123", false),
            ("localhost.evil.example:8123", false),
            ("127.0.0.1.nip.io:8123", false),
            ("localhost:8123:8123", false),
            (":8123", false),
            ("", false),
        ] {
            assert_eq!(is_own_host(v4, host), own, "{host}");
        }
        let v6: SocketAddr = "[::1]:80".parse().unwrap_or(v4);
        assert!(is_own_host(v6, "[::1]"), "no port: 80");
        assert!(is_own_host(v6, "localhost"));
        assert!(!is_own_host(v6, "[::2]"));
        let other: SocketAddr = ([127, 0, 0, 2], 9000).into();
        assert!(is_own_host(other, "127.0.0.2:9000"), "the bound address");
        assert!(!is_own_host(other, "127.0.0.3:9000"));
    }
}
