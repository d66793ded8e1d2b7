//! The checks of Eyrie's fuzz targets, one function per target, so that the libFuzzer
//! binaries (`fuzz_targets/`) and the corpus replay test (`tests/replay.rs`, a plain
//! `cargo test`) run exactly the same code. Each function takes one input and panics on
//! a finding; each module's head says what a stranger controls there and which oracles
//! are checked beyond "no panic". `README.md` says how to run them.

pub mod rest;
pub mod sdp;
pub mod segment;
pub mod signalling;
pub mod ticket;

/// A target: its name (the `fuzz_targets/` binary and `corpus/` directory), its check,
/// and its seeds.
pub struct Target {
    pub name: &'static str,
    pub check: fn(&[u8]),
    pub seeds: fn() -> Vec<(String, Vec<u8>)>,
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "decrypt_segment",
        check: segment::check,
        seeds: segment::seeds,
    },
    Target {
        name: "signalling_v1",
        check: signalling::v1,
        seeds: signalling::seeds_v1,
    },
    Target {
        name: "signalling_v2",
        check: signalling::v2,
        seeds: signalling::seeds_v2,
    },
    Target {
        name: "offer_ticket",
        check: ticket::check,
        seeds: ticket::seeds,
    },
    Target {
        name: "offer_sdp",
        check: sdp::check,
        seeds: sdp::seeds,
    },
    Target {
        name: "rest_bodies",
        check: rest::check,
        seeds: rest::seeds,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> &'static Target {
    TARGETS
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no fuzz target {name}"))
}

/// Called once as a fuzz binary starts: with `EYRIE_FUZZ_SEEDS=<dir>` in the environment,
/// write this target's seeds to `<dir>/seed-<name>` (after checking each) and exit, so
/// seeds are (re)made by the same build: `EYRIE_FUZZ_SEEDS=corpus/offer_sdp
/// cargo fuzz run -s none offer_sdp`.
pub fn write_seeds_if_asked(name: &str) {
    let Some(dir) = std::env::var_os("EYRIE_FUZZ_SEEDS") else {
        return;
    };
    let t = target(name);
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("the seed directory");
    let seeds = (t.seeds)();
    for (seed, data) in &seeds {
        (t.check)(data);
        std::fs::write(dir.join(format!("seed-{seed}")), data).expect("a seed file");
    }
    eprintln!("{name}: {} seeds written to {}", seeds.len(), dir.display());
    std::process::exit(0);
}
