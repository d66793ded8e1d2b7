//! The signed-in session: which cloud, which account, and the bearer token.
//!
//! It is kept between runs in a file only the user can read
//! (`$XDG_CONFIG_HOME/eyrie/session.json`, mode 0600, written atomically). The token is
//! the only secret; signing out deletes the file.

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Base URL of the cloud, e.g. `http://127.0.0.1:8080`.
    pub server: String,
    /// The account's e-mail address, shown in the UI.
    pub email: String,
    /// Bearer token from `POST /api/v1/sessions`.
    pub token: String,
}

/// Where the session file lives; `EYRIE_SESSION_FILE` overrides it (tests, demo).
pub fn session_path() -> PathBuf {
    if let Some(p) = std::env::var_os("EYRIE_SESSION_FILE") {
        return PathBuf::from(p);
    }
    gtk::glib::user_config_dir()
        .join("eyrie")
        .join("session.json")
}

/// Read the saved session; `None` when there is none or it cannot be read.
pub fn load() -> Option<Session> {
    let path = session_path();
    let bytes = std::fs::read(&path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("ignoring unreadable session file {}: {e}", path.display());
            None
        }
    }
}

/// Save the session so that only this user can read it.
pub fn store(session: &Session) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = session_path();
    let dir = path
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(".session.json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&serde_json::to_vec_pretty(session).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)
}

/// Forget the saved session.
pub fn clear() {
    let path = session_path();
    if let Err(e) = std::fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("cannot delete {}: {e}", path.display());
    }
}
