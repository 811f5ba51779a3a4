use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::Service;

use super::AuthError;
use super::service::Config;
use crate::body::{FullBody, ResponseBody};
use crate::keys::RefreshFuture;

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
        // Waiting for a key refresh; the rare path, so the boxed refresh future is fine.
        Refreshing {
            refresh: RefreshFuture,
            service: S,
            request: Option<Request<ReqBody>>,
            config: Arc<Config>,
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

    pub(crate) fn refreshing(
        refresh: RefreshFuture,
        service: S,
        request: Request<ReqBody>,
        config: Arc<Config>,
    ) -> Self {
        ResponseFuture {
            state: State::Refreshing {
                refresh,
                service,
                request: Some(request),
                config,
            },
        }
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
            match this.state.as_mut().project() {
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
                    // deciding again reads them (a failed refresh surfaces as 401 or 503 there).
                    let _ = ready!(refresh.as_mut().poll(cx));
                    // `request` is only taken here, right before the state changes; should it be
                    // gone, refuse rather than hang or panic.
                    let Some(mut request) = request.take() else {
                        let response = config.reject(AuthError::missing());
                        this.state.set(State::Rejected {
                            response: Some(response),
                        });
                        continue;
                    };
                    let next = match config.authorize(&request) {
                        Ok(token) => {
                            config.admit(&mut request, token);
                            State::Inner {
                                future: service.call(request),
                            }
                        }
                        Err(denied) => State::Rejected {
                            response: Some(config.reject(denied.error)),
                        },
                    };
                    this.state.set(next);
                }
            }
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
