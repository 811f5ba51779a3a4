//! The verified identity handed to the inner service.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Whom a [`VerifiedToken`] speaks for. See [`VerifiedToken::principal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Principal {
    /// A resource owner: the token was granted on a user's behalf.
    User,
    /// A client acting on its own behalf (no resource owner), such as a service using the
    /// client credentials grant.
    Machine,
}

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
                // Kept as a validated token keeps it, so that its size is counted alike.
                payload: serde_json::to_vec(&claims).unwrap_or_default(),
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

    /// An upper bound of the heap memory this token keeps allocated, in bytes (the sizes
    /// asked of the allocator, without its own overhead): the shared allocation, its strings
    /// and the payload, and the claims map [`claims`](Self::claims) parses from the payload,
    /// parsed yet or not ([`parsed_claims_bound`]).
    pub(crate) fn retained_bytes(&self) -> usize {
        let inner = &*self.inner;
        let strings = |list: &Vec<String>| {
            list.capacity() * size_of::<String>() + list.iter().map(String::capacity).sum::<usize>()
        };
        let optional = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
        // An `Arc`'s allocation: its two counts, then the value.
        2 * size_of::<usize>()
            + size_of::<Inner>()
            + inner.issuer.capacity()
            + optional(&inner.subject)
            + optional(&inner.client_id)
            + strings(&inner.audience)
            + strings(&inner.scopes)
            + inner.payload.capacity()
            + parsed_claims_bound(&inner.payload)
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

    /// The `client_id` claim (RFC 9068 §2.2), or `azp` when `client_id` is absent (the claims
    /// read are the issuer profile's [`client_id_claims`](crate::profile::IssuerProfile::client_id_claims)).
    /// Treat it as opaque: with Client ID Metadata Documents it is an https URL.
    pub fn client_id(&self) -> Option<&str> {
        self.inner.client_id.as_deref()
    }

    /// Whom the token speaks for: a [`Machine`](Principal::Machine) client acting on its own
    /// behalf (the client credentials grant: no `sub`, or a `sub` equal to the client id, as
    /// RFC 9068 §2.2 suggests), else a [`User`](Principal::User).
    pub fn principal(&self) -> Principal {
        match (&self.inner.subject, &self.inner.client_id) {
            (None, _) => Principal::Machine,
            (Some(subject), Some(client)) if subject == client => Principal::Machine,
            (Some(_), _) => Principal::User,
        }
    }

    /// The `aud` claim, as a list (a string `aud` is a list of one). Empty only for an
    /// introspected token whose answer had no `aud`, accepted with
    /// [`Introspection::allow_missing_audience`](crate::introspect::Introspection::allow_missing_audience).
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

/// An upper bound of what `serde_json` allocates to parse the JSON object `payload` into a
/// `Map<String, Value>`, in bytes, from its length and a count of four bytes, wherever they
/// are (those inside strings only raise the bound):
///
/// * a string (member name or value) takes at most its length in the payload: the payload's
///   length covers them all;
/// * an object takes one B-tree node of 632 bytes while it has at most 11 members, and at
///   most 728 + 146 per member beyond (nodes of at most 728 bytes, each but the root holding
///   at least 5 members). With `serde_json`'s `preserve_order` feature, which any crate in a
///   build may turn on, it is an `IndexMap`: a few hundred bytes, then up to about 230 per
///   member just after its vector and table have doubled. Each `{` counts
///   [`OBJECT`](bound::OBJECT), each `:` [`MEMBER`](bound::MEMBER) and each `,`
///   [`NEXT`](bound::NEXT): 728 + 240 per member, less 64, covers both;
/// * an array's vector holds 32-byte values and doubles from 4 as it grows: at most 128
///   bytes, or twice 32 per element. Each `[` counts [`ARRAY`](bound::ARRAY), each `,`
///   [`NEXT`](bound::NEXT).
///
/// Numbers, booleans and `null` live inside their 32-byte value. One pass over the bytes, no
/// allocation.
pub(crate) fn parsed_claims_bound(payload: &[u8]) -> usize {
    let weight = |byte: &u8| match byte {
        b'{' => bound::OBJECT,
        b'[' => bound::ARRAY,
        b':' => bound::MEMBER,
        b',' => bound::NEXT,
        _ => 0,
    };
    payload.len() + payload.iter().map(weight).sum::<usize>()
}

/// What each byte that may open a value counts in [`parsed_claims_bound`].
mod bound {
    /// `{`: an object's first B-tree node (or its `IndexMap`).
    pub(super) const OBJECT: usize = 728;
    /// `[`: an array's first four values.
    pub(super) const ARRAY: usize = 128;
    /// `:`: a member's share of its object's nodes (or `IndexMap` entries and table).
    pub(super) const MEMBER: usize = 176;
    /// `,`: an array's next value, twice over for the vector's spare room, or a further share
    /// of a member.
    pub(super) const NEXT: usize = 64;
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What parsing `payload` into a map leaves allocated, measured.
    fn parsed_bytes(payload: &[u8]) -> usize {
        let mut kept = None;
        let info = allocation_counter::measure(|| {
            kept = Some(serde_json::from_slice::<Map<String, Value>>(payload).unwrap());
        });
        usize::try_from(info.bytes_current).unwrap()
    }

    #[test]
    fn the_parsed_claims_bound_holds_for_every_shape() {
        let now = 1_700_000_000_i64;
        let strings = |n: usize, f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<Vec<_>>();
        let members = |n: usize, value: Value| {
            (0..n)
                .map(|i| (format!("{i}"), value.clone()))
                .collect::<Map<String, Value>>()
        };
        let cases: Vec<(&str, Value)> = vec![
            (
                "typical",
                json!({"iss": "https://auth.example.com", "sub": "user-000001",
                    "aud": "https://mcp.example.com/mcp", "exp": now, "iat": now, "nbf": now,
                    "jti": "0123456789abcdef", "scope": "mcp:tools", "client_id": "mcp-client"}),
            ),
            (
                "groups",
                json!({"exp": now, "groups": strings(400, &|i| format!("group-{i:05}"))}),
            ),
            ("small numbers", json!({"exp": now, "n": vec![1; 4000]})),
            ("empty strings", json!({"exp": now, "n": vec![""; 3000]})),
            (
                "one-member objects",
                json!({"n": vec![json!({"a": 1}); 1000]}),
            ),
            ("one-element arrays", json!({"n": vec![json!([1]); 1000]})),
            ("empty objects", json!({"n": vec![json!({}); 1000]})),
            ("many members", Value::Object(members(1500, json!(1)))),
            (
                "many one-member objects",
                Value::Object(members(1500, json!({"a": 1}))),
            ),
            ("5 members", Value::Object(members(5, json!(1)))),
            ("12 members", Value::Object(members(12, json!(1)))),
            ("29 members", Value::Object(members(29, json!(1)))),
            ("57 members", Value::Object(members(57, json!(1)))),
            ("229 members", Value::Object(members(229, json!(1)))),
            (
                "nested",
                json!({"a": {"b": {"c": {"d": [[[{"e": [1]}]]]}}}}),
            ),
            ("one long string", json!({"blob": "x".repeat(9000)})),
            ("escapes", json!({"e": "\\\"\u{1}".repeat(500)})),
            ("empty", json!({})),
        ];
        for (name, value) in cases {
            let payload = serde_json::to_vec(&value).unwrap();
            let parsed = parsed_bytes(&payload);
            let bound = parsed_claims_bound(&payload);
            assert!(
                parsed <= bound,
                "{name}: {parsed} bytes parsed, bound {bound}"
            );
        }
    }

    #[test]
    fn retained_bytes_cover_the_token_with_its_claims_read() {
        let payload = serde_json::to_vec(&json!({
            "iss": "https://auth.example.com", "sub": "alice", "aud": ["a", "b"],
            "scope": "mcp:tools mcp:admin", "exp": 2000, "groups": ["x", "y", "z"],
        }))
        .unwrap();
        let mut kept = None;
        let info = allocation_counter::measure(|| {
            let token = VerifiedToken::with_payload(
                "https://auth.example.com".to_owned(),
                Some("alice".to_owned()),
                None,
                vec!["a".to_owned(), "b".to_owned()],
                vec!["mcp:tools".to_owned(), "mcp:admin".to_owned()],
                2000,
                payload.clone(),
            );
            assert_eq!(token.claims().len(), 6);
            kept = Some(token);
        });
        let token = kept.unwrap();
        let measured = usize::try_from(info.bytes_current).unwrap();
        assert!(
            measured <= token.retained_bytes(),
            "{measured} > {}",
            token.retained_bytes()
        );
    }
}
