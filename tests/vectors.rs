//! The reference test vectors (§3 of the MCP resource-server checklist), each a named test
//! against a real axum server over loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn t0_valid_token_is_accepted_and_reaches_the_handler() {
    let server = start(|b| b).await;
    let response = post_token(&server, &server.token()).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["verified"]["sub"], "test-user");
    assert_eq!(body["verified"]["iss"], ISSUER);
}
