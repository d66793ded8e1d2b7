//! The key segments and snapshots are sealed under, shared by the recorder and the
//! snapshotter and changed under them when the camera rotates its content key
//! (`docs/keys.md` §3): each new segment takes the key current when it starts.

use std::sync::{Arc, RwLock};

use eyrie_protocol::segment::{FORMAT_VERSION, KeyId, LEGACY_VERSION, SegmentKey};

/// A key, its id, and the segment format version that says which scheme it belongs to.
#[derive(Clone)]
pub struct SealingKey {
    pub key: SegmentKey,
    pub key_id: KeyId,
    /// 2: a content key the camera made; 1: a legacy key the cloud made.
    pub version: u16,
}

impl SealingKey {
    pub fn content(key: SegmentKey, key_id: KeyId) -> Self {
        Self {
            key,
            key_id,
            version: FORMAT_VERSION,
        }
    }

    pub fn legacy(key: SegmentKey, key_id: KeyId) -> Self {
        Self {
            key,
            key_id,
            version: LEGACY_VERSION,
        }
    }
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingKey")
            .field("key_id", &self.key_id.to_hex())
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The current [`SealingKey`]; cheap to clone, all clones see a rotation.
#[derive(Clone, Debug)]
pub struct KeyCell(Arc<RwLock<SealingKey>>);

impl KeyCell {
    pub fn new(key: SealingKey) -> Self {
        Self(Arc::new(RwLock::new(key)))
    }

    pub fn current(&self) -> SealingKey {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, key: SealingKey) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = key;
    }
}
