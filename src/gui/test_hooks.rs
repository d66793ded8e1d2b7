//! Probes for the black-box tests and the benchmarks — compiled only with the
//! `test-hooks` cargo feature, which release builds leave off.
//!
//! A test drives the app as a person or the desktop does: the D-Bus actions
//! (`docs/desktop-actions.md`), the keyboard and the pointer. What it cannot see from
//! outside — a frame's sampled pixels, a live-view stage, a timing — the app writes here:
//! with the feature on and `EYRIE_TEST_REPORT` naming a file, one JSON object per line
//!
//! ```text
//!  widget ── report("frame", {…}) ──► {"event":"frame","t_ms":812.4,"data":{…}} ──► file
//! ```
//!
//! Without the feature [`report`] and [`enabled`] are empty inline functions, so the call
//! sites stay as they are and cost nothing; without the variable they do nothing either.
//!
//! Two things only a test needs also live here, behind the feature: the demo camera
//! stopped and started again (`app.test-demo-camera(b)`, see [`install`]) and SIGUSR1 as a
//! stand-in for a resume from sleep (see [`on_fake_resume`]).

#[cfg(feature = "test-hooks")]
mod real {
    use std::io::Write;
    use std::sync::{LazyLock, Mutex};
    use std::time::Instant;

    static START: LazyLock<Instant> = LazyLock::new(Instant::now);

    static FILE: LazyLock<Option<Mutex<std::fs::File>>> = LazyLock::new(|| {
        let path = std::env::var_os("EYRIE_TEST_REPORT")?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()
            .map(Mutex::new)
    });

    pub fn enabled() -> bool {
        FILE.is_some()
    }

    pub fn mark_start() {
        LazyLock::force(&START);
    }

    pub fn report(event: &str, data: &serde_json::Value) {
        let Some(file) = FILE.as_ref() else { return };
        let line = serde_json::json!({
            "event": event,
            "t_ms": START.elapsed().as_secs_f64() * 1000.0,
            "data": data,
        });
        if let Ok(mut f) = file.lock() {
            let _ = writeln!(f, "{line}");
            let _ = f.flush();
        }
    }
}

/// Whether reports are being written (lets callers skip expensive measurements).
#[cfg(feature = "test-hooks")]
pub fn enabled() -> bool {
    real::enabled()
}

/// Whether reports are being written: never, without the `test-hooks` feature.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn enabled() -> bool {
    false
}

/// Mark the process start; call early so `t_ms` counts from launch.
#[cfg(feature = "test-hooks")]
pub fn mark_start() {
    real::mark_start();
}

#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn mark_start() {}

/// Append `{"event": event, "t_ms": …, "data": data}` to the report.
#[cfg(feature = "test-hooks")]
pub fn report(event: &str, data: &serde_json::Value) {
    real::report(event, data);
}

#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn report(_event: &str, _data: &serde_json::Value) {}

/// The test-only application action: `app.test-demo-camera(b)` stops (`false`) or starts
/// (`true`) the camera of the running `eyrie demo`, so a test can watch the live view fail
/// and recover; each change is reported as `test-camera`. Nothing without the feature.
#[cfg(feature = "test-hooks")]
pub fn install(app: &super::application::EyrieApplication) {
    use gtk::gio;
    use gtk::prelude::*;

    let camera = gio::ActionEntry::builder("test-demo-camera")
        .parameter_type(Some(gtk::glib::VariantTy::BOOLEAN))
        .activate(|_: &super::application::EyrieApplication, _, param| {
            let Some(running) = param.and_then(|p| p.get::<bool>()) else {
                return;
            };
            report("test-camera", &serde_json::json!({ "running": running }));
            crate::spawn_tokio!(async move {
                if let Err(e) = crate::demo::set_camera_running(running).await {
                    tracing::error!("test-demo-camera: {e:#}");
                }
            });
        })
        .build();
    app.add_action_entries([camera]);
}

#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn install(_app: &super::application::EyrieApplication) {}

/// Tests cannot suspend the machine: with the feature, SIGUSR1 calls `on_resume` — the
/// path logind's `PrepareForSleep(false)` takes. Lives as long as `alive`.
#[cfg(feature = "test-hooks")]
pub fn on_fake_resume(
    alive: &impl gtk::glib::object::IsA<gtk::glib::Object>,
    on_resume: impl Fn() + 'static,
) {
    use gtk::glib;
    use gtk::prelude::*;

    let weak = alive.upcast_ref::<glib::Object>().downgrade();
    glib::unix_signal_add_local(10 /* SIGUSR1 */, move || {
        if weak.upgrade().is_none() {
            return glib::ControlFlow::Break;
        }
        on_resume();
        glib::ControlFlow::Continue
    });
}

#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn on_fake_resume(
    _alive: &impl gtk::glib::object::IsA<gtk::glib::Object>,
    _on_resume: impl Fn() + 'static,
) {
}
