//! Reading registered claims out of a parsed payload: strings, NumericDates, `aud`, scopes.

use serde_json::{Map, Value};

use crate::profile::{ScopeClaim, ScopeFormat};
use crate::token_error::{TokenError, TokenErrorKind};

/// Takes a string claim out of the parsed claims (which are dropped after validation), so the
/// verified token owns it without a copy.
pub(super) fn take_str(
    claims: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<String>, TokenError> {
    match claims.remove(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(TokenErrorKind::InvalidClaim.into()),
    }
}

/// Which way a fractional NumericDate is rounded: always towards the stricter check.
#[derive(Clone, Copy)]
pub(super) enum Round {
    /// For `exp`: a token expiring at 10.5 is expired at 10.
    Down,
    /// For `nbf` and `iat`: a token valid from 10.5 is not valid at 10.
    Up,
}

/// A NumericDate claim (RFC 7519 §2): a JSON number of seconds, possibly fractional.
pub(super) fn numeric_date(
    claims: &Map<String, Value>,
    name: &str,
    round: Round,
) -> Result<Option<i64>, TokenError> {
    let invalid = || TokenError::from(TokenErrorKind::InvalidClaim);
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(u) = n.as_u64() {
                Ok(Some(i64::try_from(u).unwrap_or(i64::MAX)))
            } else {
                let secs = n.as_f64().filter(|f| f.is_finite()).ok_or_else(invalid)?;
                let secs = match round {
                    Round::Down => secs.floor(),
                    Round::Up => secs.ceil(),
                };
                // `as` saturates out-of-range values, which is what a date far out needs.
                #[allow(clippy::cast_possible_truncation)]
                Ok(Some(secs as i64))
            }
        }
        Some(_) => Err(invalid()),
    }
}

pub(super) fn take_audience(claims: &mut Map<String, Value>) -> Result<Vec<String>, TokenError> {
    match claims.remove("aud") {
        None => Err(TokenErrorKind::MissingClaim.into()),
        Some(Value::String(aud)) => Ok(vec![aud]),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                _ => Err(TokenErrorKind::InvalidClaim.into()),
            })
            .collect(),
        Some(_) => Err(TokenErrorKind::InvalidClaim.into()),
    }
}

pub(super) fn scopes(
    claims: &Map<String, Value>,
    names: &[ScopeClaim],
) -> Result<Vec<String>, TokenError> {
    let mut scopes: Vec<String> = Vec::new();
    let mut add = |scope: &str| {
        if !scope.is_empty() && !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    };
    for claim in names {
        match (claims.get(claim.name()), claim.format) {
            (None, _) => {}
            (Some(Value::String(list)), ScopeFormat::Any | ScopeFormat::SpaceDelimited) => {
                list.split(' ').for_each(&mut add);
            }
            (Some(Value::Array(items)), ScopeFormat::Any | ScopeFormat::Array) => {
                for item in items {
                    let Value::String(scope) = item else {
                        return Err(TokenErrorKind::InvalidClaim.into());
                    };
                    add(scope);
                }
            }
            (Some(_), _) => return Err(TokenErrorKind::InvalidClaim.into()),
        }
    }
    Ok(scopes)
}
