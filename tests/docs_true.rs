//! The docs name only what exists: every `--flag` in `README.md`, `ARCHITECTURE.md` and
//! `docs/*.md` is an option of the `eyrie` binary (its own, `cloud`'s, `camera`'s or a
//! camera command's) or of another tool the text runs (cargo, systemctl, agetty, curl),
//! and every repository path they name (`crates/…`, `docs/…`, `tests/…`, …) is there.
//! An outside client was once written from docs that named `--presign-ttl` and
//! `--clip-wait`, flags the binary never had.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Flags of other programs the docs show being run, with the program.
const FOREIGN: &[(&str, &str)] = &[
    ("--bench", "cargo"),
    ("--features", "cargo"),
    ("--no-default-features", "cargo"),
    ("--workspace", "cargo"),
    ("--all-targets", "cargo"),
    ("--check", "cargo fmt"),
    ("--user", "systemctl"),
    ("--now", "systemctl"),
    ("--noclear", "agetty"),
    ("--autologin", "agetty"),
    ("--data-binary", "curl"),
];

fn doc_files() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "md") {
            files.push(e.path());
        }
    }
    files
}

/// `--word` tokens that are not part of a longer word (`a--b`) or a table rule (`---`).
fn flags(text: &str) -> BTreeSet<String> {
    let b = text.as_bytes();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i + 2 < b.len() {
        let starts = b[i] == b'-'
            && b[i + 1] == b'-'
            && b[i + 2].is_ascii_lowercase()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'-'));
        if starts {
            let mut j = i + 2;
            while j < b.len()
                && (b[j].is_ascii_lowercase() || b[j].is_ascii_digit() || b[j] == b'-')
            {
                j += 1;
            }
            out.insert(text[i..j].trim_end_matches('-').to_owned());
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_eyrie"))
        .args(args)
        .arg("--help")
        .output()
        .expect("eyrie --help");
    assert!(out.status.success(), "eyrie {args:?} --help failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_flag_the_docs_name_exists() {
    let mut known: BTreeSet<String> = BTreeSet::new();
    let mut helps = vec![help(&[]), help(&["cloud"]), help(&["camera"])];
    // The camera's commands (`eyrie camera event-stop --async`, …).
    for line in helps[2].clone().lines() {
        let line = line.trim_start();
        if let Some(cmd) = line.split_whitespace().next()
            && line.len() > cmd.len()
            && cmd.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            && !cmd.starts_with('-')
            && cmd != "help"
            && helps[2].contains("Commands:")
        {
            let out = Command::new(env!("CARGO_BIN_EXE_eyrie"))
                .args(["camera", cmd, "--help"])
                .output()
                .expect("camera command help");
            if out.status.success() {
                helps.push(String::from_utf8_lossy(&out.stdout).into_owned());
            }
        }
    }
    for h in &helps {
        known.extend(flags(h));
    }
    assert!(known.contains("--public-url") && known.contains("--activation-code"));
    let mut unknown = Vec::new();
    for file in doc_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for flag in flags(&text) {
            if !known.contains(&flag) && !FOREIGN.iter().any(|(f, _)| *f == flag) {
                unknown.push(format!("{}: {flag}", file.display()));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "flags the docs name but no program has: {unknown:#?}"
    );
}

#[test]
fn every_path_the_docs_name_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tops = [
        "crates/",
        "src/",
        "docs/",
        "tests/",
        "build-aux/",
        "benches/",
        "data/",
        "flatpak/",
        "po/",
    ];
    let mut missing = Vec::new();
    for file in doc_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, _) in text.match_indices('/') {
            // A path starts at a top-level directory name that is not part of a longer
            // word (`eyrie-data/` is not `data/`).
            let Some(top) = tops.iter().find(|t| {
                i + 1 >= t.len()
                    && text[..=i].ends_with(*t)
                    && text[..i + 1 - t.len()]
                        .chars()
                        .next_back()
                        .is_none_or(|c| !(c.is_alphanumeric() || "-_./<$~".contains(c)))
            }) else {
                continue;
            };
            let start = i + 1 - top.len();
            let path: String = text[start..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || "-_./".contains(*c))
                .collect();
            let path = path.trim_end_matches(['.', '-']);
            if !root.join(path).exists() {
                missing.push(format!("{}: {path}", file.display()));
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "paths the docs name that are not in the repository: {missing:#?}"
    );
}
