//! The reference test vectors (§3 of the MCP resource-server checklist in
//! `shared/reference/mcp-auth-spec.md`), each a named test against a real axum server over
//! loopback. The TypeScript-client regex check and the one-line/`Bearer`-first checks run on
//! every challenge through `common::challenge`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use aws_lc_rs::hmac;
use common::*;
use mcp_server_auth::keys::Algorithm;
use mcp_server_auth::validate::TokenErrorKind;
use mcp_server_auth_dev::testing::TestIssuer;
use serde_json::Value;

#[tokio::test]
async fn t0_valid_token_is_accepted_and_reaches_the_handler() {
    let server = start(|b| b).await;
    let response = post_token(&server, &server.token()).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["verified"]["sub"], "test-user");
    assert_eq!(body["verified"]["iss"], ISSUER);
    assert_eq!(body["verified"]["client_id"], "test-client");
    assert_eq!(body["verified"]["scopes"], serde_json::json!(["mcp:tools"]));
}

#[tokio::test]
async fn t1_metadata_is_public_exact_and_ignores_the_version_header() {
    let server = start(|b| b).await;
    assert_eq!(
        server.metadata_url,
        server.url("/.well-known/oauth-protected-resource/mcp")
    );
    let response = client()
        .get(&server.metadata_url)
        .header("mcp-protocol-version", "9999")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "public, max-age=3600");
    assert_eq!(headers["access-control-allow-origin"], "*");
    let text = response.text().await.unwrap();
    // Byte-equal `resource`, checked on the raw text so no JSON normalization can hide a
    // difference.
    assert!(
        text.starts_with(&format!("{{\"resource\":\"{}\",", server.resource)),
        "{text}"
    );
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["authorization_servers"], serde_json::json!([ISSUER]));
    assert_eq!(doc["scopes_supported"], serde_json::json!(["mcp:tools"]));
    assert_eq!(
        doc["bearer_methods_supported"],
        serde_json::json!(["header"])
    );
    for (name, value) in doc.as_object().unwrap() {
        assert_ne!(value, &serde_json::json!([]), "{name} is an empty list");
    }

    let head = client().head(&server.metadata_url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], "application/json");
    assert_eq!(
        head.headers()["content-length"],
        text.len().to_string().as_str()
    );

    let post = client().post(&server.metadata_url).send().await.unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD, OPTIONS");
    assert!(post.headers().get("www-authenticate").is_none());
}

#[tokio::test]
async fn t2_metadata_preflight_allows_any_origin_and_the_version_header() {
    let server = start(|b| b).await;
    let response = client()
        .request(reqwest::Method::OPTIONS, &server.metadata_url)
        .header("origin", "https://app.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "mcp-protocol-version")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["allow"], "GET, HEAD, OPTIONS");
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(
        allowed
            .split(',')
            .any(|h| h.trim().eq_ignore_ascii_case("mcp-protocol-version")),
        "{allowed}"
    );
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
}

#[tokio::test]
async fn t3_missing_token_gets_401_with_metadata_and_scope_but_no_error() {
    let server = start(|b| b).await;
    let response = post_mcp(&server, None).await;
    assert_eq!(response.status(), 401);
    let challenge = challenge(&response);
    assert_eq!(challenge.scheme(), "Bearer");
    assert_eq!(
        challenge.get("resource_metadata"),
        Some(server.metadata_url.as_str())
    );
    assert_eq!(challenge.get("scope"), Some("mcp:tools"));
    assert_eq!(challenge.get("error"), None);
    assert_eq!(challenge.get("error_description"), None);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body.get("error"),
        None,
        "body agrees with the challenge: no error code"
    );
    assert_eq!(body["error_description"], "No access token was provided");
}

#[tokio::test]
async fn t3_missing_token_error_param_is_available_as_a_compat_flag() {
    let server = start(|b| b.error_on_missing_token(true)).await;
    let response = post_mcp(&server, None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(challenge(&response).get("error"), Some("invalid_token"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn t4_lowercase_bearer_scheme_is_accepted() {
    let server = start(|b| b).await;
    let token = server.token();
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        let response = post_mcp(&server, Some(&format!("{scheme} {token}"))).await;
        assert_eq!(response.status(), 200, "{scheme}");
    }
}

#[tokio::test]
async fn t5_basic_credentials_count_as_no_credentials() {
    let server = start(|b| b).await;
    let response = post_mcp(&server, Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l")).await;
    assert_eq!(response.status(), 401);
    let challenge = challenge(&response);
    assert_eq!(challenge.get("error"), None);
    assert_eq!(
        challenge.get("resource_metadata"),
        Some(server.metadata_url.as_str())
    );
}

#[tokio::test]
async fn t6_expired_token_gets_invalid_token_challenge() {
    let server = start(|b| b).await;
    let token = server.token_builder().expires_in(-3600).sign();
    assert_eq!(server.reason(&token), Err(TokenErrorKind::Expired));
    assert_invalid_token(&server, &token).await;
}

#[tokio::test]
async fn t7_audience_for_another_resource_is_rejected() {
    let server = start(|b| b).await;
    let token = server
        .issuer
        .token()
        .audience("https://other.example.com/mcp")
        .scope("mcp:tools")
        .sign();
    assert_eq!(server.reason(&token), Err(TokenErrorKind::WrongAudience));
    assert_invalid_token(&server, &token).await;
}

#[tokio::test]
async fn t7_missing_audience_is_rejected() {
    let server = start(|b| b).await;
    let token = server.issuer.token().scope("mcp:tools").sign();
    assert_eq!(server.reason(&token), Err(TokenErrorKind::MissingClaim));
    assert_invalid_token(&server, &token).await;
}

#[tokio::test]
async fn t7_audience_array_without_this_resource_is_rejected() {
    let server = start(|b| b).await;
    let token = server
        .issuer
        .token()
        .claim(
            "aud",
            serde_json::json!(["https://a.example/mcp", "https://b.example"]),
        )
        .scope("mcp:tools")
        .sign();
    assert_eq!(server.reason(&token), Err(TokenErrorKind::WrongAudience));
    assert_invalid_token(&server, &token).await;
}

#[tokio::test]
async fn t8_alg_none_is_rejected() {
    let server = start(|b| b).await;
    let header = b64(br#"{"alg":"none","typ":"at+jwt"}"#);
    let claims = format!(
        r#"{{"iss":"{ISSUER}","aud":"{}","exp":{},"scope":"mcp:tools"}}"#,
        server.resource,
        mcp_server_auth_dev::testing::unix_now() + 600
    );
    let token = format!("{header}.{}.", b64(claims.as_bytes()));
    assert_eq!(
        server.reason(&token),
        Err(TokenErrorKind::UnsupportedAlgorithm)
    );
    assert_invalid_token(&server, &token).await;
}

#[tokio::test]
async fn t8_hs256_signed_with_the_rsa_public_key_is_rejected() {
    let issuer = TestIssuer::with_algorithm(ISSUER, Algorithm::RS256);
    let server = start_with_issuer(issuer, |b| b).await;
    let secret = server.issuer.public_key_pem();
    let header = b64(format!(r#"{{"alg":"HS256","kid":"{}"}}"#, server.issuer.kid()).as_bytes());
    let claims = b64(format!(
        r#"{{"iss":"{ISSUER}","aud":"{}","exp":{},"scope":"mcp:tools"}}"#,
        server.resource,
        mcp_server_auth_dev::testing::unix_now() + 600
    )
    .as_bytes());
    let input = format!("{header}.{claims}");
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let token = format!(
        "{input}.{}",
        b64(hmac::sign(&key, input.as_bytes()).as_ref())
    );
    assert_eq!(
        server.reason(&token),
        Err(TokenErrorKind::UnsupportedAlgorithm)
    );
    assert_invalid_token(&server, &token).await;
}

#[tokio::test]
async fn t8_unknown_kid_is_rejected_after_the_refresh_attempt() {
    let server = start(|b| b).await;
    let token = server.token_builder().header("kid", "rotated-away").sign();
    assert_eq!(server.reason(&token), Err(TokenErrorKind::UnknownKey));
    assert_invalid_token(&server, &token).await;
}

#[tokio::test]
async fn t9_untrusted_issuer_is_rejected() {
    let server = start(|b| b).await;
    let token = server
        .token_builder()
        .claim("iss", "https://evil.example.com")
        .sign();
    assert_eq!(server.reason(&token), Err(TokenErrorKind::UntrustedIssuer));
    assert_invalid_token(&server, &token).await;
}

#[tokio::test]
async fn t9_token_signed_by_another_trusted_issuers_key_is_rejected() {
    let other = TestIssuer::new("https://other-as.example.com");
    let other_keys = other.keys();
    let server = start(|b| b.issuer(other.issuer(), other_keys)).await;
    // Claims say our issuer, key id says ours, but the other issuer signed it.
    let forged = other
        .token()
        .claim("iss", ISSUER)
        .header("kid", server.issuer.kid())
        .audience(server.resource.clone())
        .scope("mcp:tools")
        .sign();
    assert_eq!(server.reason(&forged), Err(TokenErrorKind::BadSignature));
    assert_invalid_token(&server, &forged).await;
    // Same, with the other issuer's own kid: that key is not among our issuer's keys.
    let forged = other
        .token()
        .claim("iss", ISSUER)
        .audience(server.resource.clone())
        .scope("mcp:tools")
        .sign();
    assert_eq!(server.reason(&forged), Err(TokenErrorKind::UnknownKey));
    assert_invalid_token(&server, &forged).await;
    // The other issuer's genuine token is fine: each issuer has its own keys.
    let genuine = other
        .token()
        .audience(server.resource.clone())
        .scope("mcp:tools")
        .sign();
    assert_eq!(post_token(&server, &genuine).await.status(), 200);
}

#[tokio::test]
async fn t10_typ_jwt_is_rejected_in_strict_mode() {
    let server = start(|b| b.require_at_jwt(true)).await;
    let token = server.token_builder().header("typ", "JWT").sign();
    assert_eq!(server.reason(&token), Err(TokenErrorKind::UnacceptedType));
    assert_invalid_token(&server, &token).await;
}

#[tokio::test]
async fn t10_typ_at_jwt_in_upper_case_is_accepted() {
    let server = start(|b| b.require_at_jwt(true)).await;
    for typ in ["AT+JWT", "application/AT+JWT", "at+jwt"] {
        let token = server.token_builder().header("typ", typ).sign();
        assert_eq!(post_token(&server, &token).await.status(), 200, "{typ}");
    }
}

#[tokio::test]
async fn t11_missing_scope_gets_403_insufficient_scope_naming_it() {
    let server = start(|b| b.require_scope("mcp:read")).await;
    let token = server.token_builder().sign();
    let response = post_token(&server, &token).await;
    assert_eq!(response.status(), 403);
    let challenge = challenge(&response);
    assert_eq!(challenge.get("error"), Some("insufficient_scope"));
    assert_eq!(challenge.get("scope"), Some("mcp:tools mcp:read"));
    assert_eq!(
        challenge.get("resource_metadata"),
        Some(server.metadata_url.as_str())
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");
}

#[tokio::test]
async fn t11_expired_token_without_scope_gets_401_not_403() {
    let server = start(|b| b).await;
    let token = server
        .issuer
        .token()
        .audience(server.resource.clone())
        .expires_in(-3600)
        .sign();
    assert_invalid_token(&server, &token).await;
}

#[tokio::test]
async fn t12_broader_scope_implying_the_required_one_is_accepted() {
    let server = start(|b| b.scope_implies("mcp:admin", "mcp:tools")).await;
    let token = server
        .issuer
        .token()
        .audience(server.resource.clone())
        .scope("mcp:admin")
        .sign();
    assert_eq!(post_token(&server, &token).await.status(), 200);

    // Without the rule, the same token is short of scope.
    let strict = start(|b| b).await;
    let token = strict
        .issuer
        .token()
        .audience(strict.resource.clone())
        .scope("mcp:admin")
        .sign();
    assert_eq!(post_token(&strict, &token).await.status(), 403);
}

#[tokio::test]
async fn t13_token_only_in_query_is_treated_as_unauthenticated() {
    let server = start(|b| b).await;
    let url = format!("{}?access_token={}", server.mcp(), server.token());
    let response = client().post(url).body("{}").send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(challenge(&response).get("error"), None);
}

#[tokio::test]
async fn t13_header_and_query_token_together_get_400_invalid_request() {
    let server = start(|b| b).await;
    let token = server.token();
    let url = format!("{}?access_token={token}", server.mcp());
    let response = client()
        .post(url)
        .header("authorization", format!("Bearer {token}"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_invalid_request(
        response,
        "The request uses more than one method to send an access token",
        "header and query",
    )
    .await;
}

/// A 400 `invalid_request` whose challenge and body carry `description`, the fixed text users
/// see and log.
async fn assert_invalid_request(response: reqwest::Response, description: &str, what: &str) {
    assert_eq!(response.status(), 400, "{what}");
    let challenge = challenge(&response);
    assert_eq!(challenge.get("error"), Some("invalid_request"), "{what}");
    assert_eq!(
        challenge.get("error_description"),
        Some(description),
        "{what}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{what}");
    assert_eq!(body["error_description"], description, "{what}");
}

#[tokio::test]
async fn t13_malformed_credentials_get_400_invalid_request() {
    let server = start(|b| b).await;
    let token = server.token();
    for (name, value) in [
        ("empty token", "Bearer".to_owned()),
        ("trailing junk", format!("Bearer {token} junk")),
        ("comma list", format!("Bearer {token}, Basic abc")),
    ] {
        let response = post_mcp(&server, Some(&value)).await;
        assert_invalid_request(response, "The Authorization header is malformed", name).await;
    }
    let response = client()
        .post(server.mcp())
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_invalid_request(
        response,
        "The request has more than one Authorization header",
        "two Authorization headers",
    )
    .await;
}

#[tokio::test]
async fn t20_challenge_values_never_carry_token_content() {
    let server = start(|b| b).await;
    let hostile_kid = "evil\"kid\\\", error=\"none";
    let token = server
        .token_builder()
        .header("kid", hostile_kid)
        .claim("sub", "\"sub\\")
        .sign();
    let response = post_token(&server, &token).await;
    assert_eq!(response.status(), 401);
    let raw = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    let parsed = challenge(&response);
    let names: Vec<&str> = parsed.params().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["error", "error_description", "scope", "resource_metadata"]
    );
    assert_eq!(parsed.get("error"), Some("invalid_token"));
    assert!(!raw.contains("evil"), "{raw}");
    let body = response.text().await.unwrap();
    assert!(!body.contains("evil"), "{body}");
    assert!(!body.contains(&token));
}

#[tokio::test]
async fn t21_authorization_header_is_removed_and_claims_are_in_extensions() {
    let server = start(|b| b).await;
    let response = post_token(&server, &server.token()).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["authorization_header_seen"], false);
    assert_eq!(body["verified"]["sub"], "test-user");
}

#[tokio::test]
async fn t21_authorization_header_can_be_kept_on_request() {
    let server = start(|b| b.keep_authorization_header(true)).await;
    let response = post_token(&server, &server.token()).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["authorization_header_seen"], true);
}

#[tokio::test]
async fn client_credentials_token_without_a_human_user_is_accepted() {
    let server = start(|b| b).await;
    let token = server
        .token_builder()
        .subject("svc-client")
        .client_id("svc-client")
        .sign();
    let response = post_token(&server, &token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["verified"]["sub"], body["verified"]["client_id"]);
    let no_sub = server.token_builder().without_claim("sub").sign();
    assert_eq!(post_token(&server, &no_sub).await.status(), 200);
}

#[tokio::test]
async fn scp_array_and_string_forms_grant_scopes() {
    let server = start(|b| b).await;
    for scp in [
        serde_json::json!(["mcp:tools", "other"]),
        serde_json::json!("other mcp:tools"),
    ] {
        let token = server
            .issuer
            .token()
            .audience(server.resource.clone())
            .claim("scp", scp.clone())
            .sign();
        assert_eq!(post_token(&server, &token).await.status(), 200, "{scp}");
    }
}

#[tokio::test]
async fn every_path_and_method_under_the_layer_is_protected() {
    let server = start(|b| b).await;
    for method in ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"] {
        for path in [
            "/mcp",
            "/mcp/",
            "/other",
            "/.well-known/oauth-protected-resource",
        ] {
            let response = client()
                .request(method.parse().unwrap(), server.url(path))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401, "{method} {path}");
        }
    }
}

#[tokio::test]
async fn id_token_is_not_an_access_token_even_for_an_alias_audience() {
    let client_guid = "0b6f2c1e-client-guid";
    let server = start(|b| b.add_audience(client_guid)).await;
    // An OpenID ID token: typ JWT, aud = the client, with nonce and at_hash.
    let id_token = server
        .token_builder()
        .audience(client_guid)
        .header("typ", "JWT")
        .claim("nonce", "n-0S6_WzA2Mj")
        .claim("at_hash", "77QmUPtjPfzWtF2AnpK9RQ");
    let token = id_token.clone().sign();
    assert_eq!(server.reason(&token), Err(TokenErrorKind::UnacceptedType));
    assert_invalid_token(&server, &token).await;
    for claim in ["nonce", "at_hash", "c_hash", "s_hash"] {
        let token = server
            .token_builder()
            .audience(client_guid)
            .without_header("typ")
            .claim(claim, "x")
            .sign();
        assert_eq!(
            server.reason(&token),
            Err(TokenErrorKind::UnacceptedType),
            "{claim}"
        );
    }
    // The alias itself works for access tokens, and an explicitly typed access token is taken
    // at its word.
    let access = server.token_builder().audience(client_guid).sign();
    assert_eq!(post_token(&server, &access).await.status(), 200);
    let typed = id_token.header("typ", "at+jwt").sign();
    assert_eq!(post_token(&server, &typed).await.status(), 200);
}

/// POSTs to `/mcp` with extra headers and an optional token.
async fn post_with(
    server: &Server,
    headers: &[(&str, &str)],
    token: Option<&str>,
) -> reqwest::Response {
    let mut request = client()
        .post(server.mcp())
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.send().await.unwrap()
}

async fn assert_forbidden_origin(response: reqwest::Response) {
    assert_eq!(response.status(), 403);
    assert!(
        response.headers().get("www-authenticate").is_none(),
        "not an auth challenge"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["id"], Value::Null);
    assert_eq!(body["error"]["code"], -32000);
    assert!(
        !body.to_string().contains("evil"),
        "the header is not echoed"
    );
}

#[tokio::test]
async fn t14_evil_origin_gets_403_before_auth_with_or_without_a_token() {
    let server = start(|b| b).await;
    let evil = [("origin", "http://evil.example.com")];
    assert_forbidden_origin(post_with(&server, &evil, None).await).await;
    assert_forbidden_origin(post_with(&server, &evil, Some(&server.token())).await).await;
    assert_forbidden_origin(post_with(&server, &[("origin", "null")], None).await).await;
    assert_forbidden_origin(post_with(&server, &[("origin", "not a url")], None).await).await;
}

#[tokio::test]
async fn t14_allowed_origin_without_a_token_gets_401_and_with_one_200() {
    let server = start(|b| b).await;
    let port = server.addr.port().to_string();
    let same = format!("http://127.0.0.1:{port}");
    for origin in [same.as_str(), "http://localhost:5173", "http://[::1]:6274"] {
        let response = post_with(&server, &[("origin", origin)], None).await;
        assert_eq!(response.status(), 401, "{origin}");
        let response = post_with(&server, &[("origin", origin)], Some(&server.token())).await;
        assert_eq!(response.status(), 200, "{origin}");
    }
}

#[tokio::test]
async fn t14_metadata_stays_public_whatever_the_origin() {
    let server = start(|b| b).await;
    let response = client()
        .get(&server.metadata_url)
        .header("origin", "http://evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn t15_foreign_host_on_a_loopback_server_gets_403() {
    let server = start(|b| b).await;
    let response = post_with(
        &server,
        &[("host", "evil.example.com")],
        Some(&server.token()),
    )
    .await;
    assert_forbidden_origin(response).await;
    let response = post_with(&server, &[("host", "localhost")], Some(&server.token())).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn t16_absent_origin_passes_the_origin_check() {
    let server = start(|b| b).await;
    assert_eq!(
        post_with(&server, &[], Some(&server.token()))
            .await
            .status(),
        200
    );
    assert_eq!(post_with(&server, &[], None).await.status(), 401);
}

#[tokio::test]
async fn extra_origin_hosts_can_be_allowed() {
    let server = start(|b| b.add_allowed_origin_host("app.example.com")).await;
    let response = post_with(&server, &[("origin", "https://app.example.com")], None).await;
    assert_eq!(response.status(), 401, "past the guard, on to auth");
}

#[tokio::test]
async fn t17_unsupported_protocol_version_gets_400_with_supported_and_requested() {
    let server = start(|b| b).await;
    let token = server.token();
    let response = post_with(
        &server,
        &[("mcp-protocol-version", "1900-01-01")],
        Some(&token),
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    // The token passed, so the body was read to echo its id (reference item 53).
    assert_eq!(body["id"], 1);
    assert_eq!(body["error"]["code"], -32022);
    assert_eq!(body["error"]["data"]["requested"], "1900-01-01");
    assert_eq!(
        body["error"]["data"]["supported"],
        serde_json::json!([
            "2026-07-28",
            "2025-11-25",
            "2025-06-18",
            "2025-03-26",
            "2024-11-05"
        ])
    );
    // Case-insensitive header name; every known version passes.
    for version in [
        "2024-11-05",
        "2025-03-26",
        "2025-06-18",
        "2025-11-25",
        "2026-07-28",
    ] {
        let response = post_with(&server, &[("MCP-Protocol-Version", version)], Some(&token)).await;
        assert_eq!(response.status(), 200, "{version}");
    }
}

#[tokio::test]
async fn t17_auth_comes_before_the_version_check() {
    let server = start(|b| b).await;
    let response = post_with(&server, &[("mcp-protocol-version", "9999")], None).await;
    assert_eq!(response.status(), 401, "no token: the challenge first");
}

#[tokio::test]
async fn t17_a_restricted_version_set_refuses_other_known_versions() {
    use mcp_server_auth::protocol_version::ProtocolVersion;
    let server = start(|b| b.protocol_versions([ProtocolVersion::V2026_07_28])).await;
    let token = server.token();
    let response = post_with(
        &server,
        &[("mcp-protocol-version", "2025-06-18")],
        Some(&token),
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["data"]["supported"],
        serde_json::json!(["2026-07-28"])
    );
}

#[tokio::test]
async fn t18_absent_protocol_version_passes_through() {
    let server = start(|b| b).await;
    let response = post_with(&server, &[], Some(&server.token())).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn t19_session_minted_for_one_user_is_not_found_for_another() {
    use axum::routing::post;
    use mcp_server_auth::McpAuth;

    let issuer = TestIssuer::new(ISSUER);
    let (listener, resource) = bind().await;
    let auth = McpAuth::builder(resource.clone())
        .issuer(issuer.issuer(), issuer.keys())
        .allow_http_loopback(true)
        .build()
        .unwrap();
    // An MCP-like server: mints a session id when a request comes without one.
    let app = axum::Router::new()
        .route(
            "/mcp",
            post(|headers: http::HeaderMap| async move {
                let mut response = http::Response::new(axum::body::Body::from("{}"));
                if !headers.contains_key("mcp-session-id") {
                    response.headers_mut().insert(
                        "mcp-session-id",
                        http::HeaderValue::from_static("session-of-alice"),
                    );
                }
                response
            }),
        )
        .layer(auth.layer());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let token_for = |sub: &str| {
        issuer
            .token()
            .audience(resource.clone())
            .subject(sub)
            .sign()
    };
    let send = |token: String, session: Option<&'static str>| {
        let mut request = client()
            .post(resource.clone())
            .header("authorization", format!("Bearer {token}"))
            .header("mcp-protocol-version", "2025-11-25")
            .body("{}");
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request.send()
    };
    let minted = send(token_for("alice"), None).await.unwrap();
    assert_eq!(minted.headers()["mcp-session-id"], "session-of-alice");
    assert_eq!(
        send(token_for("alice"), Some("session-of-alice"))
            .await
            .unwrap()
            .status(),
        200
    );

    let hijack = send(token_for("bob"), Some("session-of-alice"))
        .await
        .unwrap();
    assert_eq!(hijack.status(), 404);
    let body: Value = hijack.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Session not found");
    assert_eq!(body["id"], Value::Null);
}

#[tokio::test]
async fn cors_lets_browser_clients_preflight_and_read_the_challenge() {
    use axum::routing::post;
    use mcp_server_auth::McpAuth;

    let issuer = TestIssuer::new(ISSUER);
    let (listener, resource) = bind().await;
    let auth = McpAuth::builder(resource.clone())
        .issuer(issuer.issuer(), issuer.keys())
        .allow_http_loopback(true)
        .build()
        .unwrap();
    let metadata_url = auth.metadata_url().to_owned();
    let app = axum::Router::new()
        .route("/mcp", post(|| async { "{}" }))
        .layer(auth.layer_with_cors());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let inspector = "http://localhost:6274";
    let preflight = client()
        .request(reqwest::Method::OPTIONS, &resource)
        .header("origin", inspector)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, mcp-protocol-version",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        inspector
    );
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("mcp-protocol-version"));

    let unauthenticated = client()
        .post(&resource)
        .header("origin", inspector)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(
        unauthenticated.headers()["access-control-allow-origin"],
        inspector
    );
    let exposed = unauthenticated.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("www-authenticate"), "{exposed}");
    assert!(
        unauthenticated
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );

    // An evil origin learns nothing and is refused by the guard.
    let evil = client()
        .post(&resource)
        .header("origin", "http://evil.example.com")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), 403);
    assert!(evil.headers().get("access-control-allow-origin").is_none());

    // The metadata keeps its public CORS.
    let metadata = client()
        .get(&metadata_url)
        .header("origin", "http://evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(metadata.status(), 200);
    assert_eq!(metadata.headers()["access-control-allow-origin"], "*");
}

/// Validation reads a fixed set of claims and parses the rest only when asked: the verified
/// token still shows every claim, nested ones included, as the issuer wrote them.
#[test]
fn verified_token_exposes_every_claim_including_the_ones_validation_skips() {
    use mcp_server_auth::validate::Validator;

    #[derive(serde::Deserialize)]
    struct Mine {
        email: String,
        org: Value,
        sub: String,
    }

    const RESOURCE: &str = "https://mcp.example.com/mcp";
    let issuer = TestIssuer::new(ISSUER);
    let validator = Validator::builder(RESOURCE)
        .issuer(ISSUER, issuer.keys())
        .build()
        .unwrap();
    let token = issuer
        .token()
        .audience(RESOURCE)
        .claim("email", "ada@example.com")
        .claim("org", serde_json::json!({"id": 7, "teams": ["a", "b"]}))
        .claim("jti", "id-1")
        .sign();
    let now = mcp_server_auth_dev::testing::unix_now();
    let verified = validator.validate(&token, now).unwrap();

    let mine: Mine = verified.claims_as().unwrap();
    assert_eq!(mine.email, "ada@example.com");
    assert_eq!(mine.org["teams"][1], "b");
    assert_eq!(mine.sub, "test-user");

    let claims = verified.claims();
    assert_eq!(claims["jti"], "id-1");
    assert_eq!(claims["org"]["id"], 7);
    assert_eq!(claims["aud"], RESOURCE);
    // Parsed once, then the same map.
    assert!(std::ptr::eq(claims, verified.claims()));
    let mine: Mine = verified.claims_as().unwrap();
    assert_eq!(mine.email, "ada@example.com");
}
