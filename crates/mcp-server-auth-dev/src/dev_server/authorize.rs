//! The authorization endpoint and the consent page's decision.

use std::sync::atomic::Ordering;

use http::{Response, StatusCode};
use hyper::body::Incoming;

use super::form::{self, Params};
use super::html;
use super::register::{redirect_uri_matches, resolve_client};
use super::reply::{
    bad_authorization, html_page, read_form, redirect, redirect_error, redirect_url,
};
use super::shared::{CONSENT, MAX_AUTHORIZE_QUERY, MAX_STATE, OFFLINE_ACCESS, Shared};
use super::store::{self, AUTHORIZATION_CODE, Grant, REFRESH_TOKEN};
use crate::testing::unix_now;
use crate::url;
use mcp_server_auth::body::FullBody;

pub(super) async fn authorize(shared: &Shared, query: Option<&str>) -> Response<FullBody> {
    if query.is_some_and(|q| q.len() > MAX_AUTHORIZE_QUERY) {
        return bad_authorization("the authorization request is longer than 8 KiB", None);
    }
    let Some(params) = form::parse(query.unwrap_or_default()).map(Params::new) else {
        return bad_authorization(
            "the authorization request is not a valid query string",
            None,
        );
    };
    let Ok(Some(client_id)) = params.get("client_id") else {
        return bad_authorization(
            "the authorization request needs exactly one client_id",
            None,
        );
    };
    let client = match resolve_client(shared, client_id).await {
        Ok(client) => client,
        Err(message) => return bad_authorization(message, Some(client_id)),
    };
    let redirect_uri = match params.get("redirect_uri") {
        Ok(Some(uri)) if redirect_uri_matches(&client.redirect_uris, uri) => uri.to_owned(),
        Ok(Some(uri)) => {
            return bad_authorization("redirect_uri is not registered for this client", Some(uri));
        }
        Ok(None) => {
            return bad_authorization("the authorization request needs a redirect_uri", None);
        }
        Err(_) => return bad_authorization("redirect_uri appears more than once", None),
    };
    // From here on the redirect URI is trusted: errors go back to the client.
    let Ok(state) = params.get("state") else {
        return redirect_error(
            shared,
            &redirect_uri,
            None,
            "invalid_request",
            "state appears more than once",
        );
    };
    if state.is_some_and(|s| s.len() > MAX_STATE) {
        // Not echoed: that would put the oversized value in the Location header.
        return redirect_error(
            shared,
            &redirect_uri,
            None,
            "invalid_request",
            "state is longer than 1 KiB",
        );
    }
    let refuse =
        |error, description| redirect_error(shared, &redirect_uri, state, error, description);
    if !client.allows(AUTHORIZATION_CODE) {
        return refuse(
            "unauthorized_client",
            "the client did not register for the authorization_code grant",
        );
    }
    match params.get("response_type") {
        Ok(Some("code")) => {}
        Ok(Some(_)) => {
            return refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            );
        }
        _ => return refuse("invalid_request", "response_type=code is required"),
    }
    let Ok(Some(code_challenge)) = params.get("code_challenge") else {
        return refuse(
            "invalid_request",
            "PKCE is required: code_challenge is missing",
        );
    };
    if params.get("code_challenge_method") != Ok(Some("S256")) {
        return refuse("invalid_request", "PKCE code_challenge_method must be S256");
    }
    if !store::is_valid_s256_challenge(code_challenge) {
        return refuse("invalid_request", "code_challenge is not an S256 challenge");
    }
    let resource = match params.get("resource") {
        Ok(Some(resource)) if shared.resources.iter().any(|r| r == resource) => resource.to_owned(),
        Ok(Some(_)) => return refuse("invalid_target", "unknown resource"),
        Ok(None) => {
            return refuse(
                "invalid_target",
                "the resource parameter (RFC 8707) is required",
            );
        }
        Err(_) => return refuse("invalid_target", "exactly one resource is supported"),
    };
    let scope = match params.get("scope") {
        Ok(Some(scope)) => {
            let scope = scope_list(scope);
            if scope
                .iter()
                .any(|s| s != OFFLINE_ACCESS && !shared.scopes.contains(s))
            {
                return refuse("invalid_scope", "a requested scope is not supported");
            }
            scope
        }
        Ok(None) => shared.scopes.iter().take(1).cloned().collect(),
        Err(_) => return refuse("invalid_request", "scope appears more than once"),
    };
    let grant = Grant {
        refresh_allowed: client.allows(REFRESH_TOKEN),
        client_id: client.client_id,
        client_name: client.client_name,
        redirect_uri: redirect_uri.clone(),
        scope,
        state: state.map(str::to_owned),
        code_challenge: code_challenge.to_owned(),
        resource,
    };
    if shared.auto_approve.load(Ordering::Relaxed) {
        return approve(shared, grant);
    }
    let Some(transaction) = shared.store().add_pending(grant.clone(), unix_now()) else {
        return refuse("temporarily_unavailable", "too many pending authorizations");
    };
    let redirect_host = url::parse(&grant.redirect_uri)
        .and_then(|uri| uri.authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_default();
    html_page(
        StatusCode::OK,
        html::consent(&html::Consent {
            transaction: &transaction,
            client_name: grant.client_name.as_deref(),
            client_id: &grant.client_id,
            redirect_host: &redirect_host,
            resource: &grant.resource,
            scopes: &grant.scope,
            action: CONSENT,
        }),
    )
}

/// The scopes of a `scope` parameter, in order, each once.
pub(super) fn scope_list(scope: &str) -> Vec<String> {
    let mut list: Vec<String> = Vec::new();
    for token in scope.split(' ').filter(|s| !s.is_empty()) {
        if !list.iter().any(|s| s == token) {
            list.push(token.to_owned());
        }
    }
    list
}

/// Issues a code for `grant` and sends it to the client.
pub(super) fn approve(shared: &Shared, grant: Grant) -> Response<FullBody> {
    let redirect_uri = grant.redirect_uri.clone();
    let state = grant.state.clone();
    let Some(code) = shared.store().add_code(grant, unix_now()) else {
        return redirect_error(
            shared,
            &redirect_uri,
            state.as_deref(),
            "temporarily_unavailable",
            "too many pending codes",
        );
    };
    let mut params = vec![("code", code.as_str())];
    if let Some(state) = &state {
        params.push(("state", state));
    }
    params.push(("iss", &shared.issuer));
    // 303 See Other: the browser follows with a GET, after the consent form's POST too.
    redirect(StatusCode::SEE_OTHER, &redirect_url(&redirect_uri, &params))
}

pub(super) async fn consent(shared: &Shared, body: Incoming) -> Response<FullBody> {
    let Some(params) = read_form(body).await else {
        return bad_authorization("the consent form could not be read", None);
    };
    let (Ok(Some(transaction)), Ok(Some(decision))) =
        (params.get("transaction"), params.get("decision"))
    else {
        return bad_authorization(
            "the consent form needs one transaction and one decision",
            None,
        );
    };
    if decision != "allow" && decision != "deny" {
        return bad_authorization("the decision must be allow or deny", None);
    }
    let Some(grant) = shared.store().take_pending(transaction, unix_now()) else {
        return bad_authorization(
            "unknown, used or expired authorization: start again from the client",
            None,
        );
    };
    if decision == "allow" {
        approve(shared, grant)
    } else {
        let mut response = redirect_error(
            shared,
            &grant.redirect_uri,
            grant.state.as_deref(),
            "access_denied",
            "the user denied the request",
        );
        *response.status_mut() = StatusCode::SEE_OTHER;
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_lists_keep_order_and_drop_repeats() {
        assert_eq!(scope_list(" a  b a c "), ["a", "b", "c"]);
        assert!(scope_list("").is_empty());
    }
}
