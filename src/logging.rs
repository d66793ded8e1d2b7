//! Tracing set-up, done once per process.
//!
//! The level comes from `RUST_LOG` when it is set; otherwise `G_MESSAGES_DEBUG` (the GNOME
//! convention: `all` or a list containing `eyrie`) turns on debug output; otherwise `info`.

use tracing_subscriber::EnvFilter;

fn filter_from(rust_log: Option<&str>, g_messages_debug: Option<&str>) -> String {
    if let Some(v) = rust_log.filter(|v| !v.trim().is_empty()) {
        return v.to_owned();
    }
    match g_messages_debug {
        Some(v)
            if v.split([',', ' '])
                .any(|d| d == "all" || d.starts_with("eyrie")) =>
        {
            "debug".to_owned()
        }
        _ => "info".to_owned(),
    }
}

/// Install the global subscriber; calling it twice is harmless.
pub fn init() {
    let rust_log = std::env::var("RUST_LOG").ok();
    let g_debug = std::env::var("G_MESSAGES_DEBUG").ok();
    let directives = filter_from(rust_log.as_deref(), g_debug.as_deref());
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|e| {
        eprintln!("eyrie: ignoring RUST_LOG={directives:?}: {e}");
        EnvFilter::new("info")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::filter_from;

    #[test]
    fn precedence() {
        assert_eq!(filter_from(Some("warn"), Some("all")), "warn");
        assert_eq!(filter_from(None, Some("all")), "debug");
        assert_eq!(filter_from(Some(" "), Some("Gtk,eyrie")), "debug");
        assert_eq!(filter_from(None, Some("Gtk")), "info");
        assert_eq!(filter_from(None, None), "info");
    }
}
