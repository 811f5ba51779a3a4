//! Nothing: the package exists for its test, `tests/custom_fetch.rs` of the crate, built with
//! the crate's `remote` feature and without `reqwest` (see `Cargo.toml`).
