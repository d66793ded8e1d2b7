//! Opening a snapshot to show it: the one place that knows what a snapshot object holds.
//!
//! A camera encrypts its snapshots like its recordings (`docs/segment-format.md`: a JPEG
//! sealed with the device's recording key), so the bytes behind a presigned GET start with
//! `EYRIESEG` and must be decrypted with the key their header names. A picture the app
//! kept itself (the live view's snapshot button) is stored as the image it is. Every view
//! that shows snapshots — the camera card, the gallery, the timeline's hover — goes through
//! [`SnapshotOpener::open`].

use eyrie_protocol::api::Snapshot;
use eyrie_protocol::segment::{MAGIC, SegmentHeader};
use uuid::Uuid;

use crate::api::{ApiClient, ApiError};
use crate::playback::KeyRing;

/// Why a snapshot could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("the snapshot has no download URL (not uploaded yet)")]
    NotReady,
    #[error("the snapshot is encrypted with a key this account does not have, or was altered")]
    Undecryptable,
}

/// The keys of one device, fetched once, to open its snapshots.
#[derive(Debug, Clone)]
pub struct SnapshotOpener {
    api: ApiClient,
    keys: KeyRing,
}

impl SnapshotOpener {
    /// Fetch `device`'s recording keys (owner or the device).
    pub async fn new(api: &ApiClient, device: Uuid) -> Result<Self, ApiError> {
        let list = api.recording_keys(device).await?;
        Ok(Self {
            api: api.clone(),
            keys: KeyRing::from_list(&list),
        })
    }

    /// The image bytes (JPEG or PNG) of `snapshot`, decrypted when the camera sealed it.
    pub async fn open(&self, snapshot: &Snapshot) -> Result<Vec<u8>, SnapshotError> {
        let url = snapshot.download.as_ref().ok_or(SnapshotError::NotReady)?;
        let bytes = self.api.get_presigned(url).await?;
        self.reveal(bytes)
    }

    /// The image inside downloaded snapshot bytes.
    pub fn reveal(&self, bytes: Vec<u8>) -> Result<Vec<u8>, SnapshotError> {
        if !bytes.starts_with(&MAGIC) {
            return Ok(bytes);
        }
        let header = SegmentHeader::parse(&bytes).map_err(|_| SnapshotError::Undecryptable)?;
        let key_id = header.key_id.to_hex();
        crate::playback::fetch::decrypt(&self.keys, Some(&key_id), &bytes)
            .map_err(|_| SnapshotError::Undecryptable)
    }
}
