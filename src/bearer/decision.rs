//! The bearer decision, apart from the middleware: extract and validate the token, check the
//! endpoint scope, and write the refusal. Pure but for the clock and the key sources' caches;
//! the service and its future call it.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{self, HeaderValue};
use http::{Request, Response};

use super::extract::{Credentials, extract};
use super::{AuthError, AuthErrorKind};
use crate::body::{FullBody, json_response};
use crate::challenge::{Challenge, ErrorCode};
use crate::keys::{KeySet, KeySource, KeysUnavailable};
use crate::operation::McpOperations;
use crate::operation_scopes::OperationScopes;
use crate::protocol_version::ProtocolVersion;
use crate::scope::OFFLINE_ACCESS;
use crate::scope::ScopeHierarchy;
use crate::token::VerifiedToken;
use crate::validate::{TokenError, Validator};

/// What the bearer layer needs; built by [`McpAuthBuilder::build`](crate::McpAuthBuilder::build).
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) validator: Validator,
    pub(crate) required_scopes: Vec<String>,
    pub(crate) hierarchy: ScopeHierarchy,
    pub(crate) operations: OperationScopes,
    pub(crate) resource_metadata_url: String,
    pub(crate) strip_authorization: bool,
    pub(crate) error_on_missing_token: bool,
}

/// A refused request, and the key source whose refresh, or the introspection, that might
/// change the answer.
pub(crate) struct Denied<'a> {
    pub(crate) error: AuthError,
    pub(crate) refresh: Option<&'a Arc<dyn KeySource>>,
    #[cfg(feature = "remote")]
    pub(crate) introspection: Option<crate::introspect::IntrospectFuture>,
    /// The verified token of a request refused for its scope, named in the log event.
    pub(crate) principal: Option<VerifiedToken>,
}

impl Config {
    /// Extracts and validates the token and checks the endpoint scope. `Ok(None)`: no
    /// credentials, and every operation of the request may run anonymously.
    pub(crate) fn authorize<B>(
        &self,
        request: &Request<B>,
    ) -> Result<Option<VerifiedToken>, Denied<'_>> {
        let denied = |error: AuthError| Denied {
            error,
            refresh: None,
            #[cfg(feature = "remote")]
            introspection: None,
            principal: None,
        };
        let token = match extract(request.headers(), request.uri()) {
            Ok(Credentials::Bearer(token)) => token,
            Ok(Credentials::None) => {
                let anonymous = request
                    .extensions()
                    .get::<McpOperations>()
                    .is_some_and(|ops| self.operations.all_anonymous(ops));
                return if anonymous {
                    crate::observe::accepted(None, false);
                    Ok(None)
                } else {
                    Err(denied(AuthError::missing()))
                };
            }
            Err(err) => return Err(denied(err.into())),
        };
        let now = unix_now();
        let (verified, cached) = self
            .validator
            .validate_with_cache(token, now)
            .map_err(|err| Denied {
                refresh: self.validator.refresh_source(&err),
                #[cfg(feature = "remote")]
                introspection: err
                    .introspect
                    .map(|issuer| self.validator.introspect(issuer, token, now)),
                error: err.into(),
                principal: None,
            })?;
        self.check_scope(verified, cached)
    }

    /// [`authorize`](Self::authorize) again, after the key refresh a first decision asked for
    /// ended with `refreshed`. A token that still needs newer keys when the source declined to
    /// look for them (its rate limit) is answered as for unavailable keys, 503 with
    /// `Retry-After`: it may well be valid, and its client should retry, not re-authenticate.
    pub(crate) fn reauthorize<B>(
        &self,
        request: &Request<B>,
        refreshed: Result<Arc<KeySet>, KeysUnavailable>,
    ) -> Result<Option<VerifiedToken>, Denied<'_>> {
        match (self.authorize(request), refreshed) {
            (Err(denied), Err(unavailable)) if denied.refresh.is_some() => Err(Denied {
                error: TokenError::from(unavailable).into(),
                refresh: None,
                #[cfg(feature = "remote")]
                introspection: None,
                principal: None,
            }),
            (decision, _) => decision,
        }
    }

    /// The endpoint scope check, on a validated token.
    pub(crate) fn check_scope(
        &self,
        verified: VerifiedToken,
        cached: bool,
    ) -> Result<Option<VerifiedToken>, Denied<'_>> {
        if self
            .required_scopes
            .iter()
            .all(|s| self.hierarchy.satisfies(verified.scopes(), s))
        {
            crate::observe::accepted(Some(&verified), cached);
            Ok(Some(verified))
        } else {
            Err(Denied {
                error: AuthError::insufficient_scope(),
                refresh: None,
                #[cfg(feature = "remote")]
                introspection: None,
                principal: Some(verified),
            })
        }
    }

    /// Hands the verified token to the inner service and, unless configured otherwise, takes
    /// the raw token away from it.
    pub(crate) fn admit<B>(&self, request: &mut Request<B>, token: Option<VerifiedToken>) {
        if self.strip_authorization {
            request.headers_mut().remove(header::AUTHORIZATION);
        }
        if let Some(token) = token {
            request.extensions_mut().insert(token);
        }
    }

    /// The response to a refused request; `principal` is the verified token of a request
    /// refused for its scope, named in the log event with what the request asked for.
    pub(crate) fn reject(
        &self,
        error: AuthError,
        principal: Option<&VerifiedToken>,
        request: crate::observe::Target<'_>,
    ) -> Response<FullBody> {
        crate::observe::rejected(error.status().as_u16(), error.reason(), principal, request);
        // The body names the same error code as the challenge; a request without credentials
        // has none (RFC 6750 §3.1) unless the compatibility flag asks for `invalid_token`.
        let code = match error.kind() {
            AuthErrorKind::MissingCredentials => self
                .error_on_missing_token
                .then_some(ErrorCode::InvalidToken),
            AuthErrorKind::InvalidRequest => Some(ErrorCode::InvalidRequest),
            AuthErrorKind::InvalidToken => Some(ErrorCode::InvalidToken),
            AuthErrorKind::InsufficientScope => Some(ErrorCode::InsufficientScope),
            AuthErrorKind::Forbidden => Some(ErrorCode::AccessDenied),
            AuthErrorKind::Unavailable => None,
        };
        let body_error = match error.kind() {
            AuthErrorKind::Unavailable => Some("temporarily_unavailable"),
            _ => code.map(ErrorCode::as_str),
        };
        let mut response = json_response(error.status(), body_error, error.description());
        if error.kind() == AuthErrorKind::Unavailable {
            let secs = error.retry_after_secs().unwrap_or(5);
            if let Ok(value) = HeaderValue::try_from(secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        } else {
            let mut challenge = Challenge::bearer();
            if let Some(code) = code {
                challenge = challenge.error(code).error_description(error.description());
            }
            // A policy denial names no scope: none would change the answer.
            if error.kind() != AuthErrorKind::Forbidden {
                let scopes = error.challenge_scopes().unwrap_or(&self.required_scopes);
                challenge = challenge.scope(scopes);
            }
            let challenge = challenge.resource_metadata(&self.resource_metadata_url);
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge.to_header_value());
        }
        response.extensions_mut().insert(error);
        response
    }
}

impl Config {
    /// Checks the operations of an authenticated request; the error is the 403 to send.
    pub(crate) fn check_operations<B>(&self, request: &Request<B>) -> Result<(), AuthError> {
        let Some(operations) = request.extensions().get::<McpOperations>() else {
            return Ok(());
        };
        let Some(token) = request.extensions().get::<VerifiedToken>() else {
            // Only anonymous operations get this far without a token (see the bearer layer).
            return if self.operations.all_anonymous(operations) {
                Ok(())
            } else {
                Err(AuthError::missing())
            };
        };
        let mut required: Vec<&str> = Vec::new();
        for scope in self.required_scopes.iter().map(String::as_str).chain(
            operations
                .iter()
                .flat_map(|op| self.operations.required(op)),
        ) {
            if scope != OFFLINE_ACCESS && !required.contains(&scope) {
                required.push(scope);
            }
        }
        if required
            .iter()
            .all(|scope| self.hierarchy.satisfies(token.scopes(), scope))
        {
            return Ok(());
        }
        let modern = operations.from_headers()
            || ProtocolVersion::from_headers(request.headers())
                .version()
                .is_some_and(ProtocolVersion::is_modern);
        let mut challenge: Vec<String> = required.iter().map(|s| (*s).to_owned()).collect();
        if !modern {
            for granted in token.scopes() {
                if granted != OFFLINE_ACCESS && !challenge.contains(granted) {
                    challenge.push(granted.clone());
                }
            }
        }
        Err(AuthError::operation_scope(challenge))
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
