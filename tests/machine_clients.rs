//! Machine clients (the client credentials grant): a token without `sub`, or whose `sub` is its
//! client id, speaks for a machine; `sub` can be where the client id is read from; a client id
//! claim the validator consumes for its own checks is refused at build time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use mcp_server_auth::error::ProblemKind;
use mcp_server_auth::profile::IssuerProfile;
use mcp_server_auth::{McpAuth, McpAuthBuilder, Principal, VerifiedToken};
use mcp_server_auth_dev::testing::{TestIssuer, TokenBuilder, unix_now};

const RESOURCE: &str = "https://mcp.example.com/mcp";

fn builder(issuer: &TestIssuer) -> McpAuthBuilder {
    McpAuth::builder(RESOURCE).issuer(issuer.issuer(), issuer.keys())
}

fn verify(auth: &McpAuth, token: TokenBuilder<'_>) -> VerifiedToken {
    let token = token.audience(RESOURCE).sign();
    auth.validator().validate(&token, unix_now()).unwrap()
}

#[test]
fn users_and_machines_are_told_apart() {
    let issuer = TestIssuer::new("https://auth.example.com");
    let auth = builder(&issuer).build().unwrap();

    let user = verify(&auth, issuer.token().subject("alice").client_id("app"));
    assert_eq!(user.principal(), Principal::User);
    assert_eq!(user.client_id(), Some("app"));

    // Client credentials without a subject.
    let machine = verify(
        &auth,
        issuer.token().without_claim("sub").client_id("svc-42"),
    );
    assert_eq!(machine.principal(), Principal::Machine);
    assert_eq!(machine.subject(), None);
    assert_eq!(machine.client_id(), Some("svc-42"));

    // Client credentials whose subject is the client (RFC 9068 §2.2).
    let machine = verify(&auth, issuer.token().subject("svc-42").client_id("svc-42"));
    assert_eq!(machine.principal(), Principal::Machine);
}

#[test]
fn sub_can_name_the_client() {
    let issuer = TestIssuer::new("https://auth.example.com");
    let auth = builder(&issuer)
        .profile(
            issuer.issuer(),
            IssuerProfile::new().client_id_claims(["client_id", "sub"]),
        )
        .build()
        .unwrap();
    // A machine token naming its client only in `sub`.
    let token = verify(
        &auth,
        issuer.token().subject("svc-42").without_claim("client_id"),
    );
    assert_eq!(token.client_id(), Some("svc-42"));
    assert_eq!(token.subject(), Some("svc-42"));
    assert_eq!(token.principal(), Principal::Machine);
    // `client_id` still comes first when present.
    let token = verify(&auth, issuer.token().subject("alice").client_id("app"));
    assert_eq!(token.client_id(), Some("app"));
    assert_eq!(token.principal(), Principal::User);
}

#[test]
fn a_client_id_claim_that_cannot_take_effect_is_a_configuration_error() {
    let issuer = TestIssuer::new("https://auth.example.com");
    for claim in ["iss", "aud", "exp", "nbf", "iat"] {
        let error = builder(&issuer)
            .profile(
                issuer.issuer(),
                IssuerProfile::new().client_id_claims(["client_id", claim]),
            )
            .build()
            .unwrap_err();
        let problem = &error.problems()[0];
        assert!(
            matches!(problem.kind(), ProblemKind::InvalidProfile { .. }),
            "{claim}: {error}"
        );
        assert!(
            problem.message().contains("cannot name the client"),
            "{claim}: {error}"
        );
    }
}
