//! `KeySet::from_jwks` / `StaticKeys::from_jwks` on arbitrary documents (what a JWKS endpoint
//! may serve), then every loaded key used to verify junk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_server_auth::keys::{Algorithm, KeySet, StaticKeys};

fuzz_target!(|data: &[u8]| {
    let set = KeySet::from_jwks(data);
    let statik = StaticKeys::from_jwks(data);
    // `StaticKeys` is stricter (configuration), never laxer.
    if statik.is_ok() {
        assert!(set.is_ok(), "StaticKeys accepted what KeySet refused");
    }
    let Ok(set) = set else { return };
    assert_eq!(set.is_empty(), set.len() == 0);
    assert_eq!(set.iter().count(), set.len());
    for skipped in set.skipped() {
        let _ = format!("{skipped:?}");
    }
    for key in set.iter() {
        if let Some(kid) = key.kid() {
            assert!(set.contains_kid(kid));
        }
        let _ = format!("{key:?}");
        let _ = key.key_type();
        assert!(
            key.algorithms().count() > 0,
            "a loaded key verifies nothing"
        );
        for alg in Algorithm::ALL {
            let supported = key.supports(alg);
            assert_eq!(supported, key.algorithms().any(|a| a == alg));
            // Junk never verifies, whatever its length.
            for sig in [&[][..], &[0u8; 64][..], &data[..data.len().min(512)]] {
                assert!(!key.verify(alg, b"header.payload", sig), "junk verified");
                let _ = supported;
            }
        }
    }
    for alg in Algorithm::ALL {
        for kid in [None, Some(""), Some("k")] {
            let n = set.candidates(kid, alg).count();
            assert!(n <= set.len());
        }
    }
});
