//! `rest_bodies`: what it feeds and its oracles are in `eyrie_fuzz::rest` (src/rest.rs).
//! `cargo fuzz run -s none rest_bodies` from `fuzz/`; README.md has the details.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: eyrie_fuzz::write_seeds_if_asked("rest_bodies"),
    |data: &[u8]| eyrie_fuzz::rest::check(data)
);
