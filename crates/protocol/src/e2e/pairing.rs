//! The pairing check: the camera learns its owner's first key set authenticated by the
//! code on its screen, so a cloud that substitutes a key of its own is caught.
//!
//! The code a person types is 12 characters, `XXXX-XXXX-XXXX`: the first eight are the
//! claim code the cloud matches (`docs/api.md` §5), the last four (the **check**) never
//! leave the camera and the viewer. Both run SPAKE2 (RFC 9382; the `spake2` crate's
//! Ed25519 group) with the whole normalised code as password, the camera as side A
//! (`"eyrie-camera"`), the viewer as side B (`"eyrie-viewer"`), relayed by the cloud:
//!
//! ```text
//!   camera ── CameraHello {attempt, pake: A's message} ──► cloud ──► viewer
//!   viewer: K = SPAKE2 key; mac = HMAC-SHA256(K, "eyrie-pair/1" 0x00 device_id 0x00
//!           attempt 0x00 keyset_version 0x00 hex(SHA-256(key set body)))
//!   viewer ── ViewerAnswer {attempt, pake: B's message, keyset_version, mac} ──► cloud ──► camera
//!   camera: same K only if both typed/showed the same code; checks mac over the statement
//!           of that version the cloud serves ─► pins that key set
//! ```
//!
//! Whoever relays learns nothing that lets it test guesses of the check offline: a relay
//! that answers in place of the viewer has one guess (2^-19.8) per pairing attempt.

use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use spake2::{Ed25519Group, Identity, Password, Spake2};

use super::keyset::{KeySet, KeySetStatement};
use super::viewer::hex;
use super::{KeyError, b64, labelled, unb64_vec};

/// Characters of the check part.
pub const CHECK_LEN: usize = 4;
/// The code alphabet (no `I`, `L`, `O`, `0`, `1`), as `docs/api.md` §5.
pub const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const ID_CAMERA: &[u8] = b"eyrie-camera";
const ID_VIEWER: &[u8] = b"eyrie-viewer";

/// A fresh check part.
pub fn new_check() -> String {
    let mut raw = [0u8; CHECK_LEN];
    rand::fill(&mut raw);
    raw.iter()
        .map(|b| CODE_ALPHABET[*b as usize % CODE_ALPHABET.len()] as char)
        .collect()
}

/// Upper case, only letters and digits.
pub fn normalize(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// `(claim, check)` of a typed 12-character code, or `None` if it is not one.
pub fn split(code: &str) -> Option<(String, String)> {
    let n = normalize(code);
    if n.len() != 8 + CHECK_LEN || !n.bytes().all(|b| CODE_ALPHABET.contains(&b)) {
        return None;
    }
    Some((n[..8].to_owned(), n[8..].to_owned()))
}

/// `XXXX-XXXX-XXXX` from a claim code (with or without its dash) and a check.
pub fn display(claim: &str, check: &str) -> String {
    let c = normalize(claim);
    format!(
        "{}-{}-{}",
        &c[..4.min(c.len())],
        &c[4.min(c.len())..],
        normalize(check)
    )
}

/// What the camera posts to start the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CameraHello {
    /// Random, new for every start; the answer must carry it.
    pub attempt: String,
    /// SPAKE2 side A's message, base64url.
    pub pake: String,
}

/// The viewer's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ViewerAnswer {
    pub attempt: String,
    /// SPAKE2 side B's message, base64url.
    pub pake: String,
    /// The key set version the MAC covers.
    pub keyset_version: u64,
    /// base64url HMAC-SHA256 (see the module text).
    pub mac: String,
}

fn password(code: &str) -> Result<Password, KeyError> {
    let (claim, check) = split(code).ok_or(KeyError::Malformed("pairing code"))?;
    Ok(Password::new(format!("{claim}{check}").as_bytes()))
}

fn mac(
    key: &[u8],
    device_id: &str,
    attempt: &str,
    version: u64,
    statement: &KeySetStatement,
) -> Result<Hmac<Sha256>, KeyError> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).map_err(|_| KeyError::PairingMismatch)?;
    let digest = hex(&statement.digest()?);
    m.update(&labelled(
        "eyrie-pair/1",
        &[
            device_id.as_bytes(),
            attempt.as_bytes(),
            version.to_string().as_bytes(),
            digest.as_bytes(),
        ],
    ));
    Ok(m)
}

/// The camera's side of one pairing attempt.
pub struct CameraPairing {
    state: Spake2<Ed25519Group>,
    hello: CameraHello,
}

impl std::fmt::Debug for CameraPairing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraPairing")
            .field("attempt", &self.hello.attempt)
            .finish_non_exhaustive()
    }
}

impl CameraPairing {
    /// Start with the 12-character code the camera shows (or was given).
    pub fn start(code: &str) -> Result<Self, KeyError> {
        let (state, msg) = Spake2::<Ed25519Group>::start_a(
            &password(code)?,
            &Identity::new(ID_CAMERA),
            &Identity::new(ID_VIEWER),
        );
        let mut attempt = [0u8; 12];
        rand::fill(&mut attempt);
        Ok(Self {
            state,
            hello: CameraHello {
                attempt: b64(&attempt),
                pake: b64(&msg),
            },
        })
    }

    pub fn hello(&self) -> &CameraHello {
        &self.hello
    }

    /// Check `answer` and the statement of its version for `device_id` of user `user_id`:
    /// the pinned key set, or [`KeyError::PairingMismatch`].
    pub fn finish(
        self,
        answer: &ViewerAnswer,
        statement: KeySetStatement,
        device_id: &str,
        user_id: &str,
    ) -> Result<KeySet, KeyError> {
        if answer.attempt != self.hello.attempt {
            return Err(KeyError::PairingMismatch);
        }
        let theirs = unb64_vec(&answer.pake, "pake message", 64)?;
        let key = self
            .state
            .finish(&theirs)
            .map_err(|_| KeyError::PairingMismatch)?;
        let expected = unb64_vec(&answer.mac, "pairing mac", 32)?;
        mac(
            &key,
            device_id,
            &answer.attempt,
            answer.keyset_version,
            &statement,
        )?
        .verify_slice(&expected)
        .map_err(|_| KeyError::PairingMismatch)?;
        let set = KeySet::pinned(statement, user_id)?;
        if set.version() != answer.keyset_version {
            return Err(KeyError::PairingMismatch);
        }
        Ok(set)
    }
}

/// The viewer's answer to `hello`, vouching for `statement` (the user's current key set).
pub fn answer(
    code: &str,
    hello: &CameraHello,
    device_id: &str,
    statement: &KeySetStatement,
) -> Result<ViewerAnswer, KeyError> {
    let version = statement.read_body()?.version;
    let (state, msg) = Spake2::<Ed25519Group>::start_b(
        &password(code)?,
        &Identity::new(ID_CAMERA),
        &Identity::new(ID_VIEWER),
    );
    let theirs = unb64_vec(&hello.pake, "pake message", 64)?;
    let key = state
        .finish(&theirs)
        .map_err(|_| KeyError::Malformed("pake message"))?;
    let tag = mac(&key, device_id, &hello.attempt, version, statement)?
        .finalize()
        .into_bytes();
    Ok(ViewerAnswer {
        attempt: hello.attempt.clone(),
        pake: b64(&msg),
        keyset_version: version,
        mac: b64(&tag),
    })
}
