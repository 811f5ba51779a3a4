//! Authorization-server metadata discovery (RFC 8414, then OpenID Connect Discovery): which
//! documents to try for an issuer, and [`Discovery`], which fetches each once for everything
//! that needs it.

use std::sync::Arc;
use std::time::Duration;

use crate::fetch::{Fetch, FetchRequest};
use crate::url;

/// The metadata URLs to try for `issuer`, in order: RFC 8414 (path-inserted), then OpenID
/// Connect Discovery (appended).
pub fn discovery_urls(issuer: &str) -> Vec<String> {
    let mut urls = Vec::with_capacity(2);
    if let Ok(parts) = url::split(issuer) {
        let path = if parts.path == "/" { "" } else { parts.path };
        urls.push(format!(
            "{}://{}/.well-known/oauth-authorization-server{path}",
            parts.scheme, parts.authority
        ));
    }
    urls.push(format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    ));
    urls
}

/// The metadata members this crate reads.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct Metadata {
    pub(crate) issuer: Option<String>,
    pub(crate) jwks_uri: Option<String>,
    pub(crate) introspection_endpoint: Option<String>,
}

/// The largest metadata document read.
const MAX_METADATA_BYTES: usize = 256 * 1024;

/// One issuer's metadata documents, each fetched once and kept for every part that needs it:
/// an issuer whose keys are discovered and whose tokens are introspected costs its
/// authorization server one metadata fetch, not two. Concurrent callers share a fetch; only
/// documents that arrived (200, a JSON object) are kept, so a failure is retried by the
/// caller's own schedule.
pub(crate) struct Discovery {
    fetcher: Arc<dyn Fetch>,
    documents: tokio::sync::Mutex<Vec<(String, Arc<Metadata>)>>,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery").finish_non_exhaustive()
    }
}

impl Discovery {
    pub(crate) fn new(fetcher: Arc<dyn Fetch>) -> Arc<Self> {
        Arc::new(Discovery {
            fetcher,
            documents: tokio::sync::Mutex::new(Vec::new()),
        })
    }

    /// The metadata document at `url` (one of [`discovery_urls`]), fetched within `timeout` on
    /// first use. `Err` is a problem to report, naming the URL.
    pub(crate) async fn document(
        &self,
        url: &str,
        timeout: Duration,
    ) -> Result<Arc<Metadata>, String> {
        // Held across the fetch: callers of the same issuer share one (discovery is rare and
        // each fetch bounded).
        let mut documents = self.documents.lock().await;
        if let Some((_, document)) = documents.iter().find(|(known, _)| known == url) {
            return Ok(Arc::clone(document));
        }
        let response = self
            .fetcher
            .get(FetchRequest {
                url: url.to_owned(),
                timeout,
                max_bytes: MAX_METADATA_BYTES,
            })
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if response.status != 200 {
            return Err(format!("{url} answered http {}", response.status));
        }
        let document: Metadata = serde_json::from_slice(&response.body)
            .map_err(|_| format!("{url} is not a json object"))?;
        let document = Arc::new(document);
        documents.push((url.to_owned(), Arc::clone(&document)));
        Ok(document)
    }
}
