//! The verified identity handed to the inner service.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A token that passed validation: issuer, audience, lifetime, signature and endpoint scope.
///
/// The layer puts one in the request's extensions; rmcp tool handlers read it from the
/// `http::request::Parts` rmcp passes them (`parts.extensions.get::<VerifiedToken>()`), and axum
/// handlers can extract it (feature `axum`). Cloning is cheap. The raw token is not kept.
///
/// `Debug` shows the principal and scopes, and only the *names* of the other claims.
#[derive(Clone)]
pub struct VerifiedToken {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    subject: Option<String>,
    client_id: Option<String>,
    audience: Vec<String>,
    scopes: Vec<String>,
    expires_at: i64,
    /// The decoded payload, when the claims are parsed only on demand.
    payload: Vec<u8>,
    claims: OnceLock<Map<String, Value>>,
}

impl VerifiedToken {
    /// A token whose claims are already parsed.
    #[cfg(test)]
    pub(crate) fn new(
        issuer: String,
        subject: Option<String>,
        client_id: Option<String>,
        audience: Vec<String>,
        scopes: Vec<String>,
        expires_at: i64,
        claims: Map<String, Value>,
    ) -> Self {
        VerifiedToken {
            inner: Arc::new(Inner {
                issuer,
                subject,
                client_id,
                audience,
                scopes,
                expires_at,
                payload: Vec::new(),
                claims: OnceLock::from(claims),
            }),
        }
    }

    /// A token whose full claims are parsed from `payload` (a JSON object already checked to
    /// be well-formed, without repeated members) only when asked for.
    pub(crate) fn with_payload(
        issuer: String,
        subject: Option<String>,
        client_id: Option<String>,
        audience: Vec<String>,
        scopes: Vec<String>,
        expires_at: i64,
        payload: Vec<u8>,
    ) -> Self {
        VerifiedToken {
            inner: Arc::new(Inner {
                issuer,
                subject,
                client_id,
                audience,
                scopes,
                expires_at,
                payload,
                claims: OnceLock::new(),
            }),
        }
    }

    /// The token the auth layer put in these request extensions, if any. In an rmcp tool:
    /// `VerifiedToken::from_extensions(&parts.extensions)`.
    pub fn from_extensions(extensions: &http::Extensions) -> Option<&VerifiedToken> {
        extensions.get::<VerifiedToken>()
    }

    /// The `iss` claim: one of the configured issuers, byte for byte.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The `sub` claim. For client-credentials tokens it may equal the client id, and it may be
    /// absent: do not assume a human user.
    pub fn subject(&self) -> Option<&str> {
        self.inner.subject.as_deref()
    }

    /// The `client_id` claim (RFC 9068 §2.2), or `azp` when `client_id` is absent. Treat it as
    /// opaque: with Client ID Metadata Documents it is an https URL.
    pub fn client_id(&self) -> Option<&str> {
        self.inner.client_id.as_deref()
    }

    /// The `aud` claim, as a list (a string `aud` is a list of one).
    pub fn audience(&self) -> &[String] {
        &self.inner.audience
    }

    /// The granted scopes, from `scope` (space-separated) and `scp` (array or string), in order,
    /// without repeats.
    pub fn scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// Whether `scope` was granted, literally: scope hierarchies configured with
    /// [`scope_implies`](crate::McpAuthBuilder::scope_implies) apply to the layer's checks, not
    /// here.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.inner.scopes.iter().any(|s| s == scope)
    }

    /// The `exp` claim, in seconds since the Unix epoch.
    pub fn expires_at_unix(&self) -> i64 {
        self.inner.expires_at
    }

    /// The `exp` claim as a time; `None` when the platform's clock cannot represent it.
    pub fn expires_at(&self) -> Option<SystemTime> {
        let secs = u64::try_from(self.inner.expires_at).ok()?;
        UNIX_EPOCH.checked_add(Duration::from_secs(secs))
    }

    /// Every claim of the token's payload, parsed on first use.
    pub fn claims(&self) -> &Map<String, Value> {
        self.inner.claims.get_or_init(|| {
            // Validation checked the payload is a JSON object; an empty map is unreachable.
            serde_json::from_slice(&self.inner.payload).unwrap_or_default()
        })
    }

    /// The claims deserialized into your own type.
    ///
    /// ```
    /// # use mcp_server_auth::VerifiedToken;
    /// #[derive(serde::Deserialize)]
    /// struct Claims {
    ///     email: Option<String>,
    /// }
    /// # fn f(token: &VerifiedToken) -> Result<(), serde_json::Error> {
    /// let claims: Claims = token.claims_as()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// When the claims do not fit `T`.
    pub fn claims_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match self.inner.claims.get() {
            Some(claims) => T::deserialize(claims),
            None => serde_json::from_slice(&self.inner.payload),
        }
    }
}

impl fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedToken")
            .field("issuer", &self.inner.issuer)
            .field("subject", &self.inner.subject)
            .field("client_id", &self.inner.client_id)
            .field("scopes", &self.inner.scopes)
            .field("expires_at", &self.inner.expires_at)
            .field("claim_names", &self.claims().keys().collect::<Vec<_>>())
            .finish()
    }
}
