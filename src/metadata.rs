//! OAuth 2.0 Protected Resource Metadata ([RFC 9728]).
//!
//! MCP clients find the authorization server through this document: the `401` challenge names
//! its URL in `resource_metadata`, and clients without the header probe the well-known URL
//! [`well_known_url`] derives from the resource identifier. The document's `resource` is
//! published exactly as configured, because clients compare it code point by code point with
//! the URL they started from (RFC 9728 §3.3).
//!
//! [`McpAuth::layer`](crate::McpAuth::layer) serves the document itself. [`MetadataService`]
//! serves it on its own, for example to mount an extra copy at the root well-known URL.
//!
//! ```
//! use mcp_server_auth::metadata::{well_known_url, ProtectedResourceMetadata};
//!
//! assert_eq!(
//!     well_known_url("https://mcp.example.com/mcp").unwrap(),
//!     "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
//! );
//! assert_eq!(
//!     well_known_url("https://mcp.example.com/").unwrap(),
//!     "https://mcp.example.com/.well-known/oauth-protected-resource"
//! );
//!
//! let mut doc = ProtectedResourceMetadata::new("https://mcp.example.com/mcp");
//! doc.authorization_servers.push("https://auth.example.com".into());
//! assert_eq!(
//!     serde_json::to_string(&doc).unwrap(),
//!     r#"{"resource":"https://mcp.example.com/mcp","authorization_servers":["https://auth.example.com"]}"#
//! );
//! ```
//!
//! [RFC 9728]: https://www.rfc-editor.org/rfc/rfc9728

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};

use crate::body::FullBody;
use crate::url;

/// The well-known URI suffix for protected resource metadata (RFC 9728 §3).
pub const WELL_KNOWN_SUFFIX: &str = "/.well-known/oauth-protected-resource";

/// `Cache-Control` sent with the document (RFC 9728 §7.10 suggests letting clients cache it).
pub const CACHE_CONTROL: &str = "public, max-age=3600";

/// An RFC 9728 §2 protected resource metadata document.
///
/// Fields holding lists are omitted from JSON when empty, and optional ones when unset, as
/// RFC 9728 §3.2 requires. Unknown members, including language-tagged ones such as
/// `resource_name#de`, round-trip through [`additional`](Self::additional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProtectedResourceMetadata {
    /// The resource identifier, published verbatim.
    pub resource: String,
    /// Issuer identifiers of the authorization servers that issue tokens for this resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_servers: Vec<String>,
    /// The resource's own JWK Set URL (for signed responses, not the AS's keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Scopes used to request access to this resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// How the resource accepts bearer tokens: `header`, `body`, `query`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bearer_methods_supported: Vec<String>,
    /// JWS algorithms the resource signs responses with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_signing_alg_values_supported: Vec<String>,
    /// A human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Developer documentation URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
    /// Policy URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy_uri: Option<String>,
    /// Terms of service URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_tos_uri: Option<String>,
    /// Whether the resource supports mutual-TLS certificate-bound tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate_bound_access_tokens: Option<bool>,
    /// RFC 9396 authorization details types supported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details_types_supported: Vec<String>,
    /// DPoP proof algorithms supported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// Whether the resource always requires DPoP-bound tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens_required: Option<bool>,
    /// A signed JWT holding metadata values (RFC 9728 §2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_metadata: Option<String>,
    /// Any other members, serialized after the registered ones.
    #[serde(flatten)]
    pub additional: serde_json::Map<String, serde_json::Value>,
}

impl ProtectedResourceMetadata {
    /// A document for `resource` with every other field empty.
    pub fn new(resource: impl Into<String>) -> Self {
        ProtectedResourceMetadata {
            resource: resource.into(),
            ..Default::default()
        }
    }
}

/// A resource identifier that is not an absolute URL without fragment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an absolute url without fragment: {reason}")]
pub struct InvalidResourceUrl {
    reason: &'static str,
}

/// The well-known metadata URL for a resource identifier (RFC 9728 §3.1): the suffix
/// `/.well-known/oauth-protected-resource` goes between the authority and the path, a `/`
/// directly after the host is dropped first, and the query is kept.
///
/// | resource | metadata URL |
/// |---|---|
/// | `https://h` and `https://h/` | `https://h/.well-known/oauth-protected-resource` |
/// | `https://h/mcp` | `https://h/.well-known/oauth-protected-resource/mcp` |
/// | `https://h/a/b?t=1` | `https://h/.well-known/oauth-protected-resource/a/b?t=1` |
///
/// # Errors
/// [`InvalidResourceUrl`] when `resource` is not an absolute URL, or has a fragment.
pub fn well_known_url(resource: &str) -> Result<String, InvalidResourceUrl> {
    let parts = url::split(resource).map_err(|reason| InvalidResourceUrl { reason })?;
    let mut out = format!(
        "{}://{}{}",
        parts.scheme,
        parts.authority,
        well_known_path_of(&parts)
    );
    if let Some(query) = parts.query {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

/// The path part of [`well_known_url`]: what a server routes on.
///
/// # Errors
/// As [`well_known_url`].
pub fn well_known_path(resource: &str) -> Result<String, InvalidResourceUrl> {
    let parts = url::split(resource).map_err(|reason| InvalidResourceUrl { reason })?;
    Ok(well_known_path_of(&parts))
}

fn well_known_path_of(parts: &url::UrlParts<'_>) -> String {
    let path = if parts.path == "/" { "" } else { parts.path };
    format!("{WELL_KNOWN_SUFFIX}{path}")
}

/// A serialized document plus the responses built from it.
#[derive(Clone)]
pub(crate) struct MetadataDocument {
    json: Bytes,
}

impl fmt::Debug for MetadataDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataDocument").finish_non_exhaustive()
    }
}

const ALLOW: &str = "GET, HEAD, OPTIONS";

/// The members RFC 9728 §2 registers, which [`ProtectedResourceMetadata::additional`] must not
/// repeat.
const REGISTERED: [&str; 15] = [
    "resource",
    "authorization_servers",
    "jwks_uri",
    "scopes_supported",
    "bearer_methods_supported",
    "resource_signing_alg_values_supported",
    "resource_name",
    "resource_documentation",
    "resource_policy_uri",
    "resource_tos_uri",
    "tls_client_certificate_bound_access_tokens",
    "authorization_details_types_supported",
    "dpop_signing_alg_values_supported",
    "dpop_bound_access_tokens_required",
    "signed_metadata",
];

impl MetadataDocument {
    /// Serializes `doc` once. Members of `additional` that repeat a registered member or hold
    /// an empty list are dropped, so the document never has duplicate keys or empty lists.
    pub(crate) fn new(doc: &ProtectedResourceMetadata) -> Self {
        let mut doc = doc.clone();
        doc.additional.retain(|name, value| {
            !REGISTERED.contains(&name.as_str()) && value.as_array().is_none_or(|a| !a.is_empty())
        });
        // Serializing plain strings, bools and a JSON map cannot fail.
        let json = serde_json::to_vec(&doc).unwrap_or_default();
        MetadataDocument { json: json.into() }
    }

    /// The response to any request for the document: GET and HEAD get it, OPTIONS gets a CORS
    /// preflight answer, other methods 405. Nothing about the request other than its method and
    /// `Access-Control-Request-Headers` matters: no auth, no version checks.
    pub(crate) fn respond<B>(&self, request: &Request<B>) -> Response<FullBody> {
        let method = request.method();
        let mut response = if method == Method::GET {
            Response::new(FullBody::new(self.json.clone()))
        } else if method == Method::HEAD {
            // The length the GET answer would have (RFC 9110 §9.3.2).
            let mut response = Response::new(FullBody::empty());
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(self.json.len()));
            response
        } else if method == Method::OPTIONS {
            let mut response = Response::new(FullBody::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            let headers = response.headers_mut();
            headers.insert(header::ALLOW, HeaderValue::from_static(ALLOW));
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW),
            );
            if let Some(requested) = request
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            {
                // A public, credential-free document: any request header may be sent.
                headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
            }
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            );
            headers.insert(
                header::VARY,
                HeaderValue::from_static("access-control-request-headers"),
            );
            response
        } else {
            let mut response = crate::body::json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                Some("method_not_allowed"),
                "The metadata document supports GET, HEAD and OPTIONS",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(ALLOW));
            response
        };
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        if method == Method::GET || method == Method::HEAD {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(CACHE_CONTROL),
            );
        }
        crate::body::close_if_body_pending(request, &mut response);
        response
    }
}

/// A service that answers every request with a metadata document. See the
/// [module docs](self).
///
/// ```
/// use mcp_server_auth::metadata::{MetadataService, ProtectedResourceMetadata};
/// use tower::{Service, ServiceExt};
///
/// # tokio_test(async {
/// let mut doc = ProtectedResourceMetadata::new("https://mcp.example.com/mcp");
/// doc.authorization_servers.push("https://auth.example.com".into());
/// let service = MetadataService::new(&doc);
/// let request = http::Request::post("/").body(()).unwrap();
/// let response = service.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 405);
/// assert_eq!(response.headers()["allow"], "GET, HEAD, OPTIONS");
/// # });
/// # fn tokio_test(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MetadataService {
    document: Arc<MetadataDocument>,
}

impl MetadataService {
    /// Serves `doc`.
    pub fn new(doc: &ProtectedResourceMetadata) -> Self {
        MetadataService {
            document: Arc::new(MetadataDocument::new(doc)),
        }
    }
}

impl<B> tower::Service<Request<B>> for MetadataService {
    type Response = Response<FullBody>;
    type Error = Infallible;
    type Future = Ready<Result<Response<FullBody>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(self.document.respond(&request)))
    }
}

/// Serves the metadata document at its well-known path; made by
/// [`McpAuth::metadata_layer`](crate::McpAuth::metadata_layer).
#[derive(Debug, Clone)]
#[must_use]
pub struct ServeMetadataLayer {
    document: Arc<MetadataDocument>,
    path: Arc<str>,
    root: bool,
}

impl ServeMetadataLayer {
    pub(crate) fn new(document: Arc<MetadataDocument>, path: Arc<str>, root: bool) -> Self {
        ServeMetadataLayer {
            document,
            path,
            root,
        }
    }
}

impl<S> tower::Layer<S> for ServeMetadataLayer {
    type Service = ServeMetadata<S>;

    fn layer(&self, inner: S) -> ServeMetadata<S> {
        ServeMetadata {
            inner,
            document: Arc::clone(&self.document),
            path: Arc::clone(&self.path),
            root: self.root,
        }
    }
}

/// Middleware answering the metadata path itself, whatever the request carries (no auth, no
/// version check), and passing every other request on.
///
/// Readiness is the inner service's: like any tower middleware it reports ready only when the
/// service beneath is, so put capacity limits (`ConcurrencyLimit`, `Buffer`) inside the auth
/// layer, not around it, if metadata must stay reachable under load.
#[derive(Debug, Clone)]
pub struct ServeMetadata<S> {
    inner: S,
    document: Arc<MetadataDocument>,
    path: Arc<str>,
    /// Also at [`WELL_KNOWN_SUFFIX`] itself.
    root: bool,
}

impl<S> ServeMetadata<S> {
    crate::macros::inner_service_accessors!();
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for ServeMetadata<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<crate::body::ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = crate::future::EitherResponse<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let path = request.uri().path();
        if path == &*self.path || (self.root && path == WELL_KNOWN_SUFFIX) {
            let response: Response<FullBody> = self.document.respond(&request);
            crate::future::EitherResponse::ready(response)
        } else {
            crate::future::EitherResponse::inner(self.inner.call(request))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn well_known_url_follows_rfc_9728_section_3_1() {
        struct Case {
            name: &'static str,
            resource: &'static str,
            expected: &'static str,
        }
        let cases = [
            Case {
                name: "origin",
                resource: "https://h",
                expected: "https://h/.well-known/oauth-protected-resource",
            },
            Case {
                name: "origin slash",
                resource: "https://h/",
                expected: "https://h/.well-known/oauth-protected-resource",
            },
            Case {
                name: "path",
                resource: "https://h/mcp",
                expected: "https://h/.well-known/oauth-protected-resource/mcp",
            },
            Case {
                name: "nested path and query",
                resource: "https://h/a/b?t=1",
                expected: "https://h/.well-known/oauth-protected-resource/a/b?t=1",
            },
            Case {
                name: "slash then query",
                resource: "https://h/?t=1",
                expected: "https://h/.well-known/oauth-protected-resource?t=1",
            },
            Case {
                name: "query only",
                resource: "https://h?t=1",
                expected: "https://h/.well-known/oauth-protected-resource?t=1",
            },
            Case {
                name: "trailing path slash kept",
                resource: "https://h/mcp/",
                expected: "https://h/.well-known/oauth-protected-resource/mcp/",
            },
            Case {
                name: "port and case kept",
                resource: "HTTP://127.0.0.1:8080/MCP",
                expected: "HTTP://127.0.0.1:8080/.well-known/oauth-protected-resource/MCP",
            },
            Case {
                name: "ipv6",
                resource: "https://[::1]:9/x",
                expected: "https://[::1]:9/.well-known/oauth-protected-resource/x",
            },
        ];
        for case in cases {
            assert_eq!(
                well_known_url(case.resource).unwrap(),
                case.expected,
                "{}",
                case.name
            );
        }
        assert!(well_known_url("https://h/mcp#x").is_err());
        assert!(well_known_url("/mcp").is_err());
    }

    #[test]
    fn additional_members_never_repeat_registered_ones_or_hold_empty_lists() {
        let mut doc = ProtectedResourceMetadata::new("https://h/mcp");
        doc.additional
            .insert("resource".into(), "https://evil.example".into());
        doc.additional
            .insert("x_empty".into(), serde_json::json!([]));
        doc.additional
            .insert("x_kept".into(), serde_json::json!(["a"]));
        let json = MetadataDocument::new(&doc).json;
        assert_eq!(&json[..], br#"{"resource":"https://h/mcp","x_kept":["a"]}"#);
    }

    #[test]
    fn empty_lists_and_unset_fields_are_omitted() {
        let mut doc = ProtectedResourceMetadata::new("https://h/mcp");
        doc.scopes_supported = vec![];
        doc.additional
            .insert("resource_name#de".into(), "Beispiel".into());
        let json = serde_json::to_string(&doc).unwrap();
        assert_eq!(
            json,
            r#"{"resource":"https://h/mcp","resource_name#de":"Beispiel"}"#
        );
        let back: ProtectedResourceMetadata = serde_json::from_str(&json).unwrap();
        assert_eq!(back, doc);
    }
}
