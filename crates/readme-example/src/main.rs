use axum::{Router, body::Body, routing::post};
use http::Request;
use mcp_server_auth::{McpAuth, VerifiedToken, keys::StaticKeys};
use tower::ServiceExt;

/// Your MCP endpoint: it runs only for requests with a valid token, and sees who sent it.
async fn mcp(token: VerifiedToken) -> String {
    format!("hello {}", token.subject().unwrap_or("client"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Your identity provider's signing keys. In production they come from its JWKS, found by
    // discovery: `.authorization_server("https://auth.example.com")`.
    let jwks = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1",
      "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#;

    let auth = McpAuth::builder("https://mcp.example.com/mcp") // the canonical URI of your endpoint
        .issuer("https://auth.example.com", StaticKeys::from_jwks(jwks)?)
        .require_scope("mcp:tools")
        .build()?; // checks the configuration; no I/O

    let app = Router::new().route("/mcp", post(mcp)).layer(auth.layer());

    // No token: 401, with the challenge that leads clients to the metadata.
    let response = app
        .clone()
        .oneshot(Request::post("/mcp").body(Body::empty())?)
        .await?;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer scope="mcp:tools", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#
    );

    // The metadata is public: it names the authorization server and the scopes.
    let metadata = Request::get("/.well-known/oauth-protected-resource/mcp").body(Body::empty())?;
    let response = app.oneshot(metadata).await?;
    assert_eq!(response.status(), 200);
    println!("401 without a token, and the metadata is served: the layer works");
    Ok(())
}
