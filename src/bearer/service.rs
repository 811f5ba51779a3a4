use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::{Layer, Service};

use super::decision::{Config, Denied};
use super::future::ResponseFuture;
use crate::body::ResponseBody;

/// Applies [`BearerAuth`]; made by [`McpAuth::bearer_layer`](crate::McpAuth::bearer_layer).
/// See the [module docs](super).
#[derive(Debug, Clone)]
#[must_use]
pub struct BearerAuthLayer {
    config: Arc<Config>,
}

impl BearerAuthLayer {
    pub(crate) fn new(config: Arc<Config>) -> Self {
        BearerAuthLayer { config }
    }
}

impl<S> Layer<S> for BearerAuthLayer {
    type Service = BearerAuth<S>;

    fn layer(&self, inner: S) -> BearerAuth<S> {
        BearerAuth {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// Middleware that lets only requests with a valid bearer token through. See the
/// [module docs](super).
#[derive(Debug, Clone)]
pub struct BearerAuth<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> BearerAuth<S> {
    crate::macros::inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for BearerAuth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        match self.config.authorize(&request) {
            Ok(token) => {
                self.config.admit(&mut request, token);
                ResponseFuture::inner(self.inner.call(request))
            }
            #[cfg(feature = "remote")]
            Err(Denied {
                introspection: Some(introspection),
                ..
            }) => {
                // An opaque token, not cached: ask the authorization server. As for a refresh,
                // the future gets a clone of the service, driven to readiness only once
                // authorized.
                let service = self.inner.clone();
                ResponseFuture::introspecting(
                    introspection,
                    service,
                    request,
                    Arc::clone(&self.config),
                )
            }
            Err(Denied {
                refresh: Some(source),
                ..
            }) => {
                // The token names a key its issuer's source does not have yet, or one whose
                // signature check failed (the key may have been replaced): refresh once, then
                // decide again. The ready service stays here for the next request; the
                // future gets a clone and drives it to readiness only once authorized, so no
                // capacity of the inner service is held while keys are fetched.
                let refresh = source.refresh();
                let service = self.inner.clone();
                ResponseFuture::refreshing(refresh, service, request, Arc::clone(&self.config))
            }
            Err(Denied {
                error, principal, ..
            }) => {
                let target = crate::observe::Target::of(&request);
                let mut response = self.config.reject(error, principal.as_ref(), target);
                crate::body::close_if_body_pending(&request, &mut response);
                ResponseFuture::rejected(response)
            }
        }
    }
}
