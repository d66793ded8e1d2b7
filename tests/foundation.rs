//! Foundation checks that need no build beyond the `eyrie` binary: the data files pass
//! the freedesktop/GNOME validators, `po/POTFILES.in` matches the sources, the Flatpak
//! manifest agrees with meson, and the README's test command is what CI runs.
//!
//! The slow checks (meson install, headless link, the app window) are in
//! `tests/foundation_build.rs`.

mod foundation_support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use foundation_support::{APP_ID, configure, read, run, run_ok, source_root, text};

fn write(dir: &Path, name: &str, contents: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write temp file");
    path
}

fn no_bindir() -> &'static Path {
    Path::new("/usr/bin")
}

#[test]
fn desktop_file_validates() {
    let dir = tempfile::tempdir().unwrap();
    let desktop = configure(&read("data/io.github.eyrie.Eyrie.desktop.in"), no_bindir());
    let path = write(dir.path(), &format!("{APP_ID}.desktop"), &desktop);
    let out = run(Command::new("desktop-file-validate").arg(&path));
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success() && report.trim().is_empty(),
        "desktop-file-validate:\n{report}"
    );
    assert!(
        desktop.contains(&format!("Icon={APP_ID}\n")),
        "the icon is named after the app id"
    );
    assert!(
        desktop.contains("Exec=eyrie"),
        "the desktop file starts eyrie"
    );
}

#[test]
fn metainfo_validates() {
    let dir = tempfile::tempdir().unwrap();
    let metainfo = configure(
        &read("data/io.github.eyrie.Eyrie.metainfo.xml.in"),
        no_bindir(),
    );
    let path = write(dir.path(), &format!("{APP_ID}.metainfo.xml"), &metainfo);
    let out = run(Command::new("appstreamcli")
        .args(["validate", "--no-net"])
        .arg(&path));
    assert!(
        out.status.success(),
        "appstreamcli validate --no-net:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(metainfo.contains(&format!(
        "<launchable type=\"desktop-id\">{APP_ID}.desktop</launchable>"
    )));
    assert!(
        metainfo.contains("<content_rating type=\"oars-1.1\""),
        "OARS rating missing"
    );
    // Every screenshot is a file of data/screenshots/ (the raw URL of the repository's
    // copy), and the first is the default one.
    let images: Vec<&str> = metainfo
        .split("<image>")
        .skip(1)
        .filter_map(|s| s.split("</image>").next())
        .collect();
    assert!(images.len() >= 3, "a few screenshots: {images:?}");
    for url in &images {
        let (_, file) = url
            .split_once("/main/")
            .unwrap_or_else(|| panic!("not a raw URL of the repository: {url}"));
        assert!(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(file).is_file(),
            "{file} (from the metainfo) is not in the repository"
        );
    }
    assert!(
        metainfo.contains("<screenshot type=\"default\">\n      <image>"),
        "a default screenshot"
    );
    let newest = format!("<release version=\"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(
        metainfo.contains(&newest),
        "the metainfo has no release entry for the crate version {}",
        env!("CARGO_PKG_VERSION")
    );
}

/// The keys the app, the kiosk and the camera-mode window were promised.
const SCHEMA_KEYS: &[&str] = &[
    "cloud-url",
    "last-camera",
    "window-width",
    "window-height",
    "window-maximized",
    "prefer-hd",
    "talk-mode",
    "notifications-enabled",
    "notify-disabled-cameras",
    "notify-cooldown-seconds",
    "do-not-disturb",
    "kiosk",
    "kiosk-layout",
    "kiosk-cameras",
    "kiosk-cycle-seconds",
    "kiosk-talk-allowed",
    "kiosk-locked",
];

#[test]
fn schema_compiles_strictly() {
    let dir = tempfile::tempdir().unwrap();
    let schema = configure(
        &read("data/io.github.eyrie.Eyrie.gschema.xml.in"),
        no_bindir(),
    );
    write(dir.path(), &format!("{APP_ID}.gschema.xml"), &schema);
    run_ok(
        Command::new("glib-compile-schemas")
            .args(["--strict", "--dry-run"])
            .arg(dir.path()),
    );
    assert!(schema.contains(&format!(
        "<schema id=\"{APP_ID}\" path=\"/io/github/eyrie/Eyrie/\">"
    )));
    for key in SCHEMA_KEYS {
        assert!(
            schema.contains(&format!("<key name=\"{key}\"")),
            "schema key {key} is missing"
        );
    }
}

#[test]
fn systemd_units_verify() {
    let bin = foundation_support::eyrie_bin();
    let bindir = bin.parent().expect("bin dir");
    let dir = tempfile::tempdir().unwrap();
    for role in ["cloud", "camera"] {
        let name = format!("eyrie-{role}.service");
        let unit = configure(&read(&format!("data/{name}.in")), bindir);
        for hardening in [
            "DynamicUser=yes",
            &format!("StateDirectory=eyrie-{role}"),
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "NoNewPrivileges=yes",
            "PrivateTmp=yes",
            "CapabilityBoundingSet=\n",
        ] {
            assert!(unit.contains(hardening), "{name} lacks {hardening:?}");
        }
        let exec = format!("ExecStart={} {role}", bin.display());
        assert!(unit.contains(&exec), "{name} does not run `eyrie {role}`");
        let path = write(dir.path(), &name, &unit);
        let out = run(Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&path));
        let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            out.status.success() && report.trim().is_empty(),
            "systemd-analyze verify {name}:\n{report}"
        );
        // The options the unit passes must exist on the command line: run its ExecStart
        // (without the settings from the environment file) with --help.
        let exec_line = unit
            .lines()
            .find(|l| l.starts_with(&exec))
            .expect("ExecStart line");
        let args: Vec<String> = exec_line[exec.len()..]
            .split_whitespace()
            .filter(|a| !a.starts_with('$'))
            .map(|a| a.replace("%S", "/var/lib"))
            .collect();
        run_ok(Command::new(&bin).arg(role).args(&args).arg("--help"));
    }
}

#[test]
fn icons_are_well_formed_svg() {
    for (path, size) in [
        (
            "data/icons/hicolor/scalable/apps/io.github.eyrie.Eyrie.svg",
            128,
        ),
        (
            "data/icons/hicolor/symbolic/apps/io.github.eyrie.Eyrie-symbolic.svg",
            16,
        ),
    ] {
        run_ok(
            Command::new("xmllint")
                .arg("--noout")
                .arg(source_root().join(path)),
        );
        let svg = read(path);
        assert!(
            svg.contains(&format!("viewBox=\"0 0 {size} {size}\"")),
            "{path} is not drawn on the {size} px grid"
        );
    }
}

/// Calls that mark a Rust string for translation (`gettext` also covers `ngettext`,
/// `pgettext` and the `_f` variants, which all contain it).
fn rust_file_translates(source: &str) -> bool {
    source
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.starts_with("//"))
        .any(|line| {
            ["gettext(", "gettext_f(", "gettext!("]
                .iter()
                .any(|call| line.contains(call))
        })
}

fn ui_file_translates(source: &str) -> bool {
    source.contains("translatable=\"yes\"")
}

fn collect(dir: &Path, out: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
            continue;
        }
        let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        let translates = match ext {
            "rs" => std::fs::read_to_string(&path).is_ok_and(|s| rust_file_translates(&s)),
            "ui" => std::fs::read_to_string(&path).is_ok_and(|s| ui_file_translates(&s)),
            _ => false,
        };
        if translates {
            let rel = path
                .strip_prefix(source_root())
                .expect("under the source root");
            out.insert(rel.to_string_lossy().into_owned());
        }
    }
}

fn potfiles() -> BTreeSet<String> {
    read("po/POTFILES.in")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn potfiles_matches_the_sources() {
    let mut translating = BTreeSet::new();
    for dir in ["src", "crates", "data"] {
        collect(&source_root().join(dir), &mut translating);
    }
    // The data templates carry translatable names, summaries and descriptions.
    for data in [
        "data/io.github.eyrie.Eyrie.desktop.in",
        "data/io.github.eyrie.Eyrie.metainfo.xml.in",
        "data/io.github.eyrie.Eyrie.gschema.xml.in",
    ] {
        translating.insert(data.to_owned());
    }
    let listed = potfiles();
    let missing: Vec<_> = translating.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&translating).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "po/POTFILES.in is out of date.\n  add (they have translatable strings): {missing:?}\n  \
         remove (missing, or nothing to translate): {stale:?}"
    );

    // And xgettext can read every listed file with the keywords meson passes.
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        Command::new("xgettext")
            .current_dir(source_root())
            .args([
                "--from-code=UTF-8",
                "--add-comments",
                "--keyword=_",
                "--keyword=gettext_f",
            ])
            .args([
                "--keyword=ngettext_f:1,2",
                "--keyword=pgettext_f:1c,2",
                "-f",
                "po/POTFILES.in",
                "-o",
            ])
            .arg(dir.path().join("eyrie.pot")),
    );
}

#[test]
fn potfiles_scan_sees_calls() {
    // The scanner itself: a check that cannot fail would prove nothing.
    assert!(rust_file_translates("let s = gettext(\"Cameras\");"));
    assert!(rust_file_translates(
        "gettext_f(\"{n} viewers\", &[(\"n\", &n)])"
    ));
    assert!(rust_file_translates("ngettext(\"camera\", \"cameras\", n)"));
    assert!(!rust_file_translates(
        "// gettext(\"only a comment\")\nuse gettextrs::gettext;"
    ));
    assert!(ui_file_translates(
        "<property name=\"title\" translatable=\"yes\">Eyrie</property>"
    ));
    assert!(!ui_file_translates(
        "<property name=\"title\">Eyrie</property>"
    ));
}

/// `name = 'value'` from meson.build.
fn meson_assignment(meson: &str, name: &str) -> String {
    let prefix = format!("{name} = '");
    let line = meson
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("meson.build has no {name} = '…'"));
    line[prefix.len()..].trim_end_matches('\'').to_owned()
}

fn meson_project_name(meson: &str) -> String {
    let start = meson.find("project(").expect("meson.build has project()") + "project(".len();
    let rest = meson[start..].trim_start();
    let rest = rest.strip_prefix('\'').expect("project name is a string");
    rest[..rest.find('\'').expect("closing quote")].to_owned()
}

#[test]
fn flatpak_manifest_agrees_with_meson() {
    let meson = read("meson.build");
    let options = read("meson_options.txt");
    let manifest: serde_json::Value =
        serde_json::from_str(&read("flatpak/io.github.eyrie.Eyrie.json"))
            .expect("the manifest is JSON");

    let base_id = meson_assignment(&meson, "base_id");
    assert_eq!(base_id, APP_ID);
    assert_eq!(
        manifest["id"],
        base_id.as_str(),
        "app id differs from meson's base_id"
    );
    let project = meson_project_name(&meson);
    assert_eq!(
        manifest["command"],
        project.as_str(),
        "command differs from the meson project/binary"
    );
    assert_eq!(project, env!("CARGO_PKG_NAME"));

    assert_eq!(manifest["runtime"], "org.gnome.Platform");
    assert_eq!(manifest["sdk"], "org.gnome.Sdk");
    let runtime: u32 = manifest["runtime-version"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("a numbered GNOME runtime");
    assert!(
        runtime >= 44,
        "GNOME {runtime} is older than our GTK 4.8 / libadwaita 1.2 floor"
    );
    let extensions = manifest["sdk-extensions"]
        .as_array()
        .expect("sdk-extensions");
    assert!(
        extensions
            .iter()
            .any(|e| e == "org.freedesktop.Sdk.Extension.rust-stable")
    );

    let finish: BTreeSet<&str> = manifest["finish-args"]
        .as_array()
        .expect("finish-args")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    for needed in [
        "--share=network",
        "--socket=wayland",
        "--socket=fallback-x11",
        "--device=dri",
        "--device=all",
        "--socket=pulseaudio",
        "--filesystem=xdg-run/pipewire-0",
    ] {
        assert!(finish.contains(needed), "finish-args lack {needed}");
    }

    // The app module is the last one: meson, the tree itself, vendored cargo sources.
    let modules = manifest["modules"].as_array().expect("modules");
    let app = modules.last().expect("at least one module");
    assert_eq!(app["name"], project.as_str());
    assert_eq!(app["buildsystem"], "meson");
    let sources = app["sources"].as_array().expect("sources");
    assert!(
        sources.iter().any(|s| s == "cargo-sources.json"),
        "cargo sources are not vendored"
    );
    assert!(
        sources
            .iter()
            .any(|s| s["type"] == "dir" && s["path"] == ".."),
        "the tree is not a source"
    );
    for opt in app["config-opts"].as_array().expect("config-opts") {
        let opt = opt.as_str().expect("string option");
        let (name, value) = opt
            .strip_prefix("-D")
            .and_then(|o| o.split_once('='))
            .unwrap_or_else(|| panic!("{opt} is not -Dname=value"));
        let decl = format!("'{name}',");
        let at = options
            .find(&decl)
            .unwrap_or_else(|| panic!("meson_options.txt has no option {name}"));
        let block = &options[at..options[at..].find(')').map_or(options.len(), |e| at + e)];
        if block.contains("type: 'combo'") {
            assert!(
                block.contains(&format!("'{value}'")),
                "{value} is not a choice of {name}"
            );
        }
    }
    // Cargo finds the vendored crates through CARGO_HOME, which build-aux/cargo.sh keeps.
    let cargo_home = manifest["build-options"]["env"]["CARGO_HOME"]
        .as_str()
        .expect("CARGO_HOME");
    assert_eq!(cargo_home, format!("/run/build/{project}/cargo"));
    assert!(read("build-aux/cargo.sh").contains("CARGO_HOME=\"${CARGO_HOME:-"));
    assert!(read("flatpak/README.md").contains("flatpak-cargo-generator"));
}

#[test]
fn ci_runs_the_readme_test_command() {
    let readme = read("README.md");
    let ci = read(".ci/run");
    let command = "build-aux/run-tests";
    assert!(
        readme.contains(command),
        "README.md does not give {command}"
    );
    let ci_commands: Vec<&str> = ci
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("set "))
        .collect();
    assert!(
        ci_commands.iter().any(|l| l.ends_with(command)),
        ".ci/run does not run the README's test command: {ci_commands:?}"
    );
    assert!(
        readme.contains("build-aux/run-demo"),
        "README.md does not give the demo command"
    );
}
