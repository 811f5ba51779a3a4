//! Dynamic client registration (RFC 7591), redirect URI rules, and client ID metadata
//! documents.

use http::{Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{Map, Value, json};

use super::reply::{json, oauth_error, read_body};
use super::shared::{CIMD_TIMEOUT, MAX_BODY_BYTES, MAX_CIMD_BYTES, MAX_CLIENT_NAME, Shared};
use super::store::{self, AUTHORIZATION_CODE, Client, REFRESH_TOKEN};
use crate::testing::unix_now;
use crate::url;
use mcp_server_auth::TRACE_TARGET;
use mcp_server_auth::body::FullBody;
use mcp_server_auth::keys::remote::{Fetch, FetchRequest};

pub(super) async fn register(shared: &Shared, body: Incoming) -> Response<FullBody> {
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
pub(super) fn redirect_uri_matches(registered: &[String], requested: &str) -> bool {
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
pub(super) async fn resolve_client(
    shared: &Shared,
    client_id: &str,
) -> Result<Client, &'static str> {
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
}
