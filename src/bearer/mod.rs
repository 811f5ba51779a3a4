//! The bearer-token layer: extracts the token, validates it, checks the endpoint scope, and
//! answers every failure with the status and challenge RFC 6750 and the MCP specification
//! call for.
//!
//! | request | status | challenge |
//! |---|---|---|
//! | no `Authorization`, another scheme, or a token only in `?access_token=` | 401 | `resource_metadata`, `scope`; **no** `error` (RFC 6750 §3.1) |
//! | two `Authorization` headers, header plus query token, empty token, junk after it | 400 | `error="invalid_request"` |
//! | any problem with the token ([`crate::validate::TokenErrorKind`]) | 401 | `error="invalid_token"` |
//! | valid token without the endpoint scope | 403 | `error="insufficient_scope"`, `scope` |
//! | valid token refused by a [policy](crate::profile::IssuerProfile::policy) | 403 | `error="access_denied"`, the policy's description |
//! | the issuer's keys, or its introspection endpoint, are unavailable; or no known key verifies the token and the key source's refresh budget is spent | 503 | none; `Retry-After` |
//!
//! Every challenge carries `resource_metadata`. On success the request reaches the inner
//! service with a [`VerifiedToken`](crate::VerifiedToken) in its extensions and, unless configured otherwise, without
//! its `Authorization` header, so the token cannot be passed on. Response bodies of the inner
//! service flow through untouched. Each rejection carries an [`AuthError`] in its response
//! extensions.
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use mcp_server_auth::{AuthError, McpAuth, keys::{Algorithm, StaticKeys}};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let auth = McpAuth::builder("https://mcp.example.com/mcp")
//!     .issuer("https://auth.example.com", StaticKeys::hmac(&[7; 32], Algorithm::HS256)?)
//!     .algorithms([Algorithm::HS256])
//!     .require_scope("mcp:tools")
//!     .build()?;
//! let app = ServiceBuilder::new().layer(auth.layer()).service(service_fn(|_req| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
//! }));
//!
//! let body = http_body_util::Empty::<bytes::Bytes>::new();
//! let response = app.oneshot(Request::post("/mcp").body(body)?).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(
//!     response.headers()["www-authenticate"],
//!     "Bearer scope=\"mcp:tools\", \
//!      resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\""
//! );
//! let error = response.extensions().get::<AuthError>().unwrap();
//! assert_eq!(error.kind(), mcp_server_auth::AuthErrorKind::MissingCredentials);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod decision;
mod extract;
mod future;
mod service;

pub use extract::{Credentials, ExtractError, extract};
pub use future::ResponseFuture;
pub use service::{BearerAuth, BearerAuthLayer};

pub(crate) use decision::Config;

use std::fmt;

use http::StatusCode;

use crate::token_error::{TokenError, TokenErrorKind};

/// Why a request was refused; found in the rejection's response extensions. Opaque: read
/// [`kind`](Self::kind) and [`status`](Self::status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    kind: AuthErrorKind,
    detail: Detail,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Detail {
    None,
    /// The scopes to name in the challenge of a per-operation denial.
    Scopes(Vec<String>),
    Extract(ExtractError),
    Token(TokenError),
}

/// The class of an [`AuthError`], which decides the status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// No bearer credentials were presented: 401 without an `error` code.
    MissingCredentials,
    /// The credentials were malformed or ambiguous: 400 `invalid_request`.
    InvalidRequest,
    /// The token is invalid: 401 `invalid_token`.
    InvalidToken,
    /// The token lacks a required scope: 403 `insufficient_scope`.
    InsufficientScope,
    /// The keys or the introspection needed to check the token are unavailable: 503.
    Unavailable,
    /// The token is valid, but a [policy](crate::profile::IssuerProfile::policy) refuses its
    /// holder: 403 `access_denied`.
    Forbidden,
}

impl AuthError {
    pub(crate) fn missing() -> Self {
        AuthError {
            kind: AuthErrorKind::MissingCredentials,
            detail: Detail::None,
        }
    }

    pub(crate) fn insufficient_scope() -> Self {
        AuthError {
            kind: AuthErrorKind::InsufficientScope,
            detail: Detail::None,
        }
    }

    pub(crate) fn operation_scope(scopes: Vec<String>) -> Self {
        AuthError {
            kind: AuthErrorKind::InsufficientScope,
            detail: Detail::Scopes(scopes),
        }
    }

    /// For a per-operation scope denial, the scopes named in the challenge.
    pub fn challenge_scopes(&self) -> Option<&[String]> {
        match &self.detail {
            Detail::Scopes(scopes) => Some(scopes),
            _ => None,
        }
    }

    /// The class of problem.
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// The status code the rejection was sent with.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            AuthErrorKind::MissingCredentials | AuthErrorKind::InvalidToken => {
                StatusCode::UNAUTHORIZED
            }
            AuthErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            AuthErrorKind::InsufficientScope | AuthErrorKind::Forbidden => StatusCode::FORBIDDEN,
            AuthErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// For token problems, what exactly was wrong.
    pub fn token_error(&self) -> Option<TokenErrorKind> {
        match &self.detail {
            Detail::Token(err) => Some(err.kind()),
            _ => None,
        }
    }

    /// For malformed credentials, what exactly was wrong.
    pub fn extract_error(&self) -> Option<ExtractError> {
        match &self.detail {
            Detail::Extract(err) => Some(*err),
            _ => None,
        }
    }

    /// A stable snake_case name for what was wrong, for logs and metrics labels:
    /// `missing_credentials`, `insufficient_scope`, `operation_scope`, one of
    /// [`ExtractError::as_str`] or one of [`TokenErrorKind::as_str`].
    pub fn reason(&self) -> &'static str {
        match &self.detail {
            Detail::Extract(err) => err.as_str(),
            Detail::Token(err) => err.kind().as_str(),
            Detail::Scopes(_) => "operation_scope",
            Detail::None => match self.kind {
                AuthErrorKind::InsufficientScope => "insufficient_scope",
                _ => "missing_credentials",
            },
        }
    }

    /// The fixed description sent as `error_description` and in the body.
    pub fn description(&self) -> &'static str {
        match &self.detail {
            Detail::Extract(err) => err.description(),
            Detail::Token(err) => err.description(),
            Detail::Scopes(_) => "The access token lacks a scope this operation needs",
            Detail::None => match self.kind {
                AuthErrorKind::InsufficientScope => {
                    "The access token lacks a scope this request needs"
                }
                _ => "No access token was provided",
            },
        }
    }

    pub(crate) fn retry_after_secs(&self) -> Option<u64> {
        match &self.detail {
            Detail::Token(err) => err.retry_after_secs(),
            _ => None,
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            AuthErrorKind::MissingCredentials => f.write_str("no access token"),
            AuthErrorKind::InvalidRequest => f.write_str("malformed credentials"),
            AuthErrorKind::InvalidToken => f.write_str("invalid access token"),
            AuthErrorKind::InsufficientScope => f.write_str("insufficient scope"),
            AuthErrorKind::Unavailable => f.write_str("token check unavailable"),
            AuthErrorKind::Forbidden => f.write_str("access denied"),
        }
    }
}

impl std::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.detail {
            Detail::Extract(err) => Some(err),
            Detail::Token(err) => Some(err),
            Detail::None | Detail::Scopes(_) => None,
        }
    }
}

impl From<ExtractError> for AuthError {
    fn from(err: ExtractError) -> Self {
        AuthError {
            kind: AuthErrorKind::InvalidRequest,
            detail: Detail::Extract(err),
        }
    }
}

impl From<TokenError> for AuthError {
    fn from(err: TokenError) -> Self {
        let kind = match err.kind() {
            TokenErrorKind::KeysUnavailable
            | TokenErrorKind::IntrospectionUnavailable
            | TokenErrorKind::IntrospectionRequired => AuthErrorKind::Unavailable,
            TokenErrorKind::PolicyDenied => AuthErrorKind::Forbidden,
            _ => AuthErrorKind::InvalidToken,
        };
        AuthError {
            kind,
            detail: Detail::Token(err),
        }
    }
}
