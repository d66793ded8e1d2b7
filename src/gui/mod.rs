//! The viewer: a libadwaita application.

use adw::prelude::*;

use crate::config;

/// Start the GTK application and run its main loop until the last window closes.
pub fn run(_kiosk: bool) -> anyhow::Result<()> {
    gstreamer::init()?;
    gstgtk4::plugin_register_static()?;
    let app = adw::Application::builder().application_id(config::APP_ID).build();
    app.connect_activate(|app| {
        let window = adw::ApplicationWindow::builder()
            .application(app)
            .title("Eyrie")
            .default_width(960)
            .default_height(640)
            .build();
        window.present();
    });
    // GApplication parses argv itself; clap has already handled ours.
    let status = app.run_with_args::<&str>(&[]);
    if status == gtk::glib::ExitCode::SUCCESS {
        Ok(())
    } else {
        anyhow::bail!("the viewer exited with status {}", status.value())
    }
}
