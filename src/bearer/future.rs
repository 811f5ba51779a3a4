use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::Service;

use super::decision::{Config, Denied};
use crate::body::{FullBody, ResponseBody};
use crate::keys::RefreshFuture;
use crate::token::VerifiedToken;
use crate::token_error::TokenError;

#[cfg(feature = "remote")]
type IntrospectionFuture = crate::introspect::IntrospectFuture;
/// Never made without the `remote` feature: nothing can introspect.
#[cfg(not(feature = "remote"))]
type IntrospectionFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<VerifiedToken, TokenError>> + Send>>;

pin_project! {
    /// Response future of [`BearerAuth`](super::BearerAuth).
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        Inner { #[pin] future: S::Future },
        Rejected { response: Option<Response<FullBody>> },
        // Waiting for a key refresh (the rare path, so the boxed future is fine). `service` is
        // a clone not yet driven to readiness: nothing of the inner service's capacity is held
        // while keys are fetched.
        Refreshing {
            refresh: RefreshFuture,
            service: Option<S>,
            request: Option<Request<ReqBody>>,
            config: Arc<Config>,
        },
        // Waiting for the introspection of an opaque token; as for a refresh.
        Introspecting {
            introspection: IntrospectionFuture,
            service: Option<S>,
            request: Option<Request<ReqBody>>,
            config: Arc<Config>,
        },
        // Authorized after the refresh: wait for the clone to be ready, then call it.
        Calling {
            service: S,
            request: Option<Request<ReqBody>>,
        },
    }
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    pub(crate) fn inner(future: S::Future) -> Self {
        ResponseFuture {
            state: State::Inner { future },
        }
    }

    pub(crate) fn rejected(response: Response<FullBody>) -> Self {
        ResponseFuture {
            state: State::Rejected {
                response: Some(response),
            },
        }
    }

    /// `service` must be a clone that `poll_ready` was not called on.
    pub(crate) fn refreshing(
        refresh: RefreshFuture,
        service: S,
        request: Request<ReqBody>,
        config: Arc<Config>,
    ) -> Self {
        ResponseFuture {
            state: State::Refreshing {
                refresh,
                service: Some(service),
                request: Some(request),
                config,
            },
        }
    }
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    /// `service` must be a clone that `poll_ready` was not called on.
    #[cfg(feature = "remote")]
    pub(crate) fn introspecting(
        introspection: IntrospectionFuture,
        service: S,
        request: Request<ReqBody>,
        config: Arc<Config>,
    ) -> Self {
        ResponseFuture {
            state: State::Introspecting {
                introspection,
                service: Some(service),
                request: Some(request),
                config,
            },
        }
    }
}

/// The state after a decision made off the fast path: call the service, or refuse.
fn decided<S, ReqBody>(
    config: &Config,
    service: Option<S>,
    request: Option<Request<ReqBody>>,
    decision: Result<Option<VerifiedToken>, Denied<'_>>,
) -> State<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    match (service, request) {
        (Some(service), Some(mut request)) => match decision {
            Ok(token) => {
                config.admit(&mut request, token);
                State::Calling {
                    service,
                    request: Some(request),
                }
            }
            Err(denied) => {
                let target = crate::observe::Target::of(&request);
                let mut response = config.reject(denied.error, denied.principal.as_ref(), target);
                crate::body::close_if_body_pending(&request, &mut response);
                State::Rejected {
                    response: Some(response),
                }
            }
        },
        // Only reachable if polled after completion: refuse, never hang.
        _ => State::Rejected { response: None },
    }
}

/// A failed introspection as a refusal.
fn refused<'a>(error: TokenError) -> Denied<'a> {
    Denied {
        error: error.into(),
        refresh: None,
        #[cfg(feature = "remote")]
        introspection: None,
        principal: None,
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Inner { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Rejected { response } => {
                    let response = response
                        .take()
                        .unwrap_or_else(crate::body::polled_after_completion);
                    return Poll::Ready(Ok(response.map(ResponseBody::full)));
                }
                StateProj::Refreshing {
                    refresh,
                    service,
                    request,
                    config,
                } => {
                    // Whatever the refresh returned, the key source now holds its best keys;
                    // deciding again reads them (a failed refresh surfaces as 401 or 503 there,
                    // a refresh the rate limit refused as 503).
                    let refreshed = ready!(refresh.as_mut().poll(cx));
                    match request.take() {
                        Some(request) => {
                            let decision = config.reauthorize(&request, refreshed);
                            decided(config, service.take(), Some(request), decision)
                        }
                        // Only reachable if polled after completion: refuse, never hang.
                        None => State::Rejected { response: None },
                    }
                }
                StateProj::Introspecting {
                    introspection,
                    service,
                    request,
                    config,
                } => {
                    let decision = match ready!(introspection.as_mut().poll(cx)) {
                        Ok(token) => config.check_scope(token, false),
                        Err(error) => Err(refused(error)),
                    };
                    decided(config, service.take(), request.take(), decision)
                }
                StateProj::Calling { service, request } => {
                    ready!(service.poll_ready(cx))?;
                    match request.take() {
                        Some(request) => State::Inner {
                            future: service.call(request),
                        },
                        None => State::Rejected { response: None },
                    }
                }
            };
            this.state.set(next);
        }
    }
}

impl<S, ReqBody> fmt::Debug for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
