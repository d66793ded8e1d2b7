//! Enrolment: the one place a camera learns whom to trust, who it is, and gets its
//! client for the cloud.
//!
//! The order is the trust order of `docs/api.md`: the cloud link is checked against the
//! plain rule, the CA it pins is fetched and kept ([`setup::cloud_ca`]), and only then is
//! anything carrying a secret sent — the activation or the pairing
//! ([`setup::credentials_with`]), whose credentials are kept 0600 in the state dir and read
//! back on every later start. The device's API client is made here too, with the same
//! trust, so the node never builds an HTTP client of its own.

use std::path::PathBuf;

use eyrie_protocol::api::DeviceCredentials;
use eyrie_protocol::trust::CloudLink;

use super::NodeError;
use crate::keys::CameraKeys;
use crate::setup;
use crate::storage::link::{DeviceClient, TlsOptions};

/// Whom to enrol with, and where the camera keeps what it learns.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// The cloud link (`https://host:8470#ca=sha256:…`, or plain `http://` on loopback).
    pub cloud: String,
    pub state_dir: PathBuf,
    /// The app's activation code (user-first set-up); without it the camera pairs.
    pub activation_code: Option<String>,
    /// Trust only this CA (PEM) instead of the system roots, unless the link pins one.
    pub ca_file: Option<PathBuf>,
}

/// An enrolled camera: its credentials, the CA it trusts and its cloud client.
#[derive(Clone)]
pub struct Enrolled {
    pub credentials: DeviceCredentials,
    /// The CA (PEM) the cloud, the store and an `mqtts` broker are checked with; `None`:
    /// the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    pub cloud: DeviceClient,
    /// What recordings are sealed under (`docs/keys.md`).
    pub keys: CameraKeys,
}

impl Enrolment {
    /// Trust, then credentials (stored ones, or activate/pair now), then the client, then
    /// the keys (the pairing check, the first time: it waits for the app's answer).
    /// `on_pairing_code` is called with each pairing code to show while nobody claimed it
    /// (the code stays meaningful until this returns: the app needs all 12 characters).
    pub async fn enrol(&self, on_pairing_code: impl Fn(&str)) -> Result<Enrolled, NodeError> {
        let link: CloudLink = self.cloud.parse().map_err(setup::SetupError::from)?;
        let tls = TlsOptions {
            ca_file: self.ca_file.clone(),
            ca_pem: setup::cloud_ca(&link, &self.state_dir).await?,
        };
        let http = crate::storage::link::http_client(&tls)?;
        let credentials = setup::credentials_with(
            &http,
            &link,
            &self.state_dir,
            self.activation_code.as_deref(),
            on_pairing_code,
        )
        .await?;
        // Stored credentials are checked again: a broker in the clear off this host is
        // refused whenever the camera starts, not only when it first paired.
        eyrie_protocol::trust::check_mqtt(&credentials.mqtt.host, credentials.mqtt.tls)
            .map_err(setup::SetupError::from)?;
        let cloud = DeviceClient::new(
            http,
            link.base(),
            &credentials.device_token,
            credentials.device_id,
        )?;
        let keys = CameraKeys::establish(&credentials, cloud.api(), &self.state_dir, |p| {
            tracing::info!("pairing check: {p:?}");
        })
        .await?;
        Ok(Enrolled {
            ca_pem: tls.ca_pem_or_file()?,
            credentials,
            cloud,
            keys,
        })
    }
}
