//! The routes of the development authorization server, over the loopback HTTP/1.1 server the
//! test issuer uses.

use std::convert::Infallible;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use http_body::Body as _;
use hyper::body::Incoming;
use serde_json::{Map, Value, json};

use super::form::{self, Params};
use super::html;
use super::store::{
    self, AUTHORIZATION_CODE, Client, Grant, REFRESH_TOKEN, Redeem, RefreshGrant, Store,
};
use crate::testing::{TestIssuer, unix_now};
use crate::url;
use mcp_server_auth::TRACE_TARGET;
use mcp_server_auth::body::FullBody;
use mcp_server_auth::keys::remote::{Fetch, FetchRequest, ReqwestFetcher};

/// Largest request body read (registration, consent and token forms).
const MAX_BODY_BYTES: usize = 16 * 1024;
/// Largest client metadata document fetched.
const MAX_CIMD_BYTES: usize = 16 * 1024;
/// Time allowed to fetch a client metadata document.
const CIMD_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest `client_name` accepted at registration.
const MAX_CLIENT_NAME: usize = 200;
/// Longest authorization request query string.
const MAX_AUTHORIZE_QUERY: usize = 8 * 1024;
/// Longest `state` parameter.
const MAX_STATE: usize = 1024;
/// The scope a client may always ask for: refresh tokens go to every client registered for
/// the `refresh_token` grant, with or without it.
const OFFLINE_ACCESS: &str = "offline_access";

pub(super) const AUTHORIZE: &str = "/authorize";
pub(super) const CONSENT: &str = "/consent";
pub(super) const TOKEN: &str = "/token";
pub(super) const REGISTER: &str = "/register";
pub(super) const JWKS: &str = "/jwks";
pub(super) const RFC8414: &str = "/.well-known/oauth-authorization-server";
const OPENID: &str = "/.well-known/openid-configuration";

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
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// Whether the request was addressed to this server: its `Host` header and any
    /// absolute-form authority name it (see [`is_own_host`]).
    fn is_addressed_here(&self, headers: &HeaderMap, uri: &Uri) -> bool {
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

// ---- responses --------------------------------------------------------------------------------

fn json(status: StatusCode, value: &Value) -> Response<FullBody> {
    json_bytes(status, value.to_string())
}

fn json_bytes(status: StatusCode, body: impl Into<Bytes>) -> Response<FullBody> {
    let mut response = Response::new(FullBody::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An OAuth error response (RFC 6749 §5.2): JSON, `Cache-Control: no-store`.
fn oauth_error(
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

fn method_not_allowed(allow: &'static str) -> Response<FullBody> {
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

fn html_page(status: StatusCode, body: String) -> Response<FullBody> {
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
fn bad_authorization(message: &'static str, detail: Option<&str>) -> Response<FullBody> {
    tracing::debug!(target: TRACE_TARGET, message, "development authorization server refused an authorization request");
    html_page(StatusCode::BAD_REQUEST, html::error(message, detail))
}

fn redirect(status: StatusCode, location: &str) -> Response<FullBody> {
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
fn redirect_url(redirect_uri: &str, params: &[(&str, &str)]) -> String {
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
fn redirect_error(
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
fn with_cors(mut response: Response<FullBody>) -> Response<FullBody> {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// The answer to `OPTIONS`: a CORS preflight approval where `cors`, else no CORS headers
/// (the browser then refuses the cross-origin request).
fn preflight(cors: bool) -> Response<FullBody> {
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

fn home(shared: &Shared) -> String {
    html::notice(
        "Development authorization server",
        "MCP clients find this server through its metadata:",
        Some(&shared.url(RFC8414)),
    )
}

/// Reads a request body of at most `limit` bytes; `None` when longer or broken.
async fn read_body(body: Incoming, limit: usize) -> Option<Bytes> {
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

async fn read_form(body: Incoming) -> Option<Params> {
    let bytes = read_body(body, MAX_BODY_BYTES).await?;
    let text = std::str::from_utf8(&bytes).ok()?;
    form::parse(text).map(Params::new)
}

// ---- dynamic client registration (RFC 7591) ---------------------------------------------------

async fn register(shared: &Shared, body: Incoming) -> Response<FullBody> {
    let Some(bytes) = read_body(body, MAX_BODY_BYTES).await else {
        return oauth_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_client_metadata",
            "registration request too large",
        );
    };
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(&bytes) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            "registration request is not a JSON object",
        );
    };
    let metadata = match parse_registration(&request) {
        Ok(metadata) => metadata,
        Err((error, description)) => {
            return oauth_error(StatusCode::BAD_REQUEST, error, description);
        }
    };
    let client_id = format!("dev-{}", store::random_token());
    let client = Client {
        client_id: client_id.clone(),
        client_name: metadata.client_name.clone(),
        redirect_uris: metadata.redirect_uris.clone(),
        grant_types: metadata.grant_types.clone(),
    };
    shared.store().add_client(client, unix_now());
    // A client that asked for client authentication is registered as a public client all the
    // same (RFC 7591 §3.2.1 lets the server replace requested metadata): the answer says
    // `token_endpoint_auth_method: none`, with no secret, so the client knows.
    tracing::info!(
        target: TRACE_TARGET,
        client_id,
        made_public = metadata.asked_for_authentication,
        "development authorization server registered a client"
    );
    let mut answer = Map::new();
    answer.insert("client_id".into(), client_id.into());
    answer.insert("client_id_issued_at".into(), unix_now().into());
    if let Some(name) = metadata.client_name {
        answer.insert("client_name".into(), name.into());
    }
    answer.insert("redirect_uris".into(), metadata.redirect_uris.into());
    answer.insert("grant_types".into(), metadata.grant_types.into());
    answer.insert("response_types".into(), json!(["code"]));
    answer.insert("token_endpoint_auth_method".into(), "none".into());
    // RFC 7591 §3.2.1 lets the server replace requested metadata: every client may ask for
    // every scope (SDKs register with the first challenge's scope, then step up).
    answer.insert("scope".into(), shared.scopes.join(" ").into());
    json(StatusCode::CREATED, &Value::Object(answer))
}

struct Registration {
    client_name: Option<String>,
    redirect_uris: Vec<String>,
    grant_types: Vec<String>,
    /// Whether the metadata asked for a `token_endpoint_auth_method` other than `none`: only
    /// public clients are supported, so registration substitutes `none` (RFC 7591 §3.2.1
    /// allows it), and a client ID metadata document, which has no answer to say so in, is
    /// refused.
    asked_for_authentication: bool,
}

type Refusal = (&'static str, &'static str);

fn parse_registration(request: &Map<String, Value>) -> Result<Registration, Refusal> {
    const BAD_URIS: Refusal = (
        "invalid_redirect_uri",
        "redirect_uris must be a non-empty array of https or http loopback URLs",
    );
    let uris = request
        .get("redirect_uris")
        .and_then(Value::as_array)
        .ok_or(BAD_URIS)?;
    let redirect_uris: Vec<String> = uris
        .iter()
        .map(|uri| {
            uri.as_str()
                .filter(|u| is_acceptable_redirect_uri(u))
                .map(str::to_owned)
        })
        .collect::<Option<_>>()
        .ok_or(BAD_URIS)?;
    if redirect_uris.is_empty() || redirect_uris.len() > 20 {
        return Err(BAD_URIS);
    }
    let asked_for_authentication = match request.get("token_endpoint_auth_method") {
        None => false,
        Some(Value::String(method)) => method != "none",
        Some(_) => {
            return Err((
                "invalid_client_metadata",
                "token_endpoint_auth_method must be a string",
            ));
        }
    };
    let strings = |name: &str, allowed: &[&str]| -> Result<Option<Vec<String>>, Refusal> {
        const BAD: Refusal = (
            "invalid_client_metadata",
            "grant_types may hold authorization_code and refresh_token, response_types only code",
        );
        match request.get(name) {
            None => Ok(None),
            Some(Value::Array(values)) => values
                .iter()
                .map(|v| {
                    v.as_str()
                        .filter(|v| allowed.contains(v))
                        .map(str::to_owned)
                })
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or(BAD),
            Some(_) => Err(BAD),
        }
    };
    // RFC 7591 §2 defaults to authorization_code alone; the MCP SDKs all ask for both, and
    // clients that omit the member (hand-written ones, the interop browser scenario) expect
    // refresh tokens from a development server, so omitted means both here.
    let grant_types = strings("grant_types", &[AUTHORIZATION_CODE, REFRESH_TOKEN])?
        .unwrap_or_else(|| vec![AUTHORIZATION_CODE.to_owned(), REFRESH_TOKEN.to_owned()]);
    strings("response_types", &["code"])?;
    let client_name = match request.get("client_name") {
        None => None,
        Some(Value::String(name)) if name.chars().count() <= MAX_CLIENT_NAME => Some(name.clone()),
        Some(_) => {
            return Err((
                "invalid_client_metadata",
                "client_name must be a string of at most 200 characters",
            ));
        }
    };
    Ok(Registration {
        client_name,
        redirect_uris,
        grant_types,
        asked_for_authentication,
    })
}

/// `https` URLs, and `http` URLs on a loopback host (RFC 8252 §7.3), without fragment.
fn is_acceptable_redirect_uri(uri: &str) -> bool {
    url::parse(uri)
        .is_some_and(|uri| url::is_https(&uri) || (url::is_http(&uri) && url::is_loopback(&uri)))
}

/// Whether `requested` is one of `registered`: exact string match, except that `http`
/// loopback URIs match whatever their port (RFC 8252 §7.3), and an empty path there is `/`
/// (`http://127.0.0.1:33418` and `http://127.0.0.1:33418/` are one URI, RFC 3986 §6.2.3).
fn redirect_uri_matches(registered: &[String], requested: &str) -> bool {
    if registered.iter().any(|r| r == requested) {
        return true;
    }
    let Some(asked) = url::parse(requested) else {
        return false;
    };
    if !(url::is_http(&asked) && url::is_loopback(&asked)) {
        return false;
    }
    registered.iter().any(|r| {
        url::parse(r).is_some_and(|known| {
            url::is_http(&known)
                && url::is_loopback(&known)
                && known
                    .host()
                    .unwrap_or_default()
                    .eq_ignore_ascii_case(asked.host().unwrap_or_default())
                && known.path() == asked.path()
                && known.query() == asked.query()
        })
    })
}

// ---- client id metadata documents -------------------------------------------------------------

/// Finds the client: registered, or described by the metadata document its `https` client id
/// points at (fetched only from allowed hosts). The error is fixed text for the HTML page.
async fn resolve_client(shared: &Shared, client_id: &str) -> Result<Client, &'static str> {
    if !client_id.contains("://") {
        return shared
            .store()
            .client(client_id, unix_now())
            .cloned()
            .ok_or("unknown client_id: register the client first (dynamic client registration)");
    }
    let parts = url::parse(client_id).ok_or("the client_id URL is invalid")?;
    let secure = url::is_https(&parts)
        || (shared.cimd_http_loopback && url::is_http(&parts) && url::is_loopback(&parts));
    if !secure {
        return Err("a client_id URL must be https");
    }
    if parts.path() == "/"
        || parts
            .path()
            .split('/')
            .any(|segment| segment == "." || segment == "..")
    {
        return Err("a client_id URL needs a path without dot segments");
    }
    if !shared.cimd_hosts.iter().any(|host| {
        host.eq_ignore_ascii_case(parts.host().unwrap_or_default())
            || parts
                .authority()
                .is_some_and(|authority| host.eq_ignore_ascii_case(authority.as_str()))
    }) {
        return Err("this server does not fetch client metadata documents from that host");
    }
    let request = FetchRequest::new(client_id, CIMD_TIMEOUT, MAX_CIMD_BYTES);
    let response = shared
        .fetcher
        .get(request)
        .await
        .map_err(|_| "the client metadata document could not be fetched")?;
    if response.status != 200 {
        return Err("the client metadata document could not be fetched");
    }
    let Ok(Value::Object(document)) = serde_json::from_slice::<Value>(&response.body) else {
        return Err("the client metadata document is not a JSON object");
    };
    if document.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err("the client metadata document names another client_id");
    }
    if document.contains_key("client_secret") {
        return Err("a client metadata document must not hold a client_secret");
    }
    let registration = parse_registration(&document)
        .ok()
        .filter(|registration| !registration.asked_for_authentication)
        .ok_or(
            "the client metadata document is invalid (redirect_uris, token_endpoint_auth_method)",
        )?;
    Ok(Client {
        client_id: client_id.to_owned(),
        client_name: registration.client_name,
        redirect_uris: registration.redirect_uris,
        grant_types: registration.grant_types,
    })
}

// ---- authorization endpoint -------------------------------------------------------------------

async fn authorize(shared: &Shared, query: Option<&str>) -> Response<FullBody> {
    if query.is_some_and(|q| q.len() > MAX_AUTHORIZE_QUERY) {
        return bad_authorization("the authorization request is longer than 8 KiB", None);
    }
    let Some(params) = form::parse(query.unwrap_or_default()).map(Params::new) else {
        return bad_authorization(
            "the authorization request is not a valid query string",
            None,
        );
    };
    let Ok(Some(client_id)) = params.get("client_id") else {
        return bad_authorization(
            "the authorization request needs exactly one client_id",
            None,
        );
    };
    let client = match resolve_client(shared, client_id).await {
        Ok(client) => client,
        Err(message) => return bad_authorization(message, Some(client_id)),
    };
    let redirect_uri = match params.get("redirect_uri") {
        Ok(Some(uri)) if redirect_uri_matches(&client.redirect_uris, uri) => uri.to_owned(),
        Ok(Some(uri)) => {
            return bad_authorization("redirect_uri is not registered for this client", Some(uri));
        }
        Ok(None) => {
            return bad_authorization("the authorization request needs a redirect_uri", None);
        }
        Err(_) => return bad_authorization("redirect_uri appears more than once", None),
    };
    // From here on the redirect URI is trusted: errors go back to the client.
    let Ok(state) = params.get("state") else {
        return redirect_error(
            shared,
            &redirect_uri,
            None,
            "invalid_request",
            "state appears more than once",
        );
    };
    if state.is_some_and(|s| s.len() > MAX_STATE) {
        // Not echoed: that would put the oversized value in the Location header.
        return redirect_error(
            shared,
            &redirect_uri,
            None,
            "invalid_request",
            "state is longer than 1 KiB",
        );
    }
    let refuse =
        |error, description| redirect_error(shared, &redirect_uri, state, error, description);
    if !client.allows(AUTHORIZATION_CODE) {
        return refuse(
            "unauthorized_client",
            "the client did not register for the authorization_code grant",
        );
    }
    match params.get("response_type") {
        Ok(Some("code")) => {}
        Ok(Some(_)) => {
            return refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            );
        }
        _ => return refuse("invalid_request", "response_type=code is required"),
    }
    let Ok(Some(code_challenge)) = params.get("code_challenge") else {
        return refuse(
            "invalid_request",
            "PKCE is required: code_challenge is missing",
        );
    };
    if params.get("code_challenge_method") != Ok(Some("S256")) {
        return refuse("invalid_request", "PKCE code_challenge_method must be S256");
    }
    if !store::is_valid_s256_challenge(code_challenge) {
        return refuse("invalid_request", "code_challenge is not an S256 challenge");
    }
    let resource = match params.get("resource") {
        Ok(Some(resource)) if shared.resources.iter().any(|r| r == resource) => resource.to_owned(),
        Ok(Some(_)) => return refuse("invalid_target", "unknown resource"),
        Ok(None) => {
            return refuse(
                "invalid_target",
                "the resource parameter (RFC 8707) is required",
            );
        }
        Err(_) => return refuse("invalid_target", "exactly one resource is supported"),
    };
    let scope = match params.get("scope") {
        Ok(Some(scope)) => {
            let scope = scope_list(scope);
            if scope
                .iter()
                .any(|s| s != OFFLINE_ACCESS && !shared.scopes.contains(s))
            {
                return refuse("invalid_scope", "a requested scope is not supported");
            }
            scope
        }
        Ok(None) => shared.scopes.iter().take(1).cloned().collect(),
        Err(_) => return refuse("invalid_request", "scope appears more than once"),
    };
    let grant = Grant {
        refresh_allowed: client.allows(REFRESH_TOKEN),
        client_id: client.client_id,
        client_name: client.client_name,
        redirect_uri: redirect_uri.clone(),
        scope,
        state: state.map(str::to_owned),
        code_challenge: code_challenge.to_owned(),
        resource,
    };
    if shared.auto_approve.load(Ordering::Relaxed) {
        return approve(shared, grant);
    }
    let Some(transaction) = shared.store().add_pending(grant.clone(), unix_now()) else {
        return refuse("temporarily_unavailable", "too many pending authorizations");
    };
    let redirect_host = url::parse(&grant.redirect_uri)
        .and_then(|uri| uri.authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_default();
    html_page(
        StatusCode::OK,
        html::consent(&html::Consent {
            transaction: &transaction,
            client_name: grant.client_name.as_deref(),
            client_id: &grant.client_id,
            redirect_host: &redirect_host,
            resource: &grant.resource,
            scopes: &grant.scope,
            action: CONSENT,
        }),
    )
}

/// The scopes of a `scope` parameter, in order, each once.
fn scope_list(scope: &str) -> Vec<String> {
    let mut list: Vec<String> = Vec::new();
    for token in scope.split(' ').filter(|s| !s.is_empty()) {
        if !list.iter().any(|s| s == token) {
            list.push(token.to_owned());
        }
    }
    list
}

/// Issues a code for `grant` and sends it to the client.
fn approve(shared: &Shared, grant: Grant) -> Response<FullBody> {
    let redirect_uri = grant.redirect_uri.clone();
    let state = grant.state.clone();
    let Some(code) = shared.store().add_code(grant, unix_now()) else {
        return redirect_error(
            shared,
            &redirect_uri,
            state.as_deref(),
            "temporarily_unavailable",
            "too many pending codes",
        );
    };
    let mut params = vec![("code", code.as_str())];
    if let Some(state) = &state {
        params.push(("state", state));
    }
    params.push(("iss", &shared.issuer));
    // 303 See Other: the browser follows with a GET, after the consent form's POST too.
    redirect(StatusCode::SEE_OTHER, &redirect_url(&redirect_uri, &params))
}

async fn consent(shared: &Shared, body: Incoming) -> Response<FullBody> {
    let Some(params) = read_form(body).await else {
        return bad_authorization("the consent form could not be read", None);
    };
    let (Ok(Some(transaction)), Ok(Some(decision))) =
        (params.get("transaction"), params.get("decision"))
    else {
        return bad_authorization(
            "the consent form needs one transaction and one decision",
            None,
        );
    };
    if decision != "allow" && decision != "deny" {
        return bad_authorization("the decision must be allow or deny", None);
    }
    let Some(grant) = shared.store().take_pending(transaction, unix_now()) else {
        return bad_authorization(
            "unknown, used or expired authorization: start again from the client",
            None,
        );
    };
    if decision == "allow" {
        approve(shared, grant)
    } else {
        let mut response = redirect_error(
            shared,
            &grant.redirect_uri,
            grant.state.as_deref(),
            "access_denied",
            "the user denied the request",
        );
        *response.status_mut() = StatusCode::SEE_OTHER;
        response
    }
}

// ---- token endpoint ---------------------------------------------------------------------------

async fn token(shared: &Shared, authorization_header: bool, body: Incoming) -> Response<FullBody> {
    let Some(params) = read_form(body).await else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request body is not a valid form of at most 16 KiB",
        );
    };
    if authorization_header {
        // RFC 6749 §5.2: a client that tried the Authorization header gets a challenge.
        let mut response = oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "only public clients (token_endpoint_auth_method none) are supported",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"development authorization server\""),
        );
        return response;
    }
    let Ok(Some(grant_type)) = params.get("grant_type") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required, once",
        );
    };
    let now = unix_now();
    // The grant types of a registered client; a metadata document client's were checked at
    // the authorization endpoint, and travel with its code.
    let (client_id, registered_grants) = match params.get("client_id") {
        Ok(Some(id)) if id.contains("://") => (id.to_owned(), None),
        Ok(Some(id)) => {
            let grant_types = shared
                .store()
                .client(id, now)
                .map(|client| client.grant_types.clone());
            let Some(grant_types) = grant_types else {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "unknown or missing client_id",
                );
            };
            (id.to_owned(), Some(grant_types))
        }
        Ok(None) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown or missing client_id",
            );
        }
        Err(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_id appears more than once",
            );
        }
    };
    if matches!(grant_type, AUTHORIZATION_CODE | REFRESH_TOKEN)
        && registered_grants.is_some_and(|grants| !grants.iter().any(|g| g == grant_type))
    {
        // RFC 7591 §2: a client uses only the grant types it registered.
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "the client did not register for this grant_type",
        );
    }
    let Ok(resource) = params.get("resource") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "exactly one resource is supported",
        );
    };
    match grant_type {
        AUTHORIZATION_CODE => {
            let (Ok(Some(code)), Ok(Some(redirect_uri)), Ok(Some(verifier))) = (
                params.get("code"),
                params.get("redirect_uri"),
                params.get("code_verifier"),
            ) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "code, redirect_uri and code_verifier are required, once each",
                );
            };
            let redeemed = shared.store().redeem_code(code, now);
            let (grant, family) = match redeemed {
                Ok(found) => found,
                Err(Redeem::Reused) => {
                    tracing::warn!(target: TRACE_TARGET, "development authorization server: an authorization code was presented twice; its tokens are revoked");
                    return invalid_grant("the authorization code was already used");
                }
                Err(Redeem::Expired) => return invalid_grant("the authorization code expired"),
                Err(Redeem::Unknown) => return invalid_grant("unknown authorization code"),
            };
            if grant.client_id != client_id {
                return invalid_grant("the authorization code was issued to another client");
            }
            if grant.redirect_uri != redirect_uri {
                return invalid_grant("redirect_uri differs from the authorization request's");
            }
            if !store::is_valid_verifier(verifier) || store::s256(verifier) != grant.code_challenge
            {
                return invalid_grant("the PKCE code_verifier does not match the code_challenge");
            }
            if resource.is_some_and(|r| r != grant.resource) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_target",
                    "resource differs from the authorization request's",
                );
            }
            let refresh = RefreshGrant {
                client_id,
                scope: grant.scope.clone(),
                resource: grant.resource.clone(),
                family,
            };
            issue(shared, &grant.scope, refresh, grant.refresh_allowed, now)
        }
        REFRESH_TOKEN => {
            let Ok(Some(refresh_token)) = params.get("refresh_token") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required, once",
                );
            };
            let redeemed = shared.store().redeem_refresh(refresh_token, now);
            let grant = match redeemed {
                Ok(grant) => grant,
                Err(Redeem::Reused) => {
                    tracing::warn!(target: TRACE_TARGET, "development authorization server: a refresh token was presented twice; its family is revoked");
                    return invalid_grant("the refresh token was already used");
                }
                Err(Redeem::Expired) => return invalid_grant("the refresh token expired"),
                Err(Redeem::Unknown) => return invalid_grant("unknown or revoked refresh token"),
            };
            if grant.client_id != client_id {
                return invalid_grant("the refresh token was issued to another client");
            }
            if resource.is_some_and(|r| r != grant.resource) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_target",
                    "resource differs from the original grant's",
                );
            }
            let scope = match params.get("scope") {
                Ok(Some(asked)) => {
                    let asked = scope_list(asked);
                    if asked.iter().any(|s| !grant.scope.contains(s)) {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_scope",
                            "a refresh may narrow the scope, never widen it",
                        );
                    }
                    asked
                }
                Ok(None) => grant.scope.clone(),
                Err(_) => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "scope appears more than once",
                    );
                }
            };
            issue(shared, &scope, grant, true, now)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

fn invalid_grant(description: &'static str) -> Response<FullBody> {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// Mints an access token for `scope` and, when `with_refresh` (the client registered for the
/// `refresh_token` grant), a new refresh token in the grant's family.
fn issue(
    shared: &Shared,
    scope: &[String],
    refresh: RefreshGrant,
    with_refresh: bool,
    now: u64,
) -> Response<FullBody> {
    let lifetime = shared.access_token_lifetime.as_secs();
    let scope = scope.join(" ");
    let access_token = shared
        .signer
        .token()
        .audience(refresh.resource.clone())
        .subject(shared.subject.clone())
        .client_id(refresh.client_id.clone())
        .scope(scope.clone())
        .expires_in(i64::try_from(lifetime).unwrap_or(3600))
        .sign();
    let mut answer = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": scope,
    });
    if with_refresh {
        let Some(refresh_token) = shared.store().add_refresh(refresh, now) else {
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "too many refresh tokens",
            );
        };
        if let Some(map) = answer.as_object_mut() {
            map.insert("refresh_token".into(), refresh_token.into());
        }
    }
    let mut response = json(StatusCode::OK, &answer);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirect_uris_match_whatever_the_port() {
        let registered = vec![
            "http://127.0.0.1/callback".to_owned(),
            "https://app.example/cb".to_owned(),
        ];
        assert!(redirect_uri_matches(
            &registered,
            "http://127.0.0.1:4321/callback"
        ));
        assert!(redirect_uri_matches(&registered, "https://app.example/cb"));
        assert!(!redirect_uri_matches(
            &registered,
            "https://app.example:444/cb"
        ));
        assert!(!redirect_uri_matches(
            &registered,
            "http://127.0.0.1:4321/other"
        ));
        assert!(!redirect_uri_matches(
            &registered,
            "http://localhost:4321/callback"
        ));
        assert!(!redirect_uri_matches(
            &registered,
            "http://evil.example/callback"
        ));
    }

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

    #[test]
    fn scope_lists_keep_order_and_drop_repeats() {
        assert_eq!(scope_list(" a  b a c "), ["a", "b", "c"]);
        assert!(scope_list("").is_empty());
    }

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
