//! The development authorization server's form and query-string decoder (the dev crate's
//! `--cfg fuzzing` hooks): every authorization, consent and token request goes through it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_server_auth_dev::fuzzing::{form_encode, form_parse};

fuzz_target!(|input: &str| {
    let Some(pairs) = form_parse(input) else {
        return;
    };
    // Encoding the decoded pairs and decoding again gives the same pairs.
    let again = pairs
        .iter()
        .map(|(name, value)| format!("{}={}", form_encode(name), form_encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let round_trip = form_parse(&again).expect("an encoded form decodes");
    assert_eq!(round_trip, pairs);
    for (name, value) in &pairs {
        assert!(form_encode(name).bytes().all(|b| b.is_ascii_graphic()));
        assert!(form_encode(value).bytes().all(|b| b.is_ascii_graphic()));
    }
});
