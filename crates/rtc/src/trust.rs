//! Getting the CA a cloud link pins (`docs/api.md`, "TLS and the cloud link"); both ends
//! of a session, the camera and the viewer, start here.
//!
//! The cloud serves its own CA certificate at [`CA_PATH`]. That one request is made
//! without checking the server's certificate — it carries nothing secret, and what comes
//! back is accepted only if its SHA-256 is the pin of the link — and every later
//! connection (API, presigned URLs, broker) trusts that CA and no other.

use std::time::Duration;

use eyrie_protocol::trust::{CA_PATH, CloudLink, TrustError};

/// The largest CA certificate accepted.
const MAX_PEM: usize = 64 * 1024;

/// The PEM of the CA `link` pins, fetched from the cloud and checked against the pin;
/// None when the link has no pin (the system's roots decide then).
pub async fn fetch_ca(link: &CloudLink) -> Result<Option<Vec<u8>>, TrustError> {
    link.check()?;
    let Some(pin) = link.ca_pin else {
        return Ok(None);
    };
    if !link.is_https() {
        return Ok(None);
    }
    let fetch = |e: reqwest::Error| TrustError::Fetch(e.without_url().to_string());
    let http = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(fetch)?;
    let mut resp = http
        .get(format!("{}{CA_PATH}", link.base()))
        .send()
        .await
        .map_err(fetch)?;
    if !resp.status().is_success() {
        return Err(TrustError::Fetch(format!(
            "{} answered {}",
            link.base(),
            resp.status()
        )));
    }
    let mut pem = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(fetch)? {
        pem.extend_from_slice(&chunk);
        if pem.len() > MAX_PEM {
            return Err(TrustError::Fetch("the CA certificate is too large".into()));
        }
    }
    pin.check_pem(&pem)?;
    Ok(Some(pem))
}

/// A client builder that trusts only `ca_pem` (when given) and follows no redirects.
pub fn http_builder(ca_pem: Option<&[u8]>) -> Result<reqwest::ClientBuilder, TrustError> {
    let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| TrustError::Fetch(format!("CA certificate: {e}")))?;
        if certs.is_empty() {
            return Err(TrustError::NoCertificate);
        }
        b = b.tls_certs_only(certs);
    }
    Ok(b)
}
