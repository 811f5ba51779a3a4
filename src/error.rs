//! Build-time configuration errors: one type, [`ConfigError`], for every builder, key source
//! constructor and the [configuration reader](crate::config).
//!
//! A [`ConfigError`] holds one or more [`Problem`]s. Each names the setting it is about (the
//! builder method, such as `leeway` or `require_scope`; or, for a configuration read with
//! [`McpAuthConfig`](crate::config::McpAuthConfig), the field path such as
//! `issuers[1].leeway_secs` or the variable such as `MCP_AUTH_LEEWAY_SECS`), says what is wrong
//! without repeating the value, and has a [`ProblemKind`] to match on.
//!
//! ```
//! use mcp_server_auth::ConfigError;
//! use mcp_server_auth::McpAuth;
//! use mcp_server_auth::error::ProblemKind;
//!
//! let error: ConfigError = McpAuth::builder("https://mcp.example.com/mcp")
//!     .leeway(301)
//!     .require_scope("offline_access")
//!     .build()
//!     .unwrap_err();
//! let settings: Vec<&str> = error.problems().iter().map(|p| p.setting()).collect();
//! assert_eq!(settings, ["leeway", "require_scope", "issuer"]);
//! assert!(matches!(error.problems()[0].kind(), ProblemKind::LeewayTooLarge { secs: 301 }));
//! assert_eq!(error.problems()[2].kind(), &ProblemKind::NoIssuer);
//! assert_eq!(
//!     error.to_string(),
//!     "3 configuration problems\n  \
//!      leeway: must be at most 300\n  \
//!      require_scope: offline_access cannot be required: access tokens do not carry it\n  \
//!      issuer: at least one issuer is required"
//! );
//!
//! // One problem reads as it always has.
//! let error = McpAuth::builder("https://mcp.example.com/mcp").build().unwrap_err();
//! assert_eq!(error.to_string(), "no authorization server configured");
//! ```

use std::borrow::Cow;
use std::fmt;

use crate::algorithm::Algorithm;
use crate::limits::{MAX_JWKS_BYTES, MAX_KEYS};

/// Why a configuration was refused when it was built: every problem found, at once. See the
/// [module docs](self).
///
/// Every problem is found by a builder's `build`, a key source constructor or
/// [`McpAuthConfig::build`](crate::config::McpAuthConfig::build), never on the request path.
///
/// `Display` shows the one problem's [kind](ProblemKind) as it reads on its own, or, for
/// several problems (and for any problem of a configuration document), a count line followed
/// by one `setting: message` line per problem. Neither `Display` nor `Debug` repeats a
/// configured value of a configuration document.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Never empty.
    problems: Vec<Problem>,
    /// Whether the problems always read as a list (they name the fields of a document).
    listed: bool,
}

/// One problem in a configuration: which setting, what is wrong, and its [kind](ProblemKind).
#[derive(Clone, PartialEq, Eq)]
pub struct Problem {
    setting: String,
    message: Cow<'static, str>,
    kind: ProblemKind,
    /// The issuer the problem is about, when it is about one: the configuration reader maps it
    /// back to the issuer's table.
    issuer: Option<String>,
}

impl ConfigError {
    /// The problems, in the order they were found (setters first, in the order called; then
    /// what `build` finds).
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// One problem with `setting`.
    pub(crate) fn new(setting: impl Into<String>, kind: ProblemKind) -> Self {
        ConfigError::from(Problem::new(setting, kind))
    }

    /// Every problem of `problems`, or `None` when there is none.
    pub(crate) fn from_problems(problems: Vec<Problem>) -> Option<Self> {
        (!problems.is_empty()).then_some(ConfigError {
            problems,
            listed: false,
        })
    }

    /// Every problem of `problems`, which holds at least one.
    pub(crate) fn all(problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty(), "a refusal names its problem");
        ConfigError {
            problems,
            listed: false,
        }
    }

    /// The problems, to add to others.
    pub(crate) fn into_problems(self) -> Vec<Problem> {
        self.problems
    }

    /// Always shows the problems as a list, as a configuration document's problems are.
    pub(crate) fn listed(mut self) -> Self {
        self.listed = true;
        self
    }
}

impl From<Problem> for ConfigError {
    fn from(problem: Problem) -> Self {
        ConfigError {
            problems: vec![problem],
            listed: false,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [one] = self.problems.as_slice()
            && !self.listed
        {
            return fmt::Display::fmt(&one.kind, f);
        }
        let count = self.problems.len();
        write!(
            f,
            "{count} configuration problem{}",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigError")
            .field("problems", &self.problems)
            .finish()
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self.problems.as_slice() {
            [one] => std::error::Error::source(&one.kind),
            _ => None,
        }
    }
}

impl Problem {
    /// A problem with `setting`, described by its kind's value-free message.
    pub(crate) fn new(setting: impl Into<String>, kind: ProblemKind) -> Self {
        Problem {
            setting: setting.into(),
            message: kind.message(),
            kind,
            issuer: None,
        }
    }

    /// Replaces the message (which must not repeat a configured value).
    pub(crate) fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = message.into();
        self
    }

    /// Marks the problem as being about `issuer`.
    pub(crate) fn about(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Names the problem's setting `setting` instead.
    pub(crate) fn rename(&mut self, setting: impl Into<String>) {
        self.setting = setting.into();
    }

    /// The issuer the problem is about, if any.
    pub(crate) fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The setting: a builder method (`leeway`, `require_scope`, `scopes_supported[1]` for an
    /// item of a list), or a configuration document's field path (`issuers[0].leeway_secs`)
    /// or environment variable (`MCP_AUTH_LEEWAY_SECS`).
    pub fn setting(&self) -> &str {
        &self.setting
    }

    /// The same as [`setting`](Self::setting), named for problems of a configuration document.
    pub fn field(&self) -> &str {
        &self.setting
    }

    /// What is wrong. Never contains the value, which may be a secret.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What kind of problem it is, with the offending input where that is not secret.
    pub fn kind(&self) -> &ProblemKind {
        &self.kind
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)
    }
}

/// Shows the kind's name, not the values it carries: a document may hold a secret where a
/// non-secret value belongs.
impl fmt::Debug for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Problem")
            .field("setting", &self.setting)
            .field("message", &self.message)
            .field("kind", &format_args!("{}", self.kind.name()))
            .finish()
    }
}

/// What kind of [`Problem`] a configuration has, to match on. Variants carry the offending input,
/// never secret material; `Display` reads as the whole problem on its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The resource identifier is not an absolute `https` URL without a fragment (or an `http`
    /// loopback URL with [`allow_http_loopback`](crate::McpAuthBuilder::allow_http_loopback)).
    #[error("invalid resource identifier `{resource}`: {reason}")]
    InvalidResource {
        /// The configured value.
        resource: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An issuer identifier is not an absolute `https` URL without query or fragment (or an
    /// `http` loopback URL with `allow_http_loopback`).
    #[error("invalid issuer `{issuer}`: {reason}")]
    InvalidIssuer {
        /// The configured value.
        issuer: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `jwks_uri` is not an absolute `https` URL (or an allowed loopback `http` one).
    #[error("invalid jwks_uri `{jwks_uri}` for issuer `{issuer}`: {reason}")]
    InvalidJwksUri {
        /// The issuer it belongs to.
        issuer: String,
        /// The configured value.
        jwks_uri: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No authorization server was configured.
    #[error("no authorization server configured")]
    NoIssuer,
    /// The same issuer was configured twice.
    #[error("issuer `{issuer}` is configured more than once")]
    DuplicateIssuer {
        /// The repeated issuer.
        issuer: String,
    },
    /// A scope is empty, holds characters RFC 6749 §3.3 does not allow (space, `"`, `\`,
    /// controls, non-ASCII), or is `offline_access` given as a required scope.
    #[error("invalid scope `{scope}`")]
    InvalidScope {
        /// The configured value.
        scope: String,
    },
    /// An audience alias is empty.
    #[error("invalid audience alias `{audience}`")]
    InvalidAudience {
        /// The configured value.
        audience: String,
    },
    /// The leeway exceeds the 300 second cap.
    #[error("leeway of {secs} seconds exceeds the 300 second cap")]
    LeewayTooLarge {
        /// The configured leeway.
        secs: u64,
    },
    /// The algorithm allow-list is empty.
    #[error("the algorithm allow-list is empty")]
    NoAlgorithms,
    /// The maximum token length is zero.
    #[error("the maximum token length must be at least 1 byte")]
    InvalidMaxTokenLength,
    /// A scope claim name is empty.
    #[error("a scope claim name is empty")]
    InvalidScopeClaim,
    /// An [`IssuerProfile`](crate::profile::IssuerProfile) cannot be used.
    #[error("invalid profile for issuer `{issuer}`: {reason}")]
    InvalidProfile {
        /// The issuer the profile was given for.
        issuer: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An introspection setting cannot be used.
    #[error("invalid introspection settings for issuer `{issuer}`: {reason}")]
    Introspection {
        /// The issuer the settings were given for.
        issuer: String,
        /// What is wrong with them.
        reason: &'static str,
    },
    /// A key document or PEM text could not be used.
    #[error("unusable key material: {0}")]
    Keys(#[from] KeyDocumentError),
    /// A key document parsed, but none of its keys can verify signatures.
    #[error("no usable verification key ({skipped} skipped)")]
    NoUsableKeys {
        /// How many keys were skipped.
        skipped: usize,
    },
    /// None of an issuer's keys can verify any algorithm of the allow-list (for example an HMAC
    /// secret with the default, asymmetric-only list).
    #[error("no key of issuer `{issuer}` supports an allowed algorithm")]
    KeysMatchNoAlgorithm {
        /// The issuer.
        issuer: String,
    },
    /// The set of supported MCP protocol versions is empty.
    #[error("no supported protocol version configured")]
    NoProtocolVersions,
    /// A duration setting is out of range (a zero timeout, inverted bounds).
    #[error("invalid duration for `{setting}`")]
    InvalidDuration {
        /// The setting.
        setting: &'static str,
    },
    /// A count setting is out of range (a zero burst).
    #[error("invalid count for `{setting}`")]
    InvalidCount {
        /// The setting.
        setting: &'static str,
    },
    /// The default HTTP client could not be created.
    #[error("cannot create the http client: {reason}")]
    HttpClient {
        /// What failed.
        reason: String,
    },
    /// A key is too weak: a short RSA modulus or HMAC secret.
    #[error("weak key: {reason}")]
    WeakKey {
        /// What is too weak, without key material.
        reason: String,
    },
    /// [`StaticKeys::hmac`](crate::keys::StaticKeys::hmac) was given a non-HMAC algorithm.
    #[error("{algorithm} is not an hmac algorithm")]
    NotHmac {
        /// The algorithm given.
        algorithm: Algorithm,
    },
    /// A value of a configuration document has the wrong type or form, or a required field
    /// is missing.
    #[error("invalid value")]
    Invalid,
    /// A configuration document has a field or variable nobody reads.
    #[error("unknown field")]
    UnknownField,
}

impl ProblemKind {
    /// What is wrong, without the offending value.
    fn message(&self) -> Cow<'static, str> {
        let fixed = match self {
            ProblemKind::InvalidResource { reason, .. }
            | ProblemKind::InvalidIssuer { reason, .. }
            | ProblemKind::InvalidJwksUri { reason, .. }
            | ProblemKind::InvalidProfile { reason, .. }
            | ProblemKind::Introspection { reason, .. } => reason,
            ProblemKind::NoIssuer => "at least one issuer is required",
            ProblemKind::DuplicateIssuer { .. } => "names an issuer listed before",
            ProblemKind::InvalidScope { .. } => "is not a scope (RFC 6749 §3.3)",
            ProblemKind::InvalidAudience { .. } => "is empty",
            ProblemKind::LeewayTooLarge { .. } => "must be at most 300",
            ProblemKind::NoAlgorithms => "must name at least one algorithm",
            ProblemKind::InvalidMaxTokenLength => "must be at least 1",
            ProblemKind::InvalidScopeClaim => "a scope claim name is empty",
            ProblemKind::KeysMatchNoAlgorithm { .. } => "no key supports an allowed algorithm",
            ProblemKind::NoProtocolVersions => "must name at least one version",
            ProblemKind::InvalidDuration { .. } => "is out of range",
            ProblemKind::InvalidCount { .. } => "must be at least 1",
            ProblemKind::Invalid => "is not valid",
            ProblemKind::UnknownField => "is not a known field",
            // These hold no configured value.
            ProblemKind::Keys(_)
            | ProblemKind::NoUsableKeys { .. }
            | ProblemKind::HttpClient { .. }
            | ProblemKind::WeakKey { .. }
            | ProblemKind::NotHmac { .. } => return Cow::Owned(self.to_string()),
        };
        Cow::Borrowed(fixed)
    }

    /// The variant's name, for `Debug` without values.
    fn name(&self) -> &'static str {
        match self {
            ProblemKind::InvalidResource { .. } => "InvalidResource",
            ProblemKind::InvalidIssuer { .. } => "InvalidIssuer",
            ProblemKind::InvalidJwksUri { .. } => "InvalidJwksUri",
            ProblemKind::NoIssuer => "NoIssuer",
            ProblemKind::DuplicateIssuer { .. } => "DuplicateIssuer",
            ProblemKind::InvalidScope { .. } => "InvalidScope",
            ProblemKind::InvalidAudience { .. } => "InvalidAudience",
            ProblemKind::LeewayTooLarge { .. } => "LeewayTooLarge",
            ProblemKind::NoAlgorithms => "NoAlgorithms",
            ProblemKind::InvalidMaxTokenLength => "InvalidMaxTokenLength",
            ProblemKind::InvalidScopeClaim => "InvalidScopeClaim",
            ProblemKind::InvalidProfile { .. } => "InvalidProfile",
            ProblemKind::Introspection { .. } => "Introspection",
            ProblemKind::Keys(_) => "Keys",
            ProblemKind::NoUsableKeys { .. } => "NoUsableKeys",
            ProblemKind::KeysMatchNoAlgorithm { .. } => "KeysMatchNoAlgorithm",
            ProblemKind::NoProtocolVersions => "NoProtocolVersions",
            ProblemKind::InvalidDuration { .. } => "InvalidDuration",
            ProblemKind::InvalidCount { .. } => "InvalidCount",
            ProblemKind::HttpClient { .. } => "HttpClient",
            ProblemKind::WeakKey { .. } => "WeakKey",
            ProblemKind::NotHmac { .. } => "NotHmac",
            ProblemKind::Invalid => "Invalid",
            ProblemKind::UnknownField => "UnknownField",
        }
    }
}

/// Why a key document could not be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyDocumentError {
    /// The document is larger than [`MAX_JWKS_BYTES`].
    #[error("key document is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    /// The document is not a JSON object with a `keys` array.
    #[error("key document is not a json object with a `keys` array")]
    NotAKeySet,
    /// The document holds more than [`MAX_KEYS`] keys.
    #[error("key document holds more than {MAX_KEYS} keys")]
    TooManyKeys,
    /// The PEM text could not be decoded.
    #[error("pem text does not hold a public key this crate supports")]
    InvalidPem,
}
