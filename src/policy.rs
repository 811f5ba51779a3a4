//! Per-operation scopes: what each tool, prompt, resource or method needs, checked after the
//! token is verified, with one step-up challenge listing every scope the operation needs.
//!
//! A denial is HTTP 403 `insufficient_scope` (never an HTTP 200 carrying an error, which
//! clients cannot step up from). Its `scope` follows the request's era: up to 2025-11-25 the
//! required scopes plus those already granted (clients then did not merge scopes themselves);
//! from 2026-07-28 only the required ones (SEP-2350). `offline_access` is never asked for.
//! Scope hierarchies ([`scope_implies`](crate::McpAuthBuilder::scope_implies)) apply to every
//! check.
//!
//! ```
//! use mcp_server_auth::operation::McpOperation;
//! use mcp_server_auth::policy::OperationScopes;
//!
//! let scopes = OperationScopes::new()
//!     .tool("admin_reset", "mcp:admin")
//!     .resource_prefix("file:///secrets/", "files:secret")
//!     .method("tools/list", "mcp:read");
//! let call = McpOperation::new("tools/call", Some("admin_reset"));
//! assert_eq!(scopes.required(&call).collect::<Vec<_>>(), ["mcp:admin"]);
//! let read = McpOperation::new("resources/read", Some("file:///secrets/key"));
//! assert_eq!(scopes.required(&read).collect::<Vec<_>>(), ["files:secret"]);
//! ```

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::{Layer, Service};

use crate::bearer::Config;
use crate::body::ResponseBody;
use crate::future::EitherResponse;
pub use crate::operation_scopes::OperationScopes;
use crate::token::VerifiedToken;

/// Applies [`ScopePolicy`]; made by [`McpAuth::scope_policy_layer`](crate::McpAuth::scope_policy_layer).
#[derive(Debug, Clone)]
#[must_use]
pub struct ScopePolicyLayer {
    config: Arc<Config>,
}

impl ScopePolicyLayer {
    pub(crate) fn new(config: Arc<Config>) -> Self {
        ScopePolicyLayer { config }
    }
}

impl<S> Layer<S> for ScopePolicyLayer {
    type Service = ScopePolicy<S>;

    fn layer(&self, inner: S) -> ScopePolicy<S> {
        ScopePolicy {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// Middleware enforcing per-operation scopes. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct ScopePolicy<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> ScopePolicy<S> {
    crate::macros::inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ScopePolicy<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = EitherResponse<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        match self.config.check_operations(&request) {
            Ok(()) => EitherResponse::inner(self.inner.call(request)),
            Err(error) => {
                let principal = request.extensions().get::<VerifiedToken>();
                let target = crate::observe::Target::of(&request);
                let mut response = self.config.reject(error, principal, target);
                crate::body::close_if_body_pending(&request, &mut response);
                EitherResponse::ready(response)
            }
        }
    }
}
