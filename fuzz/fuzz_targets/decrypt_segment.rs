//! Fuzz the segment decryptors.
//!
//! Two oracles: arbitrary bytes must never panic and never decrypt (they carry no valid
//! tag under the fixed key), and a valid segment with the fuzzer's edits applied must
//! either fail or be byte-for-byte unchanged — an edited segment never yields plaintext.
//! Run with `cargo +nightly fuzz run decrypt_segment` from `fuzz/`.
#![no_main]

use std::io::Read;

use eyrie_protocol::segment::{
    Decryptor, KeyId, SegmentHeader, SegmentKey, SegmentReader, SegmentWriter, decrypt_to_vec,
};
use libfuzzer_sys::fuzz_target;

fn key() -> SegmentKey {
    SegmentKey::from_bytes([7; 32])
}

fn valid_segment(len: usize) -> (Vec<u8>, Vec<u8>) {
    let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
    let header = SegmentHeader { version: 1, chunk_size: 32, key_id: KeyId([9; 8]), nonce_prefix: [1; 7] };
    let mut w = SegmentWriter::with_header(Vec::new(), &key(), header).expect("header");
    w.push(&plain).expect("push");
    (plain, w.finish().expect("finish"))
}

fuzz_target!(|data: &[u8]| {
    // 1. Raw input through all three readers: no panic, and they agree.
    let a = decrypt_to_vec(data, &key(), None);
    let mut d = Decryptor::new(key(), None);
    let mut out = Vec::new();
    let b = data
        .chunks(5)
        .try_for_each(|c| d.push(c, &mut out))
        .and_then(|()| d.finish(&mut out).map(|_| out));
    let c = SegmentReader::new(data, &key(), None).and_then(|mut r| {
        let mut v = Vec::new();
        r.read_to_end(&mut v).map(|_| v).map_err(Into::into)
    });
    assert_eq!(a.is_ok(), b.is_ok());
    assert_eq!(a.is_ok(), c.is_ok());

    // 2. Edit a valid segment: (offset, xor) pairs, then an optional cut.
    if data.len() < 3 {
        return;
    }
    let (plain, orig) = valid_segment(usize::from(data[0]));
    let mut edited = orig.clone();
    for pair in data[2..].chunks_exact(2) {
        let i = usize::from(pair[0]) % edited.len();
        edited[i] ^= pair[1];
    }
    let cut = usize::from(data[1]);
    if cut < edited.len() && cut % 2 == 1 {
        edited.truncate(cut);
    }
    match decrypt_to_vec(&edited, &key(), None) {
        Ok(p) => {
            assert_eq!(edited, orig, "an edited segment decrypted");
            assert_eq!(p, plain);
        }
        Err(_) => assert_ne!(edited, orig, "the valid segment failed"),
    }
});
