//! What the layer tells operators: one `tracing` event per decision and, with the `metrics`
//! feature, counters through the [`metrics`](https://docs.rs/metrics) facade.
//!
//! Events use the target [`TRACE_TARGET`] (`mcp_server_auth`) and these
//! fields, whose names are stable:
//!
//! | event | level | fields |
//! |---|---|---|
//! | request accepted | `debug` | `outcome = "accepted"`, `issuer`, `client_id`, `cached` |
//! | request rejected by the bearer stage or the per-operation scopes | `debug` | `outcome = "rejected"`, `status`, `reason` (see [`AuthError::reason`](crate::AuthError::reason)), `method`, `path`; for `insufficient_scope`, also `issuer` and `client_id` |
//! | request refused by the origin guard, the version gate, the session binding, or while its body was read | `debug` | `method`, `path`, and `error` or `reason` |
//! | keys loaded / key fetch failed | `debug` / `warn` | `issuer`, `keys` or `error` |
//! | introspection failed, endpoint not discovered | `warn` | `issuer`, `status`, `error` or `problems` |
//!
//! Only values from a *verified* token are ever logged (issuer, client id); nothing from a
//! rejected token is, and never a token, a signature or key material. The `path` is the
//! request's path without its query (which could carry a token), so a client's probe of the
//! server can be told from a real call.
//!
//! Counters (feature `metrics`; your recorder decides where they go):
//!
//! | counter | labels |
//! |---|---|
//! | `mcp_server_auth_requests_accepted_total` | `cached` (`true`/`false`) |
//! | `mcp_server_auth_requests_rejected_total` | `reason` |
//! | `mcp_server_auth_key_fetches_total` | `outcome` (`ok`/`error`) |
//! | `mcp_server_auth_token_cache_lookups_total` | `outcome` (`hit`/`miss`) |
//! | `mcp_server_auth_introspections_total` | `outcome` (`ok`/`error`) |
//!
//! ```
//! use mcp_server_auth::observe::counters;
//! use mcp_server_auth::validate::TokenErrorKind;
//!
//! // What a dashboard matches on: counter names and `reason` labels never change.
//! assert_eq!(counters::REJECTED, "mcp_server_auth_requests_rejected_total");
//! assert_eq!(TokenErrorKind::Expired.as_str(), "expired");
//! assert_eq!(TokenErrorKind::BadSignature.as_str(), "bad_signature");
//! ```

use http::Request;
use http::request::Parts;

use crate::token::VerifiedToken;

/// The `tracing` target every event of this crate uses.
pub const TRACE_TARGET: &str = "mcp_server_auth";

/// What a refused request asked for, as its log event names it: the method and the path,
/// never the query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
}

impl<'a> Target<'a> {
    pub(crate) fn of<B>(request: &'a Request<B>) -> Self {
        Target {
            method: request.method().as_str(),
            path: request.uri().path(),
        }
    }

    pub(crate) fn of_parts(parts: &'a Parts) -> Self {
        Target {
            method: parts.method.as_str(),
            path: parts.uri.path(),
        }
    }
}

/// Counter names, for recorders and dashboards.
pub mod counters {
    /// Requests the bearer stage let through.
    pub const ACCEPTED: &str = "mcp_server_auth_requests_accepted_total";
    /// Requests the bearer stage refused, labelled by `reason`.
    pub const REJECTED: &str = "mcp_server_auth_requests_rejected_total";
    /// Key document fetches, labelled by `outcome`.
    pub const KEY_FETCHES: &str = "mcp_server_auth_key_fetches_total";
    /// Verified-token cache lookups, labelled by `outcome`.
    pub const CACHE_LOOKUPS: &str = "mcp_server_auth_token_cache_lookups_total";
    /// Introspection requests, labelled by `outcome` (`ok`: a 200 answer, whatever it says).
    pub const INTROSPECTIONS: &str = "mcp_server_auth_introspections_total";
}

pub(crate) fn accepted(token: Option<&VerifiedToken>, cached: bool) {
    match token {
        Some(token) => tracing::debug!(
            target: TRACE_TARGET,
            outcome = "accepted",
            issuer = token.issuer(),
            client_id = token.client_id(),
            cached,
            "request accepted"
        ),
        None => tracing::debug!(
            target: TRACE_TARGET,
            outcome = "accepted",
            anonymous = true,
            "request accepted without credentials"
        ),
    }
    #[cfg(feature = "metrics")]
    metrics::counter!(counters::ACCEPTED, "cached" => if cached { "true" } else { "false" })
        .increment(1);
}

/// A refusal with this status and `reason` (a stable name, such as
/// [`AuthError::reason`](crate::AuthError::reason)).
pub(crate) fn rejected(
    status: u16,
    reason: &'static str,
    token: Option<&VerifiedToken>,
    request: Target<'_>,
) {
    let Target { method, path } = request;
    match token {
        Some(token) => tracing::debug!(
            target: TRACE_TARGET,
            outcome = "rejected",
            status,
            reason,
            issuer = token.issuer(),
            client_id = token.client_id(),
            method,
            path,
            "request rejected"
        ),
        None => tracing::debug!(
            target: TRACE_TARGET,
            outcome = "rejected",
            status,
            reason,
            method,
            path,
            "request rejected"
        ),
    }
    #[cfg(feature = "metrics")]
    metrics::counter!(counters::REJECTED, "reason" => reason).increment(1);
}

#[cfg(feature = "remote")]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn key_fetch(ok: bool) {
    #[cfg(feature = "metrics")]
    metrics::counter!(counters::KEY_FETCHES, "outcome" => if ok { "ok" } else { "error" })
        .increment(1);
}

#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn cache_lookup(hit: bool) {
    #[cfg(feature = "metrics")]
    metrics::counter!(counters::CACHE_LOOKUPS, "outcome" => if hit { "hit" } else { "miss" })
        .increment(1);
}

#[cfg(feature = "remote")]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn introspection(ok: bool) {
    #[cfg(feature = "metrics")]
    metrics::counter!(counters::INTROSPECTIONS, "outcome" => if ok { "ok" } else { "error" })
        .increment(1);
}
