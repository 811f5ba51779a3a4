//! A response future shared by layers that either answer a request themselves or pass it on.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;

use crate::body::{FullBody, ResponseBody};

pin_project! {
    /// Response future of a layer that either answered the request itself or called the inner
    /// service.
    pub struct EitherResponse<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Inner { #[pin] future: F },
        Ready { response: Option<Response<FullBody>> },
    }
}

impl<F> EitherResponse<F> {
    pub(crate) fn inner(future: F) -> Self {
        EitherResponse {
            state: State::Inner { future },
        }
    }

    pub(crate) fn ready(response: Response<FullBody>) -> Self {
        EitherResponse {
            state: State::Ready {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for EitherResponse<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(response.map(ResponseBody::inner)))
            }
            StateProj::Ready { response } => {
                let response = response
                    .take()
                    .unwrap_or_else(crate::body::polled_after_completion);
                Poll::Ready(Ok(response.map(ResponseBody::full)))
            }
        }
    }
}

impl<F> fmt::Debug for EitherResponse<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EitherResponse").finish_non_exhaustive()
    }
}
