//! The recipes against tokens shaped as each provider issues them: the real shape is accepted
//! and read as the provider meant, near-misses are refused for the right reason. Tokens come
//! from a `TestIssuer` holding the recipe's exact issuer string and signing with the
//! provider's algorithm; nothing touches the network but loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use http::{Request, StatusCode};
use mcp_server_auth::introspect::Introspection;
use mcp_server_auth::keys::Algorithm;
use mcp_server_auth::profile::IssuerProfile;
use mcp_server_auth::recipes::{self, Recipe};
use mcp_server_auth::validate::TokenErrorKind;
use mcp_server_auth::{McpAuth, McpAuthBuilder, VerifiedToken};
use mcp_server_auth_dev::testing::{TestIssuer, TokenBuilder, unix_now};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const RESOURCE: &str = "https://mcp.example.com/mcp";

/// A provider stand-in: the recipe, an offline issuer with the recipe's issuer string, and a
/// configuration trusting that issuer's keys under the recipe's profile.
struct Provider {
    recipe: Recipe,
    issuer: TestIssuer,
    auth: McpAuth,
}

impl Provider {
    /// RS256, as every provider here signs by default.
    fn new(recipe: Recipe) -> Self {
        Self::with(recipe, |builder| builder)
    }

    fn with(recipe: Recipe, configure: impl FnOnce(McpAuthBuilder) -> McpAuthBuilder) -> Self {
        let issuer = TestIssuer::with_algorithm(recipe.issuer(), Algorithm::RS256);
        let auth = configure(
            McpAuth::builder(RESOURCE)
                .issuer(recipe.issuer(), issuer.keys())
                .profile(recipe.issuer(), recipe.profile().clone()),
        )
        .build()
        .unwrap();
        Provider {
            recipe,
            issuer,
            auth,
        }
    }

    /// A token with nothing provider-specific: header `alg` and `kid`, claims `iss`, `iat`
    /// and `exp`. Each test adds what its provider sends.
    fn bare(&self) -> TokenBuilder<'_> {
        self.issuer
            .token()
            .without_header("typ")
            .without_claim("sub")
            .without_claim("client_id")
            .without_claim("jti")
    }

    fn check(&self, token: TokenBuilder<'_>) -> Result<VerifiedToken, TokenErrorKind> {
        self.auth
            .validator()
            .validate(&token.sign(), unix_now())
            .map_err(|e| e.kind())
    }

    fn accepts(&self, token: TokenBuilder<'_>) -> VerifiedToken {
        let issuer = self.recipe.issuer();
        self.check(token)
            .map_err(|kind| format!("{issuer} refused its own token shape: {kind:?}"))
            .unwrap()
    }

    /// Every near-miss, with the kind each must be refused with.
    fn refuses(&self, cases: Vec<(&str, TokenBuilder<'_>, TokenErrorKind)>) {
        for (name, token, kind) in cases {
            assert_eq!(self.check(token).err(), Some(kind), "{name}");
        }
    }
}

/// Sends `token` through the whole layer to a handler that echoes the verified subject.
async fn call(auth: &McpAuth, token: &str) -> (StatusCode, http::HeaderMap, Value) {
    async fn whoami(token: VerifiedToken) -> axum::Json<Value> {
        axum::Json(json!({
            "sub": token.subject(),
            "client_id": token.client_id(),
            "scopes": token.scopes(),
        }))
    }
    let app = Router::new()
        .route("/mcp", post(whoami))
        .layer(auth.layer());
    let request = Request::post("/mcp")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap();
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, headers, body)
}

#[test]
fn each_recipe_names_its_issuer_and_keys_and_lists_the_issuer_in_metadata() {
    let tenant = "9122040d-6c67-4c5b-b112-36a304b66dad";
    let cases = [
        (
            recipes::auth0("example-tenant.us.auth0.com"),
            "https://example-tenant.us.auth0.com/",
            Some("https://example-tenant.us.auth0.com/.well-known/jwks.json"),
        ),
        (
            recipes::okta("dev-123456.okta.com", "default"),
            "https://dev-123456.okta.com/oauth2/default",
            Some("https://dev-123456.okta.com/oauth2/default/v1/keys"),
        ),
        (
            recipes::entra_v2(tenant, "app"),
            "https://login.microsoftonline.com/9122040d-6c67-4c5b-b112-36a304b66dad/v2.0",
            Some(
                "https://login.microsoftonline.com/9122040d-6c67-4c5b-b112-36a304b66dad/discovery/v2.0/keys",
            ),
        ),
        (
            recipes::entra_v1(tenant, "app"),
            "https://sts.windows.net/9122040d-6c67-4c5b-b112-36a304b66dad/",
            Some(
                "https://login.microsoftonline.com/9122040d-6c67-4c5b-b112-36a304b66dad/discovery/keys",
            ),
        ),
        (
            recipes::keycloak("https://sso.example.com/", "mcp"),
            "https://sso.example.com/realms/mcp",
            Some("https://sso.example.com/realms/mcp/protocol/openid-connect/certs"),
        ),
        (
            recipes::keycloak("https://sso.example.com/auth", "mcp"),
            "https://sso.example.com/auth/realms/mcp",
            Some("https://sso.example.com/auth/realms/mcp/protocol/openid-connect/certs"),
        ),
        (
            recipes::stytch("https://login.example.com/", "project-live-1"),
            "https://login.example.com",
            None,
        ),
        (
            recipes::workos("example-app.authkit.app"),
            "https://example-app.authkit.app",
            Some("https://example-app.authkit.app/oauth2/jwks"),
        ),
        (
            recipes::hydra("https://example.projects.oryapis.com"),
            "https://example.projects.oryapis.com",
            Some("https://example.projects.oryapis.com/.well-known/jwks.json"),
        ),
        (
            recipes::hydra("https://hydra.example.com/"),
            "https://hydra.example.com/",
            Some("https://hydra.example.com/.well-known/jwks.json"),
        ),
        (
            recipes::oidc_provider("https://op.example.com/oidc"),
            "https://op.example.com/oidc",
            None,
        ),
    ];
    for (recipe, issuer, jwks_uri) in cases {
        assert_eq!(recipe.issuer(), issuer);
        assert_eq!(recipe.jwks_uri(), jwks_uri, "{issuer}");
        // Building is lazy: no key is fetched here.
        let auth = McpAuth::builder(RESOURCE)
            .recipe(recipe)
            .require_scope("mcp:tools")
            .build()
            .unwrap();
        assert_eq!(auth.metadata().authorization_servers, [issuer]);
        assert_eq!(auth.validator().issuers().collect::<Vec<_>>(), [issuer]);
    }
}

// ---------------------------------------------------------------------------------------------
// Auth0

const AUTH0_DOMAIN: &str = "example-tenant.us.auth0.com";

#[test]
fn auth0_tokens_of_both_profiles_are_accepted() {
    let auth0 = Provider::new(recipes::auth0(AUTH0_DOMAIN));

    // The "Auth0" profile with RBAC, `openid` requested too: `aud` an array with userinfo,
    // the client in `azp`, permissions in an array.
    let user = auth0.accepts(
        auth0
            .bare()
            .header("typ", "JWT")
            .claim(
                "aud",
                json!([RESOURCE, "https://example-tenant.us.auth0.com/userinfo"]),
            )
            .subject("auth0|64f1c2")
            .claim("azp", "Vn1kq2AbCd")
            .claim("scope", "openid profile mcp:tools")
            .claim("permissions", json!(["mcp:tools", "mcp:admin"])),
    );
    assert_eq!(user.subject(), Some("auth0|64f1c2"));
    assert_eq!(user.client_id(), Some("Vn1kq2AbCd"));
    assert_eq!(
        user.scopes(),
        ["openid", "profile", "mcp:tools", "mcp:admin"]
    );

    // The "RFC 9068" profile, client credentials: `at+jwt`, `client_id`, `sub` `…@clients`.
    let machine = auth0.accepts(
        auth0
            .bare()
            .header("typ", "at+jwt")
            .audience(RESOURCE)
            .subject("Vn1kq2AbCd@clients")
            .client_id("Vn1kq2AbCd")
            .claim("jti", "a1b2c3")
            .claim("gty", "client-credentials")
            .scope("mcp:tools"),
    );
    assert_eq!(machine.subject(), Some("Vn1kq2AbCd@clients"));
    assert_eq!(machine.client_id(), Some("Vn1kq2AbCd"));
    assert_eq!(machine.scopes(), ["mcp:tools"]);
}

#[test]
fn auth0_near_misses_are_refused() {
    let auth0 = Provider::new(recipes::auth0(AUTH0_DOMAIN));
    let shaped = || {
        auth0
            .bare()
            .header("typ", "JWT")
            .audience(RESOURCE)
            .subject("auth0|64f1c2")
            .claim("azp", "Vn1kq2AbCd")
            .scope("mcp:tools")
    };
    assert!(auth0.check(shaped()).is_ok());
    auth0.refuses(vec![
        (
            "issuer without the trailing slash",
            shaped().claim("iss", "https://example-tenant.us.auth0.com"),
            TokenErrorKind::UntrustedIssuer,
        ),
        (
            "another tenant",
            shaped().claim("iss", "https://other-tenant.us.auth0.com/"),
            TokenErrorKind::UntrustedIssuer,
        ),
        (
            "audience of another API",
            shaped().audience("https://api.example.com/orders"),
            TokenErrorKind::WrongAudience,
        ),
        (
            "only the userinfo audience",
            shaped().audience("https://example-tenant.us.auth0.com/userinfo"),
            TokenErrorKind::WrongAudience,
        ),
        (
            "scope as an array",
            shaped().claim("scope", json!(["mcp:tools"])),
            TokenErrorKind::InvalidClaim,
        ),
        (
            "permissions as a string",
            shaped().claim("permissions", "mcp:tools"),
            TokenErrorKind::InvalidClaim,
        ),
        (
            "an ID token: aud the client id, with nonce",
            shaped()
                .audience("Vn1kq2AbCd")
                .without_claim("scope")
                .claim("nonce", "n-0S6_WzA2Mj"),
            TokenErrorKind::UnacceptedType,
        ),
        (
            "an ID token without nonce",
            shaped().audience("Vn1kq2AbCd").without_claim("scope"),
            TokenErrorKind::WrongAudience,
        ),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Okta

#[test]
fn okta_custom_authorization_server_tokens_are_accepted() {
    let okta = Provider::new(recipes::okta("dev-123456.okta.com", "aus8x1mcp"));
    // No `typ` header, `ver` the number 1, `scp` an array, the client in `cid`.
    let user = okta.accepts(
        okta.bare()
            .claim("ver", 1)
            .claim("jti", "AT.qW3rTy")
            .audience(RESOURCE)
            .claim("cid", "0oa1b2c3d4")
            .claim("uid", "00u9z8y7")
            .claim("scp", json!(["openid", "mcp:tools"]))
            .claim("auth_time", 1_700_000_000)
            .subject("ada@example.com"),
    );
    assert_eq!(user.subject(), Some("ada@example.com"));
    assert_eq!(user.client_id(), Some("0oa1b2c3d4"));
    assert_eq!(user.scopes(), ["openid", "mcp:tools"]);

    let machine = okta.accepts(
        okta.bare()
            .claim("ver", 1)
            .audience(RESOURCE)
            .claim("cid", "0oa1b2c3d4")
            .claim("scp", json!(["mcp:tools"]))
            .subject("0oa1b2c3d4"),
    );
    assert_eq!(machine.client_id(), Some("0oa1b2c3d4"));
    assert_eq!(machine.subject(), machine.client_id());
}

#[test]
fn okta_near_misses_and_org_server_tokens_are_refused() {
    let okta = Provider::new(recipes::okta("dev-123456.okta.com", "aus8x1mcp"));
    let shaped = || {
        okta.bare()
            .claim("ver", 1)
            .audience(RESOURCE)
            .claim("cid", "0oa1b2c3d4")
            .claim("scp", json!(["mcp:tools"]))
            .subject("ada@example.com")
    };
    assert!(okta.check(shaped()).is_ok());
    let org = "https://dev-123456.okta.com";
    okta.refuses(vec![
        (
            "org authorization server",
            shaped()
                .header("typ", "application/okta-internal-at+jwt")
                .claim("iss", org)
                .audience(org),
            TokenErrorKind::UntrustedIssuer,
        ),
        (
            "the org server's token type under the custom server's issuer",
            shaped().header("typ", "application/okta-internal-at+jwt"),
            TokenErrorKind::UnacceptedType,
        ),
        (
            "the `default` custom server rather than this one",
            shaped().claim("iss", "https://dev-123456.okta.com/oauth2/default"),
            TokenErrorKind::UntrustedIssuer,
        ),
        (
            "`ver` as a string",
            shaped().claim("ver", "1"),
            TokenErrorKind::ClaimMismatch,
        ),
        (
            "no `ver`",
            shaped().without_claim("ver"),
            TokenErrorKind::ClaimMismatch,
        ),
        (
            "`scp` as a string",
            shaped().claim("scp", "mcp:tools"),
            TokenErrorKind::InvalidClaim,
        ),
        (
            "the default audience of another authorization server",
            shaped().audience("api://default"),
            TokenErrorKind::WrongAudience,
        ),
        (
            "an ID token",
            shaped()
                .audience("0oa1b2c3d4")
                .claim("nonce", "n-1")
                .claim("at_hash", "x"),
            TokenErrorKind::UnacceptedType,
        ),
    ]);
    // Read as Okta means it: `client_id` is not Okta's client claim.
    let verified = okta.accepts(shaped().without_claim("cid").client_id("someone-else"));
    assert_eq!(verified.client_id(), None);
}

// ---------------------------------------------------------------------------------------------
// Microsoft Entra ID

const TENANT: &str = "9122040d-6c67-4c5b-b112-36a304b66dad";
const OTHER_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const API_APP: &str = "6e1f4c2a-57d0-4a6b-9c8e-0d3f5b2a1c7e";
const CLIENT_APP: &str = "c0ffee00-1111-4222-8333-444455556666";

fn entra_v2_token(entra: &Provider) -> TokenBuilder<'_> {
    entra
        .bare()
        .header("typ", "JWT")
        .audience(API_APP)
        .claim("nbf", unix_now())
        .claim("aio", "AWQAm/8TAAAA")
        .claim("azp", CLIENT_APP)
        .claim("azpacr", "0")
        .claim("name", "Ada Lovelace")
        .claim("oid", "b8b2a1c0-0000-4000-8000-000000000001")
        .claim("preferred_username", "ada@contoso.example")
        .claim("rh", "0.AR8A")
        .claim("scp", "mcp.tools mcp.read")
        .subject("AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ")
        .claim("tid", TENANT)
        .claim("uti", "fqiBqXLPj0eQa82S-IYFAA")
        .claim("ver", "2.0")
}

#[test]
fn entra_v2_user_and_app_tokens_are_accepted() {
    let entra = Provider::new(recipes::entra_v2(TENANT, API_APP));
    let user = entra.accepts(entra_v2_token(&entra));
    assert_eq!(
        user.subject(),
        Some("AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ")
    );
    assert_eq!(user.client_id(), Some(CLIENT_APP));
    // `scp` holds short names; they read as the full names clients request.
    assert_eq!(user.scopes(), [full("mcp.tools"), full("mcp.read")]);

    // Client credentials: application permissions in `roles`, no `scp`.
    let app = entra.accepts(
        entra_v2_token(&entra)
            .without_claim("scp")
            .without_claim("name")
            .without_claim("preferred_username")
            .claim("roles", json!(["mcp.tools"]))
            .subject("b8b2a1c0-0000-4000-8000-000000000002")
            .claim("oid", "b8b2a1c0-0000-4000-8000-000000000002"),
    );
    assert_eq!(app.client_id(), Some(CLIENT_APP));
    assert_eq!(app.scopes(), [full("mcp.tools")]);
    // A name already in full is not prefixed twice, nor repeated.
    let both = entra
        .accepts(entra_v2_token(&entra).claim("roles", json!([full("mcp.tools"), "mcp.read"])));
    assert_eq!(both.scopes(), [full("mcp.tools"), full("mcp.read")]);
}

/// A scope as Entra clients request it: the API's default App ID URI, then the name.
fn full(name: &str) -> String {
    format!("api://{API_APP}/{name}")
}

#[test]
fn entra_v2_near_misses_are_refused() {
    let entra = Provider::new(recipes::entra_v2(TENANT, API_APP));
    let token = || entra_v2_token(&entra);
    entra.refuses(vec![
        (
            "another tenant",
            token()
                .claim(
                    "iss",
                    format!("https://login.microsoftonline.com/{OTHER_TENANT}/v2.0"),
                )
                .claim("tid", OTHER_TENANT),
            TokenErrorKind::UntrustedIssuer,
        ),
        (
            "`tid` of another tenant",
            token().claim("tid", OTHER_TENANT),
            TokenErrorKind::ClaimMismatch,
        ),
        (
            "no `tid`",
            token().without_claim("tid"),
            TokenErrorKind::ClaimMismatch,
        ),
        (
            "`ver` 1.0",
            token().claim("ver", "1.0"),
            TokenErrorKind::ClaimMismatch,
        ),
        (
            "a v1.0 token of the same tenant",
            token()
                .claim("iss", format!("https://sts.windows.net/{TENANT}/"))
                .claim("ver", "1.0"),
            TokenErrorKind::UntrustedIssuer,
        ),
        (
            "the audience of another API",
            token().audience("00000003-0000-0000-c000-000000000000"),
            TokenErrorKind::WrongAudience,
        ),
        (
            "the App ID URI, which v2.0 tokens never carry",
            token().audience(format!("api://{API_APP}")),
            TokenErrorKind::WrongAudience,
        ),
        (
            "`scp` as an array",
            token().claim("scp", json!(["mcp.tools"])),
            TokenErrorKind::InvalidClaim,
        ),
        (
            "`roles` as a string",
            token().claim("roles", "mcp.tools"),
            TokenErrorKind::InvalidClaim,
        ),
        (
            "an ID token issued to the API's own registration",
            token()
                .without_claim("scp")
                .without_claim("azp")
                .claim("nonce", "678910"),
            TokenErrorKind::UnacceptedType,
        ),
        (
            "an ID token of the API's own registration, without `nonce`",
            token().without_claim("scp").without_claim("azp"),
            TokenErrorKind::ClaimMismatch,
        ),
    ]);
}

#[test]
fn entra_v1_tokens_are_accepted_with_either_audience() {
    let entra = Provider::new(recipes::entra_v1(TENANT, API_APP));
    let token = || {
        entra
            .bare()
            .header("typ", "JWT")
            .header("x5t", "nOo3ZDrODXEK1jKWhXslHR_KXEg")
            .audience(format!("api://{API_APP}"))
            .claim("acr", "1")
            .claim("amr", json!(["pwd"]))
            .claim("appid", CLIENT_APP)
            .claim("appidacr", "0")
            .claim("ipaddr", "192.0.2.10")
            .claim("oid", "b8b2a1c0-0000-4000-8000-000000000001")
            .claim("scp", "user_impersonation mcp.tools")
            .subject("l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA")
            .claim("tid", TENANT)
            .claim("unique_name", "ada@contoso.example")
            .claim("upn", "ada@contoso.example")
            .claim("uti", "fqiBqXLPj0eQa82S-IYFAA")
            .claim("ver", "1.0")
    };
    let user = entra.accepts(token());
    assert_eq!(
        user.subject(),
        Some("l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA")
    );
    assert_eq!(user.client_id(), Some(CLIENT_APP));
    assert_eq!(
        user.scopes(),
        [full("user_impersonation"), full("mcp.tools")]
    );
    assert!(entra.check(token().audience(API_APP)).is_ok());
    entra.refuses(vec![
        (
            // `azp` is v2.0's client claim: a v1.0 access token always names its client in
            // `appid`, and an ID token of the API's own registration names none.
            "no `appid`",
            token().without_claim("appid").claim("azp", "x"),
            TokenErrorKind::ClaimMismatch,
        ),
        (
            "another tenant",
            token()
                .claim("iss", format!("https://sts.windows.net/{OTHER_TENANT}/"))
                .claim("tid", OTHER_TENANT),
            TokenErrorKind::UntrustedIssuer,
        ),
        (
            "the issuer without its trailing slash",
            token().claim("iss", format!("https://sts.windows.net/{TENANT}")),
            TokenErrorKind::UntrustedIssuer,
        ),
        (
            "`tid` of another tenant",
            token().claim("tid", OTHER_TENANT),
            TokenErrorKind::ClaimMismatch,
        ),
        (
            "`ver` 2.0",
            token().claim("ver", "2.0"),
            TokenErrorKind::ClaimMismatch,
        ),
        (
            "a v2.0 token",
            token()
                .claim(
                    "iss",
                    format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
                )
                .claim("ver", "2.0"),
            TokenErrorKind::UntrustedIssuer,
        ),
        (
            "the App ID URI of another API",
            token().audience("api://4d3c2b1a"),
            TokenErrorKind::WrongAudience,
        ),
        (
            "a custom App ID URI not configured",
            token().audience("https://api.contoso.example"),
            TokenErrorKind::WrongAudience,
        ),
    ]);

    // A custom App ID URI is added to the recipe's profile.
    let custom = Provider::new(
        recipes::entra_v1(TENANT, API_APP)
            .map_profile(|p| p.audience("https://api.contoso.example")),
    );
    let shaped = custom
        .bare()
        .header("typ", "JWT")
        .audience("https://api.contoso.example")
        .claim("appid", CLIENT_APP)
        .claim("scp", "mcp.tools")
        .claim("tid", TENANT)
        .claim("ver", "1.0");
    assert_eq!(custom.accepts(shaped).scopes(), [full("mcp.tools")]);
}

#[tokio::test]
async fn entra_v2_token_reaches_the_handler_through_the_layer() {
    let entra = Provider::with(recipes::entra_v2(TENANT, API_APP), |b| {
        b.require_scope(full("mcp.tools"))
    });
    let (status, _, body) = call(&entra.auth, &entra_v2_token(&entra).sign()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["client_id"], CLIENT_APP);
    assert_eq!(body["scopes"], json!([full("mcp.tools"), full("mcp.read")]));

    let wrong_tenant = entra_v2_token(&entra).claim("tid", OTHER_TENANT).sign();
    let (status, headers, _) = call(&entra.auth, &wrong_tenant).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
}

// ---------------------------------------------------------------------------------------------
// Keycloak

fn keycloak_token(keycloak: &Provider) -> TokenBuilder<'_> {
    keycloak
        .bare()
        .header("typ", "JWT")
        .claim("jti", "onrtac:5b8e1f2a")
        .claim("aud", json!([RESOURCE, "account"]))
        .subject("2c9a6f0e-8d1b-4c3a-9e7f-1a2b3c4d5e6f")
        .claim("typ", "Bearer")
        .claim("azp", "mcp-inspector")
        .claim("sid", "4f6d2b1a")
        .claim("acr", "1")
        .claim("allowed-origins", json!(["https://app.example.com"]))
        .claim(
            "realm_access",
            json!({"roles": ["default-roles-mcp", "offline_access"]}),
        )
        .claim(
            "resource_access",
            json!({"account": {"roles": ["manage-account"]}}),
        )
        .scope("openid email profile mcp:tools")
        .claim("email_verified", true)
        .claim("preferred_username", "ada")
}

#[test]
fn keycloak_access_tokens_are_accepted() {
    let keycloak = Provider::new(recipes::keycloak("https://sso.example.com", "mcp"));
    let user = keycloak.accepts(keycloak_token(&keycloak));
    assert_eq!(user.subject(), Some("2c9a6f0e-8d1b-4c3a-9e7f-1a2b3c4d5e6f"));
    assert_eq!(user.client_id(), Some("mcp-inspector"));
    assert_eq!(user.scopes(), ["openid", "email", "profile", "mcp:tools"]);
    // A single audience from the mapper, as a string.
    assert!(
        keycloak
            .check(keycloak_token(&keycloak).audience(RESOURCE))
            .is_ok()
    );
}

#[test]
fn keycloak_near_misses_and_id_tokens_are_refused() {
    let keycloak = Provider::new(recipes::keycloak("https://sso.example.com", "mcp"));
    let token = || keycloak_token(&keycloak);
    keycloak.refuses(vec![
        (
            "an ID token, whose `aud` a mapper set to the resource",
            token().claim("typ", "ID").without_claim("scope"),
            TokenErrorKind::ClaimMismatch,
        ),
        (
            "an ID token with nonce and at_hash",
            token()
                .claim("typ", "ID")
                .audience("mcp-inspector")
                .claim("nonce", "n-1")
                .claim("at_hash", "x"),
            TokenErrorKind::UnacceptedType,
        ),
        (
            "a refresh token",
            token().claim("typ", "Refresh"),
            TokenErrorKind::ClaimMismatch,
        ),
        (
            "no `typ` claim",
            token().without_claim("typ"),
            TokenErrorKind::ClaimMismatch,
        ),
        (
            "no audience mapper: no `aud` at all",
            token().without_claim("aud"),
            TokenErrorKind::MissingClaim,
        ),
        (
            "the default `account` audience only",
            token().audience("account"),
            TokenErrorKind::WrongAudience,
        ),
        (
            "another realm",
            token().claim("iss", "https://sso.example.com/realms/master"),
            TokenErrorKind::UntrustedIssuer,
        ),
        (
            "the pre-Quarkus `/auth` issuer form",
            token().claim("iss", "https://sso.example.com/auth/realms/mcp"),
            TokenErrorKind::UntrustedIssuer,
        ),
        (
            "scope as an array",
            token().claim("scope", json!(["mcp:tools"])),
            TokenErrorKind::InvalidClaim,
        ),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Stytch

const STYTCH_DOMAIN: &str = "login.example.com";
const STYTCH_PROJECT: &str = "project-live-7a1b2c3d-0000-4000-8000-000000000001";

fn stytch_token(stytch: &Provider) -> TokenBuilder<'_> {
    stytch
        .bare()
        .header("typ", "JWT")
        .claim("aud", json!([STYTCH_PROJECT]))
        .client_id("connected-app-live-1f2e3d4c")
        .claim("jti", "4b1c7e2a")
        .claim("nbf", unix_now())
        .scope("openid email profile mcp:tools")
        .subject("member-live-9a8b7c6d")
}

#[test]
fn stytch_connected_app_tokens_are_accepted() {
    let stytch = Provider::new(recipes::stytch(STYTCH_DOMAIN, STYTCH_PROJECT));
    let member = stytch.accepts(stytch_token(&stytch));
    assert_eq!(member.subject(), Some("member-live-9a8b7c6d"));
    assert_eq!(member.client_id(), Some("connected-app-live-1f2e3d4c"));
    assert_eq!(member.scopes(), ["openid", "email", "profile", "mcp:tools"]);

    stytch.refuses(vec![
        (
            "another project",
            stytch_token(&stytch).claim("aud", json!(["project-live-other"])),
            TokenErrorKind::WrongAudience,
        ),
        (
            "the issuer of tokens obtained through stytch.com",
            stytch_token(&stytch).claim("iss", format!("stytch.com/{STYTCH_PROJECT}")),
            TokenErrorKind::UntrustedIssuer,
        ),
        (
            "scope as an array",
            stytch_token(&stytch).claim("scope", json!(["mcp:tools"])),
            TokenErrorKind::InvalidClaim,
        ),
    ]);
}

#[test]
fn stytch_custom_audience_replaces_the_project_id() {
    let stytch = Provider::new(recipes::stytch(STYTCH_DOMAIN, RESOURCE));
    assert!(
        stytch
            .check(stytch_token(&stytch).claim("aud", json!([STYTCH_PROJECT, RESOURCE])))
            .is_ok()
    );
    assert_eq!(
        stytch.check(stytch_token(&stytch)).err(),
        Some(TokenErrorKind::WrongAudience)
    );
}

// ---------------------------------------------------------------------------------------------
// WorkOS AuthKit

#[test]
fn workos_authkit_tokens_are_accepted_only_for_the_resource() {
    let workos = Provider::new(recipes::workos("example-app.authkit.app"));
    let token = || {
        workos
            .bare()
            .header("typ", "JWT")
            .audience(RESOURCE)
            .subject("user_01HXYZABCDEF")
            .client_id("client_01HCLIENT")
            .claim("jti", "01HJTI")
            .scope("openid profile email mcp:tools")
    };
    let user = workos.accepts(token());
    assert_eq!(user.subject(), Some("user_01HXYZABCDEF"));
    assert_eq!(user.client_id(), Some("client_01HCLIENT"));
    assert_eq!(user.scopes(), ["openid", "profile", "email", "mcp:tools"]);
    let azp = workos.accepts(
        token()
            .without_claim("client_id")
            .claim("azp", "client_01HAZP"),
    );
    assert_eq!(azp.client_id(), Some("client_01HAZP"));

    workos.refuses(vec![
        (
            "no resource indicator registered: `aud` is the client id",
            token().audience("client_01HCLIENT"),
            TokenErrorKind::WrongAudience,
        ),
        (
            "an AuthKit session token",
            token().claim(
                "iss",
                "https://api.workos.com/user_management/client_01HAPP",
            ),
            TokenErrorKind::UntrustedIssuer,
        ),
        (
            "the issuer with a trailing slash",
            token().claim("iss", "https://example-app.authkit.app/"),
            TokenErrorKind::UntrustedIssuer,
        ),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Ory Hydra

const HYDRA: &str = "https://example.projects.oryapis.com";

fn hydra_token(hydra: &Provider) -> TokenBuilder<'_> {
    hydra
        .bare()
        .header("typ", "JWT")
        .claim("aud", json!([RESOURCE]))
        .client_id("7c1e0a4f-hydra-client")
        .claim("ext", json!({}))
        .claim("jti", "0d6d3c0e-1111-4222-8333-444455556666")
        .claim("nbf", unix_now())
        .claim("scp", json!(["openid", "mcp:tools"]))
        .subject("a3f1b2c4-user")
}

#[test]
fn hydra_jwt_access_tokens_are_accepted() {
    let hydra = Provider::new(recipes::hydra(HYDRA));
    let user = hydra.accepts(hydra_token(&hydra));
    assert_eq!(user.subject(), Some("a3f1b2c4-user"));
    assert_eq!(user.client_id(), Some("7c1e0a4f-hydra-client"));
    assert_eq!(user.scopes(), ["openid", "mcp:tools"]);
    // Configured for a `scope` string instead, or both.
    let string = hydra.accepts(hydra_token(&hydra).without_claim("scp").scope("mcp:tools"));
    assert_eq!(string.scopes(), ["mcp:tools"]);

    hydra.refuses(vec![
        (
            "no audience granted: an empty array",
            hydra_token(&hydra).claim("aud", json!([])),
            TokenErrorKind::WrongAudience,
        ),
        (
            "`scp` as a string",
            hydra_token(&hydra).claim("scp", "mcp:tools"),
            TokenErrorKind::InvalidClaim,
        ),
        (
            "`scope` as an array",
            hydra_token(&hydra).claim("scope", json!(["mcp:tools"])),
            TokenErrorKind::InvalidClaim,
        ),
        (
            "an ID token",
            hydra_token(&hydra)
                .audience("7c1e0a4f-hydra-client")
                .claim("at_hash", "x"),
            TokenErrorKind::UnacceptedType,
        ),
    ]);
}

/// Hydra's admin API stand-in: `ory_at_good` is active, anything else is not.
async fn hydra_admin() -> String {
    async fn introspect(form: String) -> axum::Json<Value> {
        let now = unix_now();
        if form.contains("token=ory_at_good") {
            axum::Json(json!({
                "active": true,
                "aud": [RESOURCE],
                "client_id": "7c1e0a4f-hydra-client",
                "exp": now + 600,
                "ext": {},
                "iat": now,
                "iss": HYDRA,
                "nbf": now,
                "obfuscated_subject": "",
                "scope": "openid mcp:tools",
                "sub": "a3f1b2c4-user",
                "token_type": "Bearer",
                "token_use": "access_token",
                "username": "",
            }))
        } else {
            axum::Json(json!({"active": false}))
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/admin/oauth2/introspect",
        listener.local_addr().unwrap()
    );
    let app = Router::new().route("/admin/oauth2/introspect", post(introspect));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn hydra_opaque_tokens_are_introspected_at_the_admin_api() {
    let endpoint = hydra_admin().await;
    let hydra = Provider::with(recipes::hydra(HYDRA), |b| {
        b.introspection(
            HYDRA,
            Introspection::without_client_authentication().endpoint(endpoint),
        )
        .allow_http_loopback(true) // the stand-in admin API speaks http on loopback
        .require_scope("mcp:tools")
    });
    let (status, _, body) = call(&hydra.auth, "ory_at_good.signature").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sub"], "a3f1b2c4-user");
    assert_eq!(body["client_id"], "7c1e0a4f-hydra-client");
    assert_eq!(body["scopes"], json!(["openid", "mcp:tools"]));

    let (status, _, _) = call(&hydra.auth, "ory_at_revoked.signature").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // JWTs are still verified locally.
    let (status, _, _) = call(&hydra.auth, &hydra_token(&hydra).scope("mcp:tools").sign()).await;
    assert_eq!(status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// node oidc-provider

#[test]
fn oidc_provider_accepts_only_rfc_9068_tokens() {
    let op = Provider::new(recipes::oidc_provider("https://op.example.com"));
    let token = || {
        op.bare()
            .header("typ", "at+jwt")
            .claim("jti", "sIXv3wqXG8Yq0lT2M7QeC")
            .audience(RESOURCE)
            .scope("mcp:tools")
            .client_id("mcp-client")
            .subject("account-23121d3c")
    };
    let user = op.accepts(token());
    assert_eq!(user.subject(), Some("account-23121d3c"));
    assert_eq!(user.client_id(), Some("mcp-client"));
    assert_eq!(user.scopes(), ["mcp:tools"]);
    // Client credentials: `sub` is the client id.
    let machine = op.accepts(token().subject("mcp-client"));
    assert_eq!(machine.subject(), machine.client_id());
    assert!(
        op.check(token().header("typ", "application/at+jwt"))
            .is_ok()
    );

    op.refuses(vec![
        (
            "`typ: JWT`",
            token().header("typ", "JWT"),
            TokenErrorKind::UnacceptedType,
        ),
        (
            "no `typ`",
            token().without_header("typ"),
            TokenErrorKind::UnacceptedType,
        ),
        (
            "the provider's ID token",
            token()
                .header("typ", "JWT")
                .audience("mcp-client")
                .without_claim("scope")
                .claim("nonce", "n-1"),
            TokenErrorKind::UnacceptedType,
        ),
        (
            "scope as an array",
            token().claim("scope", json!(["mcp:tools"])),
            TokenErrorKind::InvalidClaim,
        ),
        (
            "another resource's audience",
            token().audience("https://other.example.com/api"),
            TokenErrorKind::WrongAudience,
        ),
    ]);
    // `azp` is not this provider's client claim.
    let azp = op.accepts(token().without_claim("client_id").claim("azp", "x"));
    assert_eq!(azp.client_id(), None);
}

// ---------------------------------------------------------------------------------------------
// Google

const GOOGLE_CLIENT: &str = "123456789012-abcdefg.apps.googleusercontent.com";

/// A Google ID token as a client receives it.
fn google_id_token(google: &Provider) -> TokenBuilder<'_> {
    google
        .bare()
        .header("typ", "JWT")
        .audience(GOOGLE_CLIENT)
        .claim("azp", GOOGLE_CLIENT)
        .subject("110169484474386276334")
        .claim("email", "ada@example.com")
        .claim("email_verified", true)
        .claim("hd", "example.com")
        .claim("at_hash", "HK6E_P6Dh8Y93mRNtsDB1Q")
        .claim("nonce", "0394852-3190485-2490358")
}

#[test]
fn google_id_tokens_are_never_access_tokens() {
    // Even a configuration that trusts Google and names the client id as an audience.
    let google = Provider::new(Recipe::new(
        "https://accounts.google.com",
        IssuerProfile::new().audience(GOOGLE_CLIENT),
    ));
    google.refuses(vec![
        (
            "an ID token with nonce and at_hash",
            google_id_token(&google),
            TokenErrorKind::UnacceptedType,
        ),
        (
            "an ID token with at_hash only",
            google_id_token(&google).without_claim("nonce"),
            TokenErrorKind::UnacceptedType,
        ),
    ]);
    // Without the alias, nothing about an ID token names this server.
    let strict = Provider::new(Recipe::new(
        "https://accounts.google.com",
        IssuerProfile::new(),
    ));
    assert_eq!(
        strict
            .check(
                google_id_token(&strict)
                    .without_claim("nonce")
                    .without_claim("at_hash")
            )
            .err(),
        Some(TokenErrorKind::WrongAudience)
    );
}

#[tokio::test]
async fn google_workspace_domain_admits_only_the_domain_through_the_layer() {
    // An authorization server you run (here Keycloak) federating Google sign-in, copying `hd`.
    let keycloak = Provider::with(
        recipes::keycloak("https://sso.example.com", "mcp")
            .map_profile(|p| recipes::google_workspace_domain(p, "example.com")),
        |b| b.require_scope("mcp:tools"),
    );
    let member = keycloak_token(&keycloak).claim("hd", "example.com");
    let (status, _, body) = call(&keycloak.auth, &member.sign()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sub"], "2c9a6f0e-8d1b-4c3a-9e7f-1a2b3c4d5e6f");
    let upper = keycloak_token(&keycloak).claim("hd", "Example.COM");
    assert_eq!(call(&keycloak.auth, &upper.sign()).await.0, StatusCode::OK);

    let outsiders = [
        ("another Workspace", Some(json!("example.org"))),
        ("a suffix of the domain", Some(json!("evil-example.com"))),
        ("a subdomain", Some(json!("sub.example.com"))),
        ("a personal Google account: no `hd`", None),
        ("`hd` not a string", Some(json!(["example.com"]))),
    ];
    for (name, hd) in outsiders {
        let token = match hd {
            Some(hd) => keycloak_token(&keycloak).claim("hd", hd),
            None => keycloak_token(&keycloak),
        };
        let (status, headers, body) = call(&keycloak.auth, &token.sign()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer "), "{name}: {challenge}");
        assert!(
            challenge.contains(r#"error="access_denied""#),
            "{name}: {challenge}"
        );
        assert!(
            challenge.contains(&format!(
                r#"error_description="{}""#,
                recipes::GOOGLE_WORKSPACE_DENIED
            )),
            "{name}: {challenge}"
        );
        assert!(!challenge.contains("insufficient_scope"), "{name}");
        assert_eq!(body["error"], "access_denied", "{name}");
        assert_eq!(
            body["error_description"],
            recipes::GOOGLE_WORKSPACE_DENIED,
            "{name}"
        );
    }

    // The validator says the same, with the policy's description.
    let denied = keycloak
        .auth
        .validator()
        .validate(
            &keycloak_token(&keycloak).claim("hd", "example.org").sign(),
            unix_now(),
        )
        .unwrap_err();
    assert_eq!(denied.kind(), TokenErrorKind::PolicyDenied);
    assert_eq!(denied.description(), recipes::GOOGLE_WORKSPACE_DENIED);
}
