//! Test scripts for the live view, driven by environment variables and only read when
//! test reports are on (`EYRIE_TEST_REPORT`): the black-box tests under Xvfb use them to
//! press the buttons a person would press, at the moment video plays.
//!
//! - `EYRIE_TEST_TALK=1`: talk for three seconds;
//! - `EYRIE_TEST_SNAPSHOT=1`: take a snapshot, then open the gallery;
//! - `EYRIE_TEST_TIMELINE=1`: open the timeline (its own script then clicks the ruler);
//! - `EYRIE_TEST_CAMERA_RESTART=1` (demo only): stop the demo camera, start it again 4 s later.

use std::cell::Cell;
use std::time::Duration;

use adw::prelude::*;
use gtk::glib;

use super::EyrieLiveView;
use crate::gui::test_hooks;

thread_local! {
    static DONE: Cell<bool> = const { Cell::new(false) };
}

fn on(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

impl EyrieLiveView {
    /// Run the scripted presses once per process, the first time video plays.
    pub(super) fn run_test_script(&self) {
        if !test_hooks::enabled() || DONE.with(|d| d.replace(true)) {
            return;
        }
        if on("EYRIE_TEST_TALK") {
            let _ = self.activate_action("live.talk", None);
            glib::timeout_add_local_once(
                Duration::from_secs(3),
                glib::clone!(
                    #[weak(rename_to = view)]
                    self,
                    move || {
                        let _ = view.activate_action("live.talk", None);
                    }
                ),
            );
        }
        if on("EYRIE_TEST_SNAPSHOT") {
            glib::timeout_add_local_once(
                Duration::from_millis(1500),
                glib::clone!(
                    #[weak(rename_to = view)]
                    self,
                    move || {
                        let _ = view.activate_action("live.snapshot", None);
                        glib::timeout_add_local_once(
                            Duration::from_secs(2),
                            glib::clone!(
                                #[weak]
                                view,
                                move || {
                                    let _ = view.activate_action("live.gallery", None);
                                }
                            ),
                        );
                    }
                ),
            );
        }
        if test_hooks::timeline_script().is_some() {
            let _ = self.activate_action("live.timeline", None);
        }
        if on("EYRIE_TEST_CAMERA_RESTART") {
            glib::timeout_add_local_once(Duration::from_secs(2), || {
                test_hooks::report("test-camera", &serde_json::json!({ "running": false }));
                crate::spawn_tokio!(async {
                    if let Err(e) = crate::demo::set_camera_running(false).await {
                        tracing::error!("{e:#}");
                    }
                    tokio::time::sleep(Duration::from_secs(4)).await;
                    test_hooks::report("test-camera", &serde_json::json!({ "running": true }));
                    if let Err(e) = crate::demo::set_camera_running(true).await {
                        tracing::error!("{e:#}");
                    }
                });
            });
        }
    }
}
