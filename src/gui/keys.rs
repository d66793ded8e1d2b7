//! This installation's end-to-end key (`docs/keys.md` §1) and the key set it belongs to.
//!
//! Each installation has its own 32-byte seed per account. Like the session token
//! ([`super::session`]) it is kept in the desktop's Secret Service, in an item of its own
//! (the same schema, server and account, plus `kind = viewer-key`) that signing out does
//! not delete: signing in again on the same account finds the same key, so the installation
//! stays admitted. Without a Secret Service the seed goes into `viewer-keys.json` next to
//! the session file (mode 0600, written atomically); once a keyring answers, a later start
//! moves it there and the file keeps only the key's id.
//!
//! ```text
//!  session starts ─► load_or_create(server, email) ─► set_current ─► every Cloud carries it
//!                      keyring item? ─ file seed? ─ neither: new seed (keyring, else file)
//! ```
//!
//! A key the file says is in the keyring, while the keyring does not answer, is not
//! replaced by a new one (that would cost the installation its place in the key set): the
//! session then runs without recordings until the next start.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use eyrie_protocol::e2e::keyset::KeySet;
use eyrie_protocol::e2e::viewer::ViewerKeys;
use serde::{Deserialize, Serialize};

use super::session::{self, KEYRING_SCHEMA, Kept};

/// The `kind` attribute of the keyring item that holds the seed.
pub const KIND_VIEWER_KEY: &str = "viewer-key";

/// The installation key of the session that runs now, and its key set once known.
struct Current {
    server: String,
    keys: Arc<ViewerKeys>,
    set: Option<KeySet>,
}

static CURRENT: Mutex<Option<Current>> = Mutex::new(None);

fn current_lock() -> std::sync::MutexGuard<'static, Option<Current>> {
    CURRENT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// The installation key for clients of the cloud at `server` (what [`super::cloud::Cloud`]
/// hands to every client it builds with a token).
pub fn current_for(server: &str) -> Option<Arc<ViewerKeys>> {
    current_lock()
        .as_ref()
        .filter(|c| same_server(&c.server, server))
        .map(|c| c.keys.clone())
}

/// The installation key of the running session, whatever its cloud.
pub fn current() -> Option<Arc<ViewerKeys>> {
    current_lock().as_ref().map(|c| c.keys.clone())
}

/// Make `keys` the installation key of the session on `server` (one account at a time).
pub fn set_current(server: &str, keys: Arc<ViewerKeys>) {
    *current_lock() = Some(Current {
        server: server.to_owned(),
        keys,
        set: None,
    });
}

/// Forget the running key (signing out; the stored seed stays).
pub fn clear_current() {
    *current_lock() = None;
}

/// The checked key set this installation is a member of (None: not settled, or not a
/// member).
pub fn keyset() -> Option<KeySet> {
    current_lock().as_ref().and_then(|c| c.set.clone())
}

/// Keep the key set, after settling, admitting, removing or recovering.
pub fn set_keyset(set: Option<KeySet>) {
    if let Some(c) = current_lock().as_mut() {
        c.set = set;
    }
}

/// Why there is no installation key for this session.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error(
        "this computer's key is in the keyring, which did not answer; recordings cannot be read until the keyring is unlocked"
    )]
    KeyringUnavailable,
    #[error("cannot keep this computer's key: {0}")]
    Io(#[from] std::io::Error),
}

/// A loaded or new installation key and where it is kept.
pub struct Loaded {
    pub keys: Arc<ViewerKeys>,
    pub kept: Kept,
    /// Made now (a fresh installation for this account).
    pub new: bool,
}

/// What `viewer-keys.json` holds: one entry per account; the seed only when no keyring
/// keeps it.
#[derive(Debug, Default, Serialize, Deserialize)]
struct KeyFile {
    #[serde(default)]
    keys: Vec<KeyEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyEntry {
    server: String,
    email: String,
    /// The key's id (public): the key exists, wherever its seed is.
    id: String,
    /// Hex of the seed, when the file keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<String>,
}

/// Where the key file lives: next to the session file.
pub fn key_file_path() -> PathBuf {
    session::session_path().with_file_name("viewer-keys.json")
}

fn attributes<'a>(server: &'a str, email: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("xdg:schema", KEYRING_SCHEMA),
        ("server", server),
        ("email", email),
        ("kind", KIND_VIEWER_KEY),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn read_file(path: &Path) -> KeyFile {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
            tracing::warn!("ignoring unreadable key file {}: {e}", path.display());
            KeyFile::default()
        }),
        Err(_) => KeyFile::default(),
    }
}

fn write_file(path: &Path, file: &KeyFile) -> std::io::Result<()> {
    session::write_private_json(path, file)
}

/// Note in the file at `path` (replacing the same account's entry) that the account's key
/// is `keys`, with its seed in the file only when `in_file`, the keyring holding it
/// otherwise.
fn put_entry(
    path: &Path,
    server: &str,
    email: &str,
    keys: &ViewerKeys,
    in_file: bool,
) -> std::io::Result<()> {
    let entry = KeyEntry {
        server: server.to_owned(),
        email: email.to_owned(),
        id: keys.id().to_owned(),
        seed: in_file.then(|| hex(keys.seed())),
    };
    let mut file = read_file(path);
    file.keys
        .retain(|e| !(same_server(&e.server, &entry.server) && e.email == entry.email));
    file.keys.push(entry);
    write_file(path, &file)
}

/// The seed the keyring keeps for the account: `None` when the keyring did not answer,
/// `Some(None)` when it answered without one.
async fn keyring_seed(server: &str, email: &str) -> Option<Option<[u8; 32]>> {
    let (s, e) = (server.to_owned(), email.to_owned());
    session::with_keyring("reading this computer's key", |k| async move {
        let items = k.search_items(&attributes(&s, &e)).await?;
        for item in items {
            let secret = item.secret().await?;
            if let Some(seed) = std::str::from_utf8(&secret).ok().and_then(unhex) {
                return Ok(Some(seed));
            }
        }
        Ok(None)
    })
    .await
}

/// Keep `keys` in the keyring; `true` when it took them.
async fn keyring_store(server: &str, email: &str, keys: &ViewerKeys) -> bool {
    let (s, e, seed) = (server.to_owned(), email.to_owned(), hex(keys.seed()));
    let label = format!("Eyrie key of this computer for {email} on {server}");
    session::with_keyring("keeping this computer's key", |k| async move {
        k.create_item(&label, &attributes(&s, &e), seed.as_str(), true)
            .await
    })
    .await
    .is_some()
}

/// This installation's key for `email` on `server`: the stored one, or a new one kept now
/// (keyring, else file). Runs on the tokio runtime.
pub async fn load_or_create(server: &str, email: &str) -> Result<Loaded, KeyStoreError> {
    load_or_create_at(&key_file_path(), server, email, session::keyring_allowed()).await
}

async fn load_or_create_at(
    path: &Path,
    server: &str,
    email: &str,
    keyring: bool,
) -> Result<Loaded, KeyStoreError> {
    let entry = read_file(path)
        .keys
        .into_iter()
        .find(|e| same_server(&e.server, server) && e.email == email);
    // A seed in the file: use it, and move it into a keyring that answers now.
    if let Some(seed) = entry
        .as_ref()
        .and_then(|e| e.seed.as_deref())
        .and_then(unhex)
    {
        let keys = ViewerKeys::from_seed(seed);
        let mut kept = Kept::File;
        if keyring && keyring_store(server, email, &keys).await {
            put_entry(path, server, email, &keys, false)?;
            tracing::info!("this computer's key moved from the file into the keyring");
            kept = Kept::Keyring;
        }
        return Ok(Loaded {
            keys: Arc::new(keys),
            kept,
            new: false,
        });
    }
    if keyring {
        match keyring_seed(server, email).await {
            Some(Some(seed)) => {
                let keys = ViewerKeys::from_seed(seed);
                if entry.as_ref().is_none_or(|e| e.id != keys.id()) {
                    put_entry(path, server, email, &keys, false)?;
                }
                return Ok(Loaded {
                    keys: Arc::new(keys),
                    kept: Kept::Keyring,
                    new: false,
                });
            }
            Some(None) => {
                if let Some(e) = &entry {
                    tracing::warn!(
                        id = %e.id,
                        "this computer's key is no longer in the keyring; making a new one (it must be allowed again)"
                    );
                }
            }
            None if entry.is_some() => return Err(KeyStoreError::KeyringUnavailable),
            None => {}
        }
    }
    // A new installation key.
    let keys = ViewerKeys::generate();
    let in_keyring = keyring && keyring_store(server, email, &keys).await;
    put_entry(path, server, email, &keys, !in_keyring)?;
    Ok(Loaded {
        keys: Arc::new(keys),
        kept: if in_keyring {
            Kept::Keyring
        } else {
            Kept::File
        },
        new: true,
    })
}

/// The name this installation gives itself in the key set: the machine's host name, or
/// "This computer".
pub fn installation_name() -> String {
    let host = gtk::glib::host_name();
    let host = host.trim();
    if host.is_empty() || host == "localhost" {
        crate::i18n::gettext("This computer")
    } else {
        host.chars().take(64).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_keyring_the_seed_is_kept_in_a_private_file_and_found_again() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("viewer-keys.json");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let a = rt
            .block_on(load_or_create_at(&path, "http://x", "a", false))
            .unwrap();
        assert!(a.new);
        assert_eq!(a.kept, Kept::File);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = rt
            .block_on(load_or_create_at(&path, "http://x/", "a", false))
            .unwrap();
        assert!(!again.new);
        assert_eq!(again.keys.id(), a.keys.id());
        // Another account on the same cloud: another key, the first one kept.
        let b = rt
            .block_on(load_or_create_at(&path, "http://x", "b", false))
            .unwrap();
        assert_ne!(b.keys.id(), a.keys.id());
        let first = rt
            .block_on(load_or_create_at(&path, "http://x", "a", false))
            .unwrap();
        assert_eq!(first.keys.id(), a.keys.id());
        assert_eq!(unhex(&hex(a.keys.seed())), Some(*a.keys.seed()));
    }
}
