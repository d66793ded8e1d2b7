//! `offer_ticket`: what it feeds and its oracles are in `eyrie_fuzz::ticket` (src/ticket.rs).
//! `cargo fuzz run -s none offer_ticket` from `fuzz/`; README.md has the details.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: eyrie_fuzz::write_seeds_if_asked("offer_ticket"),
    |data: &[u8]| eyrie_fuzz::ticket::check(data)
);
