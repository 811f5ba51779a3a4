//! The HTML pages of the development authorization server: the consent page and the error
//! page, each under a banner that says it is for development only. Everything a client
//! supplied is escaped.

use std::fmt::Write as _;

/// The text of the banner on every page.
pub(crate) const BANNER: &str = "DEVELOPMENT AUTHORIZATION SERVER: for local testing only, never use in production. \
     Anyone who can reach it gets tokens.";

/// Escapes `text` for HTML element content and double-quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:0;background:#f6f6f6;color:#222}}\
         .banner{{background:#b00020;color:#fff;padding:12px 16px;font-weight:bold}}\
         main{{max-width:560px;margin:24px auto;background:#fff;padding:24px;border-radius:8px;\
         box-shadow:0 1px 4px rgba(0,0,0,.15)}}\
         dt{{font-weight:bold;margin-top:8px}}dd{{margin-left:0;word-break:break-all}}\
         code{{background:#eee;padding:1px 4px;border-radius:3px}}\
         button{{font-size:1rem;padding:8px 20px;margin-right:12px;border-radius:4px;border:1px solid #888}}\
         #allow{{background:#0b6e2d;color:#fff}}\
         </style></head><body>\
         <div class=\"banner\" role=\"alert\" id=\"dev-banner\">{banner}</div>\
         <main>{body}</main></body></html>\n",
        title = escape(title),
        banner = escape(BANNER),
    )
}

/// What the consent page shows; every field is client-supplied or derived from it.
#[derive(Debug)]
pub(crate) struct Consent<'a> {
    pub(crate) transaction: &'a str,
    pub(crate) client_name: Option<&'a str>,
    pub(crate) client_id: &'a str,
    pub(crate) redirect_host: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) scopes: &'a [String],
    pub(crate) action: &'a str,
}

/// The consent page: who asks, for what, and an Allow/Deny form that posts back only the
/// transaction id.
pub(crate) fn consent(consent: &Consent<'_>) -> String {
    let name = consent.client_name.unwrap_or(consent.client_id);
    let mut scopes = String::new();
    for scope in consent.scopes {
        let _ = write!(scopes, "<li><code>{}</code></li>", escape(scope));
    }
    if consent.scopes.is_empty() {
        scopes.push_str("<li>(no scope)</li>");
    }
    let body = format!(
        "<h1>Authorize <span id=\"client-name\">{name}</span>?</h1>\
         <p>This application asks for access to an MCP server as the development user.</p>\
         <dl>\
         <dt>Client</dt><dd id=\"client-id\">{client_id}</dd>\
         <dt>Will be sent back to</dt><dd id=\"redirect-host\">{redirect_host}</dd>\
         <dt>Resource</dt><dd id=\"resource\">{resource}</dd>\
         <dt>Scopes</dt><dd><ul id=\"scopes\">{scopes}</ul></dd>\
         </dl>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"transaction\" value=\"{transaction}\">\
         <button type=\"submit\" name=\"decision\" value=\"allow\" id=\"allow\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button>\
         </form>",
        name = escape(name),
        client_id = escape(consent.client_id),
        redirect_host = escape(consent.redirect_host),
        resource = escape(consent.resource),
        action = escape(consent.action),
        transaction = escape(consent.transaction),
    );
    page("Authorize access (development server)", &body)
}

/// An error page for requests that cannot be answered with a redirect. `message` is fixed
/// text of the server; `detail` may be client-supplied.
pub(crate) fn error(message: &str, detail: Option<&str>) -> String {
    notice("Authorization error", message, detail)
}

/// A page with a heading, a message and an optional detail (escaped, shown as code).
pub(crate) fn notice(heading: &str, message: &str, detail: Option<&str>) -> String {
    let detail = detail
        .map(|d| format!("<p><code>{}</code></p>", escape(d)))
        .unwrap_or_default();
    page(
        &format!("{heading} (development server)"),
        &format!(
            "<h1>{}</h1><p id=\"message\">{}</p>{detail}",
            escape(heading),
            escape(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn consent_page_escapes_every_client_field_and_shows_the_banner() {
        let hostile = "<img src=x onerror=alert(1)>\"";
        let scopes = vec![hostile.to_owned()];
        let html = consent(&Consent {
            transaction: "t1",
            client_name: Some(hostile),
            client_id: hostile,
            redirect_host: hostile,
            resource: hostile,
            scopes: &scopes,
            action: "/consent",
        });
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;&quot;"));
        assert!(html.contains("never use in production"));
        assert!(html.contains("value=\"t1\""));
    }
}
