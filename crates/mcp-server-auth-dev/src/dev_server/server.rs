//! The routes of the development authorization server, over the loopback HTTP/1.1 server the
//! test issuer uses: which handler answers which request.

use std::convert::Infallible;
use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::authorize::{authorize, consent};
use super::html;
use super::register::register;
use super::reply::{
    home, html_page, json, json_bytes, method_not_allowed, oauth_error, preflight, with_cors,
};
use super::shared::{AUTHORIZE, CONSENT, JWKS, OPENID, REGISTER, RFC8414, Shared, TOKEN};
use super::token::token;
use mcp_server_auth::TRACE_TARGET;
use mcp_server_auth::body::FullBody;

pub(super) async fn respond(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<FullBody>, Infallible> {
    if !shared.is_addressed_here(request.headers(), request.uri()) {
        // DNS rebinding: a page on a foreign name that resolves to loopback is same-origin
        // with itself, not with this server; its requests carry its own name.
        return Ok(oauth_error(
            StatusCode::MISDIRECTED_REQUEST,
            "invalid_request",
            "the Host header does not name this server",
        ));
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    // Browser-based clients (MCP Inspector) read metadata and call the token and registration
    // endpoints with fetch. The authorization endpoint and the consent form never allow
    // another origin to read them: the consent page holds the transaction id that approves.
    let cors = matches!(path.as_str(), RFC8414 | OPENID | JWKS | REGISTER | TOKEN);
    let response = if method == Method::OPTIONS {
        preflight(cors)
    } else {
        match (path.as_str(), &method) {
            (RFC8414 | OPENID, &Method::GET | &Method::HEAD) => {
                json(StatusCode::OK, &shared.metadata(path == OPENID))
            }
            (JWKS, &Method::GET | &Method::HEAD) => {
                let mut response = json_bytes(StatusCode::OK, shared.signer.jwks());
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=60"),
                );
                response
            }
            (REGISTER, &Method::POST) => register(&shared, request.into_body()).await,
            (AUTHORIZE, &Method::GET) => authorize(&shared, request.uri().query()).await,
            (CONSENT, &Method::POST) => {
                if is_cross_origin(&shared, request.headers()) {
                    tracing::warn!(target: TRACE_TARGET, "development authorization server refused a consent decision posted from another origin");
                    html_page(
                        StatusCode::FORBIDDEN,
                        html::error(
                            "the consent decision was posted from another site: refused",
                            None,
                        ),
                    )
                } else {
                    consent(&shared, request.into_body()).await
                }
            }
            (TOKEN, &Method::POST) => {
                let basic = request.headers().contains_key(header::AUTHORIZATION);
                token(&shared, basic, request.into_body()).await
            }
            ("/", &Method::GET) => html_page(StatusCode::OK, home(&shared)),
            (RFC8414 | OPENID | JWKS | AUTHORIZE | "/", _) => {
                method_not_allowed("GET, HEAD, OPTIONS")
            }
            (REGISTER | CONSENT | TOKEN, _) => method_not_allowed("POST, OPTIONS"),
            _ => oauth_error(StatusCode::NOT_FOUND, "invalid_request", "no such endpoint"),
        }
    };
    Ok(if cors { with_cors(response) } else { response })
}

/// Whether a consent decision comes from a page of another origin: an `Origin` other than
/// this server's (its issuer, or the loopback name the request was sent to), or a
/// `Sec-Fetch-Site` other than `same-origin` or `none`. Requests with neither header (not
/// from a browser) pass.
fn is_cross_origin(shared: &Shared, headers: &HeaderMap) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let own = origin.to_str().is_ok_and(|origin| {
            origin.eq_ignore_ascii_case(&shared.issuer)
                || origin
                    .strip_prefix("http://")
                    .is_some_and(|o| !host.is_empty() && o.eq_ignore_ascii_case(host))
        });
        if !own {
            return true;
        }
    }
    headers
        .get("sec-fetch-site")
        .is_some_and(|site| !matches!(site.as_bytes(), b"same-origin" | b"none"))
}
