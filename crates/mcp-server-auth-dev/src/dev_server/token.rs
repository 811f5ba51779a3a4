//! The token endpoint: the `authorization_code` and `refresh_token` grants.

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use super::authorize::scope_list;
use super::reply::{json, oauth_error, read_form};
use super::shared::Shared;
use super::store::{self, AUTHORIZATION_CODE, REFRESH_TOKEN, Redeem, RefreshGrant};
use crate::testing::unix_now;
use mcp_server_auth::TRACE_TARGET;
use mcp_server_auth::body::FullBody;

pub(super) async fn token(
    shared: &Shared,
    authorization_header: bool,
    body: Incoming,
) -> Response<FullBody> {
    let Some(params) = read_form(body).await else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request body is not a valid form of at most 16 KiB",
        );
    };
    if authorization_header {
        // RFC 6749 §5.2: a client that tried the Authorization header gets a challenge.
        let mut response = oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "only public clients (token_endpoint_auth_method none) are supported",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"development authorization server\""),
        );
        return response;
    }
    let Ok(Some(grant_type)) = params.get("grant_type") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required, once",
        );
    };
    let now = unix_now();
    // The grant types of a registered client; a metadata document client's were checked at
    // the authorization endpoint, and travel with its code.
    let (client_id, registered_grants) = match params.get("client_id") {
        Ok(Some(id)) if id.contains("://") => (id.to_owned(), None),
        Ok(Some(id)) => {
            let grant_types = shared
                .store()
                .client(id, now)
                .map(|client| client.grant_types.clone());
            let Some(grant_types) = grant_types else {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "unknown or missing client_id",
                );
            };
            (id.to_owned(), Some(grant_types))
        }
        Ok(None) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown or missing client_id",
            );
        }
        Err(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_id appears more than once",
            );
        }
    };
    if matches!(grant_type, AUTHORIZATION_CODE | REFRESH_TOKEN)
        && registered_grants.is_some_and(|grants| !grants.iter().any(|g| g == grant_type))
    {
        // RFC 7591 §2: a client uses only the grant types it registered.
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "the client did not register for this grant_type",
        );
    }
    let Ok(resource) = params.get("resource") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "exactly one resource is supported",
        );
    };
    match grant_type {
        AUTHORIZATION_CODE => {
            let (Ok(Some(code)), Ok(Some(redirect_uri)), Ok(Some(verifier))) = (
                params.get("code"),
                params.get("redirect_uri"),
                params.get("code_verifier"),
            ) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "code, redirect_uri and code_verifier are required, once each",
                );
            };
            let redeemed = shared.store().redeem_code(code, now);
            let (grant, family) = match redeemed {
                Ok(found) => found,
                Err(Redeem::Reused) => {
                    tracing::warn!(target: TRACE_TARGET, "development authorization server: an authorization code was presented twice; its tokens are revoked");
                    return invalid_grant("the authorization code was already used");
                }
                Err(Redeem::Expired) => return invalid_grant("the authorization code expired"),
                Err(Redeem::Unknown) => return invalid_grant("unknown authorization code"),
            };
            if grant.client_id != client_id {
                return invalid_grant("the authorization code was issued to another client");
            }
            if grant.redirect_uri != redirect_uri {
                return invalid_grant("redirect_uri differs from the authorization request's");
            }
            if !store::is_valid_verifier(verifier) || store::s256(verifier) != grant.code_challenge
            {
                return invalid_grant("the PKCE code_verifier does not match the code_challenge");
            }
            if resource.is_some_and(|r| r != grant.resource) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_target",
                    "resource differs from the authorization request's",
                );
            }
            let refresh = RefreshGrant {
                client_id,
                scope: grant.scope.clone(),
                resource: grant.resource.clone(),
                family,
            };
            issue(shared, &grant.scope, refresh, grant.refresh_allowed, now)
        }
        REFRESH_TOKEN => {
            let Ok(Some(refresh_token)) = params.get("refresh_token") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required, once",
                );
            };
            let redeemed = shared.store().redeem_refresh(refresh_token, now);
            let grant = match redeemed {
                Ok(grant) => grant,
                Err(Redeem::Reused) => {
                    tracing::warn!(target: TRACE_TARGET, "development authorization server: a refresh token was presented twice; its family is revoked");
                    return invalid_grant("the refresh token was already used");
                }
                Err(Redeem::Expired) => return invalid_grant("the refresh token expired"),
                Err(Redeem::Unknown) => return invalid_grant("unknown or revoked refresh token"),
            };
            if grant.client_id != client_id {
                return invalid_grant("the refresh token was issued to another client");
            }
            if resource.is_some_and(|r| r != grant.resource) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_target",
                    "resource differs from the original grant's",
                );
            }
            let scope = match params.get("scope") {
                Ok(Some(asked)) => {
                    let asked = scope_list(asked);
                    if asked.iter().any(|s| !grant.scope.contains(s)) {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_scope",
                            "a refresh may narrow the scope, never widen it",
                        );
                    }
                    asked
                }
                Ok(None) => grant.scope.clone(),
                Err(_) => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "scope appears more than once",
                    );
                }
            };
            issue(shared, &scope, grant, true, now)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

pub(super) fn invalid_grant(description: &'static str) -> Response<FullBody> {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// Mints an access token for `scope` and, when `with_refresh` (the client registered for the
/// `refresh_token` grant), a new refresh token in the grant's family.
fn issue(
    shared: &Shared,
    scope: &[String],
    refresh: RefreshGrant,
    with_refresh: bool,
    now: u64,
) -> Response<FullBody> {
    let lifetime = shared.access_token_lifetime.as_secs();
    let scope = scope.join(" ");
    let access_token = shared
        .signer
        .token()
        .audience(refresh.resource.clone())
        .subject(shared.subject.clone())
        .client_id(refresh.client_id.clone())
        .scope(scope.clone())
        .expires_in(i64::try_from(lifetime).unwrap_or(3600))
        .sign();
    let mut answer = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": scope,
    });
    if with_refresh {
        let Some(refresh_token) = shared.store().add_refresh(refresh, now) else {
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "too many refresh tokens",
            );
        };
        if let Some(map) = answer.as_object_mut() {
            map.insert("refresh_token".into(), refresh_token.into());
        }
    }
    let mut response = json(StatusCode::OK, &answer);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
