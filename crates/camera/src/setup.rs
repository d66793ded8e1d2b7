//! Getting and keeping the device credentials (the set-up contract in `docs/api.md`).
//!
//! First start: with `--activation-code` (user-first set-up) the camera calls
//! `POST /api/v1/activate {activation_code}` once; without it the camera asks for a
//! pairing (`POST /api/v1/pairings`), prints the code for the user to type into the app
//! and polls `POST /api/v1/activate {pairing_token}` (202 while unclaimed) until the
//! credentials come, starting a new pairing when one expires. The credentials are then
//! written to `<state dir>/credentials.json` with mode 0600 and read from there on every
//! later start.

use std::path::{Path, PathBuf};
use std::time::Duration;

use eyrie_protocol::api::{
    API_PREFIX, ActivateRequest, DeviceCredentials, PairingRequest, PairingResponse,
};

/// Why set-up failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("stored credentials in {0} are not valid")]
    BadCredentials(PathBuf),
    #[error("cloud: {0}")]
    Cloud(String),
    #[error("the activation code was refused (used or expired)")]
    CodeRefused,
}

/// `$XDG_CONFIG_HOME/eyrie/camera`, or `~/.config/eyrie/camera`.
pub fn default_state_dir() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("eyrie")
        .join("camera")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SetupError + '_ {
    move |source| SetupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Stored credentials, if any.
pub fn load(state_dir: &Path) -> Result<Option<DeviceCredentials>, SetupError> {
    let path = state_dir.join("credentials.json");
    match std::fs::read(&path) {
        Ok(raw) => serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|_| SetupError::BadCredentials(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path)(e)),
    }
}

/// Write credentials with mode 0600 (atomically: temp file, then rename).
pub fn save(state_dir: &Path, creds: &DeviceCredentials) -> Result<(), SetupError> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    std::fs::create_dir_all(state_dir).map_err(io(state_dir))?;
    let _ = std::fs::set_permissions(state_dir, std::fs::Permissions::from_mode(0o700));
    let path = state_dir.join("credentials.json");
    let tmp = state_dir.join(".credentials.json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    let raw = serde_json::to_vec_pretty(creds).map_err(|e| SetupError::Cloud(e.to_string()))?;
    f.write_all(&raw)
        .and_then(|()| f.sync_all())
        .map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(())
}

/// Stored credentials, or activate/pair with the cloud now and store them.
pub async fn credentials(
    cloud: &str,
    state_dir: &Path,
    activation_code: Option<&str>,
    on_pairing_code: impl Fn(&str),
) -> Result<DeviceCredentials, SetupError> {
    if let Some(c) = load(state_dir)? {
        return Ok(c);
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| SetupError::Cloud(e.to_string()))?;
    let base = format!("{}{API_PREFIX}", cloud.trim_end_matches('/'));
    let creds = match activation_code {
        Some(code) => {
            let r = activate(
                &http,
                &base,
                ActivateRequest {
                    activation_code: Some(code.to_owned()),
                    pairing_token: None,
                },
            )
            .await?;
            r.ok_or(SetupError::CodeRefused)?
        }
        None => pair(&http, &base, &on_pairing_code).await?,
    };
    save(state_dir, &creds)?;
    tracing::info!(device = %creds.device_id, "activated; credentials stored");
    Ok(creds)
}

async fn pair(
    http: &reqwest::Client,
    base: &str,
    on_code: &impl Fn(&str),
) -> Result<DeviceCredentials, SetupError> {
    let hostname = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned());
    loop {
        let p: PairingResponse = http
            .post(format!("{base}/pairings"))
            .json(&PairingRequest {
                name_hint: hostname.clone(),
            })
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| SetupError::Cloud(e.to_string()))?
            .json()
            .await
            .map_err(|e| SetupError::Cloud(e.to_string()))?;
        on_code(&p.code);
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            match activate(
                http,
                base,
                ActivateRequest {
                    activation_code: None,
                    pairing_token: Some(p.pairing_token.clone()),
                },
            )
            .await
            {
                Ok(Some(c)) => return Ok(c),
                Ok(None) => break, // expired: new pairing
                Err(SetupError::Cloud(e)) if e == "pending" => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// `Ok(Some)` credentials, `Ok(None)` gone (410), `Err(Cloud("pending"))` on 202.
async fn activate(
    http: &reqwest::Client,
    base: &str,
    req: ActivateRequest,
) -> Result<Option<DeviceCredentials>, SetupError> {
    let r = http
        .post(format!("{base}/activate"))
        .json(&req)
        .send()
        .await
        .map_err(|e| SetupError::Cloud(e.to_string()))?;
    match r.status().as_u16() {
        200 => r
            .json()
            .await
            .map(Some)
            .map_err(|e| SetupError::Cloud(e.to_string())),
        202 => Err(SetupError::Cloud("pending".into())),
        410 | 404 => Ok(None),
        s => Err(SetupError::Cloud(format!("activation answered {s}"))),
    }
}
