//! A viewer installation's keys.
//!
//! Everything follows from a 32-byte seed, kept in the Secret Service like the session
//! token: the HPKE key pair is HPKE's own `DeriveKeyPair` (RFC 9180 §7.1.3) of
//! `HKDF-SHA256(seed, info "eyrie-viewer/1 x25519")`, the Ed25519 signing key is
//! `HKDF-SHA256(seed, info "eyrie-viewer/1 ed25519")` used as an RFC 8032 secret key.
//! The recovery key is one more such seed, written for people ([`RecoveryKey`]).

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use hkdf::Hkdf;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable as _, Kem as _, Serializable as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{KeyError, b64, labelled, unb64};

/// HKDF `info` for the HPKE key pair's input keying material.
pub const INFO_X25519: &str = "eyrie-viewer/1 x25519";
/// HKDF `info` for the Ed25519 secret key.
pub const INFO_ED25519: &str = "eyrie-viewer/1 ed25519";

/// The public half of a viewer key, as the cloud stores it and key sets list it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ViewerPublic {
    /// HPKE recipient key (X25519), 32 bytes base64url.
    pub x25519: String,
    /// Ed25519 verifying key, 32 bytes base64url.
    pub ed25519: String,
}

impl ViewerPublic {
    pub fn x25519_bytes(&self) -> Result<[u8; 32], KeyError> {
        unb64(&self.x25519, "x25519 public key")
    }

    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        VerifyingKey::from_bytes(&unb64(&self.ed25519, "ed25519 public key")?)
            .map_err(|_| KeyError::Malformed("ed25519 public key"))
    }

    pub fn hpke_key(&self) -> Result<<X25519HkdfSha256 as hpke::Kem>::PublicKey, KeyError> {
        <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(&self.x25519_bytes()?)
            .map_err(|_| KeyError::Malformed("x25519 public key"))
    }

    /// Both halves decode.
    pub fn check(&self) -> Result<(), KeyError> {
        self.hpke_key()?;
        self.verifying_key()?;
        Ok(())
    }

    /// The key id: lowercase hex of the first 8 bytes of
    /// `SHA-256("eyrie-viewer/1" 0x00 x25519 0x00 ed25519)` over the raw key bytes.
    pub fn id(&self) -> Result<String, KeyError> {
        let x = self.x25519_bytes()?;
        let e = unb64::<32>(&self.ed25519, "ed25519 public key")?;
        let h = Sha256::digest(labelled("eyrie-viewer/1", &[&x, &e]));
        Ok(hex(&h[..8]))
    }

    /// What a person compares on two screens: 12 decimal digits in three groups, from
    /// `SHA-256("eyrie-fingerprint/1" 0x00 x25519 0x00 ed25519)` (first 8 bytes as a
    /// big-endian integer, modulo 10^12).
    pub fn fingerprint(&self) -> Result<String, KeyError> {
        let x = self.x25519_bytes()?;
        let e = unb64::<32>(&self.ed25519, "ed25519 public key")?;
        let h = Sha256::digest(labelled("eyrie-fingerprint/1", &[&x, &e]));
        let mut first = [0u8; 8];
        first.copy_from_slice(&h[..8]);
        let n = u64::from_be_bytes(first) % 1_000_000_000_000;
        let s = format!("{n:012}");
        Ok(format!("{} {} {}", &s[..4], &s[4..8], &s[8..]))
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An installation's secret keys. Never logged (no `Debug` of the secrets).
#[derive(Clone)]
pub struct ViewerKeys {
    seed: [u8; 32],
    hpke_sk: <X25519HkdfSha256 as hpke::Kem>::PrivateKey,
    signing: SigningKey,
    public: ViewerPublic,
    id: String,
}

impl std::fmt::Debug for ViewerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewerKeys")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl ViewerKeys {
    /// A fresh installation key from the system's CSPRNG.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::fill(&mut seed);
        Self::from_seed(seed)
    }

    pub fn from_seed(seed: [u8; 32]) -> Self {
        let hk = Hkdf::<Sha256>::new(None, &seed);
        let mut ikm = [0u8; 32];
        hk.expand(INFO_X25519.as_bytes(), &mut ikm)
            .expect("32 bytes");
        let (hpke_sk, hpke_pk) = X25519HkdfSha256::derive_keypair(&ikm);
        let mut ed = [0u8; 32];
        hk.expand(INFO_ED25519.as_bytes(), &mut ed)
            .expect("32 bytes");
        let signing = SigningKey::from_bytes(&ed);
        let public = ViewerPublic {
            x25519: b64(&hpke_pk.to_bytes()),
            ed25519: b64(signing.verifying_key().as_bytes()),
        };
        let id = public.id().expect("own key encodes");
        Self {
            seed,
            hpke_sk,
            signing,
            public,
            id,
        }
    }

    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    pub fn public(&self) -> &ViewerPublic {
        &self.public
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn hpke_secret(&self) -> &<X25519HkdfSha256 as hpke::Kem>::PrivateKey {
        &self.hpke_sk
    }

    pub(crate) fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }
}

/// The recovery key: a viewer key written as 52 characters of RFC 4648 base32 (the seed)
/// in thirteen groups of four, `ABCD-EFGH-…`. Shown once when the account's first key set
/// is made; it is a member of every key set, so it can read every recording and admit a
/// new installation.
#[derive(Clone)]
pub struct RecoveryKey(ViewerKeys);

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

impl RecoveryKey {
    pub fn generate() -> Self {
        Self(ViewerKeys::generate())
    }

    pub fn keys(&self) -> &ViewerKeys {
        &self.0
    }

    /// The text a person writes down.
    pub fn to_text(&self) -> String {
        let mut bits = 0u32;
        let mut n = 0;
        let mut chars = String::new();
        for &b in self.0.seed() {
            bits = (bits << 8) | u32::from(b);
            n += 8;
            while n >= 5 {
                n -= 5;
                chars.push(BASE32[((bits >> n) & 31) as usize] as char);
            }
        }
        if n > 0 {
            chars.push(BASE32[((bits << (5 - n)) & 31) as usize] as char);
        }
        let groups: Vec<&str> = (0..chars.len())
            .step_by(4)
            .map(|i| &chars[i..(i + 4).min(chars.len())])
            .collect();
        groups.join("-")
    }

    /// Read what a person typed: case, spaces and dashes do not matter; `0`/`1`/`8` are
    /// taken for `O`/`I`/`B`.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::with_capacity(32);
        let mut count = 0;
        for c in text.chars().filter(|c| !c.is_whitespace() && *c != '-') {
            let c = match c.to_ascii_uppercase() {
                '0' => 'O',
                '1' => 'I',
                '8' => 'B',
                c => c,
            };
            let v = BASE32
                .iter()
                .position(|&b| b as char == c)
                .ok_or(KeyError::Malformed("recovery key"))?;
            count += 1;
            bits = (bits << 5) | v as u32;
            n += 5;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
            }
        }
        // 52 characters carry 260 bits: 256 of seed and 4 zero bits.
        if count != 52 || bits & ((1 << n) - 1) != 0 {
            return Err(KeyError::Malformed("recovery key"));
        }
        let seed: [u8; 32] = out
            .try_into()
            .map_err(|_| KeyError::Malformed("recovery key"))?;
        Ok(Self(ViewerKeys::from_seed(seed)))
    }
}

impl std::fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RecoveryKey").field(&self.0.id()).finish()
    }
}
