//! Thin wrappers over crate-private parsers, for the fuzz targets in `fuzz/` only.
//!
//! Compiled only under `--cfg fuzzing`, which `cargo fuzz` sets (no cargo feature: nothing a
//! user's build can turn on); not part of the public API and not semver-stable.

/// The parts of an absolute URL as `crate::url::split` sees them:
/// `(scheme, authority, host, path, query)`.
pub type UrlParts<'a> = (&'a str, &'a str, &'a str, &'a str, Option<&'a str>);

/// `crate::url::split`.
///
/// # Errors
/// The static reason the URL is refused.
pub fn url_split(url: &str) -> Result<UrlParts<'_>, &'static str> {
    crate::url::split(url).map(|p| (p.scheme, p.authority, p.host, p.path, p.query))
}

/// `crate::url::split` followed by `crate::url::check_secure`.
///
/// # Errors
/// The static reason the URL is refused.
pub fn url_check_secure(url: &str, allow_http_loopback: bool) -> Result<(), &'static str> {
    let parts = crate::url::split(url)?;
    crate::url::check_secure(&parts, allow_http_loopback)
}

/// `crate::url::is_loopback_host`.
pub fn is_loopback_host(host: &str) -> bool {
    crate::url::is_loopback_host(host)
}

/// Checks an introspection answer for `issuer` with `validator`'s rules, as the layer does
/// with a `200` from the endpoint (`crate::validate::Validator::accept_introspection`).
///
/// # Errors
/// The token error the layer would answer with.
#[cfg(feature = "remote")]
pub fn check_introspection_answer(
    validator: &crate::validate::Validator,
    issuer: &str,
    answer: &[u8],
    now: u64,
) -> Result<crate::VerifiedToken, crate::validate::TokenError> {
    validator.check_introspection_answer(issuer, answer, now)
}
