//! A content key sealed to one viewer key with HPKE (RFC 9180), base mode, suite
//! DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM, single shot:
//!
//! ```text
//!   info = "eyrie-content-key/1" 0x00 device_id 0x00 key_id     (ids as text)
//!   aad  = empty
//!   enc, ct = SealBase(pkR = viewer's x25519, info, aad, content key (32 bytes))
//! ```
//!
//! The device and key ids in `info` mean a wrapped key moved to another device or key id
//! does not open.

use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable as _, OpModeR, OpModeS, Serializable as _};
use serde::{Deserialize, Serialize};

use super::viewer::{ViewerKeys, ViewerPublic};
use super::{KeyError, b64, labelled, unb64, unb64_vec};
use crate::segment::SegmentKey;

/// A content key for one viewer key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WrappedKey {
    /// [`ViewerPublic::id`] of the key it is sealed to.
    pub viewer_key_id: String,
    /// HPKE encapsulated key, 32 bytes base64url.
    pub enc: String,
    /// Sealed content key (32 bytes + 16-byte tag), base64url.
    pub ct: String,
}

fn info(device_id: &str, key_id: &str) -> Vec<u8> {
    labelled(
        "eyrie-content-key/1",
        &[device_id.as_bytes(), key_id.as_bytes()],
    )
}

/// Seal `key` to `to`.
pub fn wrap(
    key: &SegmentKey,
    to: &ViewerPublic,
    device_id: &str,
    key_id: &str,
) -> Result<WrappedKey, KeyError> {
    let pk = to.hpke_key()?;
    let (enc, ct) = hpke::single_shot_seal::<AesGcm256, HkdfSha256, X25519HkdfSha256>(
        &OpModeS::Base,
        &pk,
        &info(device_id, key_id),
        key.as_bytes(),
        b"",
    )
    .map_err(|_| KeyError::Malformed("x25519 public key"))?;
    Ok(WrappedKey {
        viewer_key_id: to.id()?,
        enc: b64(&enc.to_bytes()),
        ct: b64(&ct),
    })
}

/// Open a key sealed to `me`.
pub fn unwrap(
    wrapped: &WrappedKey,
    me: &ViewerKeys,
    device_id: &str,
    key_id: &str,
) -> Result<SegmentKey, KeyError> {
    if wrapped.viewer_key_id != me.id() {
        return Err(KeyError::NotForMe);
    }
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&unb64::<32>(
        &wrapped.enc,
        "enc",
    )?)
    .map_err(|_| KeyError::Malformed("enc"))?;
    let ct = unb64_vec(&wrapped.ct, "wrapped key", 48)?;
    let pt = hpke::single_shot_open::<AesGcm256, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        me.hpke_secret(),
        &enc,
        &info(device_id, key_id),
        &ct,
        b"",
    )
    .map_err(|_| KeyError::Unwrap)?;
    SegmentKey::from_slice(&pt).map_err(|_| KeyError::Unwrap)
}
