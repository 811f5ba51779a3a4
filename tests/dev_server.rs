//! The development authorization server over real HTTP on loopback, as a client sees it:
//! registration, the authorization endpoint and its consent page, the token endpoint, client
//! ID metadata documents, and every OAuth error a client can get.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mcp_server_auth::McpAuth;
use mcp_server_auth_dev::dev_server::{DevAuthServer, DevServerError};
use mcp_server_auth_dev::testing::unix_now;
use serde_json::{Value, json};

const RESOURCE: &str = "http://127.0.0.1:8080/mcp";
const REDIRECT_URI: &str = "http://127.0.0.1:1/callback";
// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// `application/x-www-form-urlencoded`, for query strings and form bodies.
fn urlencoded<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    fn encode(value: &str) -> String {
        value
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k.as_ref()), encode(v.as_ref())))
        .collect::<Vec<_>>()
        .join("&")
}

fn post_form<K: AsRef<str>, V: AsRef<str>>(
    url: String,
    pairs: &[(K, V)],
) -> reqwest::RequestBuilder {
    http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(urlencoded(pairs))
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn start(auto_approve: bool) -> DevAuthServer {
    DevAuthServer::builder()
        .resource(RESOURCE)
        .scopes(["mcp:tools", "mcp:admin"])
        .auto_approve(auto_approve)
        .start()
        .await
        .unwrap()
}

async fn register(server: &DevAuthServer, body: Value) -> reqwest::Response {
    http()
        .post(server.registration_endpoint())
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn register_client(server: &DevAuthServer, name: &str) -> String {
    let response = register(
        server,
        json!({ "redirect_uris": [REDIRECT_URI], "client_name": name, "token_endpoint_auth_method": "none" }),
    )
    .await;
    assert_eq!(response.status(), 201);
    let client: Value = response.json().await.unwrap();
    client["client_id"].as_str().unwrap().to_owned()
}

/// The parameters of a valid authorization request.
fn authorization_params(client_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".to_owned()),
        ("client_id", client_id.to_owned()),
        ("redirect_uri", REDIRECT_URI.to_owned()),
        ("scope", "mcp:tools".to_owned()),
        ("state", "st<>&".to_owned()),
        ("resource", RESOURCE.to_owned()),
        ("code_challenge", CHALLENGE.to_owned()),
        ("code_challenge_method", "S256".to_owned()),
    ]
}

fn with(
    mut params: Vec<(&'static str, String)>,
    name: &'static str,
    value: Option<&str>,
) -> Vec<(&'static str, String)> {
    params.retain(|(n, _)| *n != name);
    if let Some(value) = value {
        params.push((name, value.to_owned()));
    }
    params
}

async fn authorize(server: &DevAuthServer, params: &[(&'static str, String)]) -> reqwest::Response {
    http()
        .get(format!(
            "{}?{}",
            server.authorization_endpoint(),
            urlencoded(params)
        ))
        .send()
        .await
        .unwrap()
}

/// The query parameters of a redirect's `Location`, which must go to REDIRECT_URI.
fn redirect_params(response: &reqwest::Response) -> HashMap<String, String> {
    assert!(
        response.status().is_redirection(),
        "status {}",
        response.status()
    );
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    let url = reqwest::Url::parse(location).unwrap();
    url.query_pairs().into_owned().collect()
}

async fn code_for(server: &DevAuthServer, client_id: &str) -> String {
    let response = authorize(server, &authorization_params(client_id)).await;
    redirect_params(&response)["code"].clone()
}

async fn post_token(server: &DevAuthServer, form: &[(&str, &str)]) -> reqwest::Response {
    post_form(server.token_endpoint(), form)
        .send()
        .await
        .unwrap()
}

async fn exchange(
    server: &DevAuthServer,
    client_id: &str,
    code: &str,
    verifier: &str,
) -> reqwest::Response {
    post_token(
        server,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", client_id),
            ("code_verifier", verifier),
            ("resource", RESOURCE),
        ],
    )
    .await
}

async fn oauth_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "error answers are not cached"
    );
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn refresh(
    server: &DevAuthServer,
    client_id: &str,
    token: &str,
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", token),
        ("client_id", client_id),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    post_token(server, &form).await
}

/// The consent form's transaction id, read from the page as a browser would.
fn transaction_of(page: &str) -> String {
    let marker = "name=\"transaction\" value=\"";
    let start = page.find(marker).unwrap() + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

async fn decide(server: &DevAuthServer, transaction: &str, decision: &str) -> reqwest::Response {
    post_form(
        format!("{}/consent", server.issuer()),
        &[("transaction", transaction), ("decision", decision)],
    )
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn consent_then_code_then_token_that_the_layer_accepts_through_discovery() {
    let server = start(false).await;
    let client_id = register_client(&server, "Consent Test Client").await;

    let page = authorize(&server, &authorization_params(&client_id)).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = page.text().await.unwrap();
    assert!(page.contains("Consent Test Client"));
    assert!(page.contains("<code>mcp:tools</code>"));
    assert!(page.contains(RESOURCE));
    assert!(page.contains("127.0.0.1:1"), "the redirect host is shown");
    assert!(page.contains("never use in production"));

    let decided = decide(&server, &transaction_of(&page), "allow").await;
    let params = redirect_params(&decided);
    assert_eq!(params["state"], "st<>&");
    assert_eq!(params["iss"], server.issuer());

    let response = exchange(&server, &client_id, &params["code"], VERIFIER).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "mcp:tools");
    assert!(tokens["refresh_token"].as_str().is_some());

    // The MCP server side: keys found by RFC 8414 discovery, strict RFC 9068.
    let auth = McpAuth::builder(RESOURCE)
        .authorization_server(server.issuer())
        .allow_http_loopback(true)
        .require_at_jwt(true)
        .build()
        .unwrap();
    auth.prefetch().await.unwrap();
    let token = auth
        .validator()
        .validate(tokens["access_token"].as_str().unwrap(), unix_now())
        .unwrap();
    assert_eq!(token.subject(), Some("dev-user"));
    assert_eq!(token.client_id(), Some(client_id.as_str()));
    assert_eq!(token.issuer(), server.issuer());
    assert_eq!(token.scopes(), ["mcp:tools"]);

    // The transaction was single use.
    let again = decide(&server, &transaction_of(&page), "allow").await;
    assert_eq!(again.status(), 400);
    assert!(again.headers().get("location").is_none());
}

#[tokio::test]
async fn metadata_describes_the_server() {
    let server = start(false).await;
    let metadata: Value = http()
        .get(server.metadata_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], server.issuer());
    assert_eq!(
        metadata["authorization_endpoint"],
        server.authorization_endpoint()
    );
    assert_eq!(metadata["token_endpoint"], server.token_endpoint());
    assert_eq!(
        metadata["registration_endpoint"],
        server.registration_endpoint()
    );
    assert_eq!(metadata["jwks_uri"], server.jwks_uri());
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        metadata["token_endpoint_auth_methods_supported"],
        json!(["none"])
    );
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(metadata["response_types_supported"], json!(["code"]));
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(
        metadata["scopes_supported"],
        json!(["mcp:tools", "mcp:admin", "offline_access"])
    );
    // No host allowed for metadata documents: not advertised, clients register instead.
    assert_eq!(metadata["client_id_metadata_document_supported"], false);
}

#[tokio::test]
async fn deny_sends_access_denied_to_the_client() {
    let server = start(false).await;
    let client_id = register_client(&server, "Deny Test").await;
    let page = authorize(&server, &authorization_params(&client_id))
        .await
        .text()
        .await
        .unwrap();
    let params = redirect_params(&decide(&server, &transaction_of(&page), "deny").await);
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "st<>&");
    assert_eq!(params["iss"], server.issuer());
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_invalid_grant() {
    let server = start(true).await;
    let client_id = register_client(&server, "c").await;
    let code = code_for(&server, &client_id).await;
    let wrong = "x".repeat(43);
    let (status, error) = oauth_error(exchange(&server, &client_id, &code, &wrong).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    // Missing verifier: a malformed request.
    let code = code_for(&server, &client_id).await;
    let response = post_token(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &client_id),
        ],
    )
    .await;
    assert_eq!(
        oauth_error(response).await,
        (400, "invalid_request".to_owned())
    );
}

#[tokio::test]
async fn a_reused_code_is_invalid_grant_and_revokes_the_tokens_issued_from_it() {
    let server = start(true).await;
    let client_id = register_client(&server, "c").await;
    let code = code_for(&server, &client_id).await;
    let first: Value = exchange(&server, &client_id, &code, VERIFIER)
        .await
        .json()
        .await
        .unwrap();
    let refresh_token = first["refresh_token"].as_str().unwrap();

    let (status, error) = oauth_error(exchange(&server, &client_id, &code, VERIFIER).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    let (status, error) =
        oauth_error(refresh(&server, &client_id, refresh_token, None).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
}

#[tokio::test]
async fn a_code_is_bound_to_its_client_and_redirect_uri() {
    let server = start(true).await;
    let client_id = register_client(&server, "c").await;
    let other = register_client(&server, "other").await;
    let code = code_for(&server, &client_id).await;
    let (_, error) = oauth_error(exchange(&server, &other, &code, VERIFIER).await).await;
    assert_eq!(error, "invalid_grant");

    let code = code_for(&server, &client_id).await;
    let response = post_token(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:1/other"),
            ("client_id", &client_id),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(oauth_error(response).await.1, "invalid_grant");

    let code = code_for(&server, &client_id).await;
    let response = post_token(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &client_id),
            ("code_verifier", VERIFIER),
            ("resource", "http://127.0.0.1:9/other"),
        ],
    )
    .await;
    assert_eq!(oauth_error(response).await.1, "invalid_target");
}

#[tokio::test]
async fn an_unregistered_redirect_uri_or_unknown_client_gets_an_error_page_never_a_redirect() {
    let server = start(true).await;
    let client_id = register_client(&server, "c").await;
    for (name, params) in [
        (
            "unregistered redirect_uri",
            with(
                authorization_params(&client_id),
                "redirect_uri",
                Some("http://evil.example/callback"),
            ),
        ),
        (
            "another path on loopback",
            with(
                authorization_params(&client_id),
                "redirect_uri",
                Some("http://127.0.0.1:1/elsewhere"),
            ),
        ),
        (
            "no redirect_uri",
            with(authorization_params(&client_id), "redirect_uri", None),
        ),
        (
            "unknown client",
            with(
                authorization_params(&client_id),
                "client_id",
                Some("nobody"),
            ),
        ),
        (
            "no client",
            with(authorization_params(&client_id), "client_id", None),
        ),
    ] {
        let response = authorize(&server, &params).await;
        assert_eq!(response.status(), 400, "{name}");
        assert!(response.headers().get("location").is_none(), "{name}");
        let page = response.text().await.unwrap();
        assert!(page.contains("never use in production"), "{name}");
    }
    // A loopback redirect URI matches whatever its port (RFC 8252 §7.3).
    let params = with(
        authorization_params(&client_id),
        "redirect_uri",
        Some("http://127.0.0.1:54321/callback"),
    );
    let response = authorize(&server, &params).await;
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with("http://127.0.0.1:54321/callback?code="));
}

#[tokio::test]
async fn authorization_errors_after_the_client_is_trusted_go_to_the_redirect_uri() {
    let server = start(true).await;
    let client_id = register_client(&server, "c").await;
    let base = || authorization_params(&client_id);
    for (name, params, expected) in [
        (
            "no resource",
            with(base(), "resource", None),
            "invalid_target",
        ),
        (
            "unknown resource",
            with(base(), "resource", Some("http://127.0.0.1:9/mcp")),
            "invalid_target",
        ),
        (
            "no code_challenge",
            with(base(), "code_challenge", None),
            "invalid_request",
        ),
        (
            "plain PKCE",
            with(base(), "code_challenge_method", Some("plain")),
            "invalid_request",
        ),
        (
            "no code_challenge_method",
            with(base(), "code_challenge_method", None),
            "invalid_request",
        ),
        (
            "unknown scope",
            with(base(), "scope", Some("mcp:tools mcp:root")),
            "invalid_scope",
        ),
        (
            "token response type",
            with(base(), "response_type", Some("token")),
            "unsupported_response_type",
        ),
    ] {
        let response = authorize(&server, &params).await;
        let params = redirect_params(&response);
        assert_eq!(params["error"], expected, "{name}");
        assert_eq!(params["state"], "st<>&", "{name}");
        assert_eq!(params["iss"], server.issuer(), "{name}");
        assert!(!params.contains_key("code"), "{name}");
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_narrow_never_widen_and_reuse_revokes_the_family() {
    let server = start(true).await;
    let client_id = register_client(&server, "c").await;
    let params = with(
        authorization_params(&client_id),
        "scope",
        Some("mcp:tools mcp:admin"),
    );
    let code = redirect_params(&authorize(&server, &params).await)["code"].clone();
    let first: Value = exchange(&server, &client_id, &code, VERIFIER)
        .await
        .json()
        .await
        .unwrap();
    let first_refresh = first["refresh_token"].as_str().unwrap();

    let response = refresh(&server, &client_id, first_refresh, Some("mcp:tools")).await;
    assert_eq!(response.status(), 200);
    let second: Value = response.json().await.unwrap();
    assert_eq!(second["scope"], "mcp:tools", "a refresh may narrow");
    let second_refresh = second["refresh_token"].as_str().unwrap();
    assert_ne!(second_refresh, first_refresh, "rotated");

    // Widening is refused (and that try spends the token: rotation is strict).
    let response = refresh(&server, &client_id, second_refresh, Some("mcp:root")).await;
    assert_eq!(oauth_error(response).await.1, "invalid_scope");

    // A fresh family; using a spent refresh token again revokes all of it.
    let code = redirect_params(&authorize(&server, &params).await)["code"].clone();
    let family: Value = exchange(&server, &client_id, &code, VERIFIER)
        .await
        .json()
        .await
        .unwrap();
    let a = family["refresh_token"].as_str().unwrap();
    let next: Value = refresh(&server, &client_id, a, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        next["scope"], "mcp:tools mcp:admin",
        "the original grant kept"
    );
    let b = next["refresh_token"].as_str().unwrap();
    let (status, error) = oauth_error(refresh(&server, &client_id, a, None).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    let (_, error) = oauth_error(refresh(&server, &client_id, b, None).await).await;
    assert_eq!(error, "invalid_grant", "the whole family is revoked");
}

#[tokio::test]
async fn the_token_endpoint_refuses_malformed_requests_with_the_right_error() {
    let server = start(true).await;
    let client_id = register_client(&server, "c").await;
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, (u16, &'a str));
    let cases: [Case<'_>; 5] = [
        (
            "no grant_type",
            vec![("client_id", &client_id)],
            (400, "invalid_request"),
        ),
        (
            "password grant",
            vec![("grant_type", "password"), ("client_id", &client_id)],
            (400, "unsupported_grant_type"),
        ),
        (
            "unknown client",
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", "nobody"),
            ],
            (401, "invalid_client"),
        ),
        (
            "no client",
            vec![("grant_type", "refresh_token"), ("refresh_token", "x")],
            (401, "invalid_client"),
        ),
        (
            "unknown code",
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", &client_id),
                ("code", "nope"),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", VERIFIER),
            ],
            (400, "invalid_grant"),
        ),
    ];
    for (name, form, (status, error)) in cases {
        let got = oauth_error(post_token(&server, &form).await).await;
        assert_eq!(got, (status, error.to_owned()), "{name}");
    }
    // A confidential client's credentials: refused, with a challenge (RFC 6749 §5.2).
    let response = http()
        .post(server.token_endpoint())
        .header("authorization", "Basic Yzpz")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code")
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("www-authenticate"));
    assert_eq!(
        oauth_error(response).await,
        (401, "invalid_client".to_owned())
    );
    // The token endpoint takes POST only.
    let response = http().get(server.token_endpoint()).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST, OPTIONS");
}

#[tokio::test]
async fn registration_validates_client_metadata() {
    let server = start(true).await;
    let cases = [
        ("no redirect_uris", json!({}), "invalid_redirect_uri"),
        (
            "empty redirect_uris",
            json!({"redirect_uris": []}),
            "invalid_redirect_uri",
        ),
        (
            "plain http off loopback",
            json!({"redirect_uris": ["http://app.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            "fragment",
            json!({"redirect_uris": ["https://app.example/cb#x"]}),
            "invalid_redirect_uri",
        ),
        (
            "token_endpoint_auth_method not a string",
            json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": ["none"]}),
            "invalid_client_metadata",
        ),
        (
            "a confidential client without redirect_uris",
            json!({"token_endpoint_auth_method": "client_secret_post"}),
            "invalid_redirect_uri",
        ),
        (
            "implicit grant",
            json!({"redirect_uris": [REDIRECT_URI], "grant_types": ["implicit"]}),
            "invalid_client_metadata",
        ),
        (
            "name not a string",
            json!({"redirect_uris": [REDIRECT_URI], "client_name": 7}),
            "invalid_client_metadata",
        ),
    ];
    for (name, body, expected) in cases {
        let response = register(&server, body).await;
        assert_eq!(
            oauth_error(response).await,
            (400, expected.to_owned()),
            "{name}"
        );
    }
    let response = register(
        &server,
        json!({"redirect_uris": ["https://app.example/cb", REDIRECT_URI]}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let client: Value = response.json().await.unwrap();
    assert_eq!(client["token_endpoint_auth_method"], "none");
    assert!(client.get("client_secret").is_none());

    let huge = json!({"redirect_uris": [REDIRECT_URI], "client_name": "x".repeat(20_000)});
    assert_eq!(register(&server, huge).await.status(), 413);
}

/// RFC 7591 §3.2.1: the server may replace requested metadata. A client asking for client
/// authentication is registered as the public client this server supports, the answer says
/// so, and the client then gets tokens as a public client (PKCE, no secret).
#[tokio::test]
async fn a_client_asking_for_a_secret_is_registered_as_a_public_client_and_told_so() {
    let server = start(true).await;
    for method in [
        "client_secret_post",
        "client_secret_basic",
        "private_key_jwt",
        "none",
    ] {
        let response = register(
            &server,
            json!({
                "redirect_uris": [REDIRECT_URI],
                "client_name": "Confidential Hopeful",
                "token_endpoint_auth_method": method,
                "grant_types": ["authorization_code", "refresh_token"],
            }),
        )
        .await;
        assert_eq!(response.status(), 201, "{method}");
        let client: Value = response.json().await.unwrap();
        assert_eq!(client["token_endpoint_auth_method"], "none", "{method}");
        assert!(client.get("client_secret").is_none(), "{method}");
        assert_eq!(client["redirect_uris"], json!([REDIRECT_URI]));

        let client_id = client["client_id"].as_str().unwrap();
        let code = code_for(&server, client_id).await;
        let response = exchange(&server, client_id, &code, VERIFIER).await;
        assert_eq!(response.status(), 200, "{method}");
        let tokens: Value = response.json().await.unwrap();
        assert!(tokens["access_token"].as_str().is_some(), "{method}");
        assert!(tokens["refresh_token"].as_str().is_some(), "{method}");
    }
}

#[tokio::test]
async fn a_hostile_client_name_is_escaped_on_the_consent_page() {
    let server = start(false).await;
    let hostile = "<script>alert('x')</script>\"><img src=x>";
    let client_id = register_client(&server, hostile).await;
    let params = with(
        authorization_params(&client_id),
        "state",
        Some("<b>state</b>"),
    );
    let page = authorize(&server, &params).await.text().await.unwrap();
    assert!(!page.contains("<script>"));
    assert!(!page.contains("<img"));
    assert!(
        page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&gt;&lt;img src=x&gt;")
    );
    assert!(
        !page.contains("<b>state</b>"),
        "state is never put in the page"
    );
}

/// A loopback server publishing a client ID metadata document at `/client.json`, counting
/// fetches. Its `client_id` is the URL unless `claimed` says otherwise.
async fn serve_client_document(claimed: Option<&str>) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let url = format!("http://{addr}/client.json");
    let document = json!({
        "client_id": claimed.unwrap_or(&url),
        "client_name": "Metadata Document Client",
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
    });
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fetches);
    // A valid document for its own URL, but 64 KiB long (in a member nobody reads).
    let big_url = format!("http://{addr}/big.json");
    let big = json!({
        "client_id": big_url,
        "redirect_uris": [REDIRECT_URI],
        "client_uri": format!("https://app.example/{}", "x".repeat(64 * 1024)),
    });
    let confidential_url = format!("http://{addr}/confidential.json");
    let confidential = json!({
        "client_id": confidential_url,
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "private_key_jwt",
    });
    let code_only_url = format!("http://{addr}/code-only.json");
    let code_only = json!({
        "client_id": code_only_url,
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code"],
    });
    let app = axum::Router::new()
        .route(
            "/client.json",
            axum::routing::get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let document = document.clone();
                async move { axum::Json(document) }
            }),
        )
        .route(
            "/code-only.json",
            axum::routing::get(move || {
                let code_only = code_only.clone();
                async move { axum::Json(code_only) }
            }),
        )
        .route(
            "/confidential.json",
            axum::routing::get(move || {
                let confidential = confidential.clone();
                async move { axum::Json(confidential) }
            }),
        )
        .route(
            "/moved.json",
            axum::routing::get(|| async {
                (
                    axum::http::StatusCode::FOUND,
                    [(axum::http::header::LOCATION, "/client.json")],
                )
            }),
        )
        .route(
            "/big.json",
            axum::routing::get(move || {
                let big = big.clone();
                async move { axum::Json(big) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, fetches)
}

#[tokio::test]
async fn client_metadata_documents_are_fetched_only_from_allowed_hosts() {
    let (url, fetches) = serve_client_document(None).await;

    let closed = start(false).await;
    let response = authorize(&closed, &authorization_params(&url)).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert_eq!(fetches.load(Ordering::SeqCst), 0, "never fetched");

    // Allowed host, but plain http without the loopback opt-in: refused, not fetched.
    let https_only = DevAuthServer::builder()
        .resource(RESOURCE)
        .scopes(["mcp:tools"])
        .allowed_cimd_host("127.0.0.1")
        .start()
        .await
        .unwrap();
    assert_eq!(
        authorize(&https_only, &authorization_params(&url))
            .await
            .status(),
        400
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 0);

    let open = DevAuthServer::builder()
        .resource(RESOURCE)
        .scopes(["mcp:tools"])
        .allowed_cimd_host("127.0.0.1")
        .allow_http_cimd_loopback(true)
        .start()
        .await
        .unwrap();
    let metadata: Value = http()
        .get(open.metadata_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["client_id_metadata_document_supported"], true);
    let page = authorize(&open, &authorization_params(&url)).await;
    assert_eq!(page.status(), 200);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    let page = page.text().await.unwrap();
    assert!(page.contains("Metadata Document Client"));
    let code =
        redirect_params(&decide(&open, &transaction_of(&page), "allow").await)["code"].clone();
    let response = exchange(&open, &url, &code, VERIFIER).await;
    assert_eq!(response.status(), 200);

    // Redirect URIs come from the document.
    let params = with(
        authorization_params(&url),
        "redirect_uri",
        Some("https://elsewhere.example/cb"),
    );
    assert_eq!(authorize(&open, &params).await.status(), 400);
}

#[tokio::test]
async fn a_client_metadata_document_naming_another_client_is_refused() {
    let (url, fetches) = serve_client_document(Some("https://someone.example/else.json")).await;
    let server = DevAuthServer::builder()
        .resource(RESOURCE)
        .scopes(["mcp:tools"])
        .allowed_cimd_host("127.0.0.1")
        .allow_http_cimd_loopback(true)
        .start()
        .await
        .unwrap();
    let response = authorize(&server, &authorization_params(&url)).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn start_refuses_non_loopback_addresses_and_missing_configuration() {
    let error = DevAuthServer::builder()
        .bind("0.0.0.0:0".parse().unwrap())
        .resource(RESOURCE)
        .scopes(["mcp:tools"])
        .start()
        .await
        .unwrap_err();
    assert!(matches!(error, DevServerError::NotLoopback(_)));
    let error = DevAuthServer::builder()
        .scopes(["mcp:tools"])
        .start()
        .await
        .unwrap_err();
    assert!(matches!(error, DevServerError::NoResource));
    let error = DevAuthServer::builder()
        .resource(RESOURCE)
        .start()
        .await
        .unwrap_err();
    assert!(matches!(error, DevServerError::NoScope));
}

#[tokio::test]
async fn a_stopped_server_stops_answering() {
    let server = start(true).await;
    let url = server.metadata_url();
    assert_eq!(http().get(&url).send().await.unwrap().status(), 200);
    server.stop();
    // The accept loop ends once the stop signal is seen; poll until refused.
    let mut refused = false;
    for _ in 0..100 {
        if http().get(&url).send().await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused);
}

#[tokio::test]
async fn a_client_metadata_document_behind_a_redirect_too_large_or_confidential_is_refused() {
    let (url, fetches) = serve_client_document(None).await;
    let server = DevAuthServer::builder()
        .resource(RESOURCE)
        .scopes(["mcp:tools"])
        .allowed_cimd_host("127.0.0.1")
        .allow_http_cimd_loopback(true)
        .start()
        .await
        .unwrap();
    for client_id in [
        url.replace("/client.json", "/moved.json"),
        url.replace("/client.json", "/big.json"),
        url.replace("/client.json", "/missing.json"),
        url.replace("/client.json", "/a/../client.json"),
        // A document cannot be told its client was made public: refused.
        url.replace("/client.json", "/confidential.json"),
    ] {
        let response = authorize(&server, &authorization_params(&client_id)).await;
        assert_eq!(response.status(), 400, "{client_id}");
        assert!(response.headers().get("location").is_none(), "{client_id}");
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        0,
        "the redirect was not followed"
    );
}

/// The quickstart's wiring in miniature: the layer trusts the development authorization
/// server through discovery, and a tool that needs `mcp:admin` is reached by step-up.
#[tokio::test]
async fn step_up_through_the_layer_403_then_reauthorization_for_the_challenged_scope() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let resource = format!("http://{}/mcp", listener.local_addr().unwrap());
    let server = DevAuthServer::builder()
        .resource(resource.clone())
        .scopes(["mcp:tools", "mcp:admin"])
        .auto_approve(true)
        .start()
        .await
        .unwrap();
    let auth = McpAuth::builder(resource.clone())
        .authorization_server(server.issuer())
        .allow_http_loopback(true)
        .require_scope("mcp:tools")
        .tool_scope("admin_reset", "mcp:admin")
        .scopes_supported(["mcp:tools", "mcp:admin"])
        .build()
        .unwrap();
    let metadata_url = auth.metadata_url().to_owned();
    let app = axum::Router::new()
        .route("/mcp", axum::routing::post(|| async { "tool ran" }))
        .layer(auth.layer());
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The protected resource metadata names the development server.
    let prm: Value = http()
        .get(&metadata_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["authorization_servers"], json!([server.issuer()]));

    let client_id = register_client(&server, "step-up").await;
    let token_for = |scope: String| {
        let (server, client_id, resource) = (&server, &client_id, &resource);
        async move {
            let params = with(
                with(authorization_params(client_id), "resource", Some(resource)),
                "scope",
                Some(&scope),
            );
            let code = redirect_params(&authorize(server, &params).await)["code"].clone();
            let response = post_token(
                server,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT_URI),
                    ("client_id", client_id),
                    ("code_verifier", VERIFIER),
                    ("resource", resource),
                ],
            )
            .await;
            let tokens: Value = response.json().await.unwrap();
            tokens["access_token"].as_str().unwrap().to_owned()
        }
    };
    let call_admin_reset = |token: String| {
        let resource = resource.clone();
        async move {
            http()
                .post(resource)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .header("mcp-protocol-version", "2025-06-18")
                .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_reset","arguments":{}}}"#)
                .send()
                .await
                .unwrap()
        }
    };

    let denied = call_admin_reset(token_for("mcp:tools".to_owned()).await).await;
    assert_eq!(denied.status(), 403);
    let challenge = denied.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    let scope = challenge
        .split("scope=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert!(scope.split(' ').any(|s| s == "mcp:admin"), "{scope}");

    let allowed = call_admin_reset(token_for(scope).await).await;
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.text().await.unwrap(), "tool ran");
}

// ---- browser isolation: CORS, cross-origin consent, DNS rebinding ----------------------------

const EVIL_ORIGIN: &str = "http://evil.example";

#[tokio::test]
async fn the_authorization_endpoint_and_consent_form_are_never_readable_cross_origin() {
    let server = start(false).await;
    let client_id = register_client(&server, "c").await;

    // A malicious page fetching the consent page cannot read it, so never sees the
    // transaction id.
    let response = http()
        .get(format!(
            "{}?{}",
            server.authorization_endpoint(),
            urlencoded(&authorization_params(&client_id))
        ))
        .header("origin", EVIL_ORIGIN)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // Nor may it preflight a request to either.
    for path in ["/authorize", "/consent"] {
        let response = http()
            .request(
                reqwest::Method::OPTIONS,
                format!("{}{path}", server.issuer()),
            )
            .header("origin", EVIL_ORIGIN)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{path}"
        );
    }

    // What browser-based clients need stays open to every origin.
    for url in [
        server.metadata_url(),
        format!("{}/.well-known/openid-configuration", server.issuer()),
        server.jwks_uri(),
    ] {
        let response = http()
            .get(&url)
            .header("origin", EVIL_ORIGIN)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "*",
            "{url}"
        );
    }
    for url in [server.registration_endpoint(), server.token_endpoint()] {
        let preflight = http()
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", EVIL_ORIGIN)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(
            preflight.headers()["access-control-allow-origin"],
            "*",
            "{url}"
        );
        assert!(
            preflight
                .headers()
                .contains_key("access-control-allow-methods"),
            "{url}"
        );
    }
    let response = post_form(server.token_endpoint(), &[("grant_type", "password")])
        .header("origin", EVIL_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn a_consent_decision_posted_from_another_origin_is_refused_and_issues_no_code() {
    let server = start(false).await;
    let client_id = register_client(&server, "c").await;
    let page = authorize(&server, &authorization_params(&client_id))
        .await
        .text()
        .await
        .unwrap();
    let transaction = transaction_of(&page);
    let consent = format!("{}/consent", server.issuer());
    let form = [("transaction", transaction.as_str()), ("decision", "allow")];

    for (name, headers) in [
        ("foreign Origin", vec![("origin", EVIL_ORIGIN)]),
        ("opaque Origin", vec![("origin", "null")]),
        (
            "Origin on another port",
            vec![("origin", "http://127.0.0.1:1")],
        ),
        (
            "https twin",
            vec![("origin", &*server.issuer().replace("http:", "https:"))],
        ),
        ("cross-site fetch", vec![("sec-fetch-site", "cross-site")]),
        ("same-site fetch", vec![("sec-fetch-site", "same-site")]),
        (
            "own Origin but cross-site",
            vec![
                ("origin", server.issuer()),
                ("sec-fetch-site", "cross-site"),
            ],
        ),
    ] {
        let mut request = post_form(consent.clone(), &form);
        for (header, value) in headers {
            request = request.header(header, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{name}");
        assert!(response.headers().get("location").is_none(), "{name}");
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{name}"
        );
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{name}"
        );
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("never use in production"),
            "{name}"
        );
    }

    // The refused posts issued nothing: the transaction is still waiting, and the consent
    // page itself (same origin, as a browser posts it) approves.
    let response = post_form(consent.clone(), &form)
        .header("origin", server.issuer())
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    let params = redirect_params(&response);
    assert!(params.contains_key("code"));
    assert_eq!(params["iss"], server.issuer());

    // A page opened through `localhost` posts with that origin: same origin too.
    let page = authorize(&server, &authorization_params(&client_id))
        .await
        .text()
        .await
        .unwrap();
    let alias = format!("localhost:{}", server.port());
    let response = post_form(
        consent,
        &[
            ("transaction", transaction_of(&page).as_str()),
            ("decision", "deny"),
        ],
    )
    .header("host", &alias)
    .header("origin", format!("http://{alias}"))
    .header("sec-fetch-site", "same-origin")
    .send()
    .await
    .unwrap();
    assert_eq!(redirect_params(&response)["error"], "access_denied");
}

#[tokio::test]
async fn requests_naming_a_foreign_host_are_refused_on_every_endpoint() {
    let server = start(true).await;
    let client_id = register_client(&server, "c").await;
    let port = server.port();
    let authorize_url = format!(
        "{}?{}",
        server.authorization_endpoint(),
        urlencoded(&authorization_params(&client_id))
    );
    let requests = |host: String| {
        vec![
            http()
                .get(server.metadata_url())
                .header("host", host.clone()),
            http().get(server.jwks_uri()).header("host", host.clone()),
            http().get(server.issuer()).header("host", host.clone()),
            http().get(&authorize_url).header("host", host.clone()),
            post_form(
                format!("{}/consent", server.issuer()),
                &[("transaction", "t"), ("decision", "allow")],
            )
            .header("host", host.clone()),
            post_form(server.token_endpoint(), &[("grant_type", "password")])
                .header("host", host.clone()),
            http()
                .post(server.registration_endpoint())
                .json(&json!({ "redirect_uris": [REDIRECT_URI] }))
                .header("host", host.clone()),
            http()
                .request(reqwest::Method::OPTIONS, server.token_endpoint())
                .header("host", host),
        ]
    };
    // A rebound name (attacker.example resolving to 127.0.0.1), or another port.
    for host in [
        format!("attacker.example:{port}"),
        format!("127.0.0.1.attacker.example:{port}"),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        "attacker.example".to_owned(),
    ] {
        for request in requests(host.clone()) {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 421, "{host}");
            assert!(response.headers().get("location").is_none(), "{host}");
            assert!(
                response
                    .headers()
                    .get("access-control-allow-origin")
                    .is_none(),
                "{host}"
            );
        }
    }
    // Loopback names with the bound port are this server.
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        let response = http()
            .get(server.metadata_url())
            .header("host", host.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{host}");
        let response = http()
            .get(&authorize_url)
            .header("host", host.clone())
            .send()
            .await
            .unwrap();
        assert!(redirect_params(&response).contains_key("code"), "{host}");
    }
}

// ---- registered grant types (RFC 7591 §2) -----------------------------------------------------

async fn register_with_grants(server: &DevAuthServer, grant_types: Value) -> String {
    let response = register(
        server,
        json!({ "redirect_uris": [REDIRECT_URI], "grant_types": grant_types }),
    )
    .await;
    assert_eq!(response.status(), 201);
    let client: Value = response.json().await.unwrap();
    assert_eq!(client["grant_types"], grant_types, "echoed");
    client["client_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn refresh_tokens_go_only_to_clients_registered_for_the_refresh_grant() {
    let server = start(true).await;

    let code_only = register_with_grants(&server, json!(["authorization_code"])).await;
    let code = code_for(&server, &code_only).await;
    let response = exchange(&server, &code_only, &code, VERIFIER).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert!(tokens["access_token"].as_str().is_some());
    assert!(tokens.get("refresh_token").is_none(), "no refresh token");
    let (status, error) = oauth_error(refresh(&server, &code_only, "anything", None).await).await;
    assert_eq!((status, error.as_str()), (400, "unauthorized_client"));

    // A refresh token of another client, presented by the code-only one: refused before it
    // is looked at, so its owner can still use it.
    let both = register_with_grants(&server, json!(["authorization_code", "refresh_token"])).await;
    let code = code_for(&server, &both).await;
    let tokens: Value = exchange(&server, &both, &code, VERIFIER)
        .await
        .json()
        .await
        .unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let (_, error) = oauth_error(refresh(&server, &code_only, refresh_token, None).await).await;
    assert_eq!(error, "unauthorized_client");
    assert_eq!(
        refresh(&server, &both, refresh_token, None).await.status(),
        200
    );

    // Registered without grant_types (as the SDKs' older versions and hand-written clients
    // do): both, as the registration answer says.
    let response = register(&server, json!({ "redirect_uris": [REDIRECT_URI] })).await;
    let client: Value = response.json().await.unwrap();
    assert_eq!(
        client["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );

    // A client registered for refresh_token alone cannot start an authorization.
    let refresh_only = register_with_grants(&server, json!(["refresh_token"])).await;
    let response = authorize(&server, &authorization_params(&refresh_only)).await;
    let params = redirect_params(&response);
    assert_eq!(params["error"], "unauthorized_client");
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn a_metadata_document_client_gets_refresh_tokens_only_when_its_document_allows() {
    let (url, _) = serve_client_document(None).await;
    let code_only = url.replace("/client.json", "/code-only.json");
    let server = DevAuthServer::builder()
        .resource(RESOURCE)
        .scopes(["mcp:tools"])
        .allowed_cimd_host("127.0.0.1")
        .allow_http_cimd_loopback(true)
        .auto_approve(true)
        .start()
        .await
        .unwrap();
    // No grant_types in the document: both.
    let code = code_for(&server, &url).await;
    let tokens: Value = exchange(&server, &url, &code, VERIFIER)
        .await
        .json()
        .await
        .unwrap();
    assert!(tokens["refresh_token"].as_str().is_some());
    // grant_types: ["authorization_code"]: no refresh token.
    let code = code_for(&server, &code_only).await;
    let response = exchange(&server, &code_only, &code, VERIFIER).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert!(tokens["access_token"].as_str().is_some());
    assert!(tokens.get("refresh_token").is_none());
}

// ---- request sizes ----------------------------------------------------------------------------

#[tokio::test]
async fn an_oversized_state_or_authorization_request_is_invalid_request() {
    let server = start(true).await;
    let client_id = register_client(&server, "c").await;

    let longest = "s".repeat(1024);
    let response = authorize(
        &server,
        &with(authorization_params(&client_id), "state", Some(&longest)),
    )
    .await;
    let params = redirect_params(&response);
    assert!(params.contains_key("code"), "1 KiB of state is fine");
    assert_eq!(params["state"], longest);

    let response = authorize(
        &server,
        &with(
            authorization_params(&client_id),
            "state",
            Some(&"s".repeat(1025)),
        ),
    )
    .await;
    let params = redirect_params(&response);
    assert_eq!(params["error"], "invalid_request");
    assert!(!params.contains_key("code"));
    assert!(
        !params.contains_key("state"),
        "the oversized state is not echoed"
    );
    assert_eq!(params["iss"], server.issuer());

    // Over 8 KiB in all: refused before the client or its redirect URI is trusted.
    let mut params = authorization_params(&client_id);
    params.push(("padding", "p".repeat(8 * 1024)));
    let response = authorize(&server, &params).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}
