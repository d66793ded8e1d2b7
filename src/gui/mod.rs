//! The viewer: a libadwaita application.
//!
//! ```text
//!  EyrieApplication ── settings, session, app actions
//!   └─ EyrieWindow ── GtkStack: welcome │ connect │ cameras │ live (EyrieLiveView)
//!        ├─ EyrieGallery (snapshots of one camera)
//!        └─ EyrieCameraModeWindow ("Use this computer as a camera")
//! ```
//!
//! Widgets only show state. Network work runs on the shared tokio runtime
//! (`spawn_tokio!`), media in GStreamer's threads; both report back to the main loop through
//! join handles and async channels awaited by glib futures that hold weak references.

mod a11y;
mod application;
mod camera_mode;
pub mod cloud;
mod gallery;
pub mod keys;
mod kiosk;
mod live;
mod notifications;
mod preferences;
pub mod session;
mod settings_rows;
pub mod test_hooks;
mod timeline;
mod window;

use gtk::glib;
use gtk::prelude::*;

use application::EyrieApplication;

/// Start the GTK application and run its main loop until the last window closes.
pub fn run(kiosk: bool) -> anyhow::Result<()> {
    init()?;
    let app = EyrieApplication::new(kiosk);
    main_loop(&app)
}

/// Run the viewer already signed in (the demo), opening `camera` when given. The session
/// is not saved.
pub fn run_with_session(session: session::Session, camera: Option<String>) -> anyhow::Result<()> {
    let app = EyrieApplication::new(false);
    app.set_demo(true);
    app.set_session(Some(session));
    if let Some(camera) = camera {
        app.set_open_camera(camera);
    }
    main_loop(&app)
}

fn main_loop(app: &EyrieApplication) -> anyhow::Result<()> {
    test_hooks::mark_start();
    // Whatever the "Try the demo" button started stops with the app.
    app.connect_shutdown(|_| {
        // Live views closed with their windows say bye before the process goes.
        live::engine::wait_for_closing(std::time::Duration::from_secs(2));
        crate::demo::stop();
    });
    // SIGTERM (logout, systemd, the embedded cloud's own handler) ends the app like
    // closing its windows, so each live view says bye to its camera.
    let weak = app.downgrade();
    glib::unix_signal_add_local(15, move || {
        if let Some(app) = weak.upgrade() {
            for window in app.windows() {
                window.close();
            }
            app.quit();
        }
        glib::ControlFlow::Break
    });
    // GApplication parses argv itself; clap has already handled ours.
    let status = app.run_with_args::<&str>(&[]);
    if status == glib::ExitCode::SUCCESS {
        Ok(())
    } else {
        anyhow::bail!("the viewer exited with status {status:?}")
    }
}

/// Process-wide set-up shared by the viewer and `eyrie demo`: translations, GStreamer and
/// its GTK sink, and a DTLS certificate generated ahead of the first live view.
pub fn init() -> anyhow::Result<()> {
    test_hooks::mark_start();
    crate::i18n::init();
    gtk::gio::resources_register_include!("eyrie.gresource")?;
    glib::set_application_name("Eyrie");
    gstreamer::init()?;
    gstgtk4::plugin_register_static()?;
    prewarm_dtls();
    Ok(())
}

/// The first WebRTC offer pays 60–350 ms for a DTLS certificate; make it now on a
/// throw-away thread (the engine's own [`eyrie_client::rtc::prewarm_dtls`], which the
/// engine then finds done) so that the first live view does not wait for it.
fn prewarm_dtls() {
    let spawned = std::thread::Builder::new()
        .name("eyrie-dtls-warm".into())
        .spawn(eyrie_client::rtc::prewarm_dtls);
    if let Err(e) = spawned {
        tracing::debug!("cannot pre-warm DTLS: {e}");
    }
}

/// A vertical box of `spacing` with `margin` above and below and `side` left and right:
/// the padded column most pages and panes are laid out in.
fn padded_column(spacing: i32, margin: i32, side: i32) -> gtk::Box {
    gtk::Box::builder()
        .orientation(gtk::Orientation::Vertical)
        .spacing(spacing)
        .margin_top(margin)
        .margin_bottom(margin)
        .margin_start(side)
        .margin_end(side)
        .build()
}
