//! Documents Tessera fetches from URLs a client chose: its public keys (RFC 7591 §2
//! `jwks_uri`) and request objects by reference (RFC 9101 §5.2 `request_uri`); and the
//! requests to the upstream identity providers a tenant admin configured (`auth::upstream`). Every fetch
//! goes through the SSRF guard ([`guard`]), is short, small and follows few redirects, since
//! anyone who knows a client id can make Tessera fetch that client's URLs.

pub mod guard;

use crate::domain::fetchable_url;
use std::sync::Arc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);
/// A JWK Set of 20 RSA keys or a large request object fits well within it.
const MAX_BYTES: usize = 64 * 1024;
const MAX_REDIRECTS: usize = 2;

/// The HTTP client of these fetches, one per process (its connection pool is shared).
pub struct Fetcher {
    client: reqwest::Client,
    /// Off when the operator allows private networks (`TESSERA_FETCH_ALLOW_PRIVATE_NETWORKS`).
    guarded: bool,
}

impl Fetcher {
    /// Never through a proxy, which would resolve names past the guard.
    pub fn new(allow_private_networks: bool) -> Self {
        let guarded = !allow_private_networks;
        // `previous` holds the URLs before this redirect, the first one among them.
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            let before = attempt.previous().len();
            match guard::refused_redirect(attempt.url(), before, MAX_REDIRECTS, guarded) {
                Some(why) => attempt.error(why),
                None => attempt.follow(),
            }
        });
        let mut builder = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(redirects)
            .no_proxy()
            .user_agent(concat!("Tessera/", env!("CARGO_PKG_VERSION")));
        if guarded {
            builder = builder.dns_resolver(Arc::new(guard::GuardedResolver));
        }
        let client = builder
            .build()
            .expect("an HTTP client with default TLS settings");
        Self { client, guarded }
    }

    /// Why `url` may not be fetched, `None` when it may (names are checked again when they
    /// are resolved).
    pub fn refused(&self, url: &str) -> Option<String> {
        match fetchable_url(url, !self.guarded) {
            None => Some("not an https URL without a fragment or credentials".into()),
            Some(url) if self.guarded => guard::refused_literal(&url),
            Some(_) => None,
        }
    }

    /// The body GET `url` answers with a success status, asking for `accept`, or why there
    /// is none (for the log only: it may describe the network Tessera runs in).
    pub async fn get(&self, url: &str, accept: &str) -> Result<Vec<u8>, String> {
        if let Some(why) = self.refused(url) {
            return Err(format!("refused: {why}"));
        }
        let request = self.client.get(url).header(reqwest::header::ACCEPT, accept);
        let response = request.send().await.map_err(|e| explain(&e))?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        read_capped(response).await
    }

    /// The answer to `request` (built on [`Self::client_for`]), whatever its status, with a
    /// body of at most the usual size: how Tessera talks to an upstream identity provider,
    /// whose error answers carry the reason.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), String> {
        let response = request.send().await.map_err(|e| explain(&e))?;
        let status = response.status();
        Ok((status, read_capped(response).await?))
    }

    /// The guarded client, to build a request to `url` with; refused like [`Self::get`].
    pub fn client_for(&self, url: &str) -> Result<&reqwest::Client, String> {
        match self.refused(url) {
            Some(why) => Err(format!("refused: {why}")),
            None => Ok(&self.client),
        }
    }
}

/// The body of `response`, refused past [`MAX_BYTES`] whether or not it says its length.
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let too_large = || format!("answered more than {MAX_BYTES} bytes");
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| explain(&e))? {
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl Fetcher {
    /// POSTs `form` to `url` under the same guard: how a self-registered application, whose
    /// URLs anyone may have chosen, is told of a sign-out (OIDC Back-Channel Logout §2.5).
    /// The answer's status, or why there is none (for the log only).
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<reqwest::StatusCode, String> {
        if let Some(why) = self.refused(url) {
            return Err(format!("refused: {why}"));
        }
        let response = self.client.post(url).form(form).send().await;
        response.map(|r| r.status()).map_err(|e| explain(&e))
    }
}

/// An error with its causes: reqwest's own message alone ("error sending request") hides
/// whether the guard refused, the name did not resolve, or the connection was refused.
pub fn explain(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else {
        "unreachable".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
