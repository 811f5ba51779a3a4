//! Responses of the development authorization server (JSON, OAuth errors, HTML pages,
//! redirects, CORS) and the bounded reading of request bodies.

use std::future::poll_fn;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body::Body as _;
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::form::{self, Params};
use super::html;
use super::shared::{MAX_BODY_BYTES, RFC8414, Shared};
use mcp_server_auth::TRACE_TARGET;
use mcp_server_auth::body::FullBody;

pub(super) fn json(status: StatusCode, value: &Value) -> Response<FullBody> {
    json_bytes(status, value.to_string())
}

pub(super) fn json_bytes(status: StatusCode, body: impl Into<Bytes>) -> Response<FullBody> {
    let mut response = Response::new(FullBody::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An OAuth error response (RFC 6749 §5.2): JSON, `Cache-Control: no-store`.
pub(super) fn oauth_error(
    status: StatusCode,
    error: &'static str,
    description: &'static str,
) -> Response<FullBody> {
    tracing::debug!(target: TRACE_TARGET, error, description, "development authorization server refused a request");
    let mut response = json(
        status,
        &json!({ "error": error, "error_description": description }),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(super) fn method_not_allowed(allow: &'static str) -> Response<FullBody> {
    let mut response = oauth_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        "method not allowed",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

pub(super) fn html_page(status: StatusCode, body: String) -> Response<FullBody> {
    let mut response = Response::new(FullBody::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response
}

/// An authorization error that must not be sent to the redirect URI (the client or the URI
/// cannot be trusted): an HTML page, status 400.
pub(super) fn bad_authorization(message: &'static str, detail: Option<&str>) -> Response<FullBody> {
    tracing::debug!(target: TRACE_TARGET, message, "development authorization server refused an authorization request");
    html_page(StatusCode::BAD_REQUEST, html::error(message, detail))
}

pub(super) fn redirect(status: StatusCode, location: &str) -> Response<FullBody> {
    let mut response = Response::new(FullBody::empty());
    *response.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `redirect_uri` with the response parameters appended to its query.
pub(super) fn redirect_url(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut url = redirect_uri.to_owned();
    let mut separator = if url.contains('?') { '&' } else { '?' };
    for (name, value) in params {
        url.push(separator);
        url.push_str(name);
        url.push('=');
        url.push_str(&form::encode(value));
        separator = '&';
    }
    url
}

/// Sends an error to the client's redirect URI with `state` and `iss` (RFC 9207).
pub(super) fn redirect_error(
    shared: &Shared,
    redirect_uri: &str,
    state: Option<&str>,
    error: &'static str,
    description: &'static str,
) -> Response<FullBody> {
    tracing::debug!(target: TRACE_TARGET, error, description, "development authorization server refused an authorization request");
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", &shared.issuer));
    redirect(StatusCode::FOUND, &redirect_url(redirect_uri, &params))
}

/// Lets any origin read `response`: only for the metadata documents, the JWKS, and the
/// registration and token endpoints (nothing there relies on cookies or ambient authority).
pub(super) fn with_cors(mut response: Response<FullBody>) -> Response<FullBody> {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// The answer to `OPTIONS`: a CORS preflight approval where `cors`, else no CORS headers
/// (the browser then refuses the cross-origin request).
pub(super) fn preflight(cors: bool) -> Response<FullBody> {
    let mut response = Response::new(FullBody::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    if !cors {
        return response;
    }
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, authorization, mcp-protocol-version"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

pub(super) fn home(shared: &Shared) -> String {
    html::notice(
        "Development authorization server",
        "MCP clients find this server through its metadata:",
        Some(&shared.url(RFC8414)),
    )
}

/// Reads a request body of at most `limit` bytes; `None` when longer or broken.
pub(super) async fn read_body(body: Incoming, limit: usize) -> Option<Bytes> {
    let mut body = std::pin::pin!(body);
    let mut buffer = BytesMut::new();
    while let Some(frame) = poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        if let Ok(data) = frame.ok()?.into_data() {
            if buffer.len() + data.len() > limit {
                return None;
            }
            buffer.extend_from_slice(&data);
        }
    }
    Some(buffer.freeze())
}

pub(super) async fn read_form(body: Incoming) -> Option<Params> {
    let bytes = read_body(body, MAX_BODY_BYTES).await?;
    let text = std::str::from_utf8(&bytes).ok()?;
    form::parse(text).map(Params::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_parameters_are_appended_and_encoded() {
        assert_eq!(
            redirect_url("http://127.0.0.1:1/cb", &[("code", "a b"), ("state", "&x")]),
            "http://127.0.0.1:1/cb?code=a%20b&state=%26x"
        );
        assert_eq!(
            redirect_url(
                "https://app.example/cb?keep=1",
                &[("error", "access_denied")]
            ),
            "https://app.example/cb?keep=1&error=access_denied"
        );
    }
}
