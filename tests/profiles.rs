//! Per-issuer profiles through the real layer, with two issuers side by side: each issuer's
//! tokens are read and checked with its own profile (audience aliases, `typ`, scope and client
//! id claims, leeway, required claims, policies), never with the other's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use mcp_server_auth::error::ProblemKind;
use mcp_server_auth::operation::RequestBody;
use mcp_server_auth::profile::{ClaimRequirement, IssuerProfile, ScopeClaim, ScopeFormat};
use mcp_server_auth::validate::{TokenErrorKind, TypPolicy};
use mcp_server_auth::{AuthError, AuthErrorKind, McpAuth, McpAuthBuilder, VerifiedToken};
use mcp_server_auth_dev::testing::{TestIssuer, TokenBuilder, unix_now};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt, service_fn};

const RESOURCE: &str = "https://mcp.example.com/mcp";
const A: &str = "https://a.example.com";
const B: &str = "https://b.example.com";

struct Issuers {
    a: TestIssuer,
    b: TestIssuer,
}

impl Issuers {
    fn new() -> Self {
        Issuers {
            a: TestIssuer::new(A),
            b: TestIssuer::new(B),
        }
    }

    /// Trusts both issuers with their keys; `configure` adds the profiles.
    fn auth(&self, configure: impl FnOnce(McpAuthBuilder) -> McpAuthBuilder) -> McpAuth {
        configure(
            McpAuth::builder(RESOURCE)
                .issuer(A, self.a.keys())
                .issuer(B, self.b.keys())
                .require_scope("mcp:tools"),
        )
        .build()
        .unwrap()
    }
}

/// A token accepted by default: this resource, `mcp:tools`.
fn token(issuer: &TestIssuer) -> TokenBuilder<'_> {
    issuer.token().audience(RESOURCE).scope("mcp:tools")
}

/// A token for this resource without any scope claim.
fn bare(issuer: &TestIssuer) -> TokenBuilder<'_> {
    issuer.token().audience(RESOURCE)
}

/// What came back from the layer.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    /// The rejection's reason, from the response extensions.
    error: Option<AuthError>,
    /// The handler's view of the verified token (on success), or the rejection body.
    body: Value,
}

impl Answer {
    fn reason(&self) -> Option<&'static str> {
        self.error.as_ref().map(AuthError::reason)
    }

    fn challenge(&self) -> &str {
        self.headers["www-authenticate"].to_str().unwrap()
    }
}

type Inner = Request<RequestBody<Full<Bytes>>>;

/// Sends a `tools/list` request with `token` through `auth.layer()` around a handler that
/// answers with the fields of the verified token it was given.
async fn call(auth: &McpAuth, token: &str) -> Answer {
    let service = auth.layer().layer(service_fn(|request: Inner| async move {
        let verified = request.extensions().get::<VerifiedToken>().map(|t| {
            json!({
                "iss": t.issuer(),
                "client_id": t.client_id(),
                "scopes": t.scopes(),
            })
        });
        let body = json!({ "verified": verified }).to_string();
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
    }));
    let request = Request::post("/mcp")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        )))
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        error: parts.extensions.get::<AuthError>().cloned(),
        body: serde_json::from_slice(&body).unwrap(),
    }
}

async fn status(auth: &McpAuth, token: &str) -> u16 {
    call(auth, token).await.status.as_u16()
}

/// Asserts a 401 `invalid_token` for `kind`.
async fn assert_refused(auth: &McpAuth, token: &str, kind: TokenErrorKind, case: &str) {
    let answer = call(auth, token).await;
    assert_eq!(answer.status, 401, "{case}");
    assert_eq!(answer.reason(), Some(kind.as_str()), "{case}");
    assert!(
        answer.challenge().contains("error=\"invalid_token\""),
        "{case}"
    );
}

fn now() -> i64 {
    i64::try_from(unix_now()).unwrap()
}

#[tokio::test]
async fn an_audience_alias_is_accepted_from_its_issuer_only() {
    let issuers = Issuers::new();
    let auth = issuers.auth(|b| b.profile(A, IssuerProfile::new().audience("api://a-app")));
    let alias = |issuer| token(issuer).audience("api://a-app").sign();

    assert_eq!(status(&auth, &alias(&issuers.a)).await, 200);
    assert_refused(
        &auth,
        &alias(&issuers.b),
        TokenErrorKind::WrongAudience,
        "B with A's alias",
    )
    .await;
    // The resource itself stays accepted from both.
    assert_eq!(status(&auth, &token(&issuers.a).sign()).await, 200);
    assert_eq!(status(&auth, &token(&issuers.b).sign()).await, 200);
}

#[tokio::test]
async fn typ_is_strict_for_one_issuer_and_lenient_for_the_other() {
    let issuers = Issuers::new();
    // The validator's default is lenient; A is strict. And the other way round: a strict
    // default, B lenient.
    let a_strict = issuers.auth(|b| b.profile(A, IssuerProfile::new().typ(TypPolicy::Strict)));
    let b_lenient = issuers.auth(|b| {
        b.require_at_jwt(true)
            .profile(B, IssuerProfile::new().typ(TypPolicy::Lenient))
    });
    let typed = |issuer, typ: Option<&str>| match typ {
        Some(typ) => token(issuer).header("typ", typ).sign(),
        None => token(issuer).without_header("typ").sign(),
    };
    for auth in [&a_strict, &b_lenient] {
        for typ in [Some("at+jwt"), Some("application/at+jwt")] {
            assert_eq!(status(auth, &typed(&issuers.a, typ)).await, 200, "{typ:?}");
            assert_eq!(status(auth, &typed(&issuers.b, typ)).await, 200, "{typ:?}");
        }
        for typ in [Some("JWT"), Some("application/jwt"), None] {
            let case = format!("A, typ {typ:?}");
            assert_refused(
                auth,
                &typed(&issuers.a, typ),
                TokenErrorKind::UnacceptedType,
                &case,
            )
            .await;
            assert_eq!(
                status(auth, &typed(&issuers.b, typ)).await,
                200,
                "B, {typ:?}"
            );
        }
    }
}

#[tokio::test]
async fn scope_claims_and_formats_are_read_per_issuer() {
    let issuers = Issuers::new();
    let auth = issuers.auth(|b| {
        b.profile(
            A,
            IssuerProfile::new().scope_claims([ScopeClaim::new("scp").format(ScopeFormat::Array)]),
        )
        .profile(
            B,
            IssuerProfile::new()
                .scope_claims([ScopeClaim::new("permissions").format(ScopeFormat::SpaceDelimited)]),
        )
    });

    let answer = call(
        &auth,
        &bare(&issuers.a)
            .claim("scp", json!(["mcp:tools", "x"]))
            .sign(),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["verified"]["scopes"], json!(["mcp:tools", "x"]));
    assert_refused(
        &auth,
        &bare(&issuers.a).claim("scp", "mcp:tools").sign(),
        TokenErrorKind::InvalidClaim,
        "A: scp as a string",
    )
    .await;
    // A's `scope` claim is not read at all.
    let answer = call(&auth, &bare(&issuers.a).scope("mcp:tools").sign()).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.reason(), Some("insufficient_scope"));

    let answer = call(
        &auth,
        &bare(&issuers.b).claim("permissions", "mcp:tools y").sign(),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["verified"]["scopes"], json!(["mcp:tools", "y"]));
    assert_refused(
        &auth,
        &bare(&issuers.b)
            .claim("permissions", json!(["mcp:tools"]))
            .sign(),
        TokenErrorKind::InvalidClaim,
        "B: permissions as an array",
    )
    .await;
    let answer = call(
        &auth,
        &bare(&issuers.b).claim("scp", json!(["mcp:tools"])).sign(),
    )
    .await;
    assert_eq!(answer.status, 403, "B: A's scope claim is not read");
}

#[tokio::test]
async fn client_id_claims_are_read_per_issuer() {
    let issuers = Issuers::new();
    let auth = issuers.auth(|b| b.profile(A, IssuerProfile::new().client_id_claims(["cid"])));
    let client_id = |answer: Answer| {
        assert_eq!(answer.status, 200);
        answer.body["verified"]["client_id"].clone()
    };
    // A: `cid` only (its `client_id` claim is not read).
    let a = token(&issuers.a).claim("cid", "okta-app").sign();
    assert_eq!(client_id(call(&auth, &a).await), "okta-app");
    let a = token(&issuers.a).sign();
    assert_eq!(client_id(call(&auth, &a).await), Value::Null);
    // B: the default, `client_id` then `azp`.
    let b = token(&issuers.b).claim("cid", "okta-app").sign();
    assert_eq!(client_id(call(&auth, &b).await), "test-client");
    let b = token(&issuers.b)
        .without_claim("client_id")
        .claim("azp", "azp-app")
        .sign();
    assert_eq!(client_id(call(&auth, &b).await), "azp-app");
    let b = token(&issuers.b)
        .without_claim("client_id")
        .claim("cid", "okta-app")
        .sign();
    assert_eq!(client_id(call(&auth, &b).await), Value::Null);
}

#[tokio::test]
async fn leeway_is_per_issuer() {
    let issuers = Issuers::new();
    // The validator's default is 60 seconds.
    let auth = issuers.auth(|b| {
        b.profile(A, IssuerProfile::new().leeway(0))
            .profile(B, IssuerProfile::new().leeway(300))
    });
    let expired = |issuer, secs_ago: i64| token(issuer).expires_in(-secs_ago).sign();
    let early = |issuer, secs_ahead: i64| token(issuer).claim("nbf", now() + secs_ahead).sign();

    assert_refused(
        &auth,
        &expired(&issuers.a, 30),
        TokenErrorKind::Expired,
        "A, 30 s ago",
    )
    .await;
    assert_refused(
        &auth,
        &early(&issuers.a, 30),
        TokenErrorKind::NotYetValid,
        "A, nbf +30",
    )
    .await;
    assert_eq!(status(&auth, &expired(&issuers.b, 30)).await, 200);
    assert_eq!(status(&auth, &expired(&issuers.b, 200)).await, 200);
    assert_eq!(status(&auth, &early(&issuers.b, 200)).await, 200);
    assert_refused(
        &auth,
        &expired(&issuers.b, 400),
        TokenErrorKind::Expired,
        "B, 400 s ago",
    )
    .await;
    assert_refused(
        &auth,
        &early(&issuers.b, 400),
        TokenErrorKind::NotYetValid,
        "B, nbf +400",
    )
    .await;
}

#[tokio::test]
async fn claim_requirements_refuse_with_claim_mismatch() {
    let issuers = Issuers::new();
    let auth = issuers.auth(|b| {
        b.profile(
            A,
            IssuerProfile::new()
                .require_claim(ClaimRequirement::equals("tid", "tenant-1"))
                .require_claim(ClaimRequirement::contains("groups", "staff"))
                .require_claim(ClaimRequirement::equals("ver", 2)),
        )
    });
    let a = |tid: Value, groups: Value, ver: Value| {
        let mut builder = token(&issuers.a);
        for (name, value) in [("tid", tid), ("groups", groups), ("ver", ver)] {
            if !value.is_null() {
                builder = builder.claim(name, value);
            }
        }
        builder.sign()
    };
    let (tid, groups, ver) = (json!("tenant-1"), json!(["a", "staff"]), json!(2));

    assert_eq!(
        status(&auth, &a(tid.clone(), groups.clone(), ver.clone())).await,
        200
    );
    // `contains` also takes the value itself.
    assert_eq!(
        status(&auth, &a(tid.clone(), json!("staff"), ver.clone())).await,
        200
    );

    let mismatches = [
        (
            "another tenant",
            a(json!("tenant-2"), groups.clone(), ver.clone()),
        ),
        ("no tenant", a(Value::Null, groups.clone(), ver.clone())),
        (
            "tenant in an array",
            a(json!(["tenant-1"]), groups.clone(), ver.clone()),
        ),
        (
            "not in the group",
            a(tid.clone(), json!(["a"]), ver.clone()),
        ),
        (
            "group as a prefix",
            a(tid.clone(), json!("staff-2"), ver.clone()),
        ),
        ("no groups", a(tid.clone(), Value::Null, ver.clone())),
        (
            "version as a string",
            a(tid.clone(), groups.clone(), json!("2")),
        ),
    ];
    for (case, token) in &mismatches {
        let answer = call(&auth, token).await;
        assert_eq!(answer.status, 401, "{case}");
        assert_eq!(answer.reason(), Some("claim_mismatch"), "{case}");
        assert_eq!(
            answer.error.as_ref().unwrap().token_error(),
            Some(TokenErrorKind::ClaimMismatch)
        );
        assert!(answer.challenge().contains("error=\"invalid_token\""));
        assert_eq!(answer.body["error"], "invalid_token");
        assert_eq!(
            answer.body["error_description"],
            TokenErrorKind::ClaimMismatch.description()
        );
    }
    // B has no requirements.
    assert_eq!(status(&auth, &token(&issuers.b).sign()).await, 200);
}

const STAFF_ONLY: &str = "Only staff may use this server";

fn is_staff(token: &VerifiedToken) -> bool {
    token.claims().get("staff") == Some(&json!(true))
}

#[tokio::test]
async fn a_policy_denial_is_403_access_denied_with_its_fixed_description() {
    let issuers = Issuers::new();
    let configure =
        |b: McpAuthBuilder| b.profile(A, IssuerProfile::new().policy(STAFF_ONLY, is_staff));

    // Over the wire, as clients read it.
    let (listener, resource) = common::bind().await;
    let auth = configure(
        McpAuth::builder(resource.clone())
            .issuer(A, issuers.a.keys())
            .issuer(B, issuers.b.keys())
            .require_scope("mcp:tools")
            .allow_http_loopback(true),
    )
    .build()
    .unwrap();
    common::serve(listener, &auth);
    let over_http =
        |issuer, staff: bool| issuer_token(issuer, &resource).claim("staff", staff).sign();
    let response = common::client()
        .post(&resource)
        .header("content-type", "application/json")
        .header(
            "authorization",
            format!("Bearer {}", over_http(&issuers.a, false)),
        )
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let header = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        header,
        format!(
            "Bearer error=\"access_denied\", error_description=\"{STAFF_ONLY}\", \
             resource_metadata=\"{}\"",
            auth.metadata_url()
        )
    );
    let parsed = common::challenge(&response);
    assert_eq!(parsed.get("scope"), None, "no scope would help");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "access_denied", "error_description": STAFF_ONLY})
    );

    // Through the layer: the reason in the response extensions.
    let auth = issuers.auth(configure);
    let answer = call(&auth, &token(&issuers.a).claim("staff", false).sign()).await;
    assert_eq!(answer.status, 403);
    let error = answer.error.unwrap();
    assert_eq!(error.kind(), AuthErrorKind::Forbidden);
    assert_eq!(error.reason(), "policy_denied");
    assert_eq!(error.description(), STAFF_ONLY);
    assert_eq!(
        status(&auth, &token(&issuers.a).claim("staff", true).sign()).await,
        200
    );
    // The policy is A's: B's tokens never meet it.
    assert_eq!(status(&auth, &token(&issuers.b).sign()).await, 200);
}

fn issuer_token<'a>(issuer: &'a TestIssuer, resource: &str) -> TokenBuilder<'a> {
    issuer.token().audience(resource).scope("mcp:tools")
}

#[tokio::test]
async fn policies_run_after_every_other_check_and_in_order() {
    let issuers = Issuers::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let auth = issuers.auth(|b| {
        b.profile(
            A,
            IssuerProfile::new()
                .require_claim(ClaimRequirement::equals("tid", "tenant-1"))
                .policy("First check", |_| true)
                .policy("Second check", move |_| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    false
                })
                .policy("Third check", |_| false),
        )
    });
    let a = || token(&issuers.a).claim("tid", "tenant-1");
    let forged = {
        let good = a().sign();
        let (input, signature) = good.rsplit_once('.').unwrap();
        let first = if signature.starts_with('A') { 'B' } else { 'A' };
        format!("{input}.{first}{}", &signature[1..])
    };
    let failing = [
        (
            "expired",
            a().expires_in(-3600).sign(),
            TokenErrorKind::Expired,
        ),
        (
            "wrong audience",
            a().audience("https://else.example.com/mcp").sign(),
            TokenErrorKind::WrongAudience,
        ),
        (
            "claim mismatch",
            a().claim("tid", "tenant-2").sign(),
            TokenErrorKind::ClaimMismatch,
        ),
        ("bad signature", forged, TokenErrorKind::BadSignature),
        (
            "typ refused",
            a().claim("nonce", "n").header("typ", "JWT").sign(),
            TokenErrorKind::UnacceptedType,
        ),
    ];
    for (case, token, kind) in &failing {
        assert_refused(&auth, token, *kind, case).await;
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "no policy ran on an invalid token"
    );

    // A valid token: the first failing policy, in order, gives the description.
    let answer = call(&auth, &a().sign()).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error.unwrap().description(), "Second check");
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // A policy decides on a verified token, before the endpoint's scope: a token refused by
    // policy and lacking the scope is still access_denied (no scope would help).
    let answer = call(&auth, &a().scope("other").sign()).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.reason(), Some("policy_denied"));
}

type Configure = Box<dyn Fn(McpAuthBuilder) -> McpAuthBuilder>;

#[test]
fn profile_problems_are_build_errors_naming_the_issuer() {
    let issuer = TestIssuer::new(A);
    let build = |configure: &dyn Fn(McpAuthBuilder) -> McpAuthBuilder| {
        configure(McpAuth::builder(RESOURCE).issuer(A, issuer.keys())).build()
    };
    let cases: [(&str, &str, Configure); 6] = [
        (
            "profile for an unknown issuer",
            B,
            Box::new(|b| b.profile(B, IssuerProfile::new())),
        ),
        (
            "two profiles for one issuer",
            A,
            Box::new(|b| {
                b.profile(A, IssuerProfile::new())
                    .profile(A, IssuerProfile::new().leeway(10))
            }),
        ),
        (
            "policy description with a quote",
            A,
            Box::new(|b| b.profile(A, IssuerProfile::new().policy("say \"no\"", |_| true))),
        ),
        (
            "empty policy description",
            A,
            Box::new(|b| b.profile(A, IssuerProfile::new().policy("", |_| true))),
        ),
        (
            "leeway over 300 s",
            A,
            Box::new(|b| b.profile(A, IssuerProfile::new().leeway(301))),
        ),
        (
            "iss as a required claim",
            A,
            Box::new(|b| {
                b.profile(
                    A,
                    IssuerProfile::new().require_claim(ClaimRequirement::equals("iss", A)),
                )
            }),
        ),
    ];
    for (case, named, configure) in &cases {
        let error = build(configure.as_ref()).unwrap_err();
        assert!(
            matches!(error.problems()[0].kind(), ProblemKind::InvalidProfile { issuer, .. } if issuer == named),
            "{case}: {error:?}"
        );
        assert!(error.to_string().contains(named), "{case}: {error}");
    }
    // The boundaries are accepted; a profile may come before its issuer.
    assert!(
        McpAuth::builder(RESOURCE)
            .profile(
                A,
                IssuerProfile::new()
                    .leeway(300)
                    .policy("Members only", |_| true)
            )
            .issuer(A, issuer.keys())
            .build()
            .is_ok()
    );
}
