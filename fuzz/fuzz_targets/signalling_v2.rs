//! `signalling_v2`: what it feeds and its oracles are in `eyrie_fuzz::signalling` (src/signalling.rs).
//! `cargo fuzz run -s none signalling_v2` from `fuzz/`; README.md has the details.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: eyrie_fuzz::write_seeds_if_asked("signalling_v2"),
    |data: &[u8]| eyrie_fuzz::signalling::v2(data)
);
