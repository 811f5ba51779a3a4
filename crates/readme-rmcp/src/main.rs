use axum::{Router, body::Body};
use http::{Request, request::Parts};
use mcp_server_auth::{McpAuth, VerifiedToken, keys::StaticKeys};
use rmcp::handler::server::{router::tool::ToolRouter, tool::Extension};
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use tower::ServiceExt;

#[derive(Clone)]
struct Server {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Server {
    fn new() -> Self {
        Server {
            tool_router: Self::tool_router(),
        }
    }

    /// rmcp hands the tool the HTTP request's parts; the layer put the verified token there.
    #[tool(description = "Who is calling")]
    async fn whoami(
        &self,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let token = parts.extensions.get::<VerifiedToken>().ok_or_else(|| {
            ErrorData::internal_error("no verified token: the auth layer does not wrap /mcp", None)
        })?;
        let who = token.subject().unwrap_or("client").to_owned();
        Ok(CallToolResult::success(vec![ContentBlock::text(who)]))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Server {}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let jwks = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1",
      "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#;
    let auth = McpAuth::builder("https://mcp.example.com/mcp")
        .issuer("https://auth.example.com", StaticKeys::from_jwks(jwks)?)
        .require_scope("mcp:tools")
        .build()?;

    // rmcp's Streamable HTTP service, nested at /mcp; the layer wraps the whole router, so it
    // sees full paths and serves the metadata itself.
    let mcp = StreamableHttpService::new(
        || Ok(Server::new()),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    let app = Router::new().nest_service("/mcp", mcp).layer(auth.layer());

    // No token: 401 before rmcp sees the request.
    let request = Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(Body::from(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        ))?;
    let response = app.oneshot(request).await?;
    assert_eq!(response.status(), 401);
    println!("rmcp behind the layer: 401 without a token");
    Ok(())
}
