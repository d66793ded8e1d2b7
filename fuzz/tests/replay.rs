//! Every corpus file (and every seed) through its target's checks, without a fuzzer:
//! the corpora in `corpus/` are regression tests of a plain `cargo test`.

use std::panic::AssertUnwindSafe;

#[test]
fn every_corpus_file_passes_its_target() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
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
