//! Development tools for [`mcp_server_auth`]: add this crate as a **dev-dependency** (as
//! `tower-test` is for `tower`) to test a protected MCP server, or run one on your machine
//! with real MCP clients.
//!
//! **Never use it in production.** It is a separate crate so that no feature of the core can
//! put an authorization server into a production binary. It is built on the core's public
//! API only.
//!
//! * [`testing`]: [`TestIssuer`], keys generated in memory and tokens minted on demand,
//!   optionally served by a loopback HTTP server (discovery documents and the key set, with
//!   faults a test can switch on).
//! * [`dev_server`]: [`DevAuthServer`], a loopback OAuth 2.1 authorization server (dynamic
//!   client registration, consent page, PKCE, refresh token rotation).
//!
//! ```
//! use mcp_server_auth_dev::{TestIssuer, unix_now};
//!
//! let issuer = TestIssuer::new("https://auth.example.com");
//! let auth = mcp_server_auth::McpAuth::builder("https://mcp.example.com/mcp")
//!     .issuer(issuer.issuer(), issuer.keys())
//!     .build()?;
//! let token = issuer.token().audience("https://mcp.example.com/mcp").sign();
//! assert!(auth.validator().validate(&token, unix_now()).is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod dev_server;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
pub mod testing;
mod url;

pub use dev_server::{DevAuthServer, DevAuthServerBuilder, DevServerError};
pub use testing::{TestIssuer, TokenBuilder, unix_now};
