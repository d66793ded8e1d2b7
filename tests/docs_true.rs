//! The docs name only what exists: every `--flag` in `README.md`, `ARCHITECTURE.md` and
//! `docs/*.md` is an option of the `eyrie` binary (its own, `cloud`'s, `camera`'s or a
//! camera command's) or of another tool the text runs (cargo, systemctl, agetty, curl),
//! and every repository path they name (`crates/…`, `docs/…`, `tests/…`, …) is there.
//! An outside client was once written from docs that named `--presign-ttl` and
//! `--clip-wait`, flags the binary never had.
//!
//! A flag must also belong to the program it is written for: on a command line
//! (`eyrie camera … --flag`) it must be in that subcommand's `--help` (for the camera,
//! its own or its commands'), and in an option table (`| \`--flag\` | …`) in the help of
//! the subcommand the text last named (`eyrie cloud` before the table of cloud options),
//! with the environment variable the table gives next to it. The files the docs say a
//! program writes are checked against what it writes (`s3-credentials.json`).

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
    ("--test", "cargo"),
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

/// `eyrie`, `eyrie cloud`, `eyrie camera` (with its commands') help texts.
fn helps_by_program() -> Vec<(&'static str, String)> {
    let camera = help(&["camera"]);
    let mut camera_all = camera.clone();
    let commands = camera.split("Commands:").nth(1).unwrap_or("").to_owned();
    // The commands: the indented lines under `Commands:`, up to the next blank line.
    for line in commands.lines().skip(1).take_while(|l| l.starts_with("  ")) {
        let cmd = line.split_whitespace().next().unwrap_or("help");
        if cmd == "help" {
            continue;
        }
        let out = Command::new(env!("CARGO_BIN_EXE_eyrie"))
            .args(["camera", cmd, "--help"])
            .output()
            .expect("camera command help");
        assert!(out.status.success(), "eyrie camera {cmd} --help");
        camera_all.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    vec![
        ("eyrie", help(&[])),
        ("eyrie cloud", help(&["cloud"])),
        ("eyrie camera", camera_all),
    ]
}

/// The program (`eyrie`, `eyrie cloud`, `eyrie camera`) a command starting at byte `i`
/// of `line` runs, if `eyrie` there is a command word (not `crates/eyrie`, `eyrie-cloud`).
fn program_at(line: &str, i: usize) -> Option<&'static str> {
    let before = line[..i].chars().next_back();
    if before.is_some_and(|c| c.is_alphanumeric() || "-_/.".contains(c)) {
        return None;
    }
    let rest = &line[i + "eyrie".len()..];
    if rest.starts_with(" cloud") && !rest[6..].starts_with(|c: char| c.is_alphanumeric()) {
        Some("eyrie cloud")
    } else if rest.starts_with(" camera") && !rest[7..].starts_with(|c: char| c.is_alphanumeric()) {
        Some("eyrie camera")
    } else if rest.starts_with(" --") {
        Some("eyrie")
    } else {
        None
    }
}

#[test]
fn every_flag_is_the_programs_it_is_written_for() {
    let helps = helps_by_program();
    let help_of = |p: &str| &helps.iter().find(|(n, _)| *n == p).unwrap().1;
    let mut wrong = Vec::new();
    for file in doc_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        // The subcommand the text last named: what an option table is about.
        let mut named: Option<&'static str> = None;
        for (n, line) in text.lines().enumerate() {
            let at = format!("{name}:{}", n + 1);
            if line.starts_with("| `--") {
                let cells: Vec<&str> = line.split('|').collect();
                let Some(program) = named.filter(|p| *p != "eyrie") else {
                    wrong.push(format!(
                        "{at}: an option table before any `eyrie cloud|camera`"
                    ));
                    continue;
                };
                let h = help_of(program);
                let known = flags(h);
                for flag in flags(cells[1]) {
                    if !known.contains(&flag) {
                        wrong.push(format!("{at}: {flag} is not an option of `{program}`"));
                    }
                }
                // `| --flag | EYRIE_ENV | meaning |`: the variable is the flag's.
                if cells.len() > 3 && cells[2].contains("EYRIE_") {
                    for env in cells[2]
                        .split(['`', ',', ' '])
                        .filter(|w| w.starts_with("EYRIE_"))
                    {
                        if !h.contains(&format!("[env: {env}="))
                            && !h.contains(&format!("[env: {env}]"))
                        {
                            wrong.push(format!("{at}: {env} is not a variable of `{program}`"));
                        }
                    }
                }
                continue;
            }
            for (i, _) in line.match_indices("eyrie") {
                let Some(program) = program_at(line, i) else {
                    continue;
                };
                named = Some(program);
                // The command runs to the end of its code span, a comment or the line.
                let cmd = &line[i..];
                let end = cmd.find(['`', '#', '|']).unwrap_or(cmd.len());
                let known = flags(help_of(program));
                for flag in flags(&cmd[..end]) {
                    if !known.contains(&flag) {
                        wrong.push(format!("{at}: {flag} is not an option of `{program}`"));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "flags written for a program that does not have them: {wrong:#?}"
    );
}

#[test]
fn the_flag_check_catches_what_the_outside_client_found() {
    // What docs/api.md once said, and flags put on the wrong program.
    let helps = helps_by_program();
    let cloud = flags(&helps[1].1);
    let camera = flags(&helps[2].1);
    for stale in ["--presign-ttl", "--clip-wait"] {
        assert!(!cloud.contains(stale), "{stale}");
    }
    assert!(cloud.contains("--presign-ttl-secs") && cloud.contains("--clip-wait-secs"));
    assert!(!camera.contains("--s3-endpoint") && !cloud.contains("--source"));
    assert_eq!(
        program_at("run `eyrie cloud --listen x`", 5),
        Some("eyrie cloud")
    );
    assert_eq!(program_at("crates/eyrie camera", 7), None);
    assert_eq!(program_at("eyrie-cloud", 0), None);
}

/// `s3-credentials.json` as docs/api.md § "Running the service" describes it: the fields
/// the doc names are the ones `eyrie cloud` writes, and the file is private (0600).
#[test]
fn the_s3_credentials_file_is_as_documented() {
    use std::os::unix::fs::PermissionsExt;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let api = std::fs::read_to_string(root.join("docs/api.md")).unwrap();
    let at = api
        .find("s3-credentials.json")
        .expect("api.md names the file");
    let doc = &api[at..];
    let json = &doc[doc.find('{').unwrap()..=doc.find('}').unwrap()];
    let documented: BTreeSet<String> = serde_json::from_str::<serde_json::Value>(json)
        .expect("the documented shape is JSON")
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string()
    };
    let mut cloud = Command::new(env!("CARGO_BIN_EXE_eyrie"))
        .arg("cloud")
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "--listen",
            &port(),
            "--s3-listen",
            &port(),
            "--mqtt-listen",
            &port(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("eyrie cloud starts");
    let file = dir.path().join("s3-credentials.json");
    let t0 = std::time::Instant::now();
    let raw = loop {
        if let Ok(raw) = std::fs::read(&file)
            && serde_json::from_slice::<serde_json::Value>(&raw).is_ok()
        {
            break raw;
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(30),
            "no {file:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let _ = cloud.kill();
    let _ = cloud.wait();
    let written: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let written: BTreeSet<String> = written.as_object().unwrap().keys().cloned().collect();
    assert_eq!(documented, written);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}
