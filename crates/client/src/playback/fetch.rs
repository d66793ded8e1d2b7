//! Download and decrypt one segment through its presigned GET.
//!
//! The whole segment is authenticated before any byte of it reaches a decoder: the
//! [`Decryptor`] only yields authenticated chunks, and the plaintext is handed on only
//! after the final chunk opened — so a tampered or truncated segment is skipped whole
//! instead of showing garbage. A refused URL (403 from AWS, 400 from Garage: expired) is
//! presigned again once by listing that segment's range; a second refusal skips it.

use std::collections::HashMap;

use eyrie_protocol::api::{PresignedUrl, Recording, RecordingKeyList};
use eyrie_protocol::segment::{Decryptor, KeyId, SegmentKey};
use uuid::Uuid;

use super::SkipReason;
use crate::api::{ApiClient, ApiError};

/// The device's recording keys by key id (old recordings stay readable after rotation).
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: HashMap<String, SegmentKey>,
    newest: Option<(String, SegmentKey)>,
}

impl KeyRing {
    /// From `GET /api/v1/devices/{id}/keys` (newest first).
    pub fn from_list(list: &RecordingKeyList) -> Self {
        let mut ring = Self::default();
        for k in &list.keys {
            if let Some(Ok(key)) = k.key.as_deref().map(SegmentKey::from_base64url) {
                if ring.newest.is_none() {
                    ring.newest = Some((k.key_id.clone(), key.clone()));
                }
                ring.keys.insert(k.key_id.clone(), key);
            }
        }
        ring
    }

    /// One key with its id.
    pub fn single(key_id: &str, key: SegmentKey) -> Self {
        let mut ring = Self::default();
        ring.keys.insert(key_id.to_owned(), key.clone());
        ring.newest = Some((key_id.to_owned(), key));
        ring
    }

    /// The key for a segment sealed under `key_id` (None: the newest), with the id to
    /// insist on.
    pub fn lookup(&self, key_id: Option<&str>) -> Option<(SegmentKey, Option<KeyId>)> {
        let (id, key) = match key_id {
            Some(id) => (id, self.keys.get(id)?),
            None => {
                let (id, key) = self.newest.as_ref()?;
                (id.as_str(), key)
            }
        };
        Some((key.clone(), KeyId::from_hex(id).ok()))
    }
}

/// Decrypt a whole segment; `Err(Tampered)` unless every chunk authenticates.
pub fn decrypt(keys: &KeyRing, key_id: Option<&str>, enc: &[u8]) -> Result<Vec<u8>, SkipReason> {
    let (key, expected) = keys.lookup(key_id).ok_or(SkipReason::Tampered)?;
    let mut dec = Decryptor::new(key, expected);
    let mut out = Vec::with_capacity(enc.len());
    for piece in enc.chunks(256 * 1024) {
        dec.push(piece, &mut out)
            .map_err(|_| SkipReason::Tampered)?;
    }
    dec.finish(&mut out).map_err(|_| SkipReason::Tampered)?;
    Ok(out)
}

fn refused(e: &ApiError) -> bool {
    matches!(e, ApiError::Store(400 | 401 | 403))
}

async fn fresh_url(api: &ApiClient, rec: &Recording) -> Option<PresignedUrl> {
    let list = api
        .recordings(rec.channel_id, rec.start_ms, rec.end_ms)
        .await
        .ok()?;
    list.recordings
        .into_iter()
        .find(|r| r.id == rec.id)
        .and_then(|r| r.download)
}

/// Download and decrypt the part of a clip object that holds `rec`.
pub async fn clip_part(
    api: &ApiClient,
    keys: &KeyRing,
    clip: &super::timeline::ClipSource,
    rec: &Recording,
) -> Result<Vec<u8>, SkipReason> {
    let &(offset, size) = clip.ranges.get(&rec.id).ok_or(SkipReason::Missing)?;
    let enc = match api.get_presigned_range(&clip.url, offset, size).await {
        Ok(b) => b,
        Err(e) if refused(&e) => return Err(SkipReason::Expired),
        Err(ApiError::Store(404)) => return Err(SkipReason::Missing),
        Err(e) => {
            tracing::warn!(clip = %clip.clip_id, "clip download failed: {e}");
            return Err(SkipReason::Unreachable);
        }
    };
    decrypt(keys, rec.key_id.as_deref(), &enc).inspect_err(|_| {
        tracing::warn!(clip = %clip.clip_id, recording = %rec.id, "clip part failed authentication; skipped");
    })
}

/// Download and decrypt `rec`: plaintext MPEG-TS, or why it must be skipped.
pub async fn segment(
    api: &ApiClient,
    keys: &KeyRing,
    rec: &Recording,
) -> Result<Vec<u8>, SkipReason> {
    let mut url = match &rec.download {
        Some(u) => u.clone(),
        None => fresh_url(api, rec).await.ok_or(SkipReason::Missing)?,
    };
    let mut refetched = false;
    let enc = loop {
        match api.get_presigned(&url).await {
            Ok(b) => break b,
            Err(e) if refused(&e) && !refetched => {
                tracing::info!(recording = %rec.id, "presigned GET refused; presigning again");
                refetched = true;
                url = fresh_url(api, rec).await.ok_or(SkipReason::Expired)?;
            }
            Err(e) if refused(&e) => return Err(SkipReason::Expired),
            Err(ApiError::Store(404)) => return Err(SkipReason::Missing),
            Err(e) => {
                tracing::warn!(recording = %rec.id, "segment download failed: {e}");
                return Err(SkipReason::Unreachable);
            }
        }
    };
    let rec_id: Uuid = rec.id;
    decrypt(keys, rec.key_id.as_deref(), &enc).inspect_err(|_| {
        tracing::warn!(recording = %rec_id, "segment failed authentication; skipped");
    })
}
