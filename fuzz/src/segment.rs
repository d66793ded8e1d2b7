//! `decrypt_segment`: the encrypted segment readers (`eyrie_protocol::segment`) on bytes
//! from the object store, which a stranger who can write there controls.
//!
//! Oracles:
//! 1. Arbitrary bytes through all three readers ([`decrypt_to_vec`], the push-style
//!    [`Decryptor`] fed in 5-byte pieces, the pull-style [`SegmentReader`]): no panic, they
//!    agree on success or failure and on the plaintext, and whatever decrypts is the
//!    canonical encryption of that plaintext under its own header (so no two byte strings
//!    decrypt to the same segment: nothing can be appended, re-chunked or padded).
//! 2. A valid segment with the fuzzer's edits applied (`(offset, xor)` pairs, then an
//!    optional cut) either fails or is byte-for-byte the original: an edited segment never
//!    yields plaintext.

use std::io::Read;

use eyrie_protocol::segment::{
    Decryptor, KeyId, SegmentHeader, SegmentKey, SegmentReader, SegmentWriter, decrypt_to_vec,
};

/// The key every seed and every fuzz input is read with.
pub fn key() -> SegmentKey {
    SegmentKey::from_bytes([7; 32])
}

/// The segment `encrypt` makes of `plain` under [`key`] with `header`.
pub fn encrypt(plain: &[u8], header: SegmentHeader) -> Vec<u8> {
    let mut w = SegmentWriter::with_header(Vec::new(), &key(), header).expect("header");
    w.push(plain).expect("push");
    w.finish().expect("finish")
}

/// A valid segment of `len` bytes in 32-byte chunks: (plaintext, segment).
pub fn valid_segment(len: usize) -> (Vec<u8>, Vec<u8>) {
    let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
    let header = SegmentHeader {
        version: 1,
        chunk_size: 32,
        key_id: KeyId([9; 8]),
        nonce_prefix: [1; 7],
    };
    let seg = encrypt(&plain, header);
    (plain, seg)
}

/// One fuzz input; panics on a finding.
pub fn check(data: &[u8]) {
    readers_agree(data);
    edits_never_decrypt(data);
}

fn readers_agree(data: &[u8]) {
    let a = decrypt_to_vec(data, &key(), None);
    let mut d = Decryptor::new(key(), None);
    let mut out = Vec::new();
    let b = data
        .chunks(5)
        .try_for_each(|c| d.push(c, &mut out))
        .and_then(|()| d.finish(&mut out).map(|h| (h, out)));
    let c = SegmentReader::new(data, &key(), None).and_then(|mut r| {
        let mut v = Vec::new();
        r.read_to_end(&mut v).map(|_| v).map_err(Into::into)
    });
    assert_eq!(
        a.is_ok(),
        b.is_ok(),
        "decrypt_to_vec and Decryptor disagree"
    );
    assert_eq!(
        a.is_ok(),
        c.is_ok(),
        "decrypt_to_vec and SegmentReader disagree"
    );
    if let (Ok(a), Ok((header, b)), Ok(c)) = (a, b, c) {
        assert_eq!(a, b, "Decryptor decrypted other bytes");
        assert_eq!(a, c, "SegmentReader decrypted other bytes");
        assert_eq!(
            encrypt(&a, header),
            data,
            "a segment decrypted that is not the canonical encryption of its plaintext"
        );
    }
}

fn edits_never_decrypt(data: &[u8]) {
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
}

/// Seed inputs: valid segments under [`key`] (empty, one short chunk, exactly one full
/// chunk, several chunks, the default chunk size) and edit scripts for oracle 2.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for len in [0usize, 1, 31, 32, 33, 100, 255] {
        out.push((format!("valid-{len}"), valid_segment(len).1));
    }
    let header = SegmentHeader {
        version: 1,
        chunk_size: eyrie_protocol::segment::DEFAULT_CHUNK_SIZE,
        key_id: KeyId(*b"k-2026-1"),
        nonce_prefix: [3; 7],
    };
    out.push((
        "valid-default-chunk".into(),
        encrypt(b"an h264 gop would go here", header),
    ));
    out.push(("edit-flip-tag".into(), vec![100, 0, 99, 1]));
    out.push(("edit-cut".into(), vec![64, 33]));
    out
}
