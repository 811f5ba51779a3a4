//! The fixed policy the JWT targets validate against: one issuer with an ES256, an RS256 and an
//! EdDSA key (generated once per process), and a second issuer with an HS256 secret.
#![allow(dead_code)]

use std::sync::LazyLock;

use mcp_server_auth::keys::{Algorithm, StaticKeys};
use mcp_server_auth_dev::testing::TestIssuer;
use mcp_server_auth::validate::Validator;

pub const ISSUER: &str = "https://issuer.example";
pub const HMAC_ISSUER: &str = "https://hmac.example";
pub const RESOURCE: &str = "https://mcp.example/mcp";
pub const HMAC_SECRET: &[u8] = b"fuzz-secret-fuzz-secret-fuzz-sec";
/// 2026-01-01T00:00:00Z: the fixed "now" (seed tokens are made for it).
pub const NOW: u64 = 1_767_225_600;
pub const LEEWAY: i64 = 60;

pub struct Fixture {
    pub signers: Vec<TestIssuer>,
    /// Only the asymmetric issuer, default algorithms (the common deployment).
    pub asymmetric: Validator,
    /// Both issuers, every algorithm allowed, so that algorithm confusion between an HMAC
    /// secret and public keys is reachable.
    pub mixed: Validator,
}

pub static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let signers: Vec<TestIssuer> = [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA]
        .into_iter()
        .map(|alg| TestIssuer::with_algorithm(ISSUER, alg))
        .collect();
    let keys = signers
        .iter()
        .skip(1)
        .fold(signers[0].keys(), |acc, s| acc.merge(&s.keys()));
    let asymmetric = Validator::builder(RESOURCE)
        .issuer(ISSUER, keys.clone())
        .build()
        .expect("asymmetric validator");
    let hmac = StaticKeys::hmac(HMAC_SECRET, Algorithm::HS256).expect("hmac key");
    let mixed = Validator::builder(RESOURCE)
        .issuer(ISSUER, keys)
        .issuer(HMAC_ISSUER, hmac)
        .algorithms(Algorithm::ALL)
        .build()
        .expect("mixed validator");
    Fixture {
        signers,
        asymmetric,
        mixed,
    }
});
