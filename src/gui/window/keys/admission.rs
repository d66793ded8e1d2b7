//! Other installations asking to read recordings: put to a member, admitted or dismissed.

use super::*;

impl EyrieWindow {
    /// Put every pending request of another installation to the person (a member only;
    /// each once per session). Also runs when the camera list refreshes; a computer that
    /// waits to be allowed looks whether it was.
    pub(in crate::gui::window) fn check_installations(&self) {
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
    pub(super) fn ask_to_admit(&self, inst: Installation) {
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

    pub(super) fn admit(&self, inst: Installation) {
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

    pub(super) fn dismiss(&self, inst: Installation) {
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
}
