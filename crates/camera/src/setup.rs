//! Getting and keeping the device credentials (the set-up contract in `docs/api.md`).
//!
//! First start: with `--activation-code` (user-first set-up) the camera calls
//! `POST /api/v1/activate {activation_code}` once; without it the camera asks for a
//! pairing (`POST /api/v1/pairings`), prints the code for the user to type into the app
//! and polls `POST /api/v1/activate {pairing_token}` (202 while unclaimed) until the
//! credentials come, starting a new pairing when one expires; a cloud that cannot be
//! reached for a moment is asked again by `eyrie_api`'s retry policy instead of ending the
//! set-up. The requests are `eyrie_api`'s device half, whose [`Activation`] says ready,
//! pending or gone — no answer is read as a string. The credentials are then
//! written to `<state dir>/credentials.json` with mode 0600 and read from there on every
//! later start.
//!
//! Trust comes first: the cloud link (`--cloud https://host:8470#ca=sha256:…`) is checked
//! against the plain rule (plain HTTP to loopback only) and its pinned CA fetched and
//! kept ([`cloud_ca`]) before the activation request, which carries secrets, is sent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use eyrie_api::{Activation, ApiClient, ApiError};
use eyrie_protocol::api::{ActivateRequest, DeviceCredentials};
use eyrie_protocol::trust::CloudLink;

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
    #[error("cannot encode the credentials: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("cloud: {0}")]
    Cloud(#[from] ApiError),
    #[error("the activation code was refused (used or expired)")]
    CodeRefused,
    #[error("the cloud answered 'pending' to an activation code, which needs no claim")]
    PendingCode,
    #[error(transparent)]
    Trust(#[from] eyrie_protocol::trust::TrustError),
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
    let raw = serde_json::to_vec_pretty(creds)?;
    write_private(state_dir, "credentials.json", &raw)
}

/// Write `name` in the state dir with mode 0600 (atomically: temp file, then rename).
pub(crate) fn write_private(state_dir: &Path, name: &str, raw: &[u8]) -> Result<(), SetupError> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    std::fs::create_dir_all(state_dir).map_err(io(state_dir))?;
    let _ = std::fs::set_permissions(state_dir, std::fs::Permissions::from_mode(0o700));
    let path = state_dir.join(name);
    let tmp = state_dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(raw)
        .and_then(|()| f.sync_all())
        .map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(())
}

/// The CA to trust for `link`: the one kept in the state dir when it matches the link's
/// pin (or the link has none: the CA trusted at pairing stays trusted), else the one the
/// link pins, fetched from the cloud, checked and kept. None: the system's roots.
pub async fn cloud_ca(link: &CloudLink, state_dir: &Path) -> Result<Option<Vec<u8>>, SetupError> {
    link.check()?;
    let path = state_dir.join(CA_FILE);
    let stored = match std::fs::read(&path) {
        Ok(pem) => Some(pem),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(&path)(e)),
    };
    let Some(pin) = link.ca_pin else {
        return Ok(stored);
    };
    if let Some(pem) = stored
        && pin.check_pem(&pem).is_ok()
    {
        return Ok(Some(pem));
    }
    let Some(pem) = eyrie_rtc::trust::fetch_ca(link).await? else {
        return Ok(None);
    };
    write_private(state_dir, CA_FILE, &pem)?;
    tracing::info!(pin = %pin, "cloud CA fetched, checked against the link and kept");
    Ok(Some(pem))
}

/// Where [`cloud_ca`] keeps the cloud's CA.
const CA_FILE: &str = "cloud-ca.pem";

/// [`credentials_with`] for a cloud link given as text, with a client that trusts what
/// [`cloud_ca`] says; also returns that CA (for the broker).
pub async fn credentials(
    cloud: &str,
    state_dir: &Path,
    activation_code: Option<&str>,
    on_pairing_code: impl Fn(&str),
) -> Result<(DeviceCredentials, Option<Vec<u8>>), SetupError> {
    let link: CloudLink = cloud.parse()?;
    let ca = cloud_ca(&link, state_dir).await?;
    let http = eyrie_rtc::trust::http_builder(ca.as_deref())?
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(ApiError::from)?;
    let creds = credentials_with(&http, &link, state_dir, activation_code, on_pairing_code).await?;
    Ok((creds, ca))
}

/// Stored credentials, or activate/pair with the cloud now and store them. `http` must
/// already trust the cloud (see [`cloud_ca`]); `cloud` is checked against the plain rule
/// before anything is sent.
pub async fn credentials_with(
    http: &reqwest::Client,
    cloud: &CloudLink,
    state_dir: &Path,
    activation_code: Option<&str>,
    on_pairing_code: impl Fn(&str),
) -> Result<DeviceCredentials, SetupError> {
    if let Some(c) = load(state_dir)? {
        return Ok(c);
    }
    let api = ApiClient::with_http(cloud, http.clone())?;
    let creds = match activation_code {
        Some(code) => {
            // The app shows 12 characters: the claim code the cloud knows and the check
            // it must not see (`docs/keys.md` §4). Only the claim goes out; the whole code
            // is kept for the pairing check.
            let claim = match eyrie_protocol::e2e::pairing::split(code) {
                Some((claim, _)) => {
                    write_private(state_dir, PAIRING_CODE_FILE, code.as_bytes())?;
                    claim
                }
                None => code.to_owned(),
            };
            let req = ActivateRequest {
                activation_code: Some(claim),
                pairing_token: None,
            };
            match api.activate(&req).await? {
                Activation::Ready(c) => *c,
                Activation::Gone => return Err(SetupError::CodeRefused),
                Activation::Pending(_) => return Err(SetupError::PendingCode),
            }
        }
        None => pair(&api, state_dir, &on_pairing_code).await?,
    };
    eyrie_protocol::trust::check_mqtt(&creds.mqtt.host, creds.mqtt.tls)?;
    save(state_dir, &creds)?;
    tracing::info!(device = %creds.device_id, "activated; credentials stored");
    Ok(creds)
}

/// Camera-first set-up: show a pairing code and ask until the user claims it, starting a
/// new pairing when one expires. A cloud that cannot be reached for a moment is waited
/// for (by the client's back-off) rather than ending the set-up.
async fn pair(
    api: &ApiClient,
    state_dir: &Path,
    on_code: &impl Fn(&str),
) -> Result<DeviceCredentials, SetupError> {
    let hostname = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned());
    let mut backoff = api.retry_policy().backoff();
    loop {
        let p = match api.pairing(hostname.as_deref()).await {
            Ok(p) => p,
            Err(e) if e.is_retryable() => {
                tracing::warn!(%e, "cannot start a pairing; trying again");
                tokio::time::sleep(backoff.next_delay().max(POLL)).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        // The camera adds the check (never sent) to the cloud's claim code and shows both.
        let code = eyrie_protocol::e2e::pairing::display(
            &p.code,
            &eyrie_protocol::e2e::pairing::new_check(),
        );
        write_private(state_dir, PAIRING_CODE_FILE, code.as_bytes())?;
        on_code(&code);
        let req = ActivateRequest {
            activation_code: None,
            pairing_token: Some(p.pairing_token.clone()),
        };
        loop {
            tokio::time::sleep(POLL).await;
            match api.activate(&req).await {
                Ok(Activation::Ready(c)) => return Ok(*c),
                Ok(Activation::Gone) => break, // expired: new pairing
                Ok(Activation::Pending(_)) => backoff.reset(),
                Err(e) if e.is_retryable() => {
                    tracing::warn!(%e, "cannot ask whether the pairing was claimed; asking again");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The 12-character code of a set-up whose pairing check has not finished
/// (`crate::keys`), mode 0600; removed once the check passed.
pub const PAIRING_CODE_FILE: &str = "pairing-code";

/// How often a pairing is asked about while it waits for the user.
const POLL: Duration = Duration::from_secs(2);
