#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod algorithm;
mod auth;
pub mod bearer;
pub mod body;
mod body_limits;
pub mod cache;
pub mod challenge;
pub mod config;
pub mod cors;
#[cfg(feature = "remote")]
mod discovery;
pub mod error;
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub mod fetch;
pub mod future;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub mod introspect;
pub mod keys;
mod limits;
mod macros;
pub mod metadata;
pub mod observe;
pub mod operation;
mod operation_scopes;
pub mod origin;
pub mod policy;
pub mod profile;
pub mod protocol_version;
pub mod recipes;
mod rules;
pub mod scope;
pub mod session;
mod stack;
mod token;
mod token_error;
mod url;
pub mod validate;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;

pub use auth::{McpAuth, McpAuthBuilder, McpAuthCorsLayer, McpAuthLayer, PrefetchError};
pub use bearer::{AuthError, AuthErrorKind, BearerAuth, BearerAuthLayer};
pub use error::ConfigError;
pub use metadata::{ServeMetadata, ServeMetadataLayer};
pub use observe::TRACE_TARGET;
pub use stack::{McpAuthCorsFuture, McpAuthCorsService, McpAuthFuture, McpAuthService};
pub use token::{Principal, VerifiedToken};
