//! Every fuzz corpus file (and every seed) through its target's checks, without a fuzzer:
//! the corpora in `fuzz/corpus/` are regression tests of the suite. The checks are the
//! `eyrie-fuzz` library (`fuzz/src/`), built here like any dependency, so the replay costs
//! no build of its own; `build-aux/fuzz-pass` builds only the instrumented binaries.

use std::panic::AssertUnwindSafe;

#[test]
fn every_corpus_file_passes_its_target() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut failures = Vec::new();
    for t in eyrie_fuzz::TARGETS {
        let dir = root.join(t.name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} has no corpus", t.name);
        for f in &files {
            let data = std::fs::read(f).expect("a corpus file");
            if std::panic::catch_unwind(AssertUnwindSafe(|| (t.check)(&data))).is_err() {
                failures.push(f.display().to_string());
            }
        }
        for (name, data) in (t.seeds)() {
            if std::panic::catch_unwind(AssertUnwindSafe(|| (t.check)(&data))).is_err() {
                failures.push(format!("{} seed {name}", t.name));
            }
        }
        println!("{}: {} corpus files", t.name, files.len());
    }
    assert!(failures.is_empty(), "failing inputs: {failures:#?}");
}
