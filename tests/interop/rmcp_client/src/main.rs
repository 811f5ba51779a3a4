//! The rmcp client (official Rust MCP SDK, `auth` feature) against protected_server and the
//! oidc-provider authorization server:
//!
//! ```text
//! interop-rmcp-client --mcp http://127.0.0.1:PORT/mcp --issuer http://127.0.0.1:PORT2
//! ```
//!
//! rmcp's OAuth is driven by the app: a request answered 401 surfaces as an error carrying the
//! `WWW-Authenticate` challenge; the app feeds it to `OAuthState::start_authorization`
//! (`AuthorizationRequest::with_challenge`: PRM from `resource_metadata`, AS metadata,
//! registration, PKCE with `resource`), sends the user to the authorization URL and hands the
//! redirect back (`handle_callback_url`); an `AuthClient` then adds the token to every request.
//! A 403 `insufficient_scope` likewise surfaces with its challenge, and the app asks the
//! `AuthorizationManager` for a scope upgrade (`request_scope_upgrade`), then exchanges the new
//! code. The "user" here is an HTTP client following the authorization server's redirects
//! (login and consent are automatic there).
//!
//! Scenarios: rmcp-flow, rmcp-step-up. Prints PASS/FAIL lines; exit code 1 on any FAIL. Never
//! prints a token (lengths only).

use std::collections::BTreeMap;
use std::error::Error;
use std::process::ExitCode;
use std::sync::Arc;

use base64::Engine as _;
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{ClientInitializeError, RoleClient, RunningService, ServiceError};
use rmcp::transport::DynamicTransportError;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::auth::{
    AuthClient, AuthorizationManager, AuthorizationRequest, OAuthState, WWWAuthenticateParams,
};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransportConfig, StreamableHttpError,
};
use rmcp::transport::worker::WorkerQuitReason;
use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

const TEST_USER: &str = "interop-user";
/// Never contacted: the redirect to it is read, not followed.
const REDIRECT_URI: &str = "http://127.0.0.1:1/callback";

type BoxError = Box<dyn Error + Send + Sync>;

struct Args {
    mcp: String,
    issuer: String,
}

fn parse_args() -> Result<Args, String> {
    let mut mcp = None;
    let mut issuer = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--mcp" => mcp = Some(value),
            "--issuer" => issuer = Some(value),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(Args {
        mcp: mcp.ok_or("--mcp is required")?,
        issuer: issuer.ok_or("--issuer is required")?,
    })
}

/// The `WWW-Authenticate` challenge of a 401/403 inside an rmcp error. rmcp's wrappers
/// (`ClientInitializeError::TransportError`, `ServiceError::TransportSend`,
/// `WorkerQuitReason::Fatal`) do not expose what they wrap as `source()`, so each is unwrapped
/// by its concrete type.
fn challenge_in(error: &(dyn Error + 'static)) -> Option<String> {
    if let Some(http) = error.downcast_ref::<StreamableHttpError<reqwest::Error>>() {
        return http.auth_challenge().map(str::to_owned);
    }
    if let Some(WorkerQuitReason::Fatal { error, .. }) =
        error.downcast_ref::<WorkerQuitReason<StreamableHttpError<reqwest::Error>>>()
    {
        return challenge_in(error);
    }
    if let Some(dynamic) = error.downcast_ref::<DynamicTransportError>() {
        return challenge_in(dynamic.error.as_ref());
    }
    if let Some(ClientInitializeError::TransportError { error, .. }) =
        error.downcast_ref::<ClientInitializeError>()
    {
        return challenge_in(error);
    }
    if let Some(ServiceError::TransportSend(error)) = error.downcast_ref::<ServiceError>() {
        return challenge_in(error);
    }
    error.source().and_then(challenge_in)
}

/// One line: the error and its sources.
fn describe(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(source) = current {
        let more = source.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        current = source.source();
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn jwt_claims(token: &str) -> Result<Value, BoxError> {
    let payload = token.split('.').nth(1).ok_or("access token is not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?;
    Ok(serde_json::from_slice(&bytes)?)
}

fn query_of(url: &str) -> Result<BTreeMap<String, String>, BoxError> {
    Ok(Url::parse(url)?.query_pairs().into_owned().collect())
}

/// The headless user agent: follows redirects (keeping cookies) from the authorization URL
/// until one goes to REDIRECT_URI, and returns that redirect URL.
async fn follow_authorization(start: &str) -> Result<String, BoxError> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut cookies: BTreeMap<String, String> = BTreeMap::new();
    let mut url = Url::parse(start)?;
    for _ in 0..12 {
        let cookie = cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = browser
            .get(url.clone())
            .header("cookie", cookie)
            .send()
            .await?;
        for value in response.headers().get_all("set-cookie") {
            let pair = value.to_str()?.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                cookies.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        let Some(location) = location.filter(|_| status.is_redirection()) else {
            let body = response.text().await.unwrap_or_default();
            let words: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
            return Err(format!(
                "authorization stopped at {} with HTTP {status}: {}",
                url.path(),
                &words[..words.len().min(300)]
            )
            .into());
        };
        let next = url.join(&location)?;
        if next.as_str().starts_with(REDIRECT_URI) {
            return Ok(next.into());
        }
        url = next;
    }
    Err("too many redirects during authorization".into())
}

fn tool_text(result: &impl serde::Serialize) -> Result<String, BoxError> {
    let value = serde_json::to_value(result)?;
    if value.get("isError").and_then(Value::as_bool) == Some(true) {
        return Err(format!("tool returned an error: {value}").into());
    }
    value["content"][0]["text"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no text content in {value}").into())
}

type Client = RunningService<RoleClient, ()>;

struct Session {
    client: Client,
    manager: Arc<Mutex<AuthorizationManager>>,
}

async fn flow(args: &Args, session: &mut Option<Session>) -> Result<String, BoxError> {
    let mut steps = Vec::new();

    // 1. Unauthenticated: the server answers 401 with a challenge.
    let plain = StreamableHttpClientTransport::from_uri(args.mcp.as_str());
    let refused = match ().serve(plain).await {
        Ok(client) => {
            let _ = client.cancel().await;
            return Err("the server accepted a connection without a token".into());
        }
        Err(error) => error,
    };
    let challenge = challenge_in(&refused).ok_or_else(|| {
        format!(
            "no 401 challenge in the refusal: {}",
            describe(&refused as &(dyn Error + 'static))
        )
    })?;
    let params = WWWAuthenticateParams::parse(&challenge, &Url::parse(&args.mcp)?);
    steps.push(format!(
        "401 (resource_metadata {}, scope {:?})",
        params
            .resource_metadata_url
            .as_ref()
            .map(Url::path)
            .unwrap_or("none"),
        params.scope.as_deref().unwrap_or("")
    ));

    // 2. PRM → AS metadata → registration → authorization URL with PKCE and resource.
    // `with_initial_scope_selection`: ask for the challenge's scope (mcp:tools) only. By
    // default rmcp 3.9 asks for the challenge's scope *and* the metadata's scopes_supported
    // (mcp:admin included) up front, so the step-up scenario would have nothing to do.
    let mut state = OAuthState::new(args.mcp.as_str(), None).await?;
    state
        .start_authorization(
            AuthorizationRequest::new(REDIRECT_URI)
                .with_client_name("mcp-server-auth interop (rmcp)")
                .with_application_type("native")
                .with_initial_scope_selection()
                .with_challenge(challenge),
        )
        .await?;
    let authorization_url = state.get_authorization_url().await?;
    if !authorization_url.starts_with(&args.issuer) {
        return Err(format!(
            "authorization URL is not at the issuer: {}",
            Url::parse(&authorization_url)?
                .origin()
                .ascii_serialization()
        )
        .into());
    }
    let query = query_of(&authorization_url)?;
    if query.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return Err("authorization without PKCE S256".into());
    }
    if query.get("resource") != Some(&args.mcp) {
        return Err(format!(
            "authorization resource={:?}, want {}",
            query.get("resource"),
            args.mcp
        )
        .into());
    }
    steps.push(format!(
        "PRM → AS metadata → registration → PKCE+resource scope={:?}",
        query.get("scope").map(String::as_str).unwrap_or("")
    ));

    // 3. The user agent, then the code exchange.
    let redirect = follow_authorization(&authorization_url).await?;
    let callback = query_of(&redirect)?;
    if let Some(error) = callback.get("error") {
        return Err(format!(
            "authorization failed: {error}: {}",
            callback
                .get("error_description")
                .map(String::as_str)
                .unwrap_or("")
        )
        .into());
    }
    state.handle_callback_url(&redirect).await?;
    let manager = state
        .into_authorization_manager()
        .ok_or("not authorized after the callback")?;
    let (_client_id, credentials) = manager.get_credentials().await?;
    let token = credentials.ok_or("no token after the callback")?;
    let access_token = oauth2_secret(&token);
    let claims = jwt_claims(&access_token)?;
    if claims["aud"] != Value::String(args.mcp.clone())
        || claims["iss"] != Value::String(args.issuer.clone())
    {
        return Err(format!("token aud={} iss={}", claims["aud"], claims["iss"]).into());
    }
    steps.push("token".to_owned());

    // 4. MCP with the token.
    let auth_client = AuthClient::new(reqwest::Client::default(), manager);
    let manager = auth_client.auth_manager.clone();
    let transport = StreamableHttpClientTransport::with_client(
        auth_client,
        StreamableHttpClientTransportConfig::with_uri(args.mcp.as_str()),
    );
    let client = ().serve(transport).await?;
    let tools = client.list_all_tools().await?;
    let names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    if !names.iter().any(|n| n == "whoami") {
        return Err(format!("tools/list has no whoami: {names:?}").into());
    }
    let identity: Value = serde_json::from_str(&tool_text(
        &client
            .call_tool(CallToolRequestParams::new("whoami"))
            .await?,
    )?)?;
    if identity["sub"] != TEST_USER {
        return Err(format!("whoami sub={}, want {TEST_USER}", identity["sub"]).into());
    }
    *session = Some(Session { client, manager });
    Ok(format!(
        "{} → tools/list ({} tools) → whoami sub={}; token {} chars, scope={}",
        steps.join(" → "),
        names.len(),
        identity["sub"].as_str().unwrap_or_default(),
        access_token.len(),
        claims["scope"]
    ))
}

/// The access token of a token response (through serde: rmcp does not re-export the oauth2
/// crate's `TokenResponse` trait).
fn oauth2_secret(token: &rmcp::transport::auth::OAuthTokenResponse) -> String {
    serde_json::to_value(token)
        .ok()
        .and_then(|v| v["access_token"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn step_up(args: &Args, session: &Option<Session>) -> Result<String, BoxError> {
    let Some(Session { client, manager }) = session else {
        return Err("not run: rmcp-flow did not connect".into());
    };
    // What the SDK does by itself: the 403 surfaces as an error carrying the challenge.
    let refused = match client
        .call_tool(CallToolRequestParams::new("admin_reset"))
        .await
    {
        Ok(_) => return Err("admin_reset succeeded with an mcp:tools token".into()),
        Err(error) => error,
    };
    let challenge = challenge_in(&refused).ok_or_else(|| {
        format!(
            "no 403 challenge in the refusal: {}",
            describe(&refused as &(dyn Error + 'static))
        )
    })?;
    let params = WWWAuthenticateParams::parse(&challenge, &Url::parse(&args.mcp)?);
    if !params.is_insufficient_scope() {
        return Err(format!("refusal is not insufficient_scope: {challenge}").into());
    }
    let required = params
        .scope
        .clone()
        .ok_or("the 403 challenge names no scope")?;

    // The app asks for the upgrade and completes it.
    let upgrade_url = manager
        .lock()
        .await
        .request_scope_upgrade(&required)
        .await?;
    let asked = query_of(&upgrade_url)?
        .get("scope")
        .cloned()
        .unwrap_or_default();
    let redirect = follow_authorization(&upgrade_url).await?;
    let callback = query_of(&redirect)?;
    let code = callback
        .get("code")
        .ok_or_else(|| format!("no code in the redirect: {:?}", callback.get("error")))?;
    let state = callback.get("state").ok_or("no state in the redirect")?;
    let token = manager
        .lock()
        .await
        .exchange_code_for_token_with_issuer(code, state, callback.get("iss").map(String::as_str))
        .await?;
    let claims = jwt_claims(&oauth2_secret(&token))?;

    let text = tool_text(
        &client
            .call_tool(CallToolRequestParams::new("admin_reset"))
            .await?,
    )?;
    if !text.contains("reset done") {
        return Err(format!("admin_reset answered {text:?}").into());
    }
    Ok(format!(
        "403 insufficient_scope scope={required:?} surfaced to the app → request_scope_upgrade asked scope={asked:?} → code exchanged → retried → 200; token scope={}",
        claims["scope"]
    ))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let mut failed = 0;
    let mut report = |name: &str, result: Result<String, BoxError>| match result {
        Ok(note) => println!("PASS {name} ({note})"),
        Err(error) => {
            failed += 1;
            println!("FAIL {name}: {}", describe(error.as_ref()));
        }
    };
    let mut session = None;
    report("rmcp-flow", flow(&args, &mut session).await);
    report("rmcp-step-up", step_up(&args, &session).await);
    if let Some(Session { client, .. }) = session {
        let _ = client.cancel().await;
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
