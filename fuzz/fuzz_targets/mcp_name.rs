//! `Mcp-Name` / `Mcp-Method` / `MCP-Protocol-Version` headers → `operation_from_headers`,
//! including the `=?base64?…?=` form, plus a round trip of any string through that form.
#![no_main]

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::header::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use mcp_server_auth::operation::{MCP_METHOD, MCP_NAME, operation_from_headers};
use mcp_server_auth::protocol_version::{MCP_PROTOCOL_VERSION, ProtocolVersion};

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    /// Use the latest version instead of `versions`.
    latest: bool,
    versions: Vec<&'a [u8]>,
    methods: Vec<&'a [u8]>,
    names: Vec<&'a [u8]>,
    /// Encoded as `=?base64?…?=` and sent as the only name with `tools/call`.
    encoded: &'a str,
}

fn headers(pairs: &[(&http::HeaderName, &[&[u8]])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, values) in pairs {
        for v in values.iter().take(3) {
            if let Ok(v) = HeaderValue::from_bytes(v) {
                map.append(*name, v);
            }
        }
    }
    map
}

fuzz_target!(|input: Input<'_>| {
    let latest = [ProtocolVersion::LATEST.as_str().as_bytes()];
    let versions: &[&[u8]] = if input.latest {
        &latest
    } else {
        &input.versions
    };
    let map = headers(&[
        (&MCP_PROTOCOL_VERSION, versions),
        (&MCP_METHOD, &input.methods),
        (&MCP_NAME, &input.names),
    ]);
    let _ = ProtocolVersion::from_headers(&map);
    if let Some(op) = operation_from_headers(&map) {
        assert_eq!(map.get_all(&MCP_METHOD).iter().count(), 1);
        assert!(map.get_all(&MCP_NAME).iter().count() <= 1);
        assert!(!op.method().is_empty());
        let raw = map.get(&MCP_NAME).and_then(|v| v.to_str().ok());
        match (raw, op.name()) {
            (None, None) => {}
            (Some(raw), Some(name)) => {
                if let Some(inner) = raw
                    .strip_prefix("=?base64?")
                    .and_then(|r| r.strip_suffix("?="))
                {
                    let decoded = STANDARD.decode(inner).expect("accepted means decodable");
                    assert_eq!(name.as_bytes(), decoded.as_slice());
                } else {
                    assert_eq!(name, raw);
                }
            }
            other => panic!("name and header disagree: {other:?}"),
        }
    }

    // Round trip: any string survives the encoded form.
    let value = format!("=?base64?{}?=", STANDARD.encode(input.encoded));
    let mut map = HeaderMap::new();
    map.insert(
        MCP_PROTOCOL_VERSION,
        HeaderValue::from_static(ProtocolVersion::LATEST.as_str()),
    );
    map.insert(MCP_METHOD, HeaderValue::from_static("tools/call"));
    map.insert(
        MCP_NAME,
        HeaderValue::try_from(value).expect("base64 is a header value"),
    );
    let op = operation_from_headers(&map).expect("a well-formed tools/call");
    assert_eq!(op.name(), Some(input.encoded));
});
