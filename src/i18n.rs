//! Translations: gettext set-up and helpers with named placeholders.
//!
//! Strings are marked with [`gettext`] (re-exported) or, when they carry values, with
//! [`gettext_f`], whose placeholders are named (`"Camera {name} is offline"`) so that a
//! translator can move them around freely — the convention Fractal uses.

pub use gettextrs::gettext;

use crate::config;

/// Bind the text domain once, before any window is built.
pub fn init() {
    // The locale comes from the environment; a failure only means untranslated strings.
    gettextrs::setlocale(gettextrs::LocaleCategory::LcAll, "");
    if let Err(e) = gettextrs::bindtextdomain(config::GETTEXT_PACKAGE, config::LOCALEDIR) {
        tracing::debug!("no translations bound: {e}");
    }
    if let Err(e) = gettextrs::bind_textdomain_codeset(config::GETTEXT_PACKAGE, "UTF-8") {
        tracing::debug!("cannot set the translation codeset: {e}");
    }
    if let Err(e) = gettextrs::textdomain(config::GETTEXT_PACKAGE) {
        tracing::debug!("cannot select the text domain: {e}");
    }
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
