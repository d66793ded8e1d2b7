//! What a wall screen needs from the desktop around it: no pointer over the pictures, no
//! screen saver, and word when the machine wakes up or the network comes back.
//!
//! - The pointer hides after `kiosk-hide-pointer-seconds` without movement and comes back
//!   when it moves (a motion controller in the capture phase sees every move).
//! - `gtk::Application::inhibit(IDLE | SUSPEND)` keeps the session from blanking the
//!   screen or suspending while the kiosk window lives.
//! - Resume from sleep is noticed two ways, whichever comes first: logind's
//!   `PrepareForSleep(false)` on the system bus, and a jump between the wall clock and the
//!   monotonic clock (the monotonic clock stands still while the machine sleeps), which
//!   also works without logind. Either way every tile starts a fresh session at once,
//!   instead of waiting for its old one to be found dead.
//! - `GNetworkMonitor` saying the network is back makes failed tiles retry at once.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use adw::prelude::*;
use gtk::{gio, glib};

use crate::gui::test_hooks;

/// Hide the pointer over `window` after `idle` without movement.
pub fn hide_idle_pointer(window: &gtk::Window, idle: Duration) {
    let timer: Rc<RefCell<Option<glib::SourceId>>> = Rc::default();
    let hidden = Rc::new(Cell::new(false));
    let last_pos = Rc::new(Cell::new((f64::NAN, f64::NAN)));
    let arm = {
        let window = window.downgrade();
        let timer = timer.clone();
        let hidden = hidden.clone();
        move || {
            let window = window.clone();
            let hidden = hidden.clone();
            let timer_inner = timer.clone();
            let id = glib::timeout_add_local_once(idle, move || {
                timer_inner.take();
                if let Some(window) = window.upgrade() {
                    window.set_cursor_from_name(Some("none"));
                    hidden.set(true);
                    test_hooks::report("kiosk-pointer", &serde_json::json!({ "hidden": true }));
                }
            });
            if let Some(old) = timer.replace(Some(id)) {
                old.remove();
            }
        }
    };
    arm();
    let motion = gtk::EventControllerMotion::new();
    motion.set_propagation_phase(gtk::PropagationPhase::Capture);
    let weak = window.downgrade();
    motion.connect_motion(move |_, x, y| {
        // Some servers repeat a motion event without movement; only a real move counts.
        let (px, py) = last_pos.get();
        if (px - x).abs() < 1.0 && (py - y).abs() < 1.0 {
            return;
        }
        last_pos.set((x, y));
        if hidden.replace(false)
            && let Some(window) = weak.upgrade()
        {
            window.set_cursor(None);
            test_hooks::report("kiosk-pointer", &serde_json::json!({ "hidden": false }));
        }
        arm();
    });
    window.add_controller(motion);
}

/// Keep the screen on while `window` shows; the inhibition ends with the window.
pub fn inhibit_idle(app: &gtk::Application, window: &gtk::Window, reason: &str) {
    let cookie = app.inhibit(
        Some(window),
        gtk::ApplicationInhibitFlags::IDLE | gtk::ApplicationInhibitFlags::SUSPEND,
        Some(reason),
    );
    tracing::info!("kiosk: idle and suspend inhibited (cookie {cookie})");
    test_hooks::report("kiosk-inhibit", &serde_json::json!({ "cookie": cookie }));
    let app = app.downgrade();
    window.connect_destroy(move |_| {
        if cookie != 0
            && let Some(app) = app.upgrade()
        {
            app.uninhibit(cookie);
        }
    });
}

/// Call `on_resume` after the machine woke up from sleep. Lives as long as `alive`.
pub fn watch_resume(alive: &impl IsA<glib::Object>, on_resume: impl Fn(&str) + 'static) {
    let on_resume = Rc::new(on_resume);
    let alive = alive.upcast_ref::<glib::Object>().downgrade();

    // 1. The clocks: while the machine sleeps the wall clock runs on, the monotonic does not.
    let last = Cell::new((Instant::now(), SystemTime::now()));
    let callback = on_resume.clone();
    let alive_for_clock = alive.clone();
    glib::timeout_add_local(Duration::from_secs(2), move || {
        if alive_for_clock.upgrade().is_none() {
            return glib::ControlFlow::Break;
        }
        let (mono, wall) = (Instant::now(), SystemTime::now());
        let (last_mono, last_wall) = last.replace((mono, wall));
        let mono_step = mono.duration_since(last_mono);
        if let Ok(wall_step) = wall.duration_since(last_wall)
            && wall_step > mono_step + Duration::from_secs(4)
        {
            tracing::info!(
                "kiosk: clock jumped {:?}; assuming a resume",
                wall_step - mono_step
            );
            callback("clock jump");
        }
        glib::ControlFlow::Continue
    });

    // 2. logind, when there is a system bus.
    glib::spawn_future_local(async move {
        let bus = match gio::bus_get_future(gio::BusType::System).await {
            Ok(bus) => bus,
            Err(e) => {
                tracing::info!("kiosk: no system bus ({e}); resume seen by the clock only");
                return;
            }
        };
        if alive.upgrade().is_none() {
            return;
        }
        #[allow(deprecated)]
        let id = bus.signal_subscribe(
            Some("org.freedesktop.login1"),
            Some("org.freedesktop.login1.Manager"),
            Some("PrepareForSleep"),
            Some("/org/freedesktop/login1"),
            None,
            gio::DBusSignalFlags::NONE,
            move |_, _, _, _, _, params| {
                let going_to_sleep = params.get::<(bool,)>().is_some_and(|(s,)| s);
                if !going_to_sleep {
                    on_resume("logind resume");
                }
            },
        );
        // Unsubscribe when the watched object goes.
        if let Some(obj) = alive.upgrade() {
            let bus = bus.clone();
            let id = RefCell::new(Some(id));
            obj.add_weak_ref_notify_local(move || {
                if let Some(id) = id.take() {
                    #[allow(deprecated)]
                    bus.signal_unsubscribe(id);
                }
            });
        }
    });
}

/// Call `on_back` when the network becomes available again.
pub fn watch_network(alive: &impl IsA<glib::Object>, on_back: impl Fn() + 'static) {
    let monitor = gio::NetworkMonitor::default();
    let was_up = Cell::new(monitor.is_network_available());
    let alive = alive.upcast_ref::<glib::Object>().downgrade();
    // The handler stays for the process's life; it does nothing once `alive` is gone.
    monitor.connect_network_changed(move |_, up| {
        if alive.upgrade().is_none() {
            return;
        }
        if up && !was_up.get() {
            tracing::info!("kiosk: network back");
            on_back();
        }
        was_up.set(up);
    });
}
