//! Response bodies: the inner service's body passes through untouched (streams included), and
//! the crate's own small responses are a [`FullBody`].

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// Marks a request whose body a layer of this crate read to the end (only ever after its token
/// was validated, or for an anonymous method): a refusal of it leaves no bytes unread, so the
/// connection can stay open, and errors can answer its JSON-RPC `id`.
#[derive(Debug, Clone)]
pub(crate) struct BodyRead {
    /// The `id` of a single JSON-RPC request (a string or a number).
    pub(crate) request_id: Option<serde_json::Value>,
}

/// The JSON-RPC `id` of a request whose body a layer read, for errors that answer it; null
/// otherwise. Nothing is read here.
pub(crate) fn request_id(extensions: &http::Extensions) -> serde_json::Value {
    extensions
        .get::<BodyRead>()
        .and_then(|read| read.request_id.clone())
        .unwrap_or_default()
}

/// A body held whole in memory: the crate's own responses.
#[derive(Debug, Clone, Default)]
pub struct FullBody {
    data: Option<Bytes>,
}

impl FullBody {
    /// A body with these bytes.
    pub fn new(data: impl Into<Bytes>) -> Self {
        let data = data.into();
        FullBody {
            data: (!data.is_empty()).then_some(data),
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        FullBody { data: None }
    }
}

impl Body for FullBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().data.take().map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

pin_project! {
    /// The body of a response that passed through a layer of this crate: either the inner
    /// service's body, untouched, or a response the layer wrote itself.
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Full { body: FullBody },
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn inner(body: B) -> Self {
        ResponseBody {
            kind: Kind::Inner { body },
        }
    }

    pub(crate) fn full(body: FullBody) -> Self {
        ResponseBody {
            kind: Kind::Full { body },
        }
    }
}

impl<B> ResponseBody<ResponseBody<B>> {
    /// One body for two layers' worth of wrapping: the inner body as it is, or the outer
    /// layer's own response.
    pub(crate) fn flatten(self) -> ResponseBody<B> {
        match self.kind {
            Kind::Inner { body } => body,
            Kind::Full { body } => ResponseBody::full(body),
        }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Full { body } => Poll::Ready(body.data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Full { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Full { body } => body.size_hint(),
        }
    }
}

/// A small JSON error response, `{"error":…,"error_description":…}` (without `error` when
/// there is no code), from fixed strings.
pub(crate) fn json_response(
    status: StatusCode,
    error: Option<&'static str>,
    description: &'static str,
) -> Response<FullBody> {
    let body = match error {
        Some(error) => serde_json::json!({ "error": error, "error_description": description }),
        None => serde_json::json!({ "error_description": description }),
    };
    let mut response = Response::new(FullBody::new(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A JSON-RPC error response, for refusals an MCP client should see as protocol errors: a
/// forbidden `Origin`, an unsupported protocol version. `message` is fixed text; `data` is
/// serialized JSON (escape anything taken from the request); `id` is the request's, or null
/// when its body was not read.
pub(crate) fn jsonrpc_error(
    status: StatusCode,
    code: i64,
    message: &'static str,
    data: Option<serde_json::Value>,
    id: serde_json::Value,
) -> Response<FullBody> {
    let mut error = serde_json::json!({ "code": code, "message": message });
    if let (Some(data), Some(object)) = (data, error.as_object_mut()) {
        object.insert("data".to_owned(), data);
    }
    let mut body = serde_json::json!({ "jsonrpc": "2.0", "error": error });
    if let Some(object) = body.as_object_mut() {
        object.insert("id".to_owned(), id);
    }
    let mut response = Response::new(FullBody::new(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Says `Connection: close` on a response the layer sends in place of the inner service's when
/// body bytes of the HTTP/1 request may still be unread.
///
/// A rejection is sent without reading the request body. The server then drops the connection
/// if the body has not all arrived yet, but nothing on the wire says so: a client that sent the
/// body a moment after the headers (Python's httpx does) and reuses the connection for its
/// retry with a token loses that request ("server disconnected"). Announced, the client opens a
/// new connection instead. A body the layer read to the end leaves nothing unread: the
/// connection stays open. HTTP/2 streams are unaffected and get no such header.
pub(crate) fn close_if_body_pending<B, R>(request: &Request<B>, response: &mut Response<R>) {
    if request.extensions().get::<BodyRead>().is_some() {
        return;
    }
    let headers = request.headers();
    if headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0")
    {
        close_if_http1(request.version(), response);
    }
}

/// Says `Connection: close` on an HTTP/1 response: the request body was left part-read.
pub(crate) fn close_if_http1<R>(version: Version, response: &mut Response<R>) {
    if version <= Version::HTTP_11 {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}

/// What a response future yields if polled again after it completed: a refusal, never a
/// success and never a panic.
pub(crate) fn polled_after_completion() -> Response<FullBody> {
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        Some("server_error"),
        "The response future was polled after completion",
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod connection_tests {
    use super::*;

    fn closes(version: Version, headers: &[(&str, &str)]) -> bool {
        let mut request = Request::builder().version(version);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(()).unwrap();
        let mut response = Response::new(());
        close_if_body_pending(&request, &mut response);
        match response.headers().get(header::CONNECTION) {
            Some(value) => {
                assert_eq!(value, "close");
                true
            }
            None => false,
        }
    }

    #[test]
    fn only_http1_requests_with_body_bytes_get_connection_close() {
        assert!(closes(Version::HTTP_11, &[("content-length", "57")]));
        assert!(closes(
            Version::HTTP_11,
            &[("transfer-encoding", "chunked")]
        ));
        assert!(closes(Version::HTTP_10, &[("content-length", "1")]));
        assert!(!closes(Version::HTTP_11, &[("content-length", "0")]));
        assert!(!closes(Version::HTTP_11, &[]));
        assert!(!closes(Version::HTTP_2, &[("content-length", "57")]));
    }

    #[test]
    fn a_body_read_to_the_end_keeps_the_connection() {
        let mut request = Request::builder()
            .header("content-length", "57")
            .body(())
            .unwrap();
        request
            .extensions_mut()
            .insert(BodyRead { request_id: None });
        let mut response = Response::new(());
        close_if_body_pending(&request, &mut response);
        assert!(response.headers().get(header::CONNECTION).is_none());
    }
}
