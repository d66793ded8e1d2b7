//! The signed-in session: which cloud, which account, and the bearer token.
//!
//! The token is the only secret. Where the desktop offers a Secret Service (GNOME Keyring,
//! KWallet; inside Flatpak the secret portal — oo7 picks), it is kept there, and
//! `$XDG_CONFIG_HOME/eyrie/session.json` holds only the cloud address and the account name.
//! Without one (no session bus, no keyring, a locked keyring nobody can unlock in time),
//! the token goes into that file instead, which only the user can read (mode 0600, written
//! atomically). Signing out deletes both.
//!
//! Every keyring call is bounded by [`KEYRING_TIMEOUT`]: a keyring that wants to show an
//! unlock prompt on a kiosk with nobody in front of it must not keep the app from starting.
//!
//! A Secret Service may also come late: D-Bus activation at login, or a keyring daemon the
//! session starts a few seconds after the app. A token kept in the file because no
//! service answered is therefore not left there: while the file holds a token (after
//! [`store`] fell back to it, or when [`load`] finds it there), a task on the runtime
//! watches the session bus for the service's name (`NameOwnerChanged`) and, once the
//! service answers, moves the token into the keyring and rewrites the file without it.
//!
//! ```text
//!  store()/load() ── token in the file? ──► watch org.freedesktop.secrets on the bus
//!                                            └─ appears ─► create item ─► file without token
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use oo7::zbus;
use serde::{Deserialize, Serialize};

use super::test_hooks;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The cloud link, e.g. `https://192.168.1.5:8470#ca=sha256:…` or `http://127.0.0.1:8470`.
    pub server: String,
    /// The account's e-mail address, shown in the UI.
    pub email: String,
    /// Bearer token from `POST /api/v1/sessions`.
    pub token: String,
}

/// What `session.json` holds: the token only when there is no keyring to keep it.
#[derive(Debug, Serialize, Deserialize)]
struct SessionFile {
    server: String,
    email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

/// Where a stored token went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// The desktop's Secret Service.
    Keyring,
    /// The session file (mode 0600).
    File,
}

impl Kept {
    pub fn as_str(self) -> &'static str {
        match self {
            Kept::Keyring => "keyring",
            Kept::File => "file",
        }
    }
}

/// The longest a keyring call may take before the file is used instead.
pub const KEYRING_TIMEOUT: Duration = Duration::from_secs(3);

/// Schema attribute of our keyring items (what `secret-tool search` finds them by).
pub const KEYRING_SCHEMA: &str = "io.github.eyrie.Eyrie.Session";

/// The `kind` attribute of the item that holds the token. The installation's key
/// ([`super::keys`]) shares the schema, server and account with `kind = viewer-key`, and
/// outlives the session: the session's searches and deletes skip it. Items kept before
/// there was a `kind` have none and count as the session's.
const KIND_SESSION: &str = "session";

/// The Secret Service's name on the session bus.
const SECRET_SERVICE: &str = "org.freedesktop.secrets";

/// How often, and how far apart, a token is offered to a service that has just appeared
/// (it takes its name before it answers).
const MOVE_TRIES: u32 = 5;
const MOVE_PAUSE: Duration = Duration::from_secs(1);

/// The task that moves a token from the file into a late keyring, while one runs.
static MOVER: Mutex<Option<tokio::task::JoinHandle<()>>> = Mutex::new(None);

/// Where the session file lives; `EYRIE_SESSION_FILE` overrides it (tests, demo).
pub fn session_path() -> PathBuf {
    if let Some(p) = std::env::var_os("EYRIE_SESSION_FILE") {
        return PathBuf::from(p);
    }
    gtk::glib::user_config_dir()
        .join("eyrie")
        .join("session.json")
}

/// What the session's items are searched by (those of the installation key match too:
/// see [`is_session_item`]).
fn attributes<'a>(server: &'a str, email: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("xdg:schema", KEYRING_SCHEMA),
        ("server", server),
        ("email", email),
    ]
}

/// What a new session item carries: [`attributes`] and its `kind`.
fn item_attributes<'a>(server: &'a str, email: &'a str) -> Vec<(&'static str, &'a str)> {
    let mut a = attributes(server, email);
    a.push(("kind", KIND_SESSION));
    a
}

/// An item found by [`attributes`] that holds the token, not the installation's key.
async fn is_session_item(item: &oo7::Item) -> Result<bool, oo7::Error> {
    Ok(item
        .attributes()
        .await?
        .get("kind")
        .is_none_or(|k| k == KIND_SESSION))
}

/// `EYRIE_SECRET_STORE=file` keeps the token in the file even where a keyring exists
/// (tests that must not touch the desktop's keyring).
pub(crate) fn keyring_allowed() -> bool {
    std::env::var("EYRIE_SECRET_STORE").map_or(true, |v| v != "file")
}

/// Run a keyring operation within [`KEYRING_TIMEOUT`]; any failure is `None` (logged).
pub(crate) async fn with_keyring<T, F, Fut>(what: &str, f: F) -> Option<T>
where
    F: FnOnce(oo7::Keyring) -> Fut,
    Fut: std::future::Future<Output = Result<T, oo7::Error>>,
{
    let work = async {
        let keyring = oo7::Keyring::new().await?;
        keyring.unlock().await?;
        f(keyring).await
    };
    match tokio::time::timeout(KEYRING_TIMEOUT, work).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            tracing::info!("secret service unavailable for {what}: {e}");
            None
        }
        Err(_) => {
            tracing::warn!(
                "secret service did not answer within {KEYRING_TIMEOUT:?} for {what}; using the session file"
            );
            None
        }
    }
}

/// Read the saved session; `None` when there is none or it cannot be read. Runs on the
/// tokio runtime (it may talk to the keyring).
pub async fn load() -> Option<Session> {
    load_from(&session_path(), keyring_allowed()).await
}

async fn load_from(path: &std::path::Path, keyring: bool) -> Option<Session> {
    let bytes = std::fs::read(path).ok()?;
    let file: SessionFile = match serde_json::from_slice(&bytes) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("ignoring unreadable session file {}: {e}", path.display());
            return None;
        }
    };
    let token = match file.token {
        Some(t) => {
            if keyring {
                move_to_keyring_when_it_appears(path.to_owned());
            }
            t
        }
        None if !keyring => {
            tracing::warn!(
                "the session's token is kept in a keyring this run may not use; sign in again"
            );
            return None;
        }
        None => {
            let (server, email) = (file.server.clone(), file.email.clone());
            let found = with_keyring("reading the session", |k| async move {
                for item in k.search_items(&attributes(&server, &email)).await? {
                    if is_session_item(&item).await? {
                        return Ok(Some(item.secret().await?));
                    }
                }
                Ok(None)
            })
            .await
            .flatten();
            match found.map(|s| String::from_utf8(s.to_vec())) {
                Some(Ok(t)) if !t.is_empty() => t,
                _ => {
                    tracing::warn!(
                        "the session's token is not in the keyring (locked or removed); sign in again"
                    );
                    return None;
                }
            }
        }
    };
    Some(Session {
        server: file.server,
        email: file.email,
        token,
    })
}

/// Keep the session for the next start: the token in the keyring when there is one, else
/// in the file. Runs on the tokio runtime.
pub async fn store(session: &Session) -> std::io::Result<Kept> {
    let path = session_path();
    let keyring = keyring_allowed();
    let kept = store_to(&path, session, keyring).await?;
    if kept == Kept::File && keyring {
        move_to_keyring_when_it_appears(path);
    }
    Ok(kept)
}

async fn store_to(
    path: &std::path::Path,
    session: &Session,
    keyring: bool,
) -> std::io::Result<Kept> {
    let (server, email, token) = (
        session.server.clone(),
        session.email.clone(),
        session.token.clone(),
    );
    let label = format!("Eyrie session for {} on {}", session.email, session.server);
    let in_keyring = keyring
        && with_keyring("keeping the session", |k| async move {
            // An older token of the account (kept before items had a `kind`) goes.
            for item in k.search_items(&attributes(&server, &email)).await? {
                if is_session_item(&item).await? {
                    item.delete().await?;
                }
            }
            k.create_item(
                &label,
                &item_attributes(&server, &email),
                token.as_str(),
                true,
            )
            .await
        })
        .await
        .is_some();
    let file = SessionFile {
        server: session.server.clone(),
        email: session.email.clone(),
        token: (!in_keyring).then(|| session.token.clone()),
    };
    write_file(path, &file)?;
    Ok(if in_keyring {
        Kept::Keyring
    } else {
        Kept::File
    })
}

fn write_file(path: &std::path::Path, file: &SessionFile) -> std::io::Result<()> {
    write_private_json(path, file)
}

/// Write `value` as JSON to `path` with [`write_private`]. The session file and the
/// installation key file (`super::keys`) both keep secrets this way.
pub(super) fn write_private_json(
    path: &std::path::Path,
    value: &impl Serialize,
) -> std::io::Result<()> {
    write_private(
        path,
        &serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?,
    )
}

/// Write `bytes` to `path`, readable only by the user (mode 0600), atomically: a
/// `.<name>.tmp` beside it, synced, then renamed over it. Secrets the app keeps (the
/// session, the installation key, the camera's Home Assistant password) go this way.
pub(crate) fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Forget the saved session: the file, and the token in the keyring. Runs on the tokio
/// runtime.
pub async fn clear() {
    if let Some(mover) = MOVER.lock().ok().and_then(|mut m| m.take()) {
        mover.abort();
    }
    clear_at(&session_path(), keyring_allowed()).await;
}

async fn clear_at(path: &std::path::Path, keyring: bool) {
    let saved: Option<SessionFile> = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("cannot delete {}: {e}", path.display());
    }
    if let Some(SessionFile {
        server,
        email,
        token: None,
    }) = saved
        && keyring
    {
        // Not the installation's key: it stays for the next sign-in on this account.
        with_keyring("forgetting the session", |k| async move {
            for item in k.search_items(&attributes(&server, &email)).await? {
                if is_session_item(&item).await? {
                    item.delete().await?;
                }
            }
            Ok(())
        })
        .await;
    }
}

/// Watch for a Secret Service and move the token kept in the file at `path` into it (one
/// watcher at a time). Runs on the tokio runtime.
fn move_to_keyring_when_it_appears(path: PathBuf) {
    let Ok(mut mover) = MOVER.lock() else {
        return;
    };
    if mover.as_ref().is_some_and(|task| !task.is_finished()) {
        return;
    }
    *mover = Some(tokio::spawn(async move {
        if let Err(e) = wait_for_secret_service().await {
            tracing::info!("cannot watch the session bus for a secret service: {e}");
            return;
        }
        for _ in 0..MOVE_TRIES {
            if move_to_keyring(&path).await {
                return;
            }
            tokio::time::sleep(MOVE_PAUSE).await;
        }
        tracing::warn!("a secret service appeared but did not take the session's token");
    }));
}

/// Return once the Secret Service's name has an owner on the session bus.
async fn wait_for_secret_service() -> zbus::Result<()> {
    let bus = zbus::Connection::session().await?;
    let dbus = zbus::fdo::DBusProxy::new(&bus).await?;
    // Subscribe first, then ask: an owner that comes in between is not missed.
    let mut changes = dbus
        .receive_name_owner_changed_with_args(&[(0, SECRET_SERVICE)])
        .await?;
    if dbus
        .name_has_owner(zbus::names::BusName::try_from(SECRET_SERVICE)?)
        .await?
    {
        return Ok(());
    }
    tracing::info!("no secret service yet; the session's token stays in the file until one comes");
    while let Some(change) = changes.next().await {
        if change.args().is_ok_and(|a| a.new_owner.is_some()) {
            return Ok(());
        }
    }
    Err(zbus::Error::Failure("the session bus closed".into()))
}

/// Move the token the file at `path` holds into the keyring; `true` when there is nothing
/// left to do (moved, or no token in the file any more).
async fn move_to_keyring(path: &Path) -> bool {
    let read =
        || -> Option<SessionFile> { serde_json::from_slice(&std::fs::read(path).ok()?).ok() };
    let Some(SessionFile {
        server,
        email,
        token: Some(token),
    }) = read()
    else {
        return true;
    };
    let label = format!("Eyrie session for {email} on {server}");
    let (s, e, t) = (server.clone(), email.clone(), token.clone());
    let stored = with_keyring("moving the session into the keyring", |k| async move {
        k.create_item(&label, &item_attributes(&s, &e), t.as_str(), true)
            .await
    })
    .await;
    if stored.is_none() {
        return false;
    }
    // The file may have changed meanwhile (signed out, signed in again): only the same
    // session loses its token from the file.
    let same = read().is_some_and(|f| {
        f.server == server && f.email == email && f.token.as_deref() == Some(token.as_str())
    });
    if !same {
        return true;
    }
    let file = SessionFile {
        server,
        email,
        token: None,
    };
    if let Err(e) = write_file(path, &file) {
        tracing::warn!(
            "the token is in the keyring, but {} keeps a copy: {e}",
            path.display()
        );
        return true;
    }
    tracing::info!("the session's token moved from the file into the keyring");
    test_hooks::report(
        "session-kept",
        &serde_json::json!({ "in": Kept::Keyring.as_str(), "moved": true }),
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_without_a_keyring_holds_the_token_and_only_the_user_reads_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let s = Session {
            server: "http://127.0.0.1:1".into(),
            email: "a@example.org".into(),
            token: "t0k3n".into(),
        };
        assert_eq!(rt.block_on(store_to(&path, &s, false)).unwrap(), Kept::File);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(rt.block_on(load_from(&path, false)), Some(s));
        // A file without a token and no keyring: no session (sign in again), not an error.
        std::fs::write(&path, br#"{"server":"http://x","email":"e"}"#).unwrap();
        assert_eq!(rt.block_on(load_from(&path, false)), None);
        // Garbage: ignored.
        std::fs::write(&path, b"{").unwrap();
        assert_eq!(rt.block_on(load_from(&path, false)), None);
        rt.block_on(clear_at(&path, false));
        assert!(!path.exists());
    }
}
