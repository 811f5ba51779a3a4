//! The services `McpAuth::layer` and `layer_with_cors` make are opaque types whose responses
//! carry one `ResponseBody` around the inner service's body, whichever stage answered: the
//! stages behind them can change without changing a type users name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use mcp_server_auth::body::ResponseBody;
use mcp_server_auth::operation::RequestBody;
use mcp_server_auth::{McpAuth, McpAuthCorsService, McpAuthService};
use mcp_server_auth_dev::testing::TestIssuer;
use tower::{Layer, Service, ServiceExt, service_fn};

const RESOURCE: &str = "https://mcp.example.com/mcp";

async fn inner(_request: Request<RequestBody<String>>) -> Result<Response<String>, Infallible> {
    Ok(Response::new("from the inner service".to_owned()))
}

fn auth(issuer: &TestIssuer) -> McpAuth {
    McpAuth::builder(RESOURCE)
        .issuer(issuer.issuer(), issuer.keys())
        .build()
        .unwrap()
}

fn post(token: Option<&str>) -> Request<String> {
    let mut request = Request::post("/mcp");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(String::new()).unwrap()
}

async fn text(response: Response<ResponseBody<String>>) -> (StatusCode, String) {
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// A passed request gets the inner body, a refusal and the metadata the layer's own, all in
/// the one `ResponseBody` the bound names.
async fn answers_with_one_response_body<S>(service: S, token: &str)
where
    S: Service<Request<String>, Response = Response<ResponseBody<String>>, Error = Infallible>
        + Clone,
{
    let passed = service.clone().oneshot(post(Some(token))).await.unwrap();
    assert_eq!(
        text(passed).await,
        (StatusCode::OK, "from the inner service".to_owned())
    );
    let (status, _) = text(service.clone().oneshot(post(None)).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let metadata = Request::get("/.well-known/oauth-protected-resource/mcp")
        .body(String::new())
        .unwrap();
    let (status, body) = text(service.oneshot(metadata).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(RESOURCE), "{body}");
}

#[tokio::test]
async fn the_layer_answers_with_one_response_body_around_the_inner_body() {
    let issuer = TestIssuer::new("https://auth.example.com");
    let service: McpAuthService<_> = auth(&issuer).layer().layer(service_fn(inner));
    answers_with_one_response_body(service, &issuer.token().audience(RESOURCE).sign()).await;
}

#[tokio::test]
async fn the_cors_layer_does_the_same() {
    let issuer = TestIssuer::new("https://auth.example.com");
    let service: McpAuthCorsService<_> = auth(&issuer).layer_with_cors().layer(service_fn(inner));
    answers_with_one_response_body(service, &issuer.token().audience(RESOURCE).sign()).await;
}
