//! The JOSE and JSON layer of a compact JWS, before any claim is trusted: base64url segments,
//! the header members the validator reads, and JSON objects read once with repeated members
//! refused. Pure functions of the token's bytes.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::token_error::{TokenError, TokenErrorKind};

pub(super) fn decode_segment(segment: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| TokenErrorKind::Malformed.into())
}

/// The JOSE header members the validator reads. `jku`, `x5u`, `jwk` and `x5c` are ignored on
/// purpose: keys come from configuration only.
pub(super) struct Header {
    pub(super) alg: String,
    pub(super) typ: Option<String>,
    pub(super) kid: Option<String>,
    pub(super) crit: bool,
}

impl Header {
    pub(super) fn parse(bytes: &[u8]) -> Result<Header, TokenError> {
        let mut map = parse_object(bytes, &|name| {
            matches!(name, "alg" | "typ" | "kid" | "enc" | "crit")
        })?;
        let alg = match map.remove("alg") {
            Some(Value::String(alg)) => alg,
            None => return Err(TokenErrorKind::UnsupportedAlgorithm.into()),
            Some(_) => return Err(TokenErrorKind::Malformed.into()),
        };
        let typ = match map.remove("typ") {
            None => None,
            Some(Value::String(typ)) => Some(typ),
            Some(_) => return Err(TokenErrorKind::Malformed.into()),
        };
        let kid = match map.remove("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid),
            Some(_) => return Err(TokenErrorKind::Malformed.into()),
        };
        // A JWE header (`enc`) never belongs on a JWS.
        if map.contains_key("enc") {
            return Err(TokenErrorKind::Malformed.into());
        }
        Ok(Header {
            alg,
            typ,
            kid,
            crit: map.contains_key("crit"),
        })
    }
}

/// Parses a JSON object, refusing repeated top-level members (RFC 7515 §4, RFC 7519 §4: a
/// parser must reject or take the last; rejecting removes any disagreement with other
/// parsers). Returns only the members `keep` selects; the others are checked for syntax and
/// skipped, so the claims nobody reads cost no allocation.
pub(super) fn parse_object(
    bytes: &[u8],
    keep: &dyn Fn(&str) -> bool,
) -> Result<Map<String, Value>, TokenError> {
    struct Members<'k>(&'k dyn Fn(&str) -> bool);

    impl<'de> de::DeserializeSeed<'de> for Members<'_> {
        type Value = Map<String, Value>;

        fn deserialize<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Members<'_> {
        type Value = Map<String, Value>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a json object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            let mut kept = Map::new();
            let mut seen = SeenKeys::default();
            while let Some(Key(key)) = access.next_key::<Key<'de>>()? {
                // Borrowed names (all but escaped ones) clone for free.
                if !seen.insert(key.clone()) {
                    return Err(de::Error::custom("repeated member"));
                }
                if self.0(&key) {
                    let value: Value = access.next_value()?;
                    kept.insert(key.into_owned(), value);
                } else {
                    access.next_value::<de::IgnoredAny>()?;
                }
            }
            Ok(kept)
        }
    }

    // JSON is UTF-8 (RFC 8259 §8.1, RFC 7519 §7.2): checked up front, because serde_json does
    // not look inside the strings of members it skips.
    let text =
        std::str::from_utf8(bytes).map_err(|_| TokenError::from(TokenErrorKind::Malformed))?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    de::DeserializeSeed::deserialize(Members(keep), &mut deserializer)
        .and_then(|kept| deserializer.end().map(|()| kept))
        .map_err(|_| TokenErrorKind::Malformed.into())
}

/// A member name, borrowed from the input unless it holds escapes.
pub(super) struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The member names of one object, for finding repeats: a short list while the object is
/// small (the usual case), a hash set once it is not, so that no object costs quadratic time.
#[derive(Default)]
pub(super) struct SeenKeys<'de> {
    few: Vec<Cow<'de, str>>,
    many: HashSet<Cow<'de, str>>,
}

impl<'de> SeenKeys<'de> {
    const FEW: usize = 16;

    /// Records `key`; `false` when it was seen before.
    fn insert(&mut self, key: Cow<'de, str>) -> bool {
        if self.many.is_empty() {
            if self.few.contains(&key) {
                return false;
            }
            if self.few.len() < Self::FEW {
                self.few.push(key);
                return true;
            }
            self.many.extend(self.few.drain(..));
        }
        self.many.insert(key)
    }
}
