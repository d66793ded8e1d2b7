//! End-to-end keys (`docs/keys.md`, `docs/api.md` §13): key sets, the pairing check,
//! content keys and installations. The user half is what an app installation calls with
//! its session token, the device half what the camera calls.

use eyrie_protocol::api::*;
use eyrie_protocol::e2e::viewer::ViewerKeys;
use eyrie_protocol::e2e::wrap;
use reqwest::Method;
use uuid::Uuid;

use crate::{ApiClient, ApiError};

impl ApiClient {
    // ── user ──

    /// The caller's key set statements above `since`, oldest first.
    pub async fn keyset(&self, since: u64) -> Result<KeySetList, ApiError> {
        self.get(&format!("/keyset?since={since}")).await
    }

    /// Post the next key set statement.
    pub async fn post_keyset(
        &self,
        statement: &KeySetStatement,
    ) -> Result<KeySetStatement, ApiError> {
        self.json(Method::POST, "/keyset", statement).await
    }

    /// Where `device`'s pairing check stands (owner or the device).
    pub async fn pairing_state(&self, device: Uuid) -> Result<PairingState, ApiError> {
        self.get(&format!("/devices/{device}/pairing")).await
    }

    /// The viewer's answer to the camera's hello (owner).
    pub async fn answer_pairing(
        &self,
        device: Uuid,
        answer: &ViewerAnswer,
    ) -> Result<(), ApiError> {
        let path = format!("/devices/{device}/pairing/viewer");
        self.call(Method::PUT, &path, Some(answer), false)
            .await
            .map(drop)
    }

    /// More wraps of an existing content key (owner).
    pub async fn add_wraps(
        &self,
        device: Uuid,
        key_id: &str,
        wraps: Vec<WrappedKey>,
    ) -> Result<(), ApiError> {
        let path = format!("/devices/{device}/content-keys/{key_id}/wraps");
        self.call(Method::POST, &path, Some(&AddWraps { wraps }), false)
            .await
            .map(drop)
    }

    /// Ask to be admitted as an installation of the signed-in user.
    pub async fn request_installation(
        &self,
        name: &str,
        public: &ViewerPublic,
    ) -> Result<Installation, ApiError> {
        let body = NewInstallation {
            name: name.into(),
            public: public.clone(),
        };
        self.json(Method::POST, "/installations", &body).await
    }

    /// Installations waiting to be admitted.
    pub async fn installations(&self) -> Result<InstallationList, ApiError> {
        self.get("/installations").await
    }

    /// Dismiss an installation request.
    pub async fn dismiss_installation(&self, id: &str) -> Result<(), ApiError> {
        self.empty(Method::DELETE, &format!("/installations/{id}"))
            .await
    }

    /// The device's recording keys as the cloud serves them to viewer key `viewer_key`
    /// (content keys wrapped to it; legacy keys in the clear), newest first.
    pub async fn wrapped_keys(
        &self,
        device: Uuid,
        viewer_key: Option<&str>,
    ) -> Result<RecordingKeyList, ApiError> {
        match viewer_key {
            Some(v) => {
                self.get(&format!("/devices/{device}/keys?viewer_key={v}"))
                    .await
            }
            None => self.get(&format!("/devices/{device}/keys")).await,
        }
    }

    /// The device's keys that `me` can open, newest first: legacy keys as served, content
    /// keys unwrapped into [`RecordingKey::key`] (in memory only). A content key not
    /// wrapped to `me` (made before this installation was admitted) keeps `key` empty.
    pub async fn open_keys(
        &self,
        device: Uuid,
        me: Option<&ViewerKeys>,
    ) -> Result<RecordingKeyList, ApiError> {
        let mut list = self.wrapped_keys(device, me.map(ViewerKeys::id)).await?;
        let device_id = device.to_string();
        for k in &mut list.keys {
            if let (Some(w), Some(me)) = (&k.wrapped, me) {
                match wrap::unwrap(w, me, &device_id, &k.key_id) {
                    Ok(key) => k.key = Some(key.to_base64url()),
                    Err(e) => tracing::warn!(key_id = %k.key_id, "content key does not open: {e}"),
                }
            }
        }
        Ok(list)
    }

    // ── device ──

    /// The owner's key set statements above `since` (the device).
    pub async fn device_keyset(&self, device: Uuid, since: u64) -> Result<KeySetList, ApiError> {
        self.get(&format!("/devices/{device}/keyset?since={since}"))
            .await
    }

    /// Start a pairing check (the device).
    pub async fn pairing_hello(&self, device: Uuid, hello: &CameraHello) -> Result<(), ApiError> {
        let path = format!("/devices/{device}/pairing/camera");
        self.call(Method::PUT, &path, Some(hello), false)
            .await
            .map(drop)
    }

    /// Report the check's outcome (the device).
    pub async fn pairing_outcome(
        &self,
        device: Uuid,
        outcome: PairingOutcome,
    ) -> Result<(), ApiError> {
        let path = format!("/devices/{device}/pairing/outcome");
        self.call(
            Method::PUT,
            &path,
            Some(&PairingOutcomeRequest { outcome }),
            false,
        )
        .await
        .map(drop)
    }

    /// Register a content key, wrapped to the current key set (the device).
    pub async fn post_content_key(
        &self,
        device: Uuid,
        key: &NewContentKey,
    ) -> Result<(), ApiError> {
        let path = format!("/devices/{device}/content-keys");
        self.call(Method::POST, &path, Some(key), false)
            .await
            .map(drop)
    }
}

/// Why the viewer side of end-to-end keys could not go on.
#[derive(Debug, thiserror::Error)]
pub enum E2eError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Key(#[from] eyrie_protocol::e2e::KeyError),
    #[error(
        "this installation is not yet allowed to read recordings: confirm it from another installation, or use the recovery key"
    )]
    NotAdmitted,
    #[error("the camera did not answer the pairing check within {0:?}")]
    Timeout(std::time::Duration),
    #[error(
        "the camera refused the pairing check: the code did not match, or someone between the app and the camera changed the keys"
    )]
    Refused,
}

/// The signed-in user's key set, checked from version 1, with `me` in it. A user with no
/// key set yet gets version 1 made now (`me`, named `name`, and a new recovery key, which
/// is returned so it can be shown once).
pub async fn viewer_keyset(
    api: &ApiClient,
    user_id: &str,
    me: &ViewerKeys,
    name: &str,
) -> Result<
    (
        eyrie_protocol::e2e::keyset::KeySet,
        Option<eyrie_protocol::e2e::viewer::RecoveryKey>,
    ),
    E2eError,
> {
    use eyrie_protocol::e2e::keyset::{KeySet, KeySetMember, first_statement};
    use eyrie_protocol::e2e::viewer::RecoveryKey;
    let statements = api.keyset(0).await?.statements;
    if statements.is_empty() {
        let recovery = RecoveryKey::generate();
        let st = first_statement(
            user_id,
            vec![
                KeySetMember::new(me, name, false),
                KeySetMember::new(recovery.keys(), "Recovery key", true),
            ],
            me,
            eyrie_protocol::clock::unix_ms(),
        );
        api.post_keyset(&st).await?;
        return Ok((KeySet::first(st, user_id)?, Some(recovery)));
    }
    let set = KeySet::from_chain(&statements, user_id)?;
    if set.member(me.id()).is_none() {
        return Err(E2eError::NotAdmitted);
    }
    Ok((set, None))
}

/// The viewer's side of a camera's pairing check (`docs/keys.md` §4): wait for the
/// camera's hello, answer it for `set` with the 12-character `code`, and wait for the
/// camera's verdict.
pub async fn answer_pairing(
    api: &ApiClient,
    device: Uuid,
    code: &str,
    set: &eyrie_protocol::e2e::keyset::KeySet,
    timeout: std::time::Duration,
) -> Result<(), E2eError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let poll = std::time::Duration::from_millis(500);
    let hello = loop {
        if let Some(h) = api.pairing_state(device).await?.camera {
            break h;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(E2eError::Timeout(timeout));
        }
        tokio::time::sleep(poll).await;
    };
    let answer =
        eyrie_protocol::e2e::pairing::answer(code, &hello, &device.to_string(), &set.statement)?;
    api.answer_pairing(device, &answer).await?;
    loop {
        let st = api.pairing_state(device).await?;
        match (st.camera, st.outcome) {
            (Some(h), Some(PairingOutcome::Verified)) if h.attempt == hello.attempt => {
                return Ok(());
            }
            (Some(h), Some(PairingOutcome::Refused)) if h.attempt == hello.attempt => {
                return Err(E2eError::Refused);
            }
            // The camera started a new attempt after refusing ours.
            (Some(h), _) if h.attempt != hello.attempt => return Err(E2eError::Refused),
            _ => {}
        }
        if tokio::time::Instant::now() > deadline {
            return Err(E2eError::Timeout(timeout));
        }
        tokio::time::sleep(poll).await;
    }
}

/// Wrap every content key of every device that `from` can open to `to` as well (an
/// installation admitting another, or one restored with the recovery key). Returns how
/// many keys were wrapped.
pub async fn rewrap_all(
    api: &ApiClient,
    from: &ViewerKeys,
    to: &eyrie_protocol::e2e::viewer::ViewerPublic,
) -> Result<usize, E2eError> {
    let mut n = 0;
    for device in api.devices().await?.devices {
        let list = api.wrapped_keys(device.id, Some(from.id())).await?;
        let device_id = device.id.to_string();
        for k in list.keys {
            let Some(w) = &k.wrapped else { continue };
            let key = match wrap::unwrap(w, from, &device_id, &k.key_id) {
                Ok(key) => key,
                Err(e) => {
                    tracing::warn!(key_id = %k.key_id, "content key does not open: {e}");
                    continue;
                }
            };
            let again = wrap::wrap(&key, to, &device_id, &k.key_id)?;
            api.add_wraps(device.id, &k.key_id, vec![again]).await?;
            n += 1;
        }
    }
    Ok(n)
}

/// Admit `newcomer` (after the person compared its fingerprint on both screens): the next
/// key set version with it added, signed by `me`, and every content key `me` can open
/// wrapped to it.
pub async fn admit_installation(
    api: &ApiClient,
    set: &eyrie_protocol::e2e::keyset::KeySet,
    me: &ViewerKeys,
    newcomer: &Installation,
) -> Result<eyrie_protocol::e2e::keyset::KeySet, E2eError> {
    use eyrie_protocol::e2e::keyset::KeySetMember;
    let id = newcomer.public.id()?;
    let mut keys = set.body.keys.clone();
    if !keys.iter().any(|k| k.id == id) {
        keys.push(KeySetMember {
            id,
            name: newcomer.name.clone(),
            recovery: false,
            public: newcomer.public.clone(),
        });
    }
    let st = set.successor(keys, me, eyrie_protocol::clock::unix_ms());
    let next = set.next(st.clone())?;
    api.post_keyset(&st).await?;
    rewrap_all(api, me, &newcomer.public).await?;
    Ok(next)
}

/// Remove installation `id` from the key set (signed by `me`); cameras make a new content
/// key it cannot open once they follow.
pub async fn remove_installation(
    api: &ApiClient,
    set: &eyrie_protocol::e2e::keyset::KeySet,
    me: &ViewerKeys,
    id: &str,
) -> Result<eyrie_protocol::e2e::keyset::KeySet, E2eError> {
    let keys: Vec<_> = set
        .body
        .keys
        .iter()
        .filter(|k| k.id != id)
        .cloned()
        .collect();
    let st = set.successor(keys, me, eyrie_protocol::clock::unix_ms());
    let next = set.next(st.clone())?;
    api.post_keyset(&st).await?;
    Ok(next)
}

/// Restore access on this installation with the recovery key: the chain must hold it;
/// `me` is added (signed by the recovery key) and every content key wrapped to the
/// recovery key is wrapped to `me` too.
pub async fn recover(
    api: &ApiClient,
    user_id: &str,
    recovery: &eyrie_protocol::e2e::viewer::RecoveryKey,
    me: &ViewerKeys,
    name: &str,
) -> Result<eyrie_protocol::e2e::keyset::KeySet, E2eError> {
    use eyrie_protocol::e2e::keyset::{KeySet, KeySetMember};
    let statements = api.keyset(0).await?.statements;
    let set = KeySet::from_chain(&statements, user_id)?;
    if set.member(recovery.keys().id()).is_none() {
        return Err(eyrie_protocol::e2e::KeyError::NotForMe.into());
    }
    let set = if set.member(me.id()).is_none() {
        let mut keys = set.body.keys.clone();
        keys.push(KeySetMember::new(me, name, false));
        let st = set.successor(keys, recovery.keys(), eyrie_protocol::clock::unix_ms());
        let next = set.next(st.clone())?;
        api.post_keyset(&st).await?;
        next
    } else {
        set
    };
    rewrap_all(api, recovery.keys(), me.public()).await?;
    Ok(set)
}
