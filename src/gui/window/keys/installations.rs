//! The list of installations that can read recordings, and removing one.

use super::*;

impl EyrieWindow {
    /// This computer's number and the installations of the key set, each removable
    /// (`win.installations`).
    pub(in crate::gui::window) fn installations_dialog(&self) {
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
    pub(in crate::gui::window) fn remove_installation_dialog(&self, id: &str) {
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
}
