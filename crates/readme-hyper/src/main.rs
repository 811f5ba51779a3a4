use std::convert::Infallible;

use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use mcp_server_auth::{McpAuth, VerifiedToken, keys::StaticKeys};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::{Layer, service_fn};

/// Your MCP endpoint: it runs only for requests with a valid token, and sees who sent it.
async fn mcp<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let token = request.extensions().get::<VerifiedToken>();
    let who = token.and_then(|token| token.subject()).unwrap_or("client");
    Ok(Response::new(Full::new(Bytes::from(format!(
        "hello {who}"
    )))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let jwks = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1",
      "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#;
    let auth = McpAuth::builder("https://mcp.example.com/mcp")
        .issuer("https://auth.example.com", StaticKeys::from_jwks(jwks)?)
        .require_scope("mcp:tools")
        .build()?;

    // The layer wraps any Tower service; hyper serves it through hyper-util's adapter.
    let service = auth.layer().layer(service_fn(mcp));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });

    // A client without a token gets 401 and the challenge that leads it to the metadata.
    let mut client = TcpStream::connect(addr).await?;
    client
        .write_all(b"POST /mcp HTTP/1.1\r\nHost: mcp.example.com\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await?;
    let mut answer = String::new();
    client.read_to_string(&mut answer).await?;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("www-authenticate: Bearer scope=\"mcp:tools\", resource_metadata="));
    println!("hyper on {addr}: 401 without a token, as it should");
    Ok(())
}
