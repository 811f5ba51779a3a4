//! Entry points for the fuzz targets (`fuzz/`), compiled only with `--cfg fuzzing`: the parts
//! of the development authorization server that read untrusted input.

/// The `application/x-www-form-urlencoded` decoder (query strings and form bodies): the
/// decoded pairs, or `None` when refused.
pub fn form_parse(input: &str) -> Option<Vec<(String, String)>> {
    crate::dev_server::form::parse(input)
}

/// The percent-encoding used for redirect parameters.
pub fn form_encode(value: &str) -> String {
    crate::dev_server::form::encode(value)
}
