//! Build script of the `eyrie` binary.
//!
//! Only the viewer (the `gui` feature) needs anything here, so a headless build does
//! nothing and needs no GLib tools:
//!
//! - compiles `data/resources/resources.gresource.xml` into `$OUT_DIR/eyrie.gresource`,
//!   which the app embeds with `gio::resources_register_include!("eyrie.gresource")`;
//!   files are looked up in `data/resources/` first, then in `src/gui/`;
//! - compiles the GSettings schema for this build's app id into `$OUT_DIR/schemas/` and
//!   passes that directory as `EYRIE_BUILD_SCHEMA_DIR`, so `cargo run` and `cargo test`
//!   find the settings without an installed schema (meson installs the real one);
//! - compiles the translations `po/<lang>.po` of `po/LINGUAS` with `msgfmt` into
//!   `$OUT_DIR/locale/<lang>/LC_MESSAGES/eyrie.mo` and passes that directory as
//!   `EYRIE_BUILD_LOCALE_DIR`, so `cargo run` and the tests are translated without an
//!   installed catalog (meson compiles and installs the real ones into its localedir).

use std::path::{Path, PathBuf};
use std::process::Command;

const SCHEMA_TEMPLATE: &str = "data/io.github.eyrie.Eyrie.gschema.xml.in";
const DEFAULT_APP_ID: &str = "io.github.eyrie.Eyrie";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CARGO_FEATURE_GUI");
    if std::env::var_os("CARGO_FEATURE_GUI").is_none() {
        return;
    }
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    compile_resources();
    compile_schema(&out_dir);
    compile_translations(&out_dir);
}

#[cfg(feature = "gui")]
fn compile_resources() {
    glib_build_tools::compile_resources(
        &["data/resources", "src/gui"],
        "data/resources/resources.gresource.xml",
        "eyrie.gresource",
    );
}

#[cfg(not(feature = "gui"))]
fn compile_resources() {}

/// The schema path for an app id: `io.github.eyrie.Eyrie` → `/io/github/eyrie/Eyrie/`.
fn schema_path(app_id: &str) -> String {
    format!("/{}/", app_id.replace('.', "/"))
}

fn compile_schema(out_dir: &Path) {
    println!("cargo::rerun-if-changed={SCHEMA_TEMPLATE}");
    println!("cargo::rerun-if-env-changed=APP_ID");
    let app_id = std::env::var("APP_ID").unwrap_or_else(|_| DEFAULT_APP_ID.to_owned());
    let template = std::fs::read_to_string(SCHEMA_TEMPLATE)
        .unwrap_or_else(|e| panic!("cannot read {SCHEMA_TEMPLATE}: {e}"));
    let schema = template
        .replace("@APP_ID@", &app_id)
        .replace("@SCHEMA_PATH@", &schema_path(&app_id));
    let dir = out_dir.join("schemas");
    // Start clean so a schema of another app id never lingers next to this one.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {dir:?}: {e}"));
    let file = dir.join(format!("{app_id}.gschema.xml"));
    std::fs::write(&file, schema).unwrap_or_else(|e| panic!("cannot write {file:?}: {e}"));
    let status = Command::new("glib-compile-schemas")
        .arg("--strict")
        .arg(&dir)
        .status()
        .unwrap_or_else(|e| panic!("cannot run glib-compile-schemas (libglib2.0-bin): {e}"));
    assert!(
        status.success(),
        "glib-compile-schemas --strict failed on {file:?}"
    );
    println!("cargo::rustc-env=EYRIE_BUILD_SCHEMA_DIR={}", dir.display());
}

/// `po/<lang>.po` → `$OUT_DIR/locale/<lang>/LC_MESSAGES/eyrie.mo` for every language of
/// `po/LINGUAS` (the gettext domain of a plain cargo build is always `eyrie`).
fn compile_translations(out_dir: &Path) {
    println!("cargo::rerun-if-changed=po/LINGUAS");
    let linguas = std::fs::read_to_string("po/LINGUAS")
        .unwrap_or_else(|e| panic!("cannot read po/LINGUAS: {e}"));
    let dir = out_dir.join("locale");
    let _ = std::fs::remove_dir_all(&dir);
    for lang in linguas
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
    {
        let po = format!("po/{lang}.po");
        println!("cargo::rerun-if-changed={po}");
        let messages = dir.join(lang).join("LC_MESSAGES");
        std::fs::create_dir_all(&messages)
            .unwrap_or_else(|e| panic!("cannot create {messages:?}: {e}"));
        let status = Command::new("msgfmt")
            .arg("--check")
            .arg("-o")
            .arg(messages.join("eyrie.mo"))
            .arg(&po)
            .status()
            .unwrap_or_else(|e| panic!("cannot run msgfmt (gettext): {e}"));
        assert!(status.success(), "msgfmt --check failed on {po}");
    }
    println!("cargo::rustc-env=EYRIE_BUILD_LOCALE_DIR={}", dir.display());
}
