//! Translations: gettext set-up and helpers with named placeholders.
//!
//! Strings are marked with [`gettext`] (re-exported) or, when they carry values, with
//! [`gettext_f`], whose placeholders are named (`"Camera {name} is offline"`) so that a
//! translator can move them around freely — the convention Fractal uses. Strings with a
//! count go through [`ngettext_f`], so each language picks its own plural form.
//!
//! Where the catalogs are: a meson build (the `meson` feature) reads them from meson's
//! `LOCALEDIR`, where `ninja install` puts them. A plain cargo build (`cargo run`, the
//! tests) reads the ones `build.rs` compiled from `po/` into the target dir, and the
//! installed ones only when that directory is gone (a binary copied elsewhere).

pub use gettextrs::{gettext, ngettext};

use crate::config;

/// Bind the text domain once, before any window is built.
pub fn init() {
    // The locale comes from the environment; a failure only means untranslated strings.
    gettextrs::setlocale(gettextrs::LocaleCategory::LcAll, "");
    if let Err(e) = gettextrs::bindtextdomain(config::GETTEXT_PACKAGE, locale_dir()) {
        tracing::debug!("no translations bound: {e}");
    }
    if let Err(e) = gettextrs::bind_textdomain_codeset(config::GETTEXT_PACKAGE, "UTF-8") {
        tracing::debug!("cannot set the translation codeset: {e}");
    }
    if let Err(e) = gettextrs::textdomain(config::GETTEXT_PACKAGE) {
        tracing::debug!("cannot select the text domain: {e}");
    }
}

/// The directory holding `<lang>/LC_MESSAGES/<domain>.mo`.
fn locale_dir() -> &'static str {
    #[cfg(not(feature = "meson"))]
    if let Some(dir) =
        option_env!("EYRIE_BUILD_LOCALE_DIR").filter(|d| std::path::Path::new(d).is_dir())
    {
        return dir;
    }
    config::LOCALEDIR
}

/// Replace `{name}` placeholders in an already translated string.
pub fn freplace(s: String, args: &[(&str, &str)]) -> String {
    let mut s = s;
    for (key, value) in args {
        s = s.replace(&format!("{{{key}}}"), value);
    }
    s
}

/// Translate `msgid` and fill its named placeholders.
///
/// ```ignore
/// gettext_f("Camera {name} is offline", &[("name", &camera.name)])
/// ```
pub fn gettext_f(msgid: &str, args: &[(&str, &str)]) -> String {
    freplace(gettext(msgid), args)
}

/// Translate a string with a count, choosing the language's plural form for `n`, and
/// fill its named placeholders (pass the count itself among `args` to show it).
///
/// ```ignore
/// ngettext_f("{n} camera", "{n} cameras", n, &[("n", &n.to_string())])
/// ```
pub fn ngettext_f(msgid: &str, msgid_plural: &str, n: u64, args: &[(&str, &str)]) -> String {
    // gettext takes an unsigned long; counts beyond u32 only need a plural form.
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    freplace(ngettext(msgid, msgid_plural, n), args)
}

/// A GLib `DateTime::format` pattern for a time of day that follows the desktop's clock
/// setting (`org.gnome.desktop.interface clock-format`, when that schema is installed):
/// `%l:%M %p` for `12h`, `%H:%M` otherwise; with `:%S` when `seconds`.
pub fn time_format(seconds: bool) -> &'static str {
    match (twelve_hour_clock(), seconds) {
        (true, true) => "%l:%M:%S %p",
        (true, false) => "%l:%M %p",
        (false, true) => "%H:%M:%S",
        (false, false) => "%H:%M",
    }
}

/// Whether the desktop asks for a 12-hour clock; read once, like GNOME's own apps that
/// do not follow a change of the setting while they run.
fn twelve_hour_clock() -> bool {
    use gtk::gio;
    use gtk::prelude::SettingsExtManual;
    static TWELVE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TWELVE.get_or_init(|| {
        const SCHEMA: &str = "org.gnome.desktop.interface";
        let has_key = gio::SettingsSchemaSource::default()
            .and_then(|source| source.lookup(SCHEMA, true))
            .is_some_and(|schema| schema.has_key("clock-format"));
        has_key && gio::Settings::new(SCHEMA).get::<String>("clock-format") == "12h"
    })
}

#[cfg(test)]
mod tests {
    use super::freplace;

    #[test]
    fn named_placeholders_are_filled_in_any_order() {
        let s = freplace("{b} then {a}, {a} again".into(), &[("a", "1"), ("b", "2")]);
        assert_eq!(s, "2 then 1, 1 again");
    }

    #[test]
    fn unknown_placeholders_stay_visible() {
        assert_eq!(freplace("{x}".into(), &[("y", "1")]), "{x}");
    }
}
