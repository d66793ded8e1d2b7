//! The camera's link to the cloud API: which CA it trusts, and its client.
//!
//! The requests themselves are `eyrie_api`'s (one client for the app, the camera and the
//! tests); [`DeviceClient`] is its device half, bound to this
//! camera's token. What is the camera's own is how it checks servers: HTTPS against the
//! system roots, or only the configured CA file, or only the cloud's own CA pinned by the
//! cloud link ([`TlsOptions`]); plain HTTP is refused unless the host is a loopback
//! address — so a misconfigured or tampered presigned URL can never make the camera
//! upload in the clear. Redirects are not followed for the same reason.

use std::path::PathBuf;
use std::time::Duration;

pub use eyrie_api::{ApiError, DeviceClient};

/// How the camera checks servers.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Trust only the certificates in this PEM file instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Trust only this CA (PEM): the cloud's own, pinned by the cloud link; wins over
    /// `ca_file`.
    pub ca_pem: Option<Vec<u8>>,
}

impl TlsOptions {
    /// The CA to trust as PEM (`ca_pem`, else the file's contents), None: system roots.
    pub fn ca_pem_or_file(&self) -> Result<Option<Vec<u8>>, ApiError> {
        if let Some(pem) = &self.ca_pem {
            return Ok(Some(pem.clone()));
        }
        self.ca_file
            .as_ref()
            .map(|path| {
                std::fs::read(path).map_err(|e| ApiError::CaFile {
                    path: path.clone(),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }
}

/// Refuse any URL that would carry data in the clear to a non-loopback host (the rule of
/// [`eyrie_protocol::trust::check_plain`]).
pub fn check_url(raw: &str) -> Result<(), ApiError> {
    Ok(eyrie_protocol::trust::check_plain(raw)?)
}

/// The HTTP client for the cloud and the store.
pub fn http_client(tls: &TlsOptions) -> Result<reqwest::Client, ApiError> {
    let ca = tls.ca_pem_or_file()?;
    let ca_err = |reason: String| ApiError::CaFile {
        path: tls
            .ca_file
            .clone()
            .filter(|_| tls.ca_pem.is_none())
            .unwrap_or_else(|| PathBuf::from("(the cloud's CA)")),
        reason,
    };
    // http_builder parses the PEM and refuses one without a certificate.
    Ok(eyrie_rtc::trust::http_builder(ca.as_deref())
        .map_err(|e| ca_err(e.to_string()))?
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eyrie_protocol::trust::TrustError;

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check_url("http://127.0.0.1:9000/b/k?X-Amz=1").is_ok());
        assert!(check_url("http://localhost:9000/").is_ok());
        assert!(check_url("http://[::1]:9000/").is_ok());
        assert!(check_url("https://s3.example.com/b/k").is_ok());
        let err = check_url("http://s3.example.com/b/k").unwrap_err();
        assert!(matches!(err, ApiError::Trust(TrustError::Plain { .. })));
        assert!(err.to_string().contains("refusing plain HTTP"));
        assert!(matches!(
            check_url("http://10.0.0.1/"),
            Err(ApiError::Trust(TrustError::Plain { .. }))
        ));
        assert!(matches!(
            check_url("ftp://127.0.0.1/"),
            Err(ApiError::Trust(TrustError::BadLink(_)))
        ));
        assert!(matches!(
            check_url("not a url"),
            Err(ApiError::Trust(TrustError::BadLink(_)))
        ));
        // The client refuses such a cloud before sending anything.
        let http = http_client(&TlsOptions::default()).unwrap();
        let err =
            DeviceClient::new(http, "http://10.0.0.1:8470", "t", uuid::Uuid::nil()).unwrap_err();
        assert!(matches!(err, ApiError::Trust(TrustError::Plain { .. })));
    }

    #[test]
    fn bad_ca_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let err = http_client(&TlsOptions {
            ca_file: Some(path),
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(err, ApiError::CaFile { .. }), "{err}");
        let err = http_client(&TlsOptions {
            ca_file: Some(dir.path().join("missing.pem")),
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(err, ApiError::CaFile { .. }), "{err}");
    }
}
