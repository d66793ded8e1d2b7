//! Opening a snapshot to show it: the one place that knows what a snapshot object holds.
//!
//! A snapshot object is one of two formats, told apart by its first bytes:
//!
//! - **sealed** (`EYRIESEG…`): what a camera takes — a JPEG encrypted like a recording
//!   (`docs/segment-format.md`) with the device's recording key that its header names;
//! - **plain** (a JPEG or PNG signature): what the app keeps itself (the live view's
//!   snapshot button), stored as the image it is.
//!
//! Anything else is refused, and so is a sealed object whose key the account does not
//! have or whose chunks do not authenticate: a view shows a picture or an error, never
//! garbage. Every view that shows snapshots — the camera card, the gallery, the
//! timeline's hover — goes through [`open_snapshot`] (via [`SnapshotOpener`]).

use eyrie_protocol::api::{RecordingKeyList, Snapshot};
use eyrie_protocol::segment::{MAGIC, SegmentHeader, SegmentKey, decrypt_to_vec};
use uuid::Uuid;

use crate::{ApiClient, ApiError};

const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF];
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Why a snapshot could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("the snapshot has no download URL (not uploaded yet)")]
    NotReady,
    #[error("the snapshot is encrypted with a key this account does not have, or was altered")]
    Undecryptable,
    #[error("the snapshot is neither a sealed camera snapshot nor a JPEG or PNG picture")]
    NotAPicture,
}

/// The picture (JPEG or PNG bytes) in a downloaded snapshot object, decrypted with
/// `keys` (the device's, `GET /devices/{id}/keys`) when the camera sealed it.
pub fn open_snapshot(bytes: Vec<u8>, keys: &RecordingKeyList) -> Result<Vec<u8>, SnapshotError> {
    if bytes.starts_with(JPEG) || bytes.starts_with(PNG) {
        return Ok(bytes);
    }
    if !bytes.starts_with(&MAGIC) {
        return Err(SnapshotError::NotAPicture);
    }
    let header = SegmentHeader::parse(&bytes).map_err(|_| SnapshotError::Undecryptable)?;
    let key_id = header.key_id.to_hex();
    let key = keys
        .keys
        .iter()
        .find(|k| k.key_id == key_id)
        .and_then(|k| SegmentKey::from_base64url(k.key.as_deref()?).ok())
        .ok_or(SnapshotError::Undecryptable)?;
    let picture = decrypt_to_vec(&bytes, &key, Some(header.key_id))
        .map_err(|_| SnapshotError::Undecryptable)?;
    if picture.starts_with(JPEG) || picture.starts_with(PNG) {
        Ok(picture)
    } else {
        Err(SnapshotError::NotAPicture)
    }
}

/// The keys of one device, fetched once, to open its snapshots.
#[derive(Debug, Clone)]
pub struct SnapshotOpener {
    api: ApiClient,
    keys: RecordingKeyList,
}

impl SnapshotOpener {
    /// Fetch `device`'s recording keys (owner or the device).
    pub async fn new(api: &ApiClient, device: Uuid) -> Result<Self, ApiError> {
        Ok(Self {
            api: api.clone(),
            keys: api.recording_keys(device).await?,
        })
    }

    /// Download `snapshot` and open it ([`open_snapshot`]).
    pub async fn open(&self, snapshot: &Snapshot) -> Result<Vec<u8>, SnapshotError> {
        let url = snapshot.download.as_ref().ok_or(SnapshotError::NotReady)?;
        let bytes = self.api.get_presigned(url).await?;
        self.reveal(bytes)
    }

    /// The picture inside downloaded snapshot bytes ([`open_snapshot`] with these keys).
    pub fn reveal(&self, bytes: Vec<u8>) -> Result<Vec<u8>, SnapshotError> {
        open_snapshot(bytes, &self.keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eyrie_protocol::api::RecordingKey;
    use eyrie_protocol::segment::{DEFAULT_CHUNK_SIZE, KeyId, encrypt_to_vec};

    fn keys(key: &SegmentKey, id: KeyId) -> RecordingKeyList {
        RecordingKeyList {
            keys: vec![RecordingKey::clear(id.to_hex(), key, 0)],
        }
    }

    #[test]
    fn opens_either_format_by_its_header_and_refuses_the_rest() {
        let key = SegmentKey::generate();
        let id = KeyId([7; 8]);
        let jpeg = [JPEG, b"a picture".as_slice()].concat();
        let sealed = encrypt_to_vec(&jpeg, &key, id, DEFAULT_CHUNK_SIZE).unwrap();
        let ring = keys(&key, id);
        assert_eq!(open_snapshot(sealed.clone(), &ring).unwrap(), jpeg);
        assert_eq!(open_snapshot(jpeg.clone(), &ring).unwrap(), jpeg);
        let png = [PNG, b"kept by the app".as_slice()].concat();
        assert_eq!(open_snapshot(png.clone(), &ring).unwrap(), png);

        let other = keys(&SegmentKey::generate(), id);
        assert!(matches!(
            open_snapshot(sealed.clone(), &other),
            Err(SnapshotError::Undecryptable)
        ));
        let mut tampered = sealed;
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(matches!(
            open_snapshot(tampered, &ring),
            Err(SnapshotError::Undecryptable)
        ));
        assert!(matches!(
            open_snapshot(b"<html>not a picture".to_vec(), &ring),
            Err(SnapshotError::NotAPicture)
        ));
    }
}
