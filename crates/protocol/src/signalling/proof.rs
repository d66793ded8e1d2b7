//! End-to-end proofs keyed by the ticket's signature (`docs/signalling.md` §4).
//!
//! ```text
//!   viewer: ticket = head "." sig ── split_ticket ──► head (sent), K = sig (kept)
//!   camera: head ── ticket_key(device_secret) ──► K' = HMAC(device_secret, head)
//!   offer : P_offer  = MAC(K, "eyrie-offer/1",  session_id, fp(offer))
//!   answer: P_answer = MAC(K, "eyrie-answer/1", session_id, fp(answer), fp(offer))
//!   restart: P_restart = MAC(K, "eyrie-restart/1", session_id, generation, fp(offer))
//! ```
//!
//! The broker only ever sees `head` and the two MACs, so it can neither reuse a ticket
//! nor answer in the camera's name.

/// Split a ticket's wire form into the claims part (sent in the offer) and the decoded
/// signature (the per-ticket key the viewer keeps). `None` if it is not `head.sig`.
pub fn split_ticket(ticket: &str) -> Option<(&str, Vec<u8>)> {
    use base64::Engine as _;
    let (head, sig) = ticket.split_once('.')?;
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .ok()?;
    Some((head, key))
}

/// The camera's side of [`split_ticket`]: the per-ticket key for a claims part,
/// `HMAC-SHA256(device_secret, head)`, and the full ticket to [`crate::ticket::verify`].
pub fn ticket_key(device_secret: &[u8], head: &str) -> (Vec<u8>, String) {
    use base64::Engine as _;
    use hmac::Mac as _;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(device_secret)
        .expect("HMAC takes keys of any length");
    m.update(head.as_bytes());
    let key = m.finalize().into_bytes().to_vec();
    let full = format!(
        "{head}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key)
    );
    (key, full)
}

/// The viewer's proof in an offer: `device_proof(key, ["eyrie-offer/1", session_id,
/// offer_fingerprint])` with `key` the ticket's signature. Fingerprints are the
/// `a=fingerprint:` values of the SDPs (e.g. `sha-256 AB:CD:…`), see [`sdp_fingerprint`].
pub fn offer_proof(key: &[u8], session_id: &str, offer_fingerprint: &str) -> String {
    crate::ticket::device_proof(key, &["eyrie-offer/1", session_id, offer_fingerprint])
}

/// Check an [`offer_proof`].
pub fn verify_offer_proof(
    key: &[u8],
    session_id: &str,
    offer_fingerprint: &str,
    proof: &str,
) -> bool {
    crate::ticket::verify_device_proof(
        key,
        &["eyrie-offer/1", session_id, offer_fingerprint],
        proof,
    )
}

/// The viewer's proof in a restart: `device_proof(key, ["eyrie-restart/1", session_id,
/// generation in decimal, offer_fingerprint])` with `key` the ticket's signature.
pub fn restart_proof(
    key: &[u8],
    session_id: &str,
    generation: u32,
    offer_fingerprint: &str,
) -> String {
    crate::ticket::device_proof(
        key,
        &[
            "eyrie-restart/1",
            session_id,
            &generation.to_string(),
            offer_fingerprint,
        ],
    )
}

/// Check a [`restart_proof`].
pub fn verify_restart_proof(
    key: &[u8],
    session_id: &str,
    generation: u32,
    offer_fingerprint: &str,
    proof: &str,
) -> bool {
    crate::ticket::verify_device_proof(
        key,
        &[
            "eyrie-restart/1",
            session_id,
            &generation.to_string(),
            offer_fingerprint,
        ],
        proof,
    )
}

/// The device's proof in an answer: `device_proof(key, ["eyrie-answer/1", session_id,
/// answer_fingerprint, offer_fingerprint])` with `key` the ticket's signature.
pub fn answer_proof(
    key: &[u8],
    session_id: &str,
    answer_fingerprint: &str,
    offer_fingerprint: &str,
) -> String {
    crate::ticket::device_proof(
        key,
        &[
            "eyrie-answer/1",
            session_id,
            answer_fingerprint,
            offer_fingerprint,
        ],
    )
}

/// Check an [`answer_proof`].
pub fn verify_answer_proof(
    key: &[u8],
    session_id: &str,
    answer_fingerprint: &str,
    offer_fingerprint: &str,
    proof: &str,
) -> bool {
    crate::ticket::verify_device_proof(
        key,
        &[
            "eyrie-answer/1",
            session_id,
            answer_fingerprint,
            offer_fingerprint,
        ],
        proof,
    )
}

/// The first `a=fingerprint:` value of an SDP (session or media level), trimmed.
pub fn sdp_fingerprint(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=fingerprint:"))
        .map(str::trim)
}
