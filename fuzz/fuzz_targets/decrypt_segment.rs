//! `decrypt_segment`: what it feeds and its oracles are in `eyrie_fuzz::segment` (src/segment.rs).
//! `cargo fuzz run -s none decrypt_segment` from `fuzz/`; README.md has the details.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: eyrie_fuzz::write_seeds_if_asked("decrypt_segment"),
    |data: &[u8]| eyrie_fuzz::segment::check(data)
);
