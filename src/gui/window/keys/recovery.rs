//! The recovery key: shown once when a key set is made, entered to restore access.

use super::*;
use crate::gui::window::form::form_dialog;

impl EyrieWindow {
    /// The recovery key of a key set made just now: shown once, closed only once the
    /// person says it is written down.
    pub(super) fn show_recovery_key(&self, text: &str) {
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
    pub(in crate::gui::window) fn recover_dialog(&self) {
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
        let entry = gtk::Entry::builder()
            .placeholder_text("XXXX-XXXX-XXXX-…")
            .activates_default(true)
            .build();
        entry.add_css_class("monospace");
        entry.update_property(&[gtk::accessible::Property::Label(&gettext("Recovery key"))]);
        let (dialog, error) = form_dialog(
            self,
            &gettext("Enter Your Recovery Key"),
            &gettext(
                "The recovery key was shown when you first signed in to this account: 52 letters and digits in groups of four. With it this computer can read all your recordings. It is not kept on this computer.",
            ),
            &entry,
            ("recover", &gettext("_Allow This Computer")),
        );
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

    pub(super) fn recover(&self, cloud: Cloud, me: Arc<ViewerKeys>, recovery: RecoveryKey) {
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
    pub(super) fn recheck_membership(&self, cloud: Cloud) {
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
}
