//! End-to-end recording keys: the cloud stores and serves recordings it cannot read
//! (`docs/keys.md`).
//!
//! ```text
//!   viewer installation            camera                          cloud
//!   seed ─► X25519 (HPKE)          content key (AES-256-GCM,       key sets (signed),
//!        └► Ed25519 (signs sets)    made here, rotated daily        wrapped keys,
//!                                    and when a viewer leaves)       ciphertext
//!   key set v1 {me, recovery} ──signed──► cloud ──► camera checks the chain, and v1
//!                                                   against the pairing code (SPAKE2)
//!   camera: wrap(content key) to every key of the set (HPKE) ──► cloud ──► viewer unwraps
//! ```
//!
//! - [`viewer`]: an installation's key pair from a 32-byte seed, its public half, id and
//!   fingerprint, and the recovery key's text form.
//! - [`keyset`]: who may read: a chain of statements, each signed by a member of the one
//!   before, so the cloud can neither add a key nor bring a removed one back.
//! - [`wrap`]: one content key sealed to one viewer key (HPKE, RFC 9180).
//! - [`pairing`]: the camera learns the first key set authenticated by the code it shows
//!   (SPAKE2, RFC 9382; the code's last four characters never reach the cloud).
//!
//! Nothing here does I/O.

pub mod keyset;
pub mod pairing;
pub mod viewer;
pub mod wrap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Why key material or a statement was refused. Messages never contain key bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("bad signature on key set version {0}")]
    BadSignature(u64),
    #[error("key set version {got} does not follow version {after}")]
    NotNext { after: u64, got: u64 },
    #[error("key set version {0} is signed by a key that was not in the set before it")]
    UnknownSigner(u64),
    #[error("key set belongs to another user")]
    OtherUser,
    #[error("the key was not wrapped for this viewer key")]
    NotForMe,
    #[error("unwrapping failed: wrong key, or the wrapped key was altered")]
    Unwrap,
    #[error("the pairing check failed: the key set did not come from whoever typed the code")]
    PairingMismatch,
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn unb64<const N: usize>(s: &str, what: &'static str) -> Result<[u8; N], KeyError> {
    let v = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| KeyError::Malformed(what))?;
    v.try_into().map_err(|_| KeyError::Malformed(what))
}

pub(crate) fn unb64_vec(s: &str, what: &'static str, max: usize) -> Result<Vec<u8>, KeyError> {
    if s.len() > max.div_ceil(3) * 4 {
        return Err(KeyError::Malformed(what));
    }
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| KeyError::Malformed(what))
}

/// `label 0x00 part 0x00 part …`: the unambiguous byte string every derivation and MAC
/// here is computed over (no part may contain a zero byte: they are ids and decimals).
pub(crate) fn labelled(label: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = label.as_bytes().to_vec();
    for p in parts {
        out.push(0);
        out.extend_from_slice(p);
    }
    out
}

#[cfg(test)]
mod tests;
