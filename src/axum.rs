//! axum integration (feature `axum`): [`VerifiedToken`] as an extractor.

use std::convert::Infallible;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::token::VerifiedToken;

/// The rejection when a handler asks for a [`VerifiedToken`] but no auth layer put one in the
/// request: a server misconfiguration, answered with 500 and never with the handler running.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, thiserror::Error)]
#[error("no verified token: the mcp-server-auth layer does not wrap this route")]
pub struct MissingVerifiedToken;

impl IntoResponse for MissingVerifiedToken {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

/// `VerifiedToken` as an axum extractor; `Option<VerifiedToken>` for routes that allow
/// anonymous access.
///
/// ```
/// use axum::{Router, routing::post};
/// use mcp_server_auth::VerifiedToken;
///
/// async fn handler(token: VerifiedToken) -> String {
///     format!("hello {}", token.subject().unwrap_or("client"))
/// }
/// let app: Router = Router::new().route("/mcp", post(handler));
/// ```
impl<S: Send + Sync> FromRequestParts<S> for VerifiedToken {
    type Rejection = MissingVerifiedToken;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<VerifiedToken>()
            .cloned()
            .ok_or(MissingVerifiedToken)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for VerifiedToken {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<VerifiedToken>().cloned())
    }
}
