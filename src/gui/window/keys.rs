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

    /// The recovery key of a key set made just now: shown once, closed only once the
    /// person says it is written down.
    fn show_recovery_key(&self, text: &str) {
        let dialog = adw::MessageDialog::new(
            Some(self),
            Some(&gettext("Write Down Your Recovery Key")),
            Some(&gettext(
                "Your recordings are encrypted so that only your own computers can read them; not even the cloud can. If you ever lose every computer you use Eyrie on, this recovery key is the only way to read your recordings again.\n\nWrite it down on paper and keep it somewhere safe. It is shown only this once.",
            )),
        );
        // Thirteen groups on three lines (5, 4, 4); the copy is the one-line text.
        let groups: Vec<&str> = text.split('-').collect();
        let lines: Vec<String> = [
            &groups[..5.min(groups.len())],
            &groups[5.min(groups.len())..9.min(groups.len())],
            &groups[9.min(groups.len())..],
        ]
        .iter()
        .filter(|g| !g.is_empty())
        .map(|g| g.join("-"))
        .collect();
        let key = gtk::Label::builder()
            .label(lines.join("\n"))
            .selectable(true)
            .wrap(true)
            .wrap_mode(gtk::pango::WrapMode::Char)
            .justify(gtk::Justification::Center)
            .build();
        key.add_css_class("monospace");
        key.add_css_class("title-4");
        key.update_property(&[gtk::accessible::Property::Label(&gettext("Recovery key"))]);
        let copy = gtk::Button::builder()
            .label(gettext("_Copy"))
            .use_underline(true)
            .halign(gtk::Align::Center)
            .build();
        let copied = text.to_owned();
        copy.connect_clicked(move |b| {
            b.clipboard().set_text(&copied);
            b.set_label(&gettext("Copied"));
        });
        let written = gtk::CheckButton::builder()
            .label(gettext("I have _written down the recovery key"))
            .use_underline(true)
            .halign(gtk::Align::Center)
            .build();
        let column = gtk::Box::new(gtk::Orientation::Vertical, 12);
        column.append(&key);
        column.append(&copy);
        column.append(&written);
        dialog.set_extra_child(Some(&column));
        dialog.add_responses(&[("done", &gettext("_Done"))]);
        dialog.set_response_appearance("done", adw::ResponseAppearance::Suggested);
        dialog.set_response_enabled("done", false);
        dialog.set_default_response(Some("done"));
        dialog.set_close_response("done");
        written.connect_toggled(glib::clone!(
            #[weak]
            dialog,
            move |w| dialog.set_response_enabled("done", w.is_active())
        ));
        // Not closed (Escape, the window manager) before the box is ticked.
        dialog.connect_close_request(glib::clone!(
            #[weak]
            written,
            #[upgrade_or]
            glib::Propagation::Proceed,
            move |_| {
                if written.is_active() {
                    glib::Propagation::Proceed
                } else {
                    glib::Propagation::Stop
                }
            }
        ));
        dialog.connect_response(Some("done"), |_, _| {
            test_hooks::report("recovery-key-confirmed", &serde_json::json!({}));
        });
        dialog.present();
        test_hooks::report("recovery-key", &serde_json::json!({ "key": text }));
    }

    /// Enter the recovery key to allow this computer (`win.recover`).
    pub(super) fn recover_dialog(&self) {
        let (Some(cloud), Some(session)) = (self.cloud(), self.app().and_then(|a| a.session()))
        else {
            return;
        };
        let Some(me) = keys::current_for(&session.server) else {
            self.toast(&gettext(
                "This computer’s key is not available; unlock the keyring and start Eyrie again",
            ));
            return;
        };
        if keys::keyset().is_some() {
            self.toast(&gettext("This computer can already read your recordings"));
            return;
        }
        let dialog = adw::MessageDialog::new(
            Some(self),
            Some(&gettext("Enter Your Recovery Key")),
            Some(&gettext(
                "The recovery key was shown when you first signed in to this account: 52 letters and digits in groups of four. With it this computer can read all your recordings. It is not kept on this computer.",
            )),
        );
        let entry = gtk::Entry::builder()
            .placeholder_text("XXXX-XXXX-XXXX-…")
            .activates_default(true)
            .build();
        entry.add_css_class("monospace");
        entry.update_property(&[gtk::accessible::Property::Label(&gettext("Recovery key"))]);
        let error = gtk::Label::builder()
            .wrap(true)
            .xalign(0.0)
            .visible(false)
            .build();
        error.add_css_class("error");
        let column = gtk::Box::new(gtk::Orientation::Vertical, 6);
        column.append(&entry);
        column.append(&error);
        dialog.set_extra_child(Some(&column));
        dialog.add_responses(&[
            ("cancel", &gettext("_Cancel")),
            ("recover", &gettext("_Allow This Computer")),
        ]);
        dialog.set_response_appearance("recover", adw::ResponseAppearance::Suggested);
        dialog.set_response_enabled("recover", false);
        dialog.set_default_response(Some("recover"));
        dialog.set_close_response("cancel");
        entry.connect_changed(glib::clone!(
            #[weak]
            dialog,
            #[weak]
            error,
            move |entry| {
                let text = entry.text();
                let typed = text
                    .chars()
                    .filter(|c| !c.is_whitespace() && *c != '-')
                    .count();
                let ok = RecoveryKey::parse(&text).is_ok();
                dialog.set_response_enabled("recover", ok);
                let wrong = !ok && typed >= 52;
                error.set_visible(wrong);
                if wrong {
                    error.set_label(&gettext(
                        "This is not a recovery key. Check it against what you wrote down: 52 letters A–Z and digits 2–7.",
                    ));
                }
            }
        ));
        dialog.connect_response(
            Some("recover"),
            glib::clone!(
                #[weak(rename_to = window)]
                self,
                #[weak]
                entry,
                move |_, _| {
                    let Ok(recovery) = RecoveryKey::parse(&entry.text()) else {
                        return;
                    };
                    window.recover(cloud.clone(), me.clone(), recovery);
                }
            ),
        );
        dialog.present();
        entry.grab_focus();
    }

    fn recover(&self, cloud: Cloud, me: Arc<ViewerKeys>, recovery: RecoveryKey) {
        let name = keys::installation_name();
        let handle = spawn_tokio!(async move {
            let api = cloud.api();
            let user = api.me().await.map_err(E2eError::from)?;
            e2e::recover(api, &user.id.to_string(), &recovery, &me, &name).await
        });
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                match handle.await {
                    Ok(Ok(set)) => {
                        test_hooks::report(
                            "recovered",
                            &serde_json::json!({ "version": set.version() }),
                        );
                        keys::set_keyset(Some(set));
                        window.imp().keys_banner.set_reveal_child(false);
                        window.toast(&gettext("This computer can now read your recordings"));
                        window.refresh_cameras();
                    }
                    Ok(Err(e)) => {
                        test_hooks::report(
                            "recover-failed",
                            &serde_json::json!({ "error": e.to_string() }),
                        );
                        notice(
                            &window,
                            &gettext("The Recovery Key Did Not Work"),
                            &e2e_message(e),
                        );
                    }
                    Err(e) => tracing::error!("recover task: {e}"),
                }
            }
        ));
    }

    /// Whether an installation that was not a member has been admitted meanwhile (by
    /// another installation): then the banner goes.
    fn recheck_membership(&self, cloud: Cloud) {
        let Some(me) = keys::current() else { return };
        let handle = spawn_tokio!(async move {
            let api = cloud.api();
            let user = api.me().await.ok()?;
            let statements = api.keyset(0).await.ok()?.statements;
            let set =
                eyrie_protocol::e2e::keyset::KeySet::from_chain(&statements, &user.id.to_string())
                    .ok()?;
            set.member(me.id()).is_some().then_some(set)
        });
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                let Ok(Some(set)) = handle.await else { return };
                if keys::keyset().is_some() {
                    return;
                }
                test_hooks::report(
                    "keyset",
                    &serde_json::json!({ "member": true, "version": set.version(), "made": false }),
                );
                keys::set_keyset(Some(set));
                window.imp().keys_banner.set_reveal_child(false);
                window.toast(&gettext("This computer can now read your recordings"));
                window.refresh_cameras();
            }
        ));
    }

    /// Put every pending request of another installation to the person (a member only;
    /// each once per session). Also runs when the camera list refreshes; a computer that
    /// waits to be allowed looks whether it was.
    pub(super) fn check_installations(&self) {
        let Some(cloud) = self.cloud() else { return };
        let Some(set) = keys::keyset() else {
            if self.imp().keys_banner.reveals_child() {
                self.recheck_membership(cloud);
            }
            return;
        };
        let handle = spawn_tokio!(async move { cloud.api().installations().await });
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                let list = match handle.await {
                    Ok(Ok(list)) => list,
                    Ok(Err(e)) => {
                        tracing::info!("cannot list installation requests: {e}");
                        return;
                    }
                    Err(_) => return,
                };
                for inst in list.installations {
                    if set.member(&inst.id).is_some() {
                        continue;
                    }
                    if window
                        .imp()
                        .asked_installations
                        .borrow_mut()
                        .insert(inst.id.clone())
                    {
                        window.ask_to_admit(inst);
                    }
                }
            }
        ));
    }

    /// "<name> asks to read your recordings. Does it show this number?"
    fn ask_to_admit(&self, inst: Installation) {
        let Ok(number) = inst.public.fingerprint() else {
            tracing::warn!(id = %inst.id, "an installation request with a malformed key");
            return;
        };
        let dialog = adw::MessageDialog::new(
            Some(self),
            Some(&gettext("Allow Another Computer?")),
            Some(&gettext_f(
                "“{name}” asks to read your recordings. Does it show this number?",
                &[("name", &inst.name)],
            )),
        );
        let column = gtk::Box::new(gtk::Orientation::Vertical, 12);
        let big = gtk::Label::builder()
            .label(&number)
            .selectable(true)
            .build();
        big.add_css_class("title-1");
        big.add_css_class("monospace");
        let hint = gtk::Label::builder()
            .label(gettext(
                "Allow it only if its screen shows the same number. Once allowed, it can read all your recordings.",
            ))
            .wrap(true)
            .justify(gtk::Justification::Center)
            .build();
        hint.add_css_class("dim-label");
        column.append(&big);
        column.append(&hint);
        dialog.set_extra_child(Some(&column));
        dialog.add_responses(&[
            ("dismiss", &gettext("_Dismiss")),
            ("allow", &gettext("_Allow")),
        ]);
        dialog.set_response_appearance("allow", adw::ResponseAppearance::Suggested);
        // Escape or closing the window decides nothing: asked again next time.
        dialog.set_close_response("later");
        test_hooks::report(
            "installation-request",
            &serde_json::json!({ "id": inst.id, "name": inst.name, "fingerprint": number }),
        );
        dialog.connect_response(
            None,
            glib::clone!(
                #[weak(rename_to = window)]
                self,
                move |_, response| match response {
                    "allow" => window.admit(inst.clone()),
                    "dismiss" => window.dismiss(inst.clone()),
                    _ => {}
                }
            ),
        );
        dialog.present();
    }

    fn admit(&self, inst: Installation) {
        let (Some(cloud), Some(set), Some(me)) = (self.cloud(), keys::keyset(), keys::current())
        else {
            return;
        };
        let newcomer = inst.clone();
        let handle = spawn_tokio!(async move {
            e2e::admit_installation(cloud.api(), &set, &me, &newcomer).await
        });
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                match handle.await {
                    Ok(Ok(next)) => {
                        test_hooks::report(
                            "installation-admitted",
                            &serde_json::json!({ "id": inst.id, "version": next.version() }),
                        );
                        keys::set_keyset(Some(next));
                        window.toast(&gettext_f(
                            "“{name}” can now read your recordings",
                            &[("name", &inst.name)],
                        ));
                    }
                    Ok(Err(e)) => {
                        window
                            .imp()
                            .asked_installations
                            .borrow_mut()
                            .remove(&inst.id);
                        notice(
                            &window,
                            &gettext("The Computer Could Not Be Allowed"),
                            &e2e_message(e),
                        );
                    }
                    Err(e) => tracing::error!("admit task: {e}"),
                }
            }
        ));
    }

    fn dismiss(&self, inst: Installation) {
        let Some(cloud) = self.cloud() else { return };
        let id = inst.id.clone();
        let handle = spawn_tokio!(async move { cloud.api().dismiss_installation(&id).await });
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                match handle.await {
                    Ok(Ok(())) => {
                        test_hooks::report(
                            "installation-dismissed",
                            &serde_json::json!({ "id": inst.id }),
                        );
                    }
                    Ok(Err(e)) => window.toast(&CloudError::from(e).user_message()),
                    Err(e) => tracing::error!("dismiss task: {e}"),
                }
            }
        ));
    }

    /// This computer's number and the installations of the key set, each removable
    /// (`win.installations`).
    pub(super) fn installations_dialog(&self) {
        let Some(me) = keys::current() else {
            self.toast(&gettext(
                "This computer has no key for recordings in this session",
            ));
            return;
        };
        let number = fingerprint(&me);
        let set = keys::keyset();
        let body = match &set {
            Some(_) => gettext_f(
                "This computer’s number is {number}. These computers can read your recordings:",
                &[("number", &number)],
            ),
            None => gettext_f(
                "This computer’s number is {number}. It is not allowed to read recordings yet: confirm it from another computer, or enter your recovery key.",
                &[("number", &number)],
            ),
        };
        let dialog = adw::MessageDialog::new(
            Some(self),
            Some(&gettext("Computers That Can Read Recordings")),
            Some(&body),
        );
        if let Some(set) = &set {
            let list = gtk::ListBox::builder()
                .selection_mode(gtk::SelectionMode::None)
                .build();
            list.add_css_class("boxed-list");
            for member in &set.body.keys {
                let subtitle = if member.id == me.id() {
                    gettext("This computer")
                } else if member.recovery {
                    gettext("Your written-down recovery key")
                } else {
                    member.public.fingerprint().unwrap_or_default()
                };
                let row = adw::ActionRow::builder()
                    .title(glib::markup_escape_text(&member.name))
                    .subtitle(subtitle)
                    .build();
                if member.id != me.id() && !member.recovery {
                    let remove = gtk::Button::builder()
                        .icon_name("user-trash-symbolic")
                        .valign(gtk::Align::Center)
                        .tooltip_text(gettext_f("Remove {name}", &[("name", &member.name)]))
                        .build();
                    remove.add_css_class("flat");
                    let id = member.id.clone();
                    remove.connect_clicked(glib::clone!(
                        #[weak(rename_to = window)]
                        self,
                        #[weak]
                        dialog,
                        move |_| {
                            dialog.close();
                            window.remove_installation_dialog(&id);
                        }
                    ));
                    row.add_suffix(&remove);
                }
                list.append(&row);
            }
            dialog.set_extra_child(Some(&list));
        }
        dialog.add_responses(&[("close", &gettext("_Close"))]);
        dialog.set_default_response(Some("close"));
        dialog.set_close_response("close");
        test_hooks::report(
            "installations",
            &serde_json::json!({
                "fingerprint": number,
                "members": set.as_ref().map(|s| s.body.keys.iter().map(|k| &k.id).collect::<Vec<_>>()),
            }),
        );
        dialog.present();
    }

    /// Remove installation `id` from the key set, once confirmed
    /// (`win.remove-installation`).
    pub(super) fn remove_installation_dialog(&self, id: &str) {
        let (Some(cloud), Some(set), Some(me)) = (self.cloud(), keys::keyset(), keys::current())
        else {
            self.toast(&gettext(
                "Only a computer that can read your recordings can remove another one",
            ));
            return;
        };
        let Some(member) = set.member(id).cloned() else {
            self.toast(&gettext(
                "That computer is not among those that can read recordings",
            ));
            return;
        };
        if member.id == me.id() {
            self.toast(&gettext("Remove this computer from another one"));
            return;
        }
        if member.recovery {
            self.toast(&gettext("The recovery key cannot be removed"));
            return;
        }
        let dialog = adw::MessageDialog::new(
            Some(self),
            Some(&gettext_f("Remove “{name}”?", &[("name", &member.name)])),
            Some(&gettext(
                "It will not be able to read recordings made from now on. What it could read before stays readable to it.",
            )),
        );
        dialog.add_responses(&[
            ("cancel", &gettext("_Cancel")),
            ("remove", &gettext("_Remove")),
        ]);
        dialog.set_response_appearance("remove", adw::ResponseAppearance::Destructive);
        dialog.set_close_response("cancel");
        dialog.connect_response(
            Some("remove"),
            glib::clone!(
                #[weak(rename_to = window)]
                self,
                move |_, _| {
                    let (cloud, set, me, id) =
                        (cloud.clone(), set.clone(), me.clone(), member.id.clone());
                    let handle = spawn_tokio!(async move {
                        e2e::remove_installation(cloud.api(), &set, &me, &id).await
                    });
                    let name = member.name.clone();
                    let id = member.id.clone();
                    glib::spawn_future_local(glib::clone!(
                        #[weak]
                        window,
                        async move {
                            match handle.await {
                                Ok(Ok(next)) => {
                                    test_hooks::report(
                                        "installation-removed",
                                        &serde_json::json!({ "id": id, "version": next.version() }),
                                    );
                                    keys::set_keyset(Some(next));
                                    window.toast(&gettext_f(
                                        "“{name}” can no longer read new recordings",
                                        &[("name", &name)],
                                    ));
                                }
                                Ok(Err(e)) => {
                                    notice(
                                        &window,
                                        &gettext("The Computer Could Not Be Removed"),
                                        &e2e_message(e),
                                    );
                                }
                                Err(e) => tracing::error!("remove task: {e}"),
                            }
                        }
                    ));
                }
            ),
        );
        dialog.present();
    }

    /// After a camera is claimed: its pairing check (`docs/keys.md` §4) with the whole
    /// code, while a dialog says the app waits for the camera; then the outcome.
    pub(super) fn pair_camera(&self, cloud: Cloud, code: String, name: String) {
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
