//! Opaque tokens checked by RFC 7662 introspection, through the real layer over loopback
//! against a real introspection endpoint (`common::introspection_server`): the request sent,
//! client authentication, discovery, failures (always 503, never 401), the same claim rules
//! as JWTs, the cache and its staleness bound, single flight, and composition with issuers
//! that have keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::introspection_server::{
    CLIENT_ID, CLIENT_SECRET, ClientCredentials, IntrospectionServer, form_decode,
};
use common::{App, app, challenge, client};
use mcp_server_auth::cache::TokenCacheConfig;
use mcp_server_auth::error::ProblemKind;
use mcp_server_auth::introspect::{ClientAuth, Introspection, MAX_RESPONSE_BYTES};
use mcp_server_auth::profile::{ClaimRequirement, IssuerProfile};
use mcp_server_auth::validate::TokenErrorKind;
use mcp_server_auth::{ConfigError, McpAuth, McpAuthBuilder};
use mcp_server_auth_dev::testing::{TestIssuer, unix_now};

/// The kind of the first problem of `error`.
fn first(error: &ConfigError) -> &ProblemKind {
    error.problems()[0].kind()
}
use serde_json::{Value, json};

/// An app whose only issuer is `server`, introspected at its configured endpoint.
async fn introspecting_app(server: &IntrospectionServer) -> App {
    app(|b| b.introspection(server.issuer(), settings(server))).await
}

/// Introspection at `server`'s endpoint with the credentials it expects by default.
fn settings(server: &IntrospectionServer) -> Introspection {
    Introspection::new(CLIENT_ID, CLIENT_SECRET).endpoint(server.endpoint())
}

const TOOLS_LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;

/// POSTs `body` to `url` with `token`, failing the test if no answer comes within 20 seconds
/// (a guard against hangs, not a timing assertion).
async fn post_to(url: &str, token: &str, body: &str) -> reqwest::Response {
    let request = client()
        .post(url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(body.to_owned())
        .send();
    tokio::time::timeout(Duration::from_secs(20), request)
        .await
        .expect("the layer answers")
        .unwrap()
}

impl App {
    async fn post(&self, token: &str, body: &str) -> reqwest::Response {
        post_to(&self.url, token, body).await
    }

    async fn send(&self, token: &str) -> reqwest::Response {
        self.post(token, TOOLS_LIST).await
    }

    async fn status(&self, token: &str) -> u16 {
        self.send(token).await.status().as_u16()
    }

    /// An active answer for this resource from `server`: `mcp:tools files:read` granted, an
    /// hour left.
    fn active(&self, server: &IntrospectionServer) -> Value {
        let now = i64::try_from(unix_now()).unwrap();
        json!({
            "active": true,
            "iss": server.issuer(),
            "sub": "user-1",
            "client_id": "client-1",
            "scope": "mcp:tools files:read",
            "aud": self.resource,
            "iat": now,
            "exp": now + 3600,
            "token_type": "Bearer",
        })
    }
}

/// `answer` with `name` set to `value` (`Value::Null`: removed).
fn with(mut answer: Value, name: &str, value: Value) -> Value {
    let members = answer.as_object_mut().unwrap();
    if value.is_null() {
        members.remove(name);
    } else {
        members.insert(name.to_owned(), value);
    }
    answer
}

fn now_plus(secs: i64) -> Value {
    json!(i64::try_from(unix_now()).unwrap() + secs)
}

async fn assert_invalid_token(response: reqwest::Response, description: &str) {
    assert_eq!(response.status(), 401);
    let parsed = challenge(&response);
    assert_eq!(parsed.get("error"), Some("invalid_token"));
    assert_eq!(parsed.get("error_description"), Some(description));
    assert!(parsed.get("resource_metadata").is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(body["error_description"], description);
}

/// 503 with `Retry-After`, no challenge (the token may be fine), the introspection
/// description.
async fn assert_unavailable(response: reqwest::Response) {
    assert_eq!(response.status(), 503);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    assert!(response.headers().get("www-authenticate").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(
        body["error_description"],
        TokenErrorKind::IntrospectionUnavailable.description()
    );
}

// ---------------------------------------------------------------------------------------------
// The answer
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn active_opaque_token_reaches_the_service_with_the_answers_claims() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    server.register("opaque-abc", app.active(&server));

    let response = app.send("opaque-abc").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let verified = &body["verified"];
    assert_eq!(verified["iss"], server.issuer());
    assert_eq!(verified["sub"], "user-1");
    assert_eq!(verified["client_id"], "client-1");
    assert_eq!(verified["scopes"], json!(["mcp:tools", "files:read"]));
    assert_eq!(verified["aud"], json!([app.resource]));
    assert_eq!(body["authorization_header_seen"], false);

    assert_eq!(server.introspections(), 1);
    let seen = server.last_request().unwrap();
    assert_eq!(seen.field("token"), Some("opaque-abc"));
    assert_eq!(seen.field("token_type_hint"), Some("access_token"));
    assert_eq!(
        seen.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn inactive_and_unknown_tokens_get_invalid_token_and_are_not_cached() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    server.register("revoked", json!({"active": false}));

    let description = TokenErrorKind::Inactive.description();
    assert_eq!(description, "The access token is not active");
    assert_invalid_token(app.send("revoked").await, description).await;
    // Never registered: the endpoint's default answer is `{"active": false}`.
    assert_invalid_token(app.send("never-issued").await, description).await;
    assert_eq!(server.introspections(), 2);
    // Inactive answers are not cached: asked again.
    assert_invalid_token(app.send("revoked").await, description).await;
    assert_eq!(server.introspections(), 3);
}

#[tokio::test]
async fn token_characters_are_form_encoded() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    // Base64 (not base64url) opaque tokens carry `+`, `/` and `=`.
    let token = "ab+cd/ef==";
    server.register(token, app.active(&server));
    assert_eq!(app.status(token).await, 200);
    let seen = server.last_request().unwrap();
    assert_eq!(seen.field("token"), Some(token));
    assert!(seen.raw_body.contains("token=ab%2Bcd%2Fef%3D%3D"));
}

#[tokio::test]
async fn jws_and_jwe_shaped_tokens_are_never_introspected() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    // Three segments are a JWS whatever they hold, five a JWE: refused as malformed here,
    // never sent to the introspection endpoint.
    for token in ["not-json.still-not.json", "a.b.c.d.e"] {
        server.register(token, app.active(&server));
        assert_eq!(app.status(token).await, 401, "{token}");
    }
    assert_eq!(server.introspections(), 0);
    // Other shapes are opaque: Ory Hydra's tokens hold one dot.
    for token in ["ory_at_abc.def", "a.b.c.d"] {
        server.register(token, app.active(&server));
        assert_eq!(app.status(token).await, 200, "{token}");
    }
    assert_eq!(server.introspections(), 2);
}

#[tokio::test]
async fn answers_about_refresh_and_id_tokens_are_refused() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    let cases = [
        // Ory Hydra introspects refresh tokens whatever the hint, and says so in `token_use`.
        (
            "ory_rt_1.sig",
            json!({"token_type": "Bearer", "token_use": "refresh_token"}),
        ),
        ("rt-2", json!({"token_type": "refresh_token"})),
        // Keycloak says it in `typ`.
        ("kc-refresh", json!({"typ": "Refresh"})),
        ("kc-offline", json!({"typ": "Offline"})),
        ("kc-id", json!({"typ": "ID"})),
    ];
    for (token, kind) in cases {
        let mut answer = app.active(&server);
        for (name, value) in kind.as_object().unwrap() {
            answer[name] = value.clone();
        }
        server.register(token, answer);
        assert_invalid_token(
            app.send(token).await,
            TokenErrorKind::UnacceptedType.description(),
        )
        .await;
    }
    // The same answers about access tokens pass.
    let mut answer = app.active(&server);
    answer["token_use"] = json!("access_token");
    answer["typ"] = json!("Bearer");
    server.register("ory_at_3.sig", answer);
    assert_eq!(app.status("ory_at_3.sig").await, 200);
}

#[tokio::test]
async fn an_oversized_token_is_refused_without_introspection() {
    let server = IntrospectionServer::start().await;
    let app = app(|b| {
        b.introspection(server.issuer(), settings(&server))
            .max_token_bytes(64)
    })
    .await;
    let token = "x".repeat(65);
    server.register(&token, app.active(&server));
    assert_invalid_token(
        app.send(&token).await,
        TokenErrorKind::TooLarge.description(),
    )
    .await;
    assert_eq!(server.introspections(), 0);
}

// ---------------------------------------------------------------------------------------------
// Client authentication (RFC 7662 §2.1, RFC 6749 §2.3.1)
// ---------------------------------------------------------------------------------------------

/// A client id and secret with characters form encoding must escape.
const ODD_ID: &str = "rs client/1";
const ODD_SECRET: &str = "a b+c:d%";

#[tokio::test]
async fn client_secret_basic_sends_form_encoded_credentials_in_the_authorization_header() {
    let server = IntrospectionServer::start().await;
    server.expect_client(ClientCredentials::basic(ODD_ID, ODD_SECRET));
    let app = app(|b| {
        b.introspection(
            server.issuer(),
            Introspection::new(ODD_ID, ODD_SECRET).endpoint(server.endpoint()),
        )
    })
    .await;
    server.register("opaque-basic", app.active(&server));

    assert_eq!(app.status("opaque-basic").await, 200);
    let seen = server.last_request().unwrap();
    assert_eq!(seen.client, ClientCredentials::basic(ODD_ID, ODD_SECRET));
    // RFC 6749 §2.3.1: each part form-encoded, then `id:secret` in base64. The `:` inside
    // the secret is escaped, so the server splits at the right one.
    let pair = "rs+client%2F1:a+b%2Bc%3Ad%25";
    assert_eq!(
        seen.authorization.as_deref(),
        Some(format!("Basic {}", base64_standard(pair)).as_str())
    );
    assert_eq!(form_decode("a+b%2Bc%3Ad%25"), ODD_SECRET);
    assert_eq!(seen.field("client_id"), None);
    assert_eq!(seen.field("client_secret"), None);
}

fn base64_standard(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn client_secret_post_sends_credentials_in_the_form_only() {
    let server = IntrospectionServer::start().await;
    server.expect_client(ClientCredentials::post(ODD_ID, ODD_SECRET));
    let app = app(|b| {
        b.introspection(
            server.issuer(),
            Introspection::new(ODD_ID, ODD_SECRET)
                .client_auth(ClientAuth::ClientSecretPost)
                .endpoint(server.endpoint()),
        )
    })
    .await;
    server.register("opaque-post", app.active(&server));

    assert_eq!(app.status("opaque-post").await, 200);
    let seen = server.last_request().unwrap();
    assert_eq!(seen.client, ClientCredentials::post(ODD_ID, ODD_SECRET));
    assert_eq!(seen.authorization, None);
    assert!(seen.raw_body.contains("client_id=rs+client%2F1"));
    assert!(seen.raw_body.contains("client_secret=a+b%2Bc%3Ad%25"));
    assert_eq!(seen.field("token"), Some("opaque-post"));
    assert_eq!(seen.field("token_type_hint"), Some("access_token"));
}

#[tokio::test]
async fn without_client_authentication_sends_no_credentials() {
    let server = IntrospectionServer::start().await;
    server.expect_client(ClientCredentials::None);
    let app = app(|b| {
        b.introspection(
            server.issuer(),
            Introspection::without_client_authentication().endpoint(server.endpoint()),
        )
    })
    .await;
    server.register("opaque-none", app.active(&server));

    assert_eq!(app.status("opaque-none").await, 200);
    let seen = server.last_request().unwrap();
    assert_eq!(seen.client, ClientCredentials::None);
    assert_eq!(seen.authorization, None);
    assert_eq!(seen.field("client_id"), None);
    assert_eq!(seen.field("client_secret"), None);
}

#[tokio::test]
async fn a_refused_client_is_unavailable_not_an_invalid_token() {
    let server = IntrospectionServer::start().await;
    let app = app(|b| {
        b.introspection(
            server.issuer(),
            Introspection::new(CLIENT_ID, "wrong-secret").endpoint(server.endpoint()),
        )
    })
    .await;
    server.register("opaque-abc", app.active(&server));
    // The endpoint answers 401 `invalid_client`: our misconfiguration, not the token's fault.
    assert_unavailable(app.send("opaque-abc").await).await;
    assert_eq!(server.introspections(), 1);
}

// ---------------------------------------------------------------------------------------------
// The endpoint: configured or discovered
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_configured_endpoint_needs_no_discovery() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    server.register("opaque-abc", app.active(&server));
    assert_eq!(app.status("opaque-abc").await, 200);
    assert_eq!(server.metadata_fetches(), 0);
}

#[tokio::test]
async fn the_endpoint_is_discovered_from_metadata_once() {
    let server = IntrospectionServer::start().await;
    let app = app(|b| {
        b.introspection(
            server.issuer(),
            Introspection::new(CLIENT_ID, CLIENT_SECRET),
        )
    })
    .await;
    assert_eq!(server.metadata_fetches(), 0, "building does no I/O");
    server.register("opaque-1", app.active(&server));
    server.register("opaque-2", app.active(&server));

    assert_eq!(app.status("opaque-1").await, 200);
    assert_eq!(server.metadata_fetches(), 1);
    assert_eq!(app.status("opaque-2").await, 200);
    assert_eq!(server.metadata_fetches(), 1, "the endpoint is remembered");
    assert_eq!(server.introspections(), 2);
}

#[tokio::test]
async fn concurrent_first_requests_share_one_discovery() {
    let server = IntrospectionServer::start().await;
    server.set_delay(Duration::from_millis(200));
    let app = app(|b| {
        b.introspection(
            server.issuer(),
            Introspection::new(CLIENT_ID, CLIENT_SECRET),
        )
    })
    .await;
    let tokens: Vec<String> = (0..10).map(|i| format!("opaque-{i}")).collect();
    for token in &tokens {
        server.register(token, app.active(&server));
    }
    let statuses = concurrently(&app, tokens.iter().map(String::as_str)).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(server.metadata_fetches(), 1, "one discovery for all");
    assert_eq!(server.introspections(), 10);
}

#[tokio::test]
async fn metadata_naming_another_issuer_is_unavailable() {
    let server = IntrospectionServer::start().await;
    server.advertise_issuer(Some("http://127.0.0.1:1"));
    let app = app(|b| {
        b.introspection(
            server.issuer(),
            Introspection::new(CLIENT_ID, CLIENT_SECRET),
        )
    })
    .await;
    server.register("opaque-abc", app.active(&server));
    assert_unavailable(app.send("opaque-abc").await).await;
    assert_eq!(server.introspections(), 0, "the token was never sent");
}

#[tokio::test]
async fn a_failed_discovery_is_unavailable_and_not_retried_at_once() {
    let server = IntrospectionServer::start().await;
    server.serve_metadata(false);
    let app = app(|b| {
        b.introspection(
            server.issuer(),
            Introspection::new(CLIENT_ID, CLIENT_SECRET),
        )
    })
    .await;
    server.register("opaque-abc", app.active(&server));

    assert_unavailable(app.send("opaque-abc").await).await;
    let fetches = server.metadata_fetches();
    // RFC 8414, then OpenID Connect discovery.
    assert_eq!(fetches, 2);
    // Discovery is retried at most every 10 seconds: the next request fails at once.
    server.serve_metadata(true);
    assert_unavailable(app.send("opaque-abc").await).await;
    assert_eq!(server.metadata_fetches(), fetches);
    assert_eq!(server.introspections(), 0);
}

// ---------------------------------------------------------------------------------------------
// Failures: 503 with Retry-After, never 401 or 500, never a hang
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_stopped_endpoint_is_unavailable() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    server.register("opaque-1", app.active(&server));
    server.register("opaque-2", app.active(&server));
    // A first exchange leaves a pooled connection to the endpoint; it must close too.
    assert_eq!(app.status("opaque-1").await, 200);
    server.stop();
    assert_unavailable(app.send("opaque-2").await).await;
}

#[tokio::test]
async fn error_statuses_are_unavailable_and_not_cached() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    server.register("opaque-abc", app.active(&server));
    for status in [500, 502, 404, 400, 302, 204] {
        server.fail_with(Some(status));
        assert_unavailable(app.send("opaque-abc").await).await;
    }
    server.fail_with(None);
    assert_eq!(
        app.status("opaque-abc").await,
        200,
        "failures are not cached"
    );
}

#[tokio::test]
async fn answers_without_a_boolean_active_are_unavailable() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    let active = app.active(&server);
    let bodies: [(&str, Vec<u8>); 8] = [
        ("html", b"<html>maintenance</html>".to_vec()),
        ("empty", Vec::new()),
        ("truncated", br#"{"active":true"#.to_vec()),
        ("array", b"[true]".to_vec()),
        (
            "no active",
            with(active.clone(), "active", Value::Null)
                .to_string()
                .into_bytes(),
        ),
        (
            "string active",
            with(active.clone(), "active", json!("true"))
                .to_string()
                .into_bytes(),
        ),
        (
            "numeric active",
            with(active.clone(), "active", json!(1))
                .to_string()
                .into_bytes(),
        ),
        (
            "repeated active",
            br#"{"active":false,"active":true}"#.to_vec(),
        ),
    ];
    for (name, body) in bodies {
        server.serve_raw(Some(body));
        let response = app.send("opaque-abc").await;
        assert_eq!(response.status(), 503, "{name}");
        assert_unavailable(response).await;
    }
}

#[tokio::test]
async fn an_answer_over_64_kib_is_unavailable() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    assert_eq!(MAX_RESPONSE_BYTES, 64 * 1024);
    // A valid active answer, padded to an exact size with a claim nobody reads.
    let padded = |size: usize| {
        let base = with(app.active(&server), "pad", json!("")).to_string();
        let padding = "x".repeat(size - base.len());
        let body = with(app.active(&server), "pad", json!(padding)).to_string();
        assert_eq!(body.len(), size);
        body.into_bytes()
    };
    server.serve_raw(Some(padded(MAX_RESPONSE_BYTES)));
    assert_eq!(app.status("at-the-limit").await, 200);
    server.serve_raw(Some(padded(MAX_RESPONSE_BYTES + 1)));
    assert_unavailable(app.send("over-the-limit").await).await;
    server.serve_raw(Some(padded(4 * MAX_RESPONSE_BYTES)));
    assert_unavailable(app.send("far-over-the-limit").await).await;
}

#[tokio::test]
async fn a_slow_endpoint_times_out_as_unavailable() {
    let server = IntrospectionServer::start().await;
    let app = app(|b| {
        b.introspection(
            server.issuer(),
            settings(&server).timeout(Duration::from_millis(200)),
        )
    })
    .await;
    server.register("opaque-abc", app.active(&server));
    server.set_delay(Duration::from_secs(30));
    // `App::post` fails the test if no answer comes within 20 seconds.
    assert_unavailable(app.send("opaque-abc").await).await;
    assert_eq!(server.introspections(), 1);
    server.set_delay(Duration::ZERO);
    assert_eq!(app.status("opaque-abc").await, 200);
}

// ---------------------------------------------------------------------------------------------
// The same rules as for JWTs
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn active_answers_pass_the_jwt_claim_rules() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    let active = app.active(&server);
    struct Case {
        name: &'static str,
        answer: Value,
        refused: Option<TokenErrorKind>,
    }
    let case = |name, member: &str, value: Value, refused| Case {
        name,
        answer: with(active.clone(), member, value),
        refused,
    };
    let cases = [
        case("as is", "sub", json!("user-1"), None),
        case(
            "aud of another resource",
            "aud",
            json!("https://other.example.com/mcp"),
            Some(TokenErrorKind::WrongAudience),
        ),
        case(
            "aud list naming the resource",
            "aud",
            json!(["https://other.example.com/mcp", app.resource]),
            None,
        ),
        case(
            "no aud",
            "aud",
            Value::Null,
            Some(TokenErrorKind::MissingClaim),
        ),
        case(
            "no exp",
            "exp",
            Value::Null,
            Some(TokenErrorKind::MissingClaim),
        ),
        case(
            "expired",
            "exp",
            now_plus(-3600),
            Some(TokenErrorKind::Expired),
        ),
        case("expired within the leeway", "exp", now_plus(-10), None),
        case(
            "exp a string",
            "exp",
            json!("4102444800"),
            Some(TokenErrorKind::InvalidClaim),
        ),
        case(
            "nbf ahead",
            "nbf",
            now_plus(3600),
            Some(TokenErrorKind::NotYetValid),
        ),
        case(
            "iat ahead",
            "iat",
            now_plus(3600),
            Some(TokenErrorKind::IssuedInFuture),
        ),
        case(
            "iss of another issuer",
            "iss",
            json!("https://other.example.com"),
            Some(TokenErrorKind::UntrustedIssuer),
        ),
        case("no iss", "iss", Value::Null, None),
        case(
            "refresh token",
            "token_type",
            json!("refresh_token"),
            Some(TokenErrorKind::UnacceptedType),
        ),
        case(
            "id token",
            "token_type",
            json!("urn:ietf:params:oauth:token-type:id_token"),
            Some(TokenErrorKind::UnacceptedType),
        ),
        case(
            "access token URN",
            "token_type",
            json!("urn:ietf:params:oauth:token-type:access_token"),
            None,
        ),
        case("no token_type", "token_type", Value::Null, None),
        case(
            "sub a number",
            "sub",
            json!(7),
            Some(TokenErrorKind::InvalidClaim),
        ),
        case(
            "scope an object",
            "scope",
            json!({}),
            Some(TokenErrorKind::InvalidClaim),
        ),
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let token = format!("opaque-rules-{i}");
        server.register(&token, case.answer);
        let response = app.send(&token).await;
        match case.refused {
            None => assert_eq!(response.status(), 200, "{}", case.name),
            Some(kind) => {
                assert_eq!(response.status(), 401, "{}", case.name);
                assert_invalid_token(response, kind.description()).await;
            }
        }
    }
}

/// Some servers answer with `active`, `client_id`, `scope` and `exp` only. Refused by default
/// (as a JWT without `aud` is); accepted for the issuer that opts out, whose answers with an
/// `aud` are still checked. JWTs, even of that issuer, still need `aud`.
#[tokio::test]
async fn an_answer_without_aud_is_accepted_only_where_the_issuer_opts_out() {
    let server = IntrospectionServer::start().await;
    // The same issuer with signing keys: its JWTs are verified locally.
    let issuer = TestIssuer::new(server.issuer());
    let strict = introspecting_app(&server).await;
    let lenient = app(|b| {
        b.issuer(issuer.issuer(), issuer.keys()).introspection(
            server.issuer(),
            settings(&server).allow_missing_audience(true),
        )
    })
    .await;
    let without_aud = json!({
        "active": true,
        "client_id": "client-1",
        "scope": "mcp:tools",
        "exp": now_plus(3600),
    });
    server.register("opaque-no-aud", without_aud.clone());

    assert_invalid_token(
        strict.send("opaque-no-aud").await,
        TokenErrorKind::MissingClaim.description(),
    )
    .await;

    let response = lenient.send("opaque-no-aud").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let verified = &body["verified"];
    assert_eq!(verified["aud"], json!([]), "no audience to report");
    assert_eq!(verified["client_id"], "client-1");
    assert_eq!(verified["scopes"], json!(["mcp:tools"]));

    // An answer that names an audience must name this resource, opt-out or not.
    let refused = [
        (
            "another resource",
            json!("https://other.example.com/mcp"),
            "wrong",
        ),
        (
            "a list of others",
            json!(["https://other.example.com/mcp"]),
            "wrong",
        ),
        ("an empty list", json!([]), "wrong"),
        ("null", Value::Null, "invalid"),
        ("a number", json!(7), "invalid"),
    ];
    for (i, (name, aud, kind)) in refused.into_iter().enumerate() {
        let token = format!("opaque-aud-{i}");
        let mut answer = without_aud.clone();
        answer["aud"] = aud;
        server.register(&token, answer);
        let kind = match kind {
            "wrong" => TokenErrorKind::WrongAudience,
            _ => TokenErrorKind::InvalidClaim,
        };
        let response = lenient.send(&token).await;
        assert_eq!(response.status(), 401, "{name}");
        assert_invalid_token(response, kind.description()).await;
    }
    server.register(
        "opaque-aud-ok",
        with(without_aud, "aud", json!([lenient.resource])),
    );
    assert_eq!(lenient.status("opaque-aud-ok").await, 200);

    // The opt-out is about introspection answers: a JWT without `aud` is refused.
    let jwt = issuer
        .token()
        .scope("mcp:tools")
        .without_claim("aud")
        .sign();
    assert_invalid_token(
        lenient.send(&jwt).await,
        TokenErrorKind::MissingClaim.description(),
    )
    .await;
}

#[tokio::test]
async fn a_missing_required_scope_is_insufficient_scope() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    server.register(
        "opaque-read-only",
        with(app.active(&server), "scope", json!("files:read")),
    );
    let response = app.send("opaque-read-only").await;
    assert_eq!(response.status(), 403);
    let parsed = challenge(&response);
    assert_eq!(parsed.get("error"), Some("insufficient_scope"));
    assert_eq!(parsed.get("scope"), Some("mcp:tools"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");
}

#[tokio::test]
async fn per_tool_scopes_step_up_introspected_tokens() {
    let server = IntrospectionServer::start().await;
    let app = app(|b| {
        b.introspection(server.issuer(), settings(&server))
            .tool_scope("admin_reset", "mcp:admin")
    })
    .await;
    let call = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"admin_reset","arguments":{}}}"#;
    server.register(
        "opaque-user",
        with(app.active(&server), "scope", json!("mcp:tools")),
    );
    server.register(
        "opaque-admin",
        with(app.active(&server), "scope", json!("mcp:tools mcp:admin")),
    );

    let response = app.post("opaque-user", call).await;
    assert_eq!(response.status(), 403);
    let parsed = challenge(&response);
    assert_eq!(parsed.get("error"), Some("insufficient_scope"));
    assert_eq!(parsed.get("scope"), Some("mcp:tools mcp:admin"));
    // The same token may still list tools.
    assert_eq!(app.status("opaque-user").await, 200);
    assert_eq!(app.post("opaque-admin", call).await.status(), 200);
}

#[tokio::test]
async fn profiles_apply_to_introspected_tokens() {
    let server = IntrospectionServer::start().await;
    let app = app(|b| {
        b.introspection(server.issuer(), settings(&server)).profile(
            server.issuer(),
            IssuerProfile::new()
                .audience("api://mcp-alias")
                .require_claim(ClaimRequirement::equals("tid", "tenant-1"))
                .policy("Only staff may use this server", |token| {
                    token.claims().get("staff") == Some(&json!(true))
                }),
        )
    })
    .await;
    let base = with(
        with(app.active(&server), "tid", json!("tenant-1")),
        "staff",
        json!(true),
    );
    server.register("staff", base.clone());
    server.register("alias", with(base.clone(), "aud", json!("api://mcp-alias")));
    server.register("other-tenant", with(base.clone(), "tid", json!("tenant-2")));
    server.register("no-tenant", with(base.clone(), "tid", Value::Null));
    server.register("visitor", with(base.clone(), "staff", json!(false)));

    assert_eq!(app.status("staff").await, 200);
    assert_eq!(app.status("alias").await, 200);
    let mismatch = TokenErrorKind::ClaimMismatch.description();
    assert_invalid_token(app.send("other-tenant").await, mismatch).await;
    assert_invalid_token(app.send("no-tenant").await, mismatch).await;

    let response = app.send("visitor").await;
    assert_eq!(response.status(), 403);
    let parsed = challenge(&response);
    assert_eq!(parsed.get("error"), Some("access_denied"));
    assert_eq!(
        parsed.get("error_description"),
        Some("Only staff may use this server")
    );
    assert_eq!(parsed.get("scope"), None);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "access_denied");
}

// ---------------------------------------------------------------------------------------------
// The cache
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_cached_answer_saves_the_next_introspection() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    server.register("opaque-abc", app.active(&server));
    server.register("opaque-abC", app.active(&server));
    for _ in 0..5 {
        assert_eq!(app.status("opaque-abc").await, 200);
    }
    assert_eq!(server.introspections(), 1);
    // The key is the whole token, byte for byte.
    assert_eq!(app.status("opaque-abC").await, 200);
    assert_eq!(server.introspections(), 2);
}

/// Sleeps until the clock has passed `unix` (whole seconds, as the cache counts).
async fn sleep_until_unix(unix: u64) {
    while unix_now() < unix {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_revoked_token_is_accepted_until_its_entry_reaches_max_age() {
    let server = IntrospectionServer::start().await;
    let max_age = 2;
    let app = app(|b| {
        b.introspection(
            server.issuer(),
            settings(&server).cache(TokenCacheConfig::new().max_age(Duration::from_secs(max_age))),
        )
    })
    .await;
    server.register("opaque-abc", app.active(&server));
    assert_eq!(app.status("opaque-abc").await, 200);
    let stored_by = unix_now();

    // Revoked at the authorization server. The staleness bound is `max_age`: a revoked token
    // is accepted from the cache for up to `max_age` after its answer was stored (counted in
    // whole seconds, so between 1 and 2 seconds here), as the module docs warn. This request
    // comes within milliseconds.
    server.register("opaque-abc", json!({"active": false}));
    assert_eq!(app.status("opaque-abc").await, 200);
    assert_eq!(server.introspections(), 1);

    // Once the entry has reached max_age, the token is asked about again and refused.
    sleep_until_unix(stored_by + max_age).await;
    assert_invalid_token(
        app.send("opaque-abc").await,
        TokenErrorKind::Inactive.description(),
    )
    .await;
    assert_eq!(server.introspections(), 2);
}

#[tokio::test]
async fn entries_never_outlive_max_age() {
    let server = IntrospectionServer::start().await;
    let app = app(|b| {
        b.introspection(
            server.issuer(),
            settings(&server).cache(TokenCacheConfig::new().max_age(Duration::from_secs(1))),
        )
    })
    .await;
    server.register("opaque-abc", app.active(&server));
    assert_eq!(app.status("opaque-abc").await, 200);
    let stored_by = unix_now();
    sleep_until_unix(stored_by + 1).await;
    assert_eq!(app.status("opaque-abc").await, 200);
    assert_eq!(server.introspections(), 2);
}

#[tokio::test]
async fn entries_never_outlive_the_tokens_exp() {
    let server = IntrospectionServer::start().await;
    // A long max_age: only `exp` can end the entry.
    let app = app(|b| {
        b.introspection(
            server.issuer(),
            settings(&server).cache(TokenCacheConfig::new().max_age(Duration::from_secs(600))),
        )
    })
    .await;
    let exp = unix_now() + 2;
    server.register("opaque-abc", with(app.active(&server), "exp", json!(exp)));
    assert_eq!(app.status("opaque-abc").await, 200);
    assert_eq!(app.status("opaque-abc").await, 200);
    assert_eq!(server.introspections(), 1, "cached before exp");

    sleep_until_unix(exp).await;
    // Past `exp` but within the 60 s leeway: accepted, yet asked again every time, since an
    // entry ends at `exp` itself.
    assert_eq!(app.status("opaque-abc").await, 200);
    assert_eq!(server.introspections(), 2);
    assert_eq!(app.status("opaque-abc").await, 200);
    assert_eq!(server.introspections(), 3);
}

#[tokio::test]
async fn without_a_cache_every_request_introspects() {
    let server = IntrospectionServer::start().await;
    let app = app(|b| {
        b.introspection(
            server.issuer(),
            settings(&server).cache(TokenCacheConfig::disabled()),
        )
    })
    .await;
    server.register("opaque-abc", app.active(&server));
    for i in 1..=4 {
        assert_eq!(app.status("opaque-abc").await, 200);
        assert_eq!(server.introspections(), i);
    }
}

#[tokio::test]
async fn the_cache_holds_a_bounded_number_of_answers() {
    let server = IntrospectionServer::start().await;
    let app = app(|b| {
        b.introspection(
            server.issuer(),
            settings(&server).cache(TokenCacheConfig::new().capacity(4)),
        )
    })
    .await;
    let tokens: Vec<String> = (0..40).map(|i| format!("opaque-{i}")).collect();
    for token in &tokens {
        server.register(token, app.active(&server));
        assert_eq!(app.status(token).await, 200);
    }
    assert_eq!(server.introspections(), 40);
    for token in &tokens {
        assert_eq!(app.status(token).await, 200);
    }
    // About four answers fit; nearly every token is asked about again.
    let again = server.introspections() - 40;
    assert!(again >= 30, "only {again} of 40 introspected again");
    // Yet the cache works: the token just answered is still held.
    let last = tokens.last().unwrap();
    assert_eq!(app.status(last).await, 200);
    assert_eq!(server.introspections(), 40 + again);
}

#[tokio::test]
async fn the_cache_holds_a_bounded_number_of_bytes() {
    let server = IntrospectionServer::start().await;
    let app = app(|b| {
        b.introspection(
            server.issuer(),
            settings(&server).cache(TokenCacheConfig::new().max_bytes(1024 * 1024)),
        )
    })
    .await;
    // 12 KiB tokens with answers of about 10 KiB (230 group ids): each entry counts about
    // 60 KB, so about a dozen fit in 1 MiB, far below the capacity of 10 000.
    let groups: Vec<String> = (0..230)
        .map(|i| format!("{i:08x}-7c1e-4b5a-9f3d-0123456789ab"))
        .collect();
    let answer = with(app.active(&server), "groups", json!(groups));
    let tokens: Vec<String> = (0..40)
        .map(|i| format!("opaque-{i:02}-{}", "x".repeat(12 * 1024)))
        .collect();
    for token in &tokens {
        server.register(token, answer.clone());
        assert_eq!(app.status(token).await, 200);
    }
    assert_eq!(server.introspections(), 40);
    for token in &tokens {
        assert_eq!(app.status(token).await, 200);
    }
    // Most answers were evicted to stay within the bytes: asked about again.
    let again = server.introspections() - 40;
    assert!(again >= 20, "only {again} of 40 introspected again");
    // Evicted, not refused: the token just answered is held.
    let last = tokens.last().unwrap();
    assert_eq!(app.status(last).await, 200);
    assert_eq!(server.introspections(), 40 + again);
}

// ---------------------------------------------------------------------------------------------
// Single flight
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn concurrent_requests_with_one_token_share_one_introspection() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    server.register("opaque-abc", app.active(&server));
    // Every request arrives while the first introspection is still waiting for its answer.
    server.set_delay(Duration::from_millis(500));
    let statuses = concurrently(&app, ["opaque-abc"; 20]).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(server.introspections(), 1);
}

#[tokio::test]
async fn concurrent_requests_with_different_tokens_are_introspected_apart() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    let tokens: Vec<String> = (0..5).map(|i| format!("opaque-{i}")).collect();
    for token in &tokens {
        server.register(token, app.active(&server));
    }
    server.set_delay(Duration::from_millis(300));
    let twice = tokens.iter().flat_map(|t| [t.as_str(), t.as_str()]);
    let statuses = concurrently(&app, twice).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(server.introspections(), 5);
}

/// Sends every token at once; the statuses in order.
async fn concurrently<'a>(app: &App, tokens: impl IntoIterator<Item = &'a str>) -> Vec<u16> {
    let handles: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let (url, token) = (app.url.clone(), token.to_owned());
            tokio::spawn(async move { post_to(&url, &token, TOOLS_LIST).await.status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for handle in handles {
        statuses.push(handle.await.unwrap());
    }
    statuses
}

// ---------------------------------------------------------------------------------------------
// Composition with keys and other issuers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_issuer_with_keys_verifies_its_jwts_locally_and_introspects_opaque_tokens() {
    let server = IntrospectionServer::start().await;
    // The same issuer, with signing keys too.
    let issuer = TestIssuer::new(server.issuer());
    let app = app(|b| {
        b.issuer(issuer.issuer(), issuer.keys())
            .introspection(server.issuer(), settings(&server))
    })
    .await;
    let jwt = issuer
        .token()
        .audience(app.resource.clone())
        .scope("mcp:tools")
        .sign();
    // Were it sent, the endpoint would accept it: only the count tells.
    server.register(&jwt, app.active(&server));
    assert_eq!(app.status(&jwt).await, 200);
    assert_eq!(server.introspections(), 0, "verified with the keys");

    // A JWT naming this issuer that fails locally is refused, not introspected.
    let expired = issuer
        .token()
        .audience(app.resource.clone())
        .scope("mcp:tools")
        .expires_in(-3600)
        .sign();
    server.register(&expired, app.active(&server));
    assert_invalid_token(
        app.send(&expired).await,
        TokenErrorKind::Expired.description(),
    )
    .await;
    assert_eq!(server.introspections(), 0);

    server.register("opaque-abc", app.active(&server));
    assert_eq!(app.status("opaque-abc").await, 200);
    assert_eq!(server.introspections(), 1);
}

#[tokio::test]
async fn a_jwt_of_an_issuer_without_keys_is_introspected() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    // Signed by a key the resource server does not know: only the answer counts.
    let minter = TestIssuer::new(server.issuer());
    let jwt = minter
        .token()
        .audience(app.resource.clone())
        .scope("mcp:tools")
        .sign();
    server.register(
        &jwt,
        with(app.active(&server), "sub", json!("from-the-answer")),
    );
    let response = app.send(&jwt).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["verified"]["sub"], "from-the-answer");
    assert_eq!(server.introspections(), 1);
    assert_eq!(
        server.last_request().unwrap().field("token"),
        Some(jwt.as_str())
    );
}

/// A JWT of `issuer` for `resource` with `mcp:tools`.
fn jwt<'a>(
    issuer: &'a TestIssuer,
    resource: &str,
) -> mcp_server_auth_dev::testing::TokenBuilder<'a> {
    issuer.token().audience(resource).scope("mcp:tools")
}

#[tokio::test]
async fn jwts_of_other_issuers_never_reach_the_introspection_endpoint() {
    let server = IntrospectionServer::start().await;
    let other = TestIssuer::new("https://other.example.com");
    let stranger = TestIssuer::new("https://stranger.example.com");
    let app = app(|b| {
        b.introspection(server.issuer(), settings(&server))
            .issuer(other.issuer(), other.keys())
    })
    .await;
    let token = |issuer| jwt(issuer, &app.resource);
    let valid = token(&other).sign();
    let expired = token(&other).expires_in(-3600).sign();
    let wrong_audience = token(&other)
        .audience("https://else.example.com/mcp")
        .sign();
    let forged = {
        // The signature's first character changed: a forgery of the same length.
        let good = token(&other).sign();
        let (input, signature) = good.rsplit_once('.').unwrap();
        let first = if signature.starts_with('A') { 'B' } else { 'A' };
        format!("{input}.{first}{}", &signature[1..])
    };
    let untrusted = token(&stranger).sign();
    for jwt in [&valid, &expired, &wrong_audience, &forged, &untrusted] {
        // Were any sent, the endpoint would call it active.
        server.register(jwt, app.active(&server));
    }
    assert_eq!(app.status(&valid).await, 200);
    for (jwt, kind) in [
        (&expired, TokenErrorKind::Expired),
        (&wrong_audience, TokenErrorKind::WrongAudience),
        (&untrusted, TokenErrorKind::UntrustedIssuer),
    ] {
        assert_invalid_token(app.send(jwt).await, kind.description()).await;
    }
    assert_eq!(app.status(&forged).await, 401);
    assert_eq!(server.introspections(), 0);
}

#[test]
fn introspection_settings_are_checked_at_build_time() {
    let resource = "https://mcp.example.com/mcp";
    let build = |configure: &dyn Fn(McpAuthBuilder) -> McpAuthBuilder| {
        configure(McpAuth::builder(resource)).build()
    };
    let two = build(&|b| {
        b.introspection("https://a.example.com", Introspection::new("rs", "secret"))
            .introspection("https://b.example.com", Introspection::new("rs", "secret"))
    });
    assert!(
        matches!(two.as_ref().map_err(first), Err(ProblemKind::Introspection { issuer, .. }) if issuer == "https://b.example.com"),
        "{two:?}"
    );

    let refused = [
        ("empty client id", Introspection::new("", "secret")),
        ("empty client secret", Introspection::new("rs", "")),
        (
            "http endpoint",
            Introspection::new("rs", "secret").endpoint("http://a.example.com/introspect"),
        ),
        (
            "relative endpoint",
            Introspection::new("rs", "secret").endpoint("/introspect"),
        ),
    ];
    for (name, settings) in refused {
        let result = build(&|b| b.introspection("https://a.example.com", settings.clone()));
        assert!(
            matches!(result.as_ref().map_err(first), Err(ProblemKind::Introspection { issuer, .. }) if issuer == "https://a.example.com"),
            "{name}: {result:?}"
        );
    }
    let zero_timeout = build(&|b| {
        b.introspection(
            "https://a.example.com",
            Introspection::new("rs", "secret").timeout(Duration::ZERO),
        )
    });
    assert!(
        matches!(
            zero_timeout.as_ref().map_err(first),
            Err(ProblemKind::InvalidDuration { .. })
        ),
        "{zero_timeout:?}"
    );
    // Never the secret in an error or in Debug.
    let debug = format!("{:?}", Introspection::new("rs", "very-secret-value"));
    assert!(!debug.contains("very-secret-value"));

    assert!(
        build(&|b| b.introspection("https://a.example.com", Introspection::new("rs", "s"))).is_ok()
    );
}

// ---------------------------------------------------------------------------------------------
// The validator
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn validate_needs_introspection_until_validate_async_has_cached_the_answer() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    server.register("opaque-abc", app.active(&server));
    let validator = app.auth.validator();

    let error = validator.validate("opaque-abc", unix_now()).unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::IntrospectionRequired);
    assert_eq!(server.introspections(), 0, "validate never does I/O");

    let verified = validator
        .validate_async("opaque-abc", unix_now())
        .await
        .unwrap();
    assert_eq!(verified.subject(), Some("user-1"));
    assert_eq!(server.introspections(), 1);

    let cached = validator.validate("opaque-abc", unix_now()).unwrap();
    assert_eq!(cached.subject(), Some("user-1"));
    assert_eq!(cached.scopes(), ["mcp:tools", "files:read"]);
    // The layer shares the cache.
    assert_eq!(app.status("opaque-abc").await, 200);
    assert_eq!(server.introspections(), 1);
}

#[tokio::test]
async fn validate_async_reports_inactive_and_unavailable() {
    let server = IntrospectionServer::start().await;
    let app = introspecting_app(&server).await;
    let validator = app.auth.validator();
    let inactive = validator
        .validate_async("never-issued", unix_now())
        .await
        .unwrap_err();
    assert_eq!(inactive.kind(), TokenErrorKind::Inactive);
    assert_eq!(inactive.retry_after_secs(), None);

    server.fail_with(Some(500));
    let unavailable = validator
        .validate_async("never-issued", unix_now())
        .await
        .unwrap_err();
    assert_eq!(unavailable.kind(), TokenErrorKind::IntrospectionUnavailable);
    assert!(unavailable.retry_after_secs().is_some());
}

/// An issuer whose keys and introspection endpoint are both discovered costs its
/// authorization server one metadata fetch: the document is shared.
#[tokio::test]
async fn an_issuer_used_for_keys_and_introspection_fetches_its_metadata_once() {
    let server = IntrospectionServer::start().await;
    let signer = TestIssuer::new(server.issuer());
    server.serve_jwks(json!({ "keys": [signer.jwk()] }));
    let app = app(|b| {
        b.authorization_server(server.issuer()).introspection(
            server.issuer(),
            Introspection::new(CLIENT_ID, CLIENT_SECRET),
        )
    })
    .await;
    // A JWT of the issuer: its keys are discovered and fetched.
    let jwt = signer
        .token()
        .audience(app.resource.clone())
        .scope("mcp:tools")
        .sign();
    assert_eq!(app.status(&jwt).await, 200);
    // An opaque token: the introspection endpoint comes from the same document.
    server.register("opaque-token-of-the-issuer", app.active(&server));
    assert_eq!(app.status("opaque-token-of-the-issuer").await, 200);
    assert_eq!(server.introspections(), 1);
    assert_eq!(
        server.metadata_fetches(),
        1,
        "one metadata fetch for keys and introspection"
    );
}
