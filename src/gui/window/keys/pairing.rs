//! The pairing check after a camera is claimed (`docs/keys.md` §4).

use super::*;

impl EyrieWindow {
    /// After a camera is claimed: its pairing check (`docs/keys.md` §4) with the whole
    /// code, while a dialog says the app waits for the camera; then the outcome.
    pub(in crate::gui::window) fn pair_camera(&self, cloud: Cloud, code: String, name: String) {
        let Some(set) = keys::keyset() else {
            notice(
                self,
                &gettext("This Computer Cannot Add Cameras Yet"),
                &gettext(
                    "Cameras encrypt their recordings for the computers you allow, and this computer is not allowed yet. Confirm it from another computer, or enter your recovery key; then add the camera.",
                ),
            );
            return;
        };
        let Some((claim, _)) = eyrie_protocol::e2e::pairing::split(&code) else {
            return;
        };
        let waiting = adw::MessageDialog::new(
            Some(self),
            Some(&gettext_f("Adding “{name}”…", &[("name", &name)])),
            Some(&gettext(
                "Waiting for the camera to confirm the code. Keep it switched on and connected; this can take up to two minutes.",
            )),
        );
        let spinner = gtk::Spinner::builder()
            .spinning(true)
            .width_request(32)
            .height_request(32)
            .build();
        waiting.set_extra_child(Some(&spinner));
        waiting.add_responses(&[("close", &gettext("_Hide"))]);
        waiting.set_close_response("close");
        waiting.present();
        test_hooks::report("camera-pairing", &serde_json::json!({ "stage": "waiting" }));
        enum Outcome {
            NotClaimed(CloudError),
            Paired(eyrie_protocol::api::Device),
            NotPaired(eyrie_protocol::api::Device, E2eError),
        }
        let handle = spawn_tokio!(async move {
            let device = match cloud.claim(&claim, &name).await {
                Ok(d) => d,
                Err(e) => return Outcome::NotClaimed(e),
            };
            match e2e::answer_pairing(cloud.api(), device.id, &code, &set, PAIRING_TIMEOUT).await {
                Ok(()) => Outcome::Paired(device),
                Err(e) => Outcome::NotPaired(device, e),
            }
        });
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                let Ok(outcome) = handle.await else { return };
                waiting.close();
                let (outcome, heading, body) = match outcome {
                    Outcome::NotClaimed(e) => (
                        ("claim-failed", None),
                        gettext("The Camera Could Not Be Added"),
                        e.user_message(),
                    ),
                    Outcome::Paired(d) => (
                        ("verified", Some(d.id)),
                        gettext("Camera Added"),
                        gettext_f(
                            "“{name}” is added and paired. Its recordings are encrypted so that only your computers can read them.",
                            &[("name", &d.name)],
                        ),
                    ),
                    Outcome::NotPaired(d, E2eError::Refused) => (
                        ("refused", Some(d.id)),
                        gettext("The Camera Refused the Code"),
                        gettext(
                            "The code did not match, or someone between the app and the camera changed the keys. Remove the camera and add it again.",
                        ),
                    ),
                    Outcome::NotPaired(d, E2eError::Timeout(_)) => (
                        ("timeout", Some(d.id)),
                        gettext("The Camera Did Not Answer"),
                        gettext_f(
                            "“{name}” was added but did not confirm the code in time, so it does not record yet. Make sure it is switched on and connected, then remove it and add it again.",
                            &[("name", &d.name)],
                        ),
                    ),
                    Outcome::NotPaired(d, e) => (
                        ("error", Some(d.id)),
                        gettext("The Camera Could Not Be Paired"),
                        e2e_message(e),
                    ),
                };
                test_hooks::report(
                    "camera-pairing",
                    &serde_json::json!({ "outcome": outcome.0, "device": outcome.1 }),
                );
                notice(&window, &heading, &body);
                window.refresh_cameras();
            }
        ));
    }
}
