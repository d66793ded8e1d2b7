//! The kiosk's account and camera list: the saved session (or the demo's), and the
//! cloud's device list fetched until it answers and then every minute. A change of the
//! list (or of a name) rebuilds the tiles; without a session the screen says how to get one.
//!
//! ```text
//!  session::load ─► got_session ─► load_devices ─loop─► Cloud::devices ─► set_devices ─► rebuild
//!                        └─ none: "Not Signed In", look again in 10 s
//! ```

use std::time::Duration;

use adw::subclass::prelude::*;
use eyrie_protocol::api::Device;
use gtk::glib;

use super::EyrieKioskWindow;
use crate::gui::application::EyrieApplication;
use crate::gui::cloud::Cloud;
use crate::gui::session::Session;
use crate::i18n::{gettext, gettext_f};
use crate::spawn_tokio;

impl EyrieKioskWindow {
    /// The saved session (or the demo's); without one, say how to get one and look again.
    pub(super) fn load_session(&self, app: &EyrieApplication) {
        if let Some(session) = app.session() {
            self.got_session(app, Some(session));
            return;
        }
        let handle = spawn_tokio!(crate::gui::session::load());
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = w)]
            self,
            #[weak]
            app,
            async move { w.got_session(&app, handle.await.ok().flatten()) }
        ));
    }

    fn got_session(&self, app: &EyrieApplication, session: Option<Session>) {
        match session {
            Some(session) => {
                let known =
                    app.is_demo() || crate::gui::keys::current_for(&session.server).is_some();
                self.imp().session.replace(Some(session.clone()));
                if known {
                    self.load_devices();
                    return;
                }
                // This installation's key, so that snapshots open (the viewer signed in on
                // this computer made it and had it allowed; the kiosk asks nothing).
                let server = session.server.clone();
                let handle = spawn_tokio!(async move {
                    crate::gui::keys::load_or_create(&session.server, &session.email).await
                });
                glib::spawn_future_local(glib::clone!(
                    #[weak(rename_to = w)]
                    self,
                    async move {
                        match handle.await {
                            Ok(Ok(loaded)) => crate::gui::keys::set_current(&server, loaded.keys),
                            Ok(Err(e)) => tracing::warn!("kiosk without this computer's key: {e}"),
                            Err(e) => tracing::error!("key task: {e}"),
                        }
                        w.load_devices();
                    }
                ));
            }
            None => {
                self.show_message(
                    &gettext("Not Signed In"),
                    &gettext("Start Eyrie once without --kiosk and sign in; the kiosk shows that account’s cameras."),
                    "dialog-password-symbolic",
                );
                glib::timeout_add_local_once(
                    Duration::from_secs(10),
                    glib::clone!(
                        #[weak(rename_to = w)]
                        self,
                        #[weak]
                        app,
                        move || w.load_session(&app)
                    ),
                );
            }
        }
    }

    /// Fetch the camera list until the cloud answers, then every minute.
    fn load_devices(&self) {
        let Some(session) = self.imp().session.borrow().clone() else {
            return;
        };
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = w)]
            self,
            async move {
                loop {
                    let cloud = Cloud::new(&session.server, Some(&session.token));
                    let result = spawn_tokio!(async move { cloud.devices().await }).await;
                    let wait = match result {
                        Ok(Ok(devices)) => {
                            w.set_devices(devices);
                            60
                        }
                        Ok(Err(e)) => {
                            tracing::warn!("kiosk: camera list: {e}");
                            if w.imp().tiles.borrow().is_empty() {
                                let (title, icon) = if e.is_unauthorized() {
                                    (gettext("Signed Out"), "dialog-password-symbolic")
                                } else {
                                    (
                                        gettext("Cannot Reach the Cloud"),
                                        "network-offline-symbolic",
                                    )
                                };
                                let detail = gettext_f(
                                    "{reason}. Trying again in a few seconds.",
                                    &[("reason", &e.user_message())],
                                );
                                w.show_message(&title, &detail, icon);
                            }
                            if e.is_unauthorized() { 30 } else { 5 }
                        }
                        Err(e) => {
                            tracing::error!("kiosk: camera list task: {e}");
                            5
                        }
                    };
                    glib::timeout_future(Duration::from_secs(wait)).await;
                }
            }
        ));
    }

    fn set_devices(&self, devices: Vec<Device>) {
        let key = |v: &[Device]| v.iter().map(|d| (d.id, d.name.clone())).collect::<Vec<_>>();
        let changed = key(&self.imp().devices.borrow()) != key(&devices);
        let empty = self.imp().tiles.borrow().is_empty();
        self.imp().devices.replace(devices);
        if changed || empty {
            self.rebuild();
        }
    }
}
