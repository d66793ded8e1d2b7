//! The encrypted recording segment format.
//!
//! A camera encrypts every recording segment (and snapshot) before it leaves the device,
//! so the object store only ever holds ciphertext. The format is a small fixed header
//! followed by AES-256-GCM sealed chunks of a fixed plaintext size; it is written up for
//! third parties in `docs/segment-format.md`.
//!
//! Design, in short (the "STREAM" construction of Hoang, Reyhanitabar, Rogaway and Vizár):
//!
//! - The plaintext is cut into chunks of `chunk_size` bytes. Every chunk but the last is
//!   exactly `chunk_size` bytes; the last (the *final chunk*) is strictly shorter, possibly
//!   empty. A reader therefore knows from a record's length alone whether it claims to be
//!   final, with no look-ahead, and memory stays at one chunk on both sides.
//! - Each chunk is sealed under nonce `prefix(7) || index(4, big-endian) || final(1)`, so a
//!   chunk only opens at its own position and with its own final flag: reordering,
//!   duplicating, dropping the final chunk, truncating at a chunk boundary or appending
//!   after the final chunk all fail authentication.
//! - The whole 32-byte header is the associated data of every chunk, so the header (key
//!   id, chunk size, nonce prefix, version) cannot be altered either.
//! - The nonce prefix is random per segment; with a 56-bit prefix and one key per device,
//!   nonce reuse needs ~2^28 segments per key before birthday bounds matter. Keys rotate
//!   with a new key id long before that (the cloud hands out the key, see `docs/api.md`).
//!
//! The streaming halves live in submodules: [`SegmentWriter`] (a `Write` that encrypts)
//! and [`SegmentReader`] (a `Read` that only ever yields authenticated plaintext), plus
//! the push-style [`Decryptor`] for callers that receive bytes in pieces (HTTP bodies).

mod decrypt;
mod encrypt;

pub use decrypt::{Decryptor, SegmentReader, decrypt_to_vec};
pub use encrypt::{SegmentWriter, encrypt_to_vec};

use aes_gcm::aead::{Key, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

/// First eight bytes of every segment.
pub const MAGIC: [u8; 8] = *b"EYRIESEG";
/// The format version this code writes by default: 2, a segment sealed under a content
/// key the camera made and distributes wrapped to viewer keys (`docs/keys.md`).
pub const FORMAT_VERSION: u16 = 2;
/// Version 1: the same layout under a key the cloud made (devices paired before
/// end-to-end keys). Still read; written only by such devices.
pub const LEGACY_VERSION: u16 = 1;
/// Length of the fixed header in bytes.
pub const HEADER_LEN: usize = 32;
/// Length of the GCM tag that follows every chunk's ciphertext.
pub const TAG_LEN: usize = 16;
/// Length of the random per-segment nonce prefix.
pub const NONCE_PREFIX_LEN: usize = 7;
/// Default plaintext bytes per chunk (64 KiB).
pub const DEFAULT_CHUNK_SIZE: u32 = 64 * 1024;
/// Smallest chunk size a reader accepts.
pub const MIN_CHUNK_SIZE: u32 = 16;
/// Largest chunk size a reader accepts (bounds a reader's memory).
pub const MAX_CHUNK_SIZE: u32 = 16 * 1024 * 1024;
/// Media type to store segments under.
pub const CONTENT_TYPE: &str = "application/vnd.eyrie.segment";

/// A 256-bit segment key. Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SegmentKey([u8; 32]);

impl SegmentKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        Self(rand::random())
    }

    /// Parse from a slice that must be exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SegmentError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SegmentError::BadKeyLength(bytes.len()))?;
        Ok(Self(arr))
    }

    /// Parse the cloud's form: 32 bytes, base64url without padding (`RecordingKey.key`).
    /// The 32 bytes as base64url without padding (a legacy key's wire form).
    pub fn to_base64url(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0)
    }

    pub fn from_base64url(s: &str) -> Result<Self, SegmentError> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim().trim_end_matches('='))
            .map_err(|_| SegmentError::BadKeyLength(0))?;
        Self::from_slice(&bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(self.0))
    }
}

impl std::fmt::Debug for SegmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SegmentKey(<redacted>)")
    }
}

/// Identifies which key sealed a segment: 8 bytes, written as 16 lowercase hex characters
/// (the cloud's `RecordingKey::key_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// Parse the 16-hex-character form.
    pub fn from_hex(s: &str) -> Result<Self, SegmentError> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SegmentError::BadKeyId);
        }
        let mut out = [0u8; 8];
        for (i, o) in out.iter_mut().enumerate() {
            *o =
                u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| SegmentError::BadKeyId)?;
        }
        Ok(Self(out))
    }

    /// The 16 lowercase hex characters.
    pub fn to_hex(self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::str::FromStr for KeyId {
    type Err = SegmentError;
    fn from_str(s: &str) -> Result<Self, SegmentError> {
        Self::from_hex(s)
    }
}

/// The parsed fixed header of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    pub version: u16,
    pub chunk_size: u32,
    pub key_id: KeyId,
    pub nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl SegmentHeader {
    /// A header for a new segment with a fresh random nonce prefix.
    pub fn new(key_id: KeyId, chunk_size: u32) -> Result<Self, SegmentError> {
        Self::with_version(FORMAT_VERSION, key_id, chunk_size)
    }

    /// A header of a given version (1 or 2) with a fresh random nonce prefix.
    pub fn with_version(
        version: u16,
        key_id: KeyId,
        chunk_size: u32,
    ) -> Result<Self, SegmentError> {
        check_chunk_size(chunk_size)?;
        if !(LEGACY_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(SegmentError::UnsupportedVersion(version));
        }
        Ok(Self {
            version,
            chunk_size,
            key_id,
            nonce_prefix: rand::random(),
        })
    }

    /// The 32 header bytes (also every chunk's associated data).
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..8].copy_from_slice(&MAGIC);
        out[8..10].copy_from_slice(&self.version.to_be_bytes());
        out[10..14].copy_from_slice(&self.chunk_size.to_be_bytes());
        out[14..22].copy_from_slice(&self.key_id.0);
        out[22..29].copy_from_slice(&self.nonce_prefix);
        // 29..32 reserved, zero.
        out
    }

    /// Parse and validate the 32 header bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, SegmentError> {
        if bytes.len() < HEADER_LEN {
            return Err(SegmentError::Truncated);
        }
        if bytes[0..8] != MAGIC {
            return Err(SegmentError::BadMagic);
        }
        let version = u16::from_be_bytes([bytes[8], bytes[9]]);
        if !(LEGACY_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(SegmentError::UnsupportedVersion(version));
        }
        let chunk_size = u32::from_be_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]);
        check_chunk_size(chunk_size)?;
        if bytes[29..32] != [0, 0, 0] {
            return Err(SegmentError::BadHeader("reserved bytes are not zero"));
        }
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&bytes[14..22]);
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        nonce_prefix.copy_from_slice(&bytes[22..29]);
        Ok(Self {
            version,
            chunk_size,
            key_id: KeyId(key_id),
            nonce_prefix,
        })
    }

    /// Nonce of chunk `index`, with the final-chunk flag in the last byte.
    pub fn nonce(&self, index: u32, last: bool) -> Nonce<aes_gcm::aead::consts::U12> {
        let mut n = [0u8; 12];
        n[0..7].copy_from_slice(&self.nonce_prefix);
        n[7..11].copy_from_slice(&index.to_be_bytes());
        n[11] = u8::from(last);
        Nonce::from(n)
    }
}

fn check_chunk_size(chunk_size: u32) -> Result<(), SegmentError> {
    if (MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
        Ok(())
    } else {
        Err(SegmentError::BadChunkSize(chunk_size))
    }
}

/// Exact ciphertext length of a segment holding `plaintext_len` bytes.
pub fn encrypted_len(plaintext_len: u64, chunk_size: u32) -> u64 {
    let full = plaintext_len / u64::from(chunk_size);
    HEADER_LEN as u64 + plaintext_len + (full + 1) * TAG_LEN as u64
}

/// Why a segment could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("not an Eyrie segment (bad magic)")]
    BadMagic,
    #[error("segment format version {0} is not supported")]
    UnsupportedVersion(u16),
    #[error("segment chunk size {0} is out of range")]
    BadChunkSize(u32),
    #[error("segment header is malformed: {0}")]
    BadHeader(&'static str),
    #[error("segment key id must be 16 hex characters")]
    BadKeyId,
    #[error("segment key must be 32 bytes, got {0}")]
    BadKeyLength(usize),
    #[error("segment was sealed with key {found}, not with key {expected}")]
    WrongKeyId { expected: KeyId, found: KeyId },
    #[error("segment chunk {0} failed authentication (tampered, reordered or wrong key)")]
    Authentication(u32),
    #[error("segment is truncated (no final chunk)")]
    Truncated,
    #[error("segment has more chunks than the format allows")]
    TooLong,
    #[error("segment writer was already finished or failed")]
    Finished,
    #[error("segment I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

impl SegmentError {
    /// Turn into an `io::Error`, keeping the segment error as its source.
    pub fn into_io(self) -> std::io::Error {
        match self {
            SegmentError::Io(e) => e,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }
}

#[cfg(test)]
mod tests;
