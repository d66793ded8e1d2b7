//! Translations: the catalogs in `po/` are complete and in step with the sources, and the
//! app speaks German and French when started in those languages.
//!
//! - Every language of `po/LINGUAS` has a `.po` that `msgfmt --check` accepts with no
//!   untranslated and no fuzzy message, one mnemonic `_` where the English has one, and a
//!   `Plural-Forms` header; its messages are exactly those `xgettext` extracts from the
//!   sources today (with the keywords of `po/meson.build`), so a new string without a
//!   translation fails here; and every `{placeholder}` of a message is in its
//!   translation, no other.
//! - `eyrie demo` under Xvfb with `LANGUAGE=de` / `fr` (and that locale, for dates): the
//!   AT-SPI tree ([`a11y_support`]) shows the sign-in page, the camera list and the live
//!   view (with its state) in that language.
//!
//! Run the GUI tests under `dbus-run-session`, with the `test-hooks` feature.

mod a11y_support;
mod gui_app;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn linguas() -> Vec<String> {
    std::fs::read_to_string(root().join("po/LINGUAS"))
        .expect("po/LINGUAS")
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// One message of a catalog: its id (with context and plural id), and its translations.
#[derive(Debug, Default, Clone)]
struct Message {
    ctxt: Option<String>,
    id: String,
    plural: Option<String>,
    strs: Vec<String>,
    fuzzy: bool,
}

/// A small reader for .po/.pot files: enough for the files msgfmt and xgettext write.
fn parse_po(text: &str) -> Vec<Message> {
    fn unquote(s: &str) -> String {
        let s = s.trim();
        let inner = s
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(s);
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(o) => out.push(o),
                    None => {}
                }
            } else {
                out.push(c);
            }
        }
        out
    }
    let mut messages = Vec::new();
    for block in text.split("\n\n") {
        let mut m = Message::default();
        // Which field continuation lines belong to.
        let mut field: Option<(String, usize)> = None;
        let mut seen_id = false;
        for line in block.lines() {
            let line = line.trim_end();
            if line.starts_with("#~") {
                // Obsolete: not part of the catalog.
                seen_id = false;
                break;
            }
            if let Some(flags) = line.strip_prefix("#,") {
                m.fuzzy |= flags.split(',').any(|f| f.trim() == "fuzzy");
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (key, rest) = if line.starts_with('"') {
                let Some((k, i)) = &field else { continue };
                (k.clone(), (line, *i))
            } else {
                let (k, v) = line.split_once(' ').unwrap_or((line, "\"\""));
                let (k, i) = match k.strip_prefix("msgstr[") {
                    Some(n) => (
                        "msgstr".to_owned(),
                        n.trim_end_matches(']').parse().unwrap_or(0),
                    ),
                    None => (k.to_owned(), 0),
                };
                field = Some((k.clone(), i));
                (k, (v, i))
            };
            let (v, i) = rest;
            let v = unquote(v);
            match key.as_str() {
                "msgctxt" => m.ctxt.get_or_insert_with(String::new).push_str(&v),
                "msgid" => {
                    seen_id = true;
                    m.id.push_str(&v);
                }
                "msgid_plural" => m.plural.get_or_insert_with(String::new).push_str(&v),
                "msgstr" => {
                    if m.strs.len() <= i {
                        m.strs.resize(i + 1, String::new());
                    }
                    m.strs[i].push_str(&v);
                }
                _ => {}
            }
        }
        if seen_id {
            messages.push(m);
        }
    }
    messages
}

fn key(m: &Message) -> (Option<String>, String) {
    (m.ctxt.clone(), m.id.clone())
}

/// The `{name}` placeholders of a string, as a set.
fn placeholders(s: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = s;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end)
                if end > 0
                    && after[..end]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                out.insert(after[..end].to_owned());
                rest = &after[end + 1..];
            }
            _ => rest = after,
        }
    }
    out
}

/// The template as the sources make it now: `xgettext` with meson's keywords.
fn extract_pot(dir: &Path) -> String {
    let meson = std::fs::read_to_string(root().join("po/meson.build")).expect("po/meson.build");
    let keywords: Vec<String> = meson
        .lines()
        .filter_map(|l| {
            let l = l.trim().trim_end_matches(',');
            l.strip_prefix("'--keyword=")
                .map(|k| format!("--keyword={}", k.trim_end_matches('\'')))
        })
        .collect();
    assert!(
        keywords.iter().any(|k| k == "--keyword=ngettext_f:1,2"),
        "po/meson.build lost its keywords: {keywords:?}"
    );
    let pot = dir.join("eyrie.pot");
    let out = Command::new("xgettext")
        .current_dir(root())
        // meson's `preset: 'glib'` adds these.
        .args(["--from-code=UTF-8", "--add-comments", "--keyword=_"])
        .args(&keywords)
        .args(["-f", "po/POTFILES.in", "-o"])
        .arg(&pot)
        .output()
        .expect("run xgettext (gettext)");
    assert!(
        out.status.success(),
        "xgettext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(pot).expect("xgettext wrote the template")
}

/// What is wrong with one translation catalog against the template; empty when nothing.
fn check_catalog(lang: &str, po_text: &str, template: &[Message]) -> Vec<String> {
    let mut problems = Vec::new();
    let po = parse_po(po_text);
    let header = po.iter().find(|m| m.id.is_empty() && m.ctxt.is_none());
    match header.and_then(|h| h.strs.first()) {
        Some(h) if h.contains("Plural-Forms: nplurals=") => {}
        _ => problems.push(format!("{lang}.po has no Plural-Forms header")),
    }
    let by_key: BTreeMap<_, _> = po
        .iter()
        .filter(|m| !m.id.is_empty())
        .map(|m| (key(m), m))
        .collect();
    let wanted: BTreeSet<_> = template
        .iter()
        .filter(|m| !m.id.is_empty())
        .map(key)
        .collect();
    for k in wanted.iter().filter(|k| !by_key.contains_key(*k)) {
        problems.push(format!(
            "{lang}.po lacks {:?} (new in the sources: run `meson compile eyrie-update-po` \
             or msgmerge, then translate it)",
            k.1
        ));
    }
    for k in by_key.keys().filter(|k| !wanted.contains(*k)) {
        problems.push(format!(
            "{lang}.po has {:?}, which the sources no longer have (msgmerge drops it)",
            k.1
        ));
    }
    for m in by_key.values() {
        if m.fuzzy {
            problems.push(format!("{lang}.po: {:?} is fuzzy", m.id));
        }
        if m.strs.is_empty() || m.strs.iter().any(String::is_empty) {
            problems.push(format!("{lang}.po: {:?} is not translated", m.id));
            continue;
        }
        let mut expected = placeholders(&m.id);
        if let Some(p) = &m.plural {
            expected.extend(placeholders(p));
        }
        for s in &m.strs {
            // A plural form may leave the count out ("one camera"), nothing else.
            let got = placeholders(s);
            let lost: Vec<_> = expected
                .difference(&got)
                .filter(|p| m.plural.is_none() || !matches!(p.as_str(), "n" | "count"))
                .collect();
            let unknown: Vec<_> = got.difference(&expected).collect();
            if !lost.is_empty() || !unknown.is_empty() {
                problems.push(format!(
                    "{lang}.po: {s:?} (for {:?}) loses {lost:?} / adds {unknown:?}",
                    m.id
                ));
            }
        }
        let underscores = |s: &str| s.matches('_').count();
        if underscores(&m.id) == 1 && m.strs.iter().any(|s| underscores(s) != 1) {
            problems.push(format!("{lang}.po: {:?} lost its mnemonic", m.id));
        }
    }
    problems
}

fn msgfmt_statistics(po: &Path) -> String {
    let out = Command::new("msgfmt")
        .args([
            "--check",
            "--check-accelerators=_",
            "--statistics",
            "-o",
            "/dev/null",
        ])
        .arg(po)
        .env("LC_ALL", "C")
        .output()
        .expect("run msgfmt (gettext)");
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert!(out.status.success(), "msgfmt --check {po:?}: {stderr}");
    stderr
}

#[test]
fn catalogs_are_complete_and_in_step_with_the_sources() {
    let langs = linguas();
    for needed in ["de", "fr"] {
        assert!(
            langs.iter().any(|l| l == needed),
            "po/LINGUAS lacks {needed}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let template = parse_po(&extract_pot(dir.path()));
    assert!(
        template.len() > 300 && template.iter().any(|m| m.id == "Take Snapshot"),
        "xgettext found only {} messages: the extraction is broken",
        template.len()
    );
    assert!(
        template.iter().any(|m| m.plural.is_some()),
        "no plural message extracted: ngettext_f is not a keyword any more?"
    );
    let mut problems = Vec::new();
    for lang in &langs {
        let path = root().join(format!("po/{lang}.po"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("po/LINGUAS lists {lang} but {path:?}: {e}"));
        let stats = msgfmt_statistics(&path);
        if stats.contains("untranslated") || stats.contains("fuzzy") {
            problems.push(format!("{lang}.po: msgfmt says {stats:?}"));
        }
        problems.extend(check_catalog(lang, &text, &template));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_catalog_check_finds_what_it_should() {
    // The checks above must be able to fail.
    let template = parse_po(
        "msgid \"\"\nmsgstr \"\"\n\nmsgid \"Remove {name}?\"\nmsgstr \"\"\n\n\
         msgid \"_Add\"\nmsgstr \"\"\n\nmsgid \"{n} camera\"\nmsgid_plural \"{n} cameras\"\n\
         msgstr[0] \"\"\nmsgstr[1] \"\"\n\nmsgid \"New\"\nmsgstr \"\"\n",
    );
    let po = "msgid \"\"\nmsgstr \"Plural-Forms: nplurals=2; plural=(n != 1);\\n\"\n\n\
              msgid \"Remove {name}?\"\nmsgstr \"{nom} entfernen?\"\n\n\
              #, fuzzy\nmsgid \"_Add\"\nmsgstr \"Hinzufügen\"\n\n\
              msgid \"{n} camera\"\nmsgid_plural \"{n} cameras\"\n\
              msgstr[0] \"eine Kamera\"\nmsgstr[1] \"\"\n\n\
              msgid \"Old\"\nmsgstr \"Alt\"\n\n#~ msgid \"Gone\"\n#~ msgstr \"Weg\"\n";
    let problems = check_catalog("xx", po, &template).join("\n");
    for expected in [
        "lacks \"New\"",
        "has \"Old\"",
        "\"_Add\" is fuzzy",
        "\"{n} camera\" is not translated",
        "loses [\"name\"] / adds [\"nom\"]",
        "\"_Add\" lost its mnemonic",
    ] {
        assert!(
            problems.contains(expected),
            "missed {expected:?} in:\n{problems}"
        );
    }
    assert!(
        !problems.contains("Gone"),
        "an obsolete message counted: {problems}"
    );
    assert_eq!(
        placeholders("{a} and {b_c}, not { x } nor {}"),
        ["a", "b_c"].map(String::from).into()
    );
}

/// `eyrie demo` in `language` with the locale `locale`; the tree once the live view plays.
fn demo_in(
    language: &str,
    locale: &str,
    ready: impl Fn(&a11y_support::Tree) -> bool,
) -> (gui_app::App, a11y_support::Tree, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = gui_app::command("1280x800x24");
    cmd.arg("demo")
        .env("EYRIE_TEST_REPORT", dir.path().join("report.jsonl"))
        .env("EYRIE_DEMO_SOURCE", "test")
        .env("EYRIE_TALK_SOURCE", "test")
        .env("GSK_RENDERER", "cairo")
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .env("LANGUAGE", language)
        .env("LANG", locale)
        .env("LC_ALL", locale)
        .env_remove("GTK_A11Y")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let app = gui_app::App::spawn(&mut cmd);
    let deadline = Instant::now() + Duration::from_secs(30);
    let pid = loop {
        if let Some(pid) = app.pid() {
            break pid;
        }
        assert!(Instant::now() < deadline, "eyrie did not start");
        std::thread::sleep(Duration::from_millis(100));
    };
    let tree = a11y_support::walk_until(pid, 120, ready);
    (app, tree, dir)
}

fn locale_available(locale: &str) -> bool {
    let out = Command::new("locale")
        .arg("-a")
        .output()
        .expect("run locale -a");
    let want = locale.to_lowercase().replace("utf-8", "utf8");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.to_lowercase().replace("utf-8", "utf8") == want)
}

/// Start the demo in a language and check the pages' words and the live view's state.
fn app_speaks(language: &str, locale: &str, words: &[(&str, &str)], live: &str) {
    assert!(
        locale_available(locale),
        "the locale {locale} is not generated: run build-aux/setup"
    );
    let (_app, tree, _dir) = demo_in(language, locale, |t| {
        words
            .iter()
            .all(|(role, name)| t.find(role, name).is_some())
            && t.0
                .iter()
                .any(|n| n.role == "image" && says_live(&n.description, live))
    });
    let shown: Vec<_> = tree
        .0
        .iter()
        .filter(|n| n.is_named() && n.role != "label")
        .map(|n| format!("{} {:?}", n.role, n.name))
        .collect();
    for (role, name) in words {
        assert!(
            tree.find(role, name).is_some(),
            "LANGUAGE={language}: no {role} {name:?} on screen; shown: {shown:?}"
        );
    }
    assert!(
        tree.0
            .iter()
            .any(|n| n.role == "image" && says_live(&n.description, live)),
        "LANGUAGE={language}: the live view does not say {live:?}; pictures say {:?}; shown: {shown:?}",
        tree.0
            .iter()
            .filter(|n| n.role == "image")
            .map(|n| &n.description)
            .collect::<Vec<_>>()
    );
    assert!(
        tree.find("push button", "Take Snapshot").is_none(),
        "LANGUAGE={language}: English left on screen"
    );
}

/// The live picture's description says the stream is live: `live`, alone or with more
/// after it (the media path, "Live · Direct", or "Live, reconnecting to the cloud…").
fn says_live(description: &str, live: &str) -> bool {
    description.starts_with(live)
}

#[test]
fn the_app_speaks_german() {
    app_speaks(
        "de",
        "de_DE.UTF-8",
        &[
            ("push button", "Anmelden"),
            ("push button", "Konto erstellen"),
            ("text", "Cloud-Link"),
            ("push button", "Demo Camera, Online"),
            ("push button", "Schnappschuss aufnehmen"),
            ("push button", "Zurück zu den Kameras"),
            ("push button", "Hauptmenü"),
        ],
        "Live",
    );
}

#[test]
fn the_app_speaks_french() {
    app_speaks(
        "fr",
        "fr_FR.UTF-8",
        &[
            ("push button", "Se connecter"),
            ("push button", "Créer un compte"),
            ("text", "Lien du cloud"),
            ("push button", "Demo Camera, En ligne"),
            ("push button", "Prendre un instantané"),
            ("push button", "Retour aux caméras"),
            ("push button", "Menu principal"),
        ],
        "En direct",
    );
}
