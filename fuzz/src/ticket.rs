//! `offer_ticket`: the ticket head of an offer, as the camera checks it before anything
//! else (`LiveManager::check_ticket`, `crates/camera/src/live/offer.rs`): the per-ticket
//! key and full ticket from the head and the device secret
//! ([`eyrie_protocol::signalling::ticket_key`]), then [`ticket::verify`] — base64url, the
//! claims' JSON, version, device and expiry. Any viewer of the owner (or the broker, in
//! version 1) can send any head, and since the camera signs the head itself to get K,
//! the fuzzer's head always carries a valid signature: everything after the signature
//! check is reached.
//!
//! Oracles:
//! - no panic;
//! - the head the signalling layer lets through (≤ 1024 bytes, no `.`) is never refused
//!   for its signature;
//! - the viewer's [`split_ticket`] of the full ticket gives back the head and the key the
//!   camera derived (the two ends agree on K);
//! - accepted claims are for this device, of version 1, unexpired and within the
//!   5-minute lifetime, and signed again by the cloud's [`TicketClaims::sign`] they verify
//!   to the same claims.

use eyrie_protocol::signalling::{split_ticket, ticket_key};
use eyrie_protocol::ticket::{self, MAX_TICKET_LEN, TicketClaims, TicketError};

/// The device secret and id of the camera under test.
pub const SECRET: &[u8] = b"a device secret of the fuzz camera";
pub const DEVICE: &str = "5f0c7c1e-3b1a-4e8e-9c55-6d1f0b9a2e11";
/// The camera's clock (2026-01-01).
pub const NOW: u64 = 1_767_225_600;

/// One fuzz input; panics on a finding.
pub fn check(data: &[u8]) {
    let head = String::from_utf8_lossy(data);
    if head.len() > MAX_TICKET_LEN || head.contains('.') {
        // The signalling layer refuses these before the camera looks.
        return;
    }
    let (key, full) = ticket_key(SECRET, &head);
    assert_eq!(
        split_ticket(&full),
        Some((&*head, key.clone())),
        "viewer and camera disagree on the ticket key"
    );
    match ticket::verify(&full, SECRET, DEVICE, NOW) {
        Ok(claims) => {
            assert_eq!(claims.device_id, DEVICE);
            assert_eq!(claims.v, ticket::TICKET_VERSION);
            assert!(claims.exp > NOW && claims.exp <= NOW + ticket::MAX_TICKET_LIFETIME_SECS);
            let again = ticket::verify(&claims.sign(SECRET), SECRET, DEVICE, NOW);
            assert_eq!(
                again.as_ref(),
                Ok(&claims),
                "re-signed claims do not verify"
            );
        }
        Err(TicketError::BadSignature) => panic!("the camera's own signature refused"),
        Err(_) => {}
    }
}

/// Seeds: heads of tickets as the cloud signs them (valid, expired, for another device,
/// too long-lived, of another version) and a few malformed ones.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let head = |c: &TicketClaims| {
        let t = c.sign(SECRET);
        t.split_once('.')
            .map(|(h, _)| h.to_owned())
            .unwrap_or_default()
    };
    let claims = |device: &str, exp: u64| TicketClaims {
        v: 1,
        user_id: "0a8e1c54-0d0e-4b1d-9f8e-2b8f6b1c3d4e".into(),
        device_id: device.into(),
        exp,
        nonce: "bm9uY2Utb2YtdGhlLXNlZWQ".into(),
    };
    let mut other_version = claims(DEVICE, NOW + 60);
    other_version.v = 2;
    [
        ("valid", head(&claims(DEVICE, NOW + 120))),
        ("expired", head(&claims(DEVICE, NOW))),
        ("other-device", head(&claims("another", NOW + 120))),
        ("too-long", head(&claims(DEVICE, NOW + 3600))),
        ("other-version", head(&other_version)),
        ("not-base64", "eyJ2IjoxfQ!".into()),
        ("not-claims", "eyJ2IjoxfQ".into()),
        ("empty", String::new()),
    ]
    .into_iter()
    .map(|(n, h)| (n.to_owned(), h.into_bytes()))
    .collect()
}
