use super::KeyError;
use super::keyset::{KeySet, KeySetMember, first_statement};
use super::pairing::{self, CameraPairing};
use super::viewer::{RecoveryKey, ViewerKeys};
use super::wrap::{unwrap, wrap};
use crate::segment::SegmentKey;

const USER: &str = "6d1f4c1e-0000-4000-8000-000000000001";
const DEVICE: &str = "6d1f4c1e-0000-4000-8000-0000000000d1";

fn set_of(me: &ViewerKeys, rk: &RecoveryKey) -> KeySet {
    let st = first_statement(
        USER,
        vec![
            KeySetMember::new(me, "Laptop", false),
            KeySetMember::new(rk.keys(), "Recovery key", true),
        ],
        me,
        1,
    );
    KeySet::first(st, USER).unwrap()
}

#[test]
fn seeds_derive_stable_keys_and_ids() {
    let a = ViewerKeys::from_seed([1; 32]);
    let b = ViewerKeys::from_seed([1; 32]);
    assert_eq!(a.public(), b.public());
    assert_eq!(a.id().len(), 16);
    assert_ne!(a.id(), ViewerKeys::from_seed([2; 32]).id());
    let fp = a.public().fingerprint().unwrap();
    assert_eq!(fp.len(), 14, "{fp}");
}

#[test]
fn recovery_text_round_trips_and_tolerates_typing() {
    let rk = RecoveryKey::generate();
    let text = rk.to_text();
    assert_eq!(text.len(), 52 + 12, "{text}");
    let back = RecoveryKey::parse(&text.to_lowercase().replace('-', " ")).unwrap();
    assert_eq!(back.keys().id(), rk.keys().id());
    assert!(RecoveryKey::parse(&text[..text.len() - 1]).is_err());
    assert!(RecoveryKey::parse("not a key").is_err());
}

#[test]
fn wrapped_keys_open_only_for_their_viewer_device_and_key_id() {
    let me = ViewerKeys::generate();
    let other = ViewerKeys::generate();
    let key = SegmentKey::generate();
    let w = wrap(&key, me.public(), DEVICE, "00112233aabbccdd").unwrap();
    assert_eq!(
        unwrap(&w, &me, DEVICE, "00112233aabbccdd")
            .unwrap()
            .as_bytes(),
        key.as_bytes()
    );
    assert_eq!(
        unwrap(&w, &other, DEVICE, "00112233aabbccdd").unwrap_err(),
        KeyError::NotForMe
    );
    assert_eq!(
        unwrap(&w, &me, "another-device", "00112233aabbccdd").unwrap_err(),
        KeyError::Unwrap
    );
    assert_eq!(
        unwrap(&w, &me, DEVICE, "ffffffffffffffff").unwrap_err(),
        KeyError::Unwrap
    );
    let mut bad = w.clone();
    bad.viewer_key_id = other.id().to_owned();
    assert_eq!(
        unwrap(&bad, &other, DEVICE, "00112233aabbccdd").unwrap_err(),
        KeyError::Unwrap
    );
}

#[test]
fn a_chain_admits_only_what_a_member_signed() {
    let me = ViewerKeys::generate();
    let rk = RecoveryKey::generate();
    let v1 = set_of(&me, &rk);
    let phone = ViewerKeys::generate();
    let mut keys = v1.body.keys.clone();
    keys.push(KeySetMember::new(&phone, "Phone", false));
    let v2 = v1.next(v1.successor(keys.clone(), &me, 2)).unwrap();
    assert!(v2.member(phone.id()).is_some());

    // The cloud (no member key) cannot add one.
    let cloud = ViewerKeys::generate();
    let mut forged = keys.clone();
    forged.push(KeySetMember::new(&cloud, "Cloud", false));
    assert_eq!(
        v2.next(v2.successor(forged.clone(), &cloud, 3))
            .unwrap_err(),
        KeyError::UnknownSigner(3)
    );

    // Removing the phone; afterwards the phone cannot sign itself back in.
    let without: Vec<_> = keys
        .iter()
        .filter(|k| k.id != phone.id())
        .cloned()
        .collect();
    let v3 = v2
        .next(v2.successor(without, &rk.keys().clone(), 3))
        .unwrap();
    assert!(v3.member(phone.id()).is_none());
    assert_eq!(
        v3.next(v3.successor(keys, &phone, 4)).unwrap_err(),
        KeyError::UnknownSigner(4)
    );

    // Skipping or replaying a version is refused; following a chain links them up.
    assert!(matches!(
        v1.next(v3.statement.clone()),
        Err(KeyError::NotNext { .. })
    ));
    let chain = [
        v3.statement.clone(),
        v1.statement.clone(),
        v2.statement.clone(),
    ];
    assert_eq!(KeySet::from_chain(&chain, USER).unwrap().version(), 3);
    assert_eq!(
        KeySet::from_chain(&chain, "someone-else").unwrap_err(),
        KeyError::OtherUser
    );

    // A flipped byte in the body breaks the signature.
    let mut st = v2.statement.clone();
    st.sig = v3.statement.sig.clone();
    assert!(v1.next(st).is_err());
}

#[test]
fn pairing_pins_the_set_the_code_holder_vouched_for() {
    let me = ViewerKeys::generate();
    let rk = RecoveryKey::generate();
    let set = set_of(&me, &rk);
    let code = "K7QM-4XPD-R2T9";
    let cam = CameraPairing::start(code).unwrap();
    let ans = pairing::answer("k7qm4xpdr2t9", cam.hello(), DEVICE, &set.statement).unwrap();
    let pinned = cam
        .finish(&ans, set.statement.clone(), DEVICE, USER)
        .unwrap();
    assert_eq!(pinned, set);
}

#[test]
fn pairing_catches_a_substituted_set_or_a_wrong_code() {
    let me = ViewerKeys::generate();
    let rk = RecoveryKey::generate();
    let set = set_of(&me, &rk);
    let code = "K7QM-4XPD-R2T9";

    // The cloud swaps in its own key set under the viewer's answer.
    let cloud = ViewerKeys::generate();
    let forged = set_of(&cloud, &rk);
    let cam = CameraPairing::start(code).unwrap();
    let ans = pairing::answer(code, cam.hello(), DEVICE, &set.statement).unwrap();
    assert_eq!(
        cam.finish(&ans, forged.statement.clone(), DEVICE, USER)
            .unwrap_err(),
        KeyError::PairingMismatch
    );

    // The cloud answers itself, knowing the claim part but guessing the check.
    let cam = CameraPairing::start(code).unwrap();
    let ans = pairing::answer("K7QM-4XPD-AAAA", cam.hello(), DEVICE, &forged.statement).unwrap();
    assert_eq!(
        cam.finish(&ans, forged.statement.clone(), DEVICE, USER)
            .unwrap_err(),
        KeyError::PairingMismatch
    );

    // An answer for another device or attempt.
    let cam = CameraPairing::start(code).unwrap();
    let ans = pairing::answer(code, cam.hello(), "another-device", &set.statement).unwrap();
    assert_eq!(
        cam.finish(&ans, set.statement.clone(), DEVICE, USER)
            .unwrap_err(),
        KeyError::PairingMismatch
    );
    assert!(pairing::split("K7QM-4XPD").is_none());
    assert!(CameraPairing::start("K7QM-4XPD").is_err());
}
