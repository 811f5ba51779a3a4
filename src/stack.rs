//! The services [`McpAuth::layer`](crate::McpAuth::layer) and
//! [`McpAuth::layer_with_cors`](crate::McpAuth::layer_with_cors) make: the whole stack of stages
//! behind one opaque type each, so that a stage can be added, removed or reordered without
//! changing a type users name. Their responses carry one [`ResponseBody`] around the inner
//! service's body, however many stages wrote none.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use tower::Service;

use crate::bearer::BearerAuth;
use crate::body::ResponseBody;
use crate::cors::McpCors;
use crate::metadata::ServeMetadata;
use crate::operation::{OperationExtractor, OperationReader, RequestBody};
use crate::origin::OriginGuard;
use crate::policy::ScopePolicy;
use crate::protocol_version::ProtocolVersionGate;
use crate::session::SessionBinding;

/// The guards between the metadata route (and CORS) and the inner service, outermost first.
pub(crate) type Guarded<S> = OriginGuard<
    OperationExtractor<
        BearerAuth<OperationReader<ProtocolVersionGate<ScopePolicy<SessionBinding<S>>>>>,
    >,
>;

/// What each of the seven guards wraps the inner body in.
type Guarded7<B> = ResponseBody<
    ResponseBody<ResponseBody<ResponseBody<ResponseBody<ResponseBody<ResponseBody<B>>>>>>,
>;

/// The guards' seven wrappings, and the metadata route's, as one.
fn flatten_guarded<B>(body: ResponseBody<Guarded7<B>>) -> ResponseBody<B> {
    let body = body.flatten().flatten().flatten();
    body.flatten().flatten().flatten().flatten()
}

/// The same with CORS between the metadata route and the guards.
fn flatten_with_cors<B>(body: ResponseBody<ResponseBody<Guarded7<B>>>) -> ResponseBody<B> {
    flatten_guarded(body.flatten())
}

macro_rules! opaque_service {
    (
        $(#[$service_doc:meta])* $service:ident,
        $(#[$future_doc:meta])* $future:ident,
        $stack:ty, $nested:ty, $flatten:path
    ) => {
        $(#[$service_doc])*
        #[derive(Debug, Clone)]
        pub struct $service<S> {
            inner: $stack,
        }

        impl<S> $service<S> {
            pub(crate) fn new(inner: $stack) -> Self {
                $service { inner }
            }
        }

        impl<S, B, ResBody> Service<Request<B>> for $service<S>
        where
            S: Service<Request<RequestBody<B>>, Response = Response<ResBody>> + Clone,
            B: Body<Data = Bytes>,
        {
            type Response = Response<ResponseBody<ResBody>>;
            type Error = S::Error;
            type Future = $future<<$stack as Service<Request<B>>>::Future>;

            fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
                self.inner.poll_ready(cx)
            }

            fn call(&mut self, request: Request<B>) -> Self::Future {
                $future {
                    inner: self.inner.call(request),
                }
            }
        }

        pin_project! {
            $(#[$future_doc])*
            #[derive(Debug)]
            #[must_use = "futures do nothing unless polled"]
            pub struct $future<F> {
                #[pin]
                inner: F,
            }
        }

        impl<F, B, E> Future for $future<F>
        where
            F: Future<Output = Result<Response<$nested>, E>>,
        {
            type Output = Result<Response<ResponseBody<B>>, E>;

            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                self.project()
                    .inner
                    .poll(cx)
                    .map(|result| result.map(|response| response.map($flatten)))
            }
        }
    };
}

opaque_service!(
    /// The service [`McpAuth::layer`](crate::McpAuth::layer) wraps yours in: the metadata
    /// route, then every guard, in the order documented there. Your service receives
    /// `Request<RequestBody<B>>` and must be `Clone`.
    McpAuthService,
    /// The response future of [`McpAuthService`].
    McpAuthFuture,
    ServeMetadata<Guarded<S>>,
    ResponseBody<Guarded7<B>>,
    flatten_guarded
);

opaque_service!(
    /// The service [`McpAuth::layer_with_cors`](crate::McpAuth::layer_with_cors) wraps yours
    /// in: as [`McpAuthService`], with CORS between the metadata route and the guards.
    McpAuthCorsService,
    /// The response future of [`McpAuthCorsService`].
    McpAuthCorsFuture,
    ServeMetadata<McpCors<Guarded<S>>>,
    ResponseBody<ResponseBody<Guarded7<B>>>,
    flatten_with_cors
);
