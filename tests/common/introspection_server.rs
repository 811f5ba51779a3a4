//! A loopback stand-in for an authorization server's token introspection endpoint (RFC 7662):
//! RFC 8414 metadata naming the endpoint, client authentication, answers registered by the
//! test, counters, a record of the last request, and faults.
//!
//! | path | answer |
//! |---|---|
//! | `GET /.well-known/oauth-authorization-server` | `{"issuer", "introspection_endpoint"}` |
//! | `GET /jwks` | the key set given to [`IntrospectionServer::serve_jwks`] (then also named as `jwks_uri` in the metadata), else 404 |
//! | `POST /introspect` | the answer registered for the form's `token`, `{"active": false}` by default; 401 `invalid_client` when the client authentication is not the expected one |
//! | anything else | 404 |

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The client id the server expects unless told otherwise.
pub const CLIENT_ID: &str = "mcp-resource-server";
/// The client secret the server expects unless told otherwise.
pub const CLIENT_SECRET: &str = "resource-server-secret";

/// How a client authenticated to the endpoint, as the server decoded it (RFC 6749 §2.3.1:
/// id and secret form-decoded, from HTTP Basic or from the form body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCredentials {
    /// No client authentication at all.
    None,
    /// `Authorization: Basic`.
    Basic { id: String, secret: String },
    /// `client_id` and `client_secret` in the form.
    Post { id: String, secret: String },
    /// A `Basic` value that does not decode, or two methods at once (RFC 6749 §2.3 forbids it).
    Invalid,
}

impl ClientCredentials {
    pub fn basic(id: &str, secret: &str) -> Self {
        ClientCredentials::Basic {
            id: id.to_owned(),
            secret: secret.to_owned(),
        }
    }

    pub fn post(id: &str, secret: &str) -> Self {
        ClientCredentials::Post {
            id: id.to_owned(),
            secret: secret.to_owned(),
        }
    }
}

/// What the endpoint saw of one introspection request.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The form fields, decoded, in order.
    pub form: Vec<(String, String)>,
    /// The body as sent, still form-encoded.
    pub raw_body: String,
    /// The `Authorization` header as sent.
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub client: ClientCredentials,
}

impl Seen {
    /// The decoded value of the form field `name`; `None` when absent.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Default)]
struct Faults {
    status: Option<u16>,
    body: Option<Bytes>,
    delay: Duration,
    advertised_issuer: Option<String>,
    no_metadata: bool,
}

#[derive(Debug)]
struct State {
    issuer: String,
    expected: Mutex<ClientCredentials>,
    answers: Mutex<HashMap<String, Value>>,
    faults: Mutex<Faults>,
    last: Mutex<Option<Seen>>,
    introspections: AtomicUsize,
    metadata_fetches: AtomicUsize,
    jwks: Mutex<Option<Value>>,
}

/// A running introspection endpoint on `127.0.0.1:<port>`; its issuer is
/// `http://127.0.0.1:<port>`. It lives until [`stop`](Self::stop) or the end of the runtime.
#[derive(Debug, Clone)]
pub struct IntrospectionServer {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Arc<watch::Sender<bool>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl IntrospectionServer {
    /// Starts a server expecting `client_secret_basic` with [`CLIENT_ID`] and
    /// [`CLIENT_SECRET`].
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            issuer: format!("http://{addr}"),
            expected: Mutex::new(ClientCredentials::basic(CLIENT_ID, CLIENT_SECRET)),
            answers: Mutex::new(HashMap::new()),
            faults: Mutex::new(Faults::default()),
            last: Mutex::new(None),
            introspections: AtomicUsize::new(0),
            metadata_fetches: AtomicUsize::new(0),
            jwks: Mutex::new(None),
        });
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(accept_loop(listener, Arc::clone(&state), stopped));
        IntrospectionServer {
            addr,
            state,
            stop: Arc::new(stop),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// Publishes `jwks` at `/jwks`, named as `jwks_uri` in the metadata: the server is then
    /// also the key source of its issuer.
    pub fn serve_jwks(&self, jwks: Value) {
        *lock(&self.state.jwks) = Some(jwks);
    }

    pub fn endpoint(&self) -> String {
        format!("{}/introspect", self.state.issuer)
    }

    pub fn metadata_url(&self) -> String {
        format!(
            "{}/.well-known/oauth-authorization-server",
            self.state.issuer
        )
    }

    /// The client authentication the endpoint accepts; anything else gets 401
    /// `invalid_client`.
    pub fn expect_client(&self, credentials: ClientCredentials) {
        *lock(&self.state.expected) = credentials;
    }

    /// The answer for `token` from now on (replacing any earlier one).
    pub fn register(&self, token: &str, answer: Value) {
        lock(&self.state.answers).insert(token.to_owned(), answer);
    }

    /// `POST /introspect` requests received, whatever their outcome.
    pub fn introspections(&self) -> usize {
        self.state.introspections.load(Ordering::SeqCst)
    }

    /// Metadata requests received (any path under `/.well-known/`).
    pub fn metadata_fetches(&self) -> usize {
        self.state.metadata_fetches.load(Ordering::SeqCst)
    }

    /// The last introspection request received.
    pub fn last_request(&self) -> Option<Seen> {
        lock(&self.state.last).clone()
    }

    /// Answer every introspection with this status and `{}` (`None`: normal answers).
    pub fn fail_with(&self, status: Option<u16>) {
        lock(&self.state.faults).status = status;
    }

    /// Answer every introspection with 200 and these bytes (`None`: normal answers).
    pub fn serve_raw(&self, body: Option<Vec<u8>>) {
        lock(&self.state.faults).body = body.map(Bytes::from);
    }

    /// Wait this long before answering an introspection.
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.state.faults).delay = delay;
    }

    /// Name another `issuer` in the metadata (`None`: the real one).
    pub fn advertise_issuer(&self, issuer: Option<&str>) {
        lock(&self.state.faults).advertised_issuer = issuer.map(str::to_owned);
    }

    /// Whether the metadata is served (otherwise 404).
    pub fn serve_metadata(&self, serve: bool) {
        lock(&self.state.faults).no_metadata = !serve;
    }

    /// Closes the port and every open connection.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, stopped: watch::Receiver<bool>) {
    let stop = until_stopped(stopped.clone());
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = Arc::clone(&state);
                let stop = until_stopped(stopped.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| respond(Arc::clone(&state), request));
                    let connection =
                        http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = connection => {}
                        () = stop => {}
                    }
                });
            }
        }
    }
    // The listener is dropped here: the port no longer accepts connections.
}

async fn until_stopped(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

async fn respond(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    if path.starts_with("/.well-known/") {
        state.metadata_fetches.fetch_add(1, Ordering::SeqCst);
        let faults = lock(&state.faults).clone();
        if path != "/.well-known/oauth-authorization-server" || faults.no_metadata {
            return Ok(json(StatusCode::NOT_FOUND, &json!({})));
        }
        let issuer = faults
            .advertised_issuer
            .unwrap_or_else(|| state.issuer.clone());
        let mut metadata = json!({
            "issuer": issuer,
            "introspection_endpoint": format!("{}/introspect", state.issuer),
            "token_endpoint": format!("{}/token", state.issuer),
        });
        if lock(&state.jwks).is_some() {
            metadata["jwks_uri"] = json!(format!("{}/jwks", state.issuer));
        }
        return Ok(json(StatusCode::OK, &metadata));
    }
    if path == "/jwks" {
        return Ok(match lock(&state.jwks).clone() {
            Some(jwks) => json(StatusCode::OK, &jwks),
            None => json(StatusCode::NOT_FOUND, &json!({})),
        });
    }
    if path != "/introspect" {
        return Ok(json(StatusCode::NOT_FOUND, &json!({})));
    }
    if request.method() != Method::POST {
        return Ok(json(StatusCode::METHOD_NOT_ALLOWED, &json!({})));
    }
    state.introspections.fetch_add(1, Ordering::SeqCst);
    let header_text = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = header_text(header::AUTHORIZATION);
    let content_type = header_text(header::CONTENT_TYPE);
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(json(StatusCode::BAD_REQUEST, &json!({}))),
    };
    let raw_body = String::from_utf8_lossy(&body).into_owned();
    let form = parse_form(&raw_body);
    let seen = Seen {
        client: client_credentials(authorization.as_deref(), &form),
        form,
        raw_body,
        authorization,
        content_type,
    };
    *lock(&state.last) = Some(seen.clone());

    let delay = lock(&state.faults).delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let faults = lock(&state.faults).clone();
    if let Some(status) = faults.status {
        let status = StatusCode::from_u16(status).unwrap();
        return Ok(json(status, &json!({})));
    }
    if let Some(body) = faults.body {
        return Ok(bytes(StatusCode::OK, body));
    }
    if seen.client != *lock(&state.expected) {
        let mut response = json(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "invalid_client"}),
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Basic realm=\"introspection\""),
        );
        return Ok(response);
    }
    let Some(token) = seen.field("token") else {
        return Ok(json(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_request"}),
        ));
    };
    let answer = lock(&state.answers)
        .get(token)
        .cloned()
        .unwrap_or_else(|| json!({"active": false}));
    Ok(json(StatusCode::OK, &answer))
}

fn json(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    bytes(status, Bytes::from(value.to_string()))
}

fn bytes(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// The client authentication of a request (RFC 6749 §2.3.1).
fn client_credentials(authorization: Option<&str>, form: &[(String, String)]) -> ClientCredentials {
    let field = |name: &str| form.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let posted = field("client_id").map(|id| ClientCredentials::Post {
        id,
        secret: field("client_secret").unwrap_or_default(),
    });
    let basic = authorization.map(|value| {
        value
            .strip_prefix("Basic ")
            .and_then(|b64| STANDARD.decode(b64).ok())
            .and_then(|pair| String::from_utf8(pair).ok())
            .and_then(|pair| {
                let (id, secret) = pair.split_once(':')?;
                Some(ClientCredentials::Basic {
                    id: form_decode(id),
                    secret: form_decode(secret),
                })
            })
            .unwrap_or(ClientCredentials::Invalid)
    });
    match (basic, posted) {
        (Some(_), Some(_)) => ClientCredentials::Invalid,
        (Some(basic), None) => basic,
        (None, Some(posted)) => posted,
        (None, None) => ClientCredentials::None,
    }
}

fn parse_form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name), form_decode(value))
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
pub fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let hex = |at: usize| bytes.get(at).and_then(|b| char::from(*b).to_digit(16));
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(high), Some(low)) = (hex(i + 1), hex(i + 2)) {
                    out.push(u8::try_from(high * 16 + low).unwrap());
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            _ => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
