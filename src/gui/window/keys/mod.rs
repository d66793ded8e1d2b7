//! This installation's place in the account's key set (`docs/keys.md` §5), as the main
//! window shows it:
//!
//! ```text
//!  session starts ─► settle ─► load/create the key ─► viewer_keyset
//!        ├─ no key set yet: made now ─► the recovery key, shown once
//!        ├─ not admitted: request posted ─► banner (fingerprint, "Enter Recovery Key…")
//!        └─ member ─► requests of other installations ─► "Does it show this number?"
//! ```
//!
//! Actions (`docs/desktop-actions.md`): `win.recover`, `win.installations`,
//! `win.check-installations`, `win.remove-installation(s)`.

use std::sync::Arc;

use adw::prelude::*;
use adw::subclass::prelude::*;
use eyrie_client::api::keys::{self as e2e, E2eError};
use eyrie_protocol::api::Installation;
use eyrie_protocol::e2e::viewer::{RecoveryKey, ViewerKeys};
use gtk::glib;

use super::EyrieWindow;
use crate::gui::cloud::{Cloud, CloudError};
use crate::gui::keys;
use crate::gui::session::Session;
use crate::gui::test_hooks;
use crate::i18n::{gettext, gettext_f};
use crate::spawn_tokio;

/// How long the app waits for a camera's side of the pairing check.
pub(super) const PAIRING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// How settling a session's installation came out.
enum Settled {
    /// A member of the key set; `recovery` is the recovery key of a key set made just now,
    /// to show once.
    Member { recovery: Option<String> },
    /// Not admitted yet (a request is posted); the fingerprint to compare.
    NotAdmitted { fingerprint: String },
    /// No key for this session, or the cloud could not be asked: what to say.
    Failed(String),
    /// Nothing to say (the session has ended; the camera list tells).
    Quiet,
}

/// What to tell the person about a failed key operation, translated.
pub(super) fn e2e_message(e: E2eError) -> String {
    match e {
        E2eError::Api(e) => CloudError::from(e).user_message(),
        E2eError::Key(eyrie_protocol::e2e::KeyError::NotForMe) => {
            gettext("This recovery key is not the one of this account. Nothing was changed.")
        }
        E2eError::Key(e) => gettext_f(
            "The keys of this account do not check out ({error}). Nothing was changed.",
            &[("error", &e.to_string())],
        ),
        E2eError::NotAdmitted => gettext(
            "This computer is not allowed to read recordings yet. Confirm it from another computer, or enter your recovery key.",
        ),
        E2eError::Timeout(_) => gettext(
            "The camera did not answer in time. Make sure it is switched on and connected, then remove it and add it again.",
        ),
        E2eError::Refused => gettext(
            "The code did not match, or someone between the app and the camera changed the keys. Remove the camera and add it again.",
        ),
    }
}

fn fingerprint(keys: &ViewerKeys) -> String {
    keys.public().fingerprint().unwrap_or_default()
}

/// Load or make the installation key of `session`, make it the current one, and find the
/// installation's place in the key set. Runs on the tokio runtime.
async fn settle(session: Session, name: String) -> Settled {
    let loaded = match keys::load_or_create(&session.server, &session.email).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("no installation key this session: {e}");
            keys::clear_current();
            return Settled::Failed(gettext(
                "This computer’s key is in the keyring, which is locked: recordings cannot be played until it is unlocked and Eyrie is started again.",
            ));
        }
    };
    let me = loaded.keys.clone();
    test_hooks::report(
        "viewer-key",
        &serde_json::json!({
            "in": loaded.kept.as_str(), "new": loaded.new,
            "id": me.id(), "fingerprint": fingerprint(&me),
        }),
    );
    keys::set_current(&session.server, me.clone());
    let cloud = Cloud::new(&session.server, Some(&session.token));
    let api = cloud.api();
    let failed = |reason: String| {
        Settled::Failed(gettext_f(
            "Recordings cannot be opened on this computer: {reason}",
            &[("reason", &reason)],
        ))
    };
    let user = match api.me().await {
        Ok(u) => u,
        Err(e) => {
            let e = CloudError::from(e);
            // The camera list says the session ended, and signs out.
            if e.is_unauthorized() {
                return Settled::Quiet;
            }
            return failed(e.user_message());
        }
    };
    match e2e::viewer_keyset(api, &user.id.to_string(), &me, &name).await {
        Ok((set, recovery)) => {
            test_hooks::report(
                "keyset",
                &serde_json::json!({ "member": true, "version": set.version(), "made": recovery.is_some() }),
            );
            keys::set_keyset(Some(set));
            Settled::Member {
                recovery: recovery.map(|r| r.to_text()),
            }
        }
        Err(E2eError::NotAdmitted) => {
            if let Err(e) = api.request_installation(&name, me.public()).await {
                tracing::warn!("cannot ask to be admitted: {e}");
            }
            test_hooks::report("keyset", &serde_json::json!({ "member": false }));
            Settled::NotAdmitted {
                fingerprint: fingerprint(&me),
            }
        }
        Err(e) => {
            tracing::warn!("cannot settle the installation: {e}");
            failed(e2e_message(e))
        }
    }
}

/// A message dialog over `window` with `heading`, `body` and one "_Close" response.
fn notice(window: &EyrieWindow, heading: &str, body: &str) -> adw::MessageDialog {
    let dialog = adw::MessageDialog::new(Some(window), Some(heading), Some(body));
    dialog.add_responses(&[("close", &gettext("_Close"))]);
    dialog.set_default_response(Some("close"));
    dialog.set_close_response("close");
    dialog.present();
    dialog
}

impl EyrieWindow {
    /// Settle this installation for the session that has just started (once per
    /// session): its key, then its place in the key set.
    pub(super) fn settle_installation(&self) {
        let Some(app) = self.app() else { return };
        let Some(session) = app.session() else { return };
        if app.is_demo() {
            return;
        }
        let id = (session.server.clone(), session.email.clone());
        if self.imp().settled_for.borrow().as_ref() == Some(&id) {
            return;
        }
        self.imp().settled_for.replace(Some(id));
        self.imp().keys_banner.set_reveal_child(false);
        let name = keys::installation_name();
        let handle = spawn_tokio!(settle(session, name));
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                let Ok(settled) = handle.await else { return };
                match settled {
                    Settled::Member { recovery } => {
                        if let Some(text) = recovery {
                            window.show_recovery_key(&text);
                        }
                        // The cards again, now with a client that opens the snapshots.
                        window.refresh_cameras();
                    }
                    Settled::NotAdmitted { fingerprint } => window.show_not_admitted(&fingerprint),
                    Settled::Failed(message) => window.toast(&message),
                    Settled::Quiet => {}
                }
            }
        ));
    }

    /// The banner of an installation that cannot read recordings yet.
    fn show_not_admitted(&self, fingerprint: &str) {
        let imp = self.imp();
        imp.keys_banner_label.set_markup(&gettext_f(
            "This computer can show your cameras live, but it cannot play recordings until you allow it. On another computer where you use Eyrie, confirm this computer when it shows this number: <b>{number}</b>. Or enter your recovery key.",
            &[("number", &glib::markup_escape_text(fingerprint))],
        ));
        imp.keys_banner.set_reveal_child(true);
        test_hooks::report(
            "keys-banner",
            &serde_json::json!({ "shown": true, "fingerprint": fingerprint }),
        );
    }
}

mod admission;
mod installations;
mod pairing;
mod recovery;
