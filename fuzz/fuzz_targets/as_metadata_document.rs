//! Authorization-server metadata (RFC 8414 / OpenID Connect Discovery) as `RemoteJwks` reads
//! it: the discovery document, its status and `Cache-Control`, and the JWKS it points to all
//! come from the input, served by an in-memory `Fetch`.
#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mcp_server_auth::keys::KeySource;
use mcp_server_auth::keys::remote::{
    Fetch, FetchError, FetchFuture, FetchRequest, FetchResponse, RemoteJwks,
};

const ISSUER: &str = "https://as.example/tenant";

#[derive(Debug, Clone, Arbitrary)]
struct Served {
    status: u16,
    cache_control: Option<String>,
    body: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// Answer for `/.well-known/oauth-authorization-server/...` (RFC 8414).
    rfc8414: Served,
    /// Answer for `/.well-known/openid-configuration`.
    openid: Served,
    /// Answer for any other URL (the `jwks_uri`).
    jwks: Served,
    /// Make `status` 200 unless this is set.
    raw_status: bool,
}

#[derive(Debug)]
struct Canned(Input);

impl Fetch for Canned {
    fn get(&self, request: FetchRequest) -> FetchFuture {
        let served = if request
            .url
            .contains("/.well-known/oauth-authorization-server")
        {
            &self.0.rfc8414
        } else if request.url.contains("/.well-known/openid-configuration") {
            &self.0.openid
        } else {
            &self.0.jwks
        };
        let status = if self.0.raw_status {
            served.status
        } else {
            200
        };
        let result = if served.body.len() > request.max_bytes {
            Err(FetchError::TooLarge)
        } else {
            let response = FetchResponse::new(status, Bytes::from(served.body.clone()));
            Ok(match &served.cache_control {
                Some(value) => response.cache_control(value.clone()),
                None => response,
            })
        };
        Box::pin(async move { result })
    }
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
});

fuzz_target!(|input: Input| {
    let remote = RemoteJwks::builder(ISSUER)
        .fetcher(Canned(input))
        .build()
        .expect("fixed configuration is valid");
    RUNTIME.block_on(async {
        let result = remote.prefetch().await;
        let status = remote.status();
        let _ = format!("{status:?}");
        match result {
            Ok(()) => {
                assert!(remote.is_ready());
                let keys = remote.current().expect("ready means keys");
                let _ = keys.len();
            }
            Err(error) => {
                let _ = error.to_string();
                let _ = format!("{error:?}");
            }
        }
    });
});
