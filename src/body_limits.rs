//! Bounds on the request bodies the layer reads: bytes per body, time per body, and bytes held
//! at once across all requests.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Response, StatusCode, Version};
use http_body::Body;

use crate::body::{FullBody, jsonrpc_error};

/// Default cap on a JSON-RPC body read for policy decisions.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Default time allowed for reading a body the layer needs.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Default bound on body bytes the layer holds at once, across all requests: 64 concurrent
/// bodies of the default 1 MiB cap, far more than a server of small JSON-RPC calls holds.
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 64 * 1024 * 1024;

/// The JSON-RPC code of refusals that are the server's condition, not the request's fault.
const SERVER_ERROR: i64 = -32000;

/// The bounds of one reader; clones share the byte budget.
#[derive(Debug, Clone)]
pub(crate) struct ReadLimits {
    pub(crate) max_body_bytes: usize,
    pub(crate) timeout: Duration,
    pub(crate) budget: Arc<Budget>,
}

impl ReadLimits {
    pub(crate) fn new(max_body_bytes: usize, timeout: Duration, max_buffered_bytes: usize) -> Self {
        ReadLimits {
            max_body_bytes,
            timeout,
            budget: Arc::new(Budget::new(max_buffered_bytes)),
        }
    }

    /// Checks what the body announces before a byte is read: a declared length over the cap
    /// is refused at once, and the declared bytes are reserved from the budget.
    pub(crate) fn start<B: Body>(&self, body: &B) -> Result<Reservation, ReadRefusal> {
        let declared = usize::try_from(body.size_hint().lower()).unwrap_or(usize::MAX);
        if declared > self.max_body_bytes {
            return Err(ReadRefusal::TooLarge);
        }
        let mut reservation = Reservation {
            budget: Some(Arc::clone(&self.budget)),
            bytes: 0,
        };
        if reservation.grow_to(declared) {
            Ok(reservation)
        } else {
            Err(ReadRefusal::Busy)
        }
    }

    /// The deadline of a read starting now, when a Tokio runtime can time it.
    pub(crate) fn deadline(&self) -> Option<Pin<Box<tokio::time::Sleep>>> {
        tokio::runtime::Handle::try_current()
            .ok()
            .map(|_| Box::pin(tokio::time::sleep(self.timeout)))
    }
}

/// Body bytes held at once, shared by every reader of one configuration.
#[derive(Debug)]
pub(crate) struct Budget {
    max: usize,
    used: AtomicUsize,
}

impl Budget {
    pub(crate) fn new(max: usize) -> Self {
        Budget {
            max,
            used: AtomicUsize::new(0),
        }
    }

    /// Bytes held right now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    fn take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.max)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Bytes taken from a [`Budget`], given back when dropped.
#[derive(Debug)]
pub(crate) struct Reservation {
    budget: Option<Arc<Budget>>,
    bytes: usize,
}

impl Reservation {
    /// A reservation of nothing, from no budget.
    pub(crate) fn none() -> Self {
        Reservation {
            budget: None,
            bytes: 0,
        }
    }

    /// Holds at least `bytes` in all; `false` if the budget cannot give the difference.
    pub(crate) fn grow_to(&mut self, bytes: usize) -> bool {
        let Some(more) = bytes.checked_sub(self.bytes).filter(|more| *more > 0) else {
            return true;
        };
        match &self.budget {
            Some(budget) if budget.take(more) => {
                self.bytes = bytes;
                true
            }
            Some(_) => false,
            None => true,
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.give_back(self.bytes);
        }
    }
}

/// Why a body was not read to the end. Each is answered at once with a JSON-RPC error and
/// `Connection: close` (bytes of the body remain unread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadRefusal {
    /// Over the per-body cap: 413.
    TooLarge,
    /// The shared budget is spent: 503 with `Retry-After: 1`.
    Busy,
    /// Not in before the deadline: 408.
    TimedOut,
    /// The body stream failed: 400.
    Unreadable,
}

impl ReadRefusal {
    /// The refusal of the request of `parts` (`None` only if the future was polled after it
    /// completed).
    pub(crate) fn response(self, parts: Option<&Parts>) -> Response<FullBody> {
        let version = parts.map_or(Version::HTTP_11, |parts| parts.version);
        let request = parts.map(crate::observe::Target::of_parts);
        let (status, code, message) = match self {
            ReadRefusal::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                -32600,
                "Request body too large",
            ),
            ReadRefusal::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                SERVER_ERROR,
                "Server busy reading other requests; retry shortly",
            ),
            ReadRefusal::TimedOut => (
                StatusCode::REQUEST_TIMEOUT,
                SERVER_ERROR,
                "The request body did not arrive in time",
            ),
            ReadRefusal::Unreadable => (
                StatusCode::BAD_REQUEST,
                -32700,
                "The request body could not be read",
            ),
        };
        let mut response = jsonrpc_error(status, code, message, None, serde_json::Value::Null);
        if self == ReadRefusal::Busy {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        crate::body::close_if_http1(version, &mut response);
        tracing::debug!(
            target: crate::observe::TRACE_TARGET,
            outcome = "rejected",
            status = status.as_u16(),
            reason = self.reason(),
            method = request.map(|r| r.method),
            path = request.map(|r| r.path),
            "request body not read"
        );
        response
    }

    fn reason(self) -> &'static str {
        match self {
            ReadRefusal::TooLarge => "body_too_large",
            ReadRefusal::Busy => "body_budget_spent",
            ReadRefusal::TimedOut => "body_timeout",
            ReadRefusal::Unreadable => "body_unreadable",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reservations_grow_within_the_budget_and_give_back_on_drop() {
        let limits = ReadLimits::new(100, DEFAULT_BODY_READ_TIMEOUT, 150);
        let budget = Arc::clone(&limits.budget);
        let mut first = limits
            .start(&http_body_util::Full::new(bytes::Bytes::from(vec![0; 80])))
            .unwrap();
        assert_eq!(budget.used(), 80);
        assert!(first.grow_to(90));
        assert!(first.grow_to(50), "shrinking asks for nothing");
        assert_eq!(budget.used(), 90);
        // 90 + 61 > 150: the second body does not fit while the first is held.
        let big = http_body_util::Full::new(bytes::Bytes::from(vec![0; 61]));
        assert_eq!(limits.start(&big).unwrap_err(), ReadRefusal::Busy);
        let mut second = limits
            .start(&http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        assert!(second.grow_to(60));
        assert!(!second.grow_to(61));
        drop(first);
        assert_eq!(budget.used(), 60);
        assert!(second.grow_to(100));
        drop(second);
        assert_eq!(budget.used(), 0);
        // A declared length over the per-body cap is refused before anything is reserved.
        let huge = http_body_util::Full::new(bytes::Bytes::from(vec![0; 101]));
        assert_eq!(limits.start(&huge).unwrap_err(), ReadRefusal::TooLarge);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn refusals_close_http1_connections_and_say_when_to_retry() {
        let parts = |version| {
            let (parts, ()) = http::Request::post("/mcp")
                .version(version)
                .body(())
                .unwrap()
                .into_parts();
            parts
        };
        let busy = ReadRefusal::Busy.response(Some(&parts(Version::HTTP_11)));
        assert_eq!(busy.status(), 503);
        assert_eq!(busy.headers()["retry-after"], "1");
        assert_eq!(busy.headers()["connection"], "close");
        let late = ReadRefusal::TimedOut.response(Some(&parts(Version::HTTP_2)));
        assert_eq!(late.status(), 408);
        assert!(late.headers().get("connection").is_none());
        assert_eq!(ReadRefusal::TooLarge.response(None).status(), 413);
    }
}
