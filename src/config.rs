//! Build-time configuration.
//!
//! Meson builds with the `meson` feature and passes the real values through the cargo
//! environment (`APP_ID`, `PROFILE`, …); a missing one is then a build error. A plain
//! `cargo build` or `cargo test` gets these defaults and reads no environment, so
//! rust-analyzer and the test suite work without meson, and a meson build in the same
//! target dir does not make cargo rebuild the crate for the tests (nor the other way).

macro_rules! env_or {
    ($name:literal, $default:expr) => {{
        #[cfg(feature = "meson")]
        let value = env!($name);
        #[cfg(not(feature = "meson"))]
        let value = $default;
        value
    }};
}

/// Application id; `io.github.eyrie.Eyrie.Devel` for the development profile.
#[cfg_attr(not(feature = "gui"), allow(dead_code))] // only the viewer uses it
pub const APP_ID: &str = env_or!("APP_ID", "io.github.eyrie.Eyrie");
/// `default` or `development`.
#[cfg_attr(not(feature = "gui"), allow(dead_code))] // only the viewer uses it
pub const PROFILE: &str = env_or!("PROFILE", "default");
/// Version shown in `--version` and the about dialog.
pub const VERSION: &str = env_or!("VERSION", env!("CARGO_PKG_VERSION"));
/// Gettext domain.
#[cfg_attr(not(feature = "gui"), allow(dead_code))] // only the viewer uses it
pub const GETTEXT_PACKAGE: &str = env_or!("GETTEXT_PACKAGE", "eyrie");
/// Where compiled translations live.
#[cfg_attr(not(feature = "gui"), allow(dead_code))] // only the viewer uses it
pub const LOCALEDIR: &str = env_or!("LOCALEDIR", "/usr/share/locale");
/// Resource path prefix of the GResource bundle.
#[cfg_attr(not(feature = "gui"), allow(dead_code))] // only the viewer uses it
pub const RESOURCES_PATH: &str = "/io/github/eyrie/Eyrie/";
