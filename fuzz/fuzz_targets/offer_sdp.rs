//! `offer_sdp`: what it feeds and its oracles are in `eyrie_fuzz::sdp` (src/sdp.rs).
//! `cargo fuzz run -s none offer_sdp` from `fuzz/`; README.md has the details.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: eyrie_fuzz::write_seeds_if_asked("offer_sdp"),
    |data: &[u8]| eyrie_fuzz::sdp::check(data)
);
