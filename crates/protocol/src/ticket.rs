//! Signalling tickets.
//!
//! A viewer that wants to open a live session asks the cloud for a ticket for one of its
//! devices. The cloud signs the ticket with the device secret, which only the cloud and
//! the camera know, so the camera can check on its own — without calling the cloud — that
//! the offer comes from a user the cloud vouched for, for this device, and recently.
//!
//! Wire form: `base64url(claims JSON) "." base64url(HMAC-SHA256(device_secret, first part))`,
//! both parts unpadded. The claims carry a version, the user, the device, the expiry (unix
//! seconds) and a random nonce; the camera remembers nonces until they expire so a ticket
//! opens at most one session (replays are refused).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Version of the ticket claims this code writes and accepts.
pub const TICKET_VERSION: u32 = 1;

/// The longest a ticket may live, whatever the issuer asks for.
pub const MAX_TICKET_LIFETIME_SECS: u64 = 300;

/// Upper bound on an encoded ticket, to refuse absurd input before decoding it.
pub const MAX_TICKET_LEN: usize = 1024;

/// What a ticket says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketClaims {
    /// Format version, [`TICKET_VERSION`].
    pub v: u32,
    /// The user the cloud issued the ticket to.
    pub user_id: String,
    /// The device the ticket opens a session with.
    pub device_id: String,
    /// Expiry, unix seconds.
    pub exp: u64,
    /// Random, unique per ticket: the camera refuses a nonce it has seen.
    pub nonce: String,
}

/// Why a ticket was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TicketError {
    #[error("ticket is malformed")]
    Malformed,
    #[error("ticket signature does not match")]
    BadSignature,
    #[error("ticket version {0} is not supported")]
    UnsupportedVersion(u32),
    #[error("ticket is for another device")]
    WrongDevice,
    #[error("ticket has expired")]
    Expired,
    #[error("ticket lifetime is longer than allowed")]
    TooLong,
}

impl TicketClaims {
    /// New claims with a fresh random nonce.
    pub fn new(user_id: impl Into<String>, device_id: impl Into<String>, exp: u64) -> Self {
        let nonce: [u8; 16] = rand::random();
        Self {
            v: TICKET_VERSION,
            user_id: user_id.into(),
            device_id: device_id.into(),
            exp,
            nonce: URL_SAFE_NO_PAD.encode(nonce),
        }
    }

    /// Encode and sign with the device secret.
    pub fn sign(&self, device_secret: &[u8]) -> String {
        let claims = serde_json::to_vec(self).expect("ticket claims always serialize");
        let head = URL_SAFE_NO_PAD.encode(claims);
        let mac = mac(device_secret, head.as_bytes());
        format!("{head}.{}", URL_SAFE_NO_PAD.encode(mac))
    }
}

/// HMAC-SHA256 keyed with `secret`; HMAC accepts keys of any length, so this cannot fail.
fn keyed(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length")
}

fn mac(secret: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = keyed(secret);
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// Check a ticket's signature, version, device and expiry; `now` is unix seconds.
///
/// Replay protection (a nonce seen before) is the caller's job, since only it knows which
/// nonces it has seen: keep each accepted nonce until its `exp`.
pub fn verify(
    ticket: &str,
    device_secret: &[u8],
    device_id: &str,
    now: u64,
) -> Result<TicketClaims, TicketError> {
    if ticket.len() > MAX_TICKET_LEN {
        return Err(TicketError::Malformed);
    }
    let (head, sig) = ticket.split_once('.').ok_or(TicketError::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| TicketError::Malformed)?;
    let mut m = keyed(device_secret);
    m.update(head.as_bytes());
    m.verify_slice(&sig)
        .map_err(|_| TicketError::BadSignature)?;
    let claims: TicketClaims = URL_SAFE_NO_PAD
        .decode(head)
        .ok()
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .ok_or(TicketError::Malformed)?;
    if claims.v != TICKET_VERSION {
        return Err(TicketError::UnsupportedVersion(claims.v));
    }
    if claims.device_id != device_id {
        return Err(TicketError::WrongDevice);
    }
    if claims.exp <= now {
        return Err(TicketError::Expired);
    }
    if claims.exp > now + MAX_TICKET_LIFETIME_SECS {
        return Err(TicketError::TooLong);
    }
    Ok(claims)
}

/// MAC that proves a message came from the holder of the device secret, used by the camera
/// to sign its answer (over the DTLS fingerprint and the session id) so that the viewer can
/// tell a real camera from an impostor on the broker. Hex-less: base64url, unpadded.
pub fn device_proof(device_secret: &[u8], parts: &[&str]) -> String {
    let mut m = keyed(device_secret);
    m.update(&frame(parts));
    URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
}

/// `parts` as one byte string: each part's byte length as a big-endian u64, then its
/// UTF-8 bytes, so ("ab","c") and ("a","bc") differ. What [`device_proof`] MACs and what
/// sealed signalling authenticates as associated data.
pub fn frame(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| 8 + p.len()).sum());
    for p in parts {
        out.extend_from_slice(&(p.len() as u64).to_be_bytes());
        out.extend_from_slice(p.as_bytes());
    }
    out
}

/// Constant-time check of a [`device_proof`].
pub fn verify_device_proof(device_secret: &[u8], parts: &[&str], proof: &str) -> bool {
    let Ok(raw) = URL_SAFE_NO_PAD.decode(proof) else {
        return false;
    };
    let mut m = keyed(device_secret);
    m.update(&frame(parts));
    m.verify_slice(&raw).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"device-secret";

    #[test]
    fn round_trip() {
        let c = TicketClaims::new("u1", "d1", 1_000 + 60);
        let t = c.sign(SECRET);
        assert_eq!(verify(&t, SECRET, "d1", 1_000), Ok(c));
    }

    #[test]
    fn refusals() {
        let t = TicketClaims::new("u1", "d1", 1_060).sign(SECRET);
        assert_eq!(
            verify(&t, b"other", "d1", 1_000),
            Err(TicketError::BadSignature)
        );
        assert_eq!(
            verify(&t, SECRET, "d2", 1_000),
            Err(TicketError::WrongDevice)
        );
        assert_eq!(verify(&t, SECRET, "d1", 1_060), Err(TicketError::Expired));
        assert_eq!(verify(&t, SECRET, "d1", 0), Err(TicketError::TooLong));
        assert_eq!(
            verify("nodot", SECRET, "d1", 1_000),
            Err(TicketError::Malformed)
        );
        let mut bad = t.clone();
        bad.insert(3, 'x');
        assert!(verify(&bad, SECRET, "d1", 1_000).is_err());
        assert_eq!(
            verify(&"a".repeat(MAX_TICKET_LEN + 1), SECRET, "d1", 1_000),
            Err(TicketError::Malformed)
        );
    }

    #[test]
    fn proofs() {
        let p = device_proof(SECRET, &["ab", "c"]);
        assert!(verify_device_proof(SECRET, &["ab", "c"], &p));
        assert!(!verify_device_proof(SECRET, &["a", "bc"], &p));
        assert!(!verify_device_proof(b"x", &["ab", "c"], &p));
        assert!(!verify_device_proof(SECRET, &["ab", "c"], "!!"));
    }
}
