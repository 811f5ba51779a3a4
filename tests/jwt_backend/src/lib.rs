//! See `Cargo.toml`: the crate verifies tokens in a build where another crate chose
//! jsonwebtoken's `rust_crypto` backend, and jsonwebtoken itself keeps working there.

#[cfg(test)]
mod tests {
    use mcp_server_auth::McpAuth;
    use mcp_server_auth_dev::testing::{TestIssuer, unix_now};

    const RESOURCE: &str = "https://mcp.example.com/mcp";

    #[test]
    fn tokens_verify_beside_the_rust_crypto_backend() {
        let issuer = TestIssuer::new("https://auth.example.com");
        let auth = McpAuth::builder(RESOURCE)
            .issuer(issuer.issuer(), issuer.keys())
            .require_scope("mcp:tools")
            .build()
            .unwrap();
        let token = issuer.token().audience(RESOURCE).scope("mcp:tools").sign();
        let verified = auth.validator().validate(&token, unix_now()).unwrap();
        assert_eq!(verified.issuer(), "https://auth.example.com");

        // The other crate's use of jsonwebtoken, on its one backend: no panic, same answer.
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(issuer.jwk()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&[RESOURCE]);
        let decoded =
            jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation).unwrap();
        assert_eq!(decoded.claims["iss"], "https://auth.example.com");

        // A forgery is refused by both.
        let (input, signature) = token.rsplit_once('.').unwrap();
        let first = if signature.starts_with('A') { 'B' } else { 'A' };
        let forged = format!("{input}.{first}{}", &signature[1..]);
        assert!(auth.validator().validate(&forged, unix_now()).is_err());
        assert!(jsonwebtoken::decode::<serde_json::Value>(&forged, &key, &validation).is_err());
    }
}
