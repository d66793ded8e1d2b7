//! The connect page: cloud address, sign in or create an account.

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::glib;

use super::EyrieWindow;
use crate::gui::cloud::Cloud;
use crate::gui::session::{self, Session};
use crate::gui::test_hooks;
use crate::i18n::gettext;
use crate::spawn_tokio;

impl EyrieWindow {
    /// Sign in (or first create the account, then sign in) with the form's values.
    pub(super) fn sign_in(&self, create_account: bool) {
        let imp = self.imp();
        let server = imp
            .server_row
            .text()
            .trim()
            .trim_end_matches('/')
            .to_owned();
        let username = imp.email_row.text().trim().to_owned();
        let password = imp.password_row.text().to_string();
        let problem = if server.parse::<eyrie_protocol::trust::CloudLink>().is_err() {
            Some(gettext(
                "Enter the cloud link “eyrie cloud” printed, for example https://192.168.1.2:8470#ca=sha256:…",
            ))
        } else if username.is_empty() {
            Some(gettext("Enter your email or user name"))
        } else if password.is_empty() {
            Some(gettext("Enter your password"))
        } else {
            None
        };
        if let Some(problem) = problem {
            self.show_connect_error(Some(&problem));
            return;
        }
        self.show_connect_error(None);
        self.set_connect_busy(true);
        let cloud = Cloud::new(&server, None);
        let handle = spawn_tokio!(async move {
            if create_account {
                cloud.register(&username, &password).await?;
            }
            cloud.login(&username, &password).await
        });
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                let result = handle.await;
                window.set_connect_busy(false);
                match result {
                    Ok(Ok(login)) => {
                        let session = Session {
                            server: server.clone(),
                            email: login.user.username.clone(),
                            token: login.token,
                        };
                        window.keep_session(session.clone());
                        if let Some(app) = window.app() {
                            if let Some(settings) = app.settings() {
                                let _ = settings.set_string("cloud-url", &server);
                            }
                            app.set_demo(false);
                            app.set_session(Some(session));
                        }
                        window.imp().password_row.set_text("");
                        window.show_cameras();
                    }
                    Ok(Err(e)) => window.show_connect_error(Some(&e.user_message())),
                    Err(e) => {
                        tracing::error!("sign-in task failed: {e}");
                        window.show_connect_error(Some(&gettext(
                            "Something went wrong; please try again",
                        )));
                    }
                }
            }
        ));
    }

    /// Keep the session for the next start (keyring or file, on the runtime).
    fn keep_session(&self, session: Session) {
        let handle = spawn_tokio!(async move { session::store(&session).await });
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                match handle.await {
                    Ok(Ok(kept)) => {
                        test_hooks::report(
                            "session-kept",
                            &serde_json::json!({ "in": kept.as_str() }),
                        );
                    }
                    Ok(Err(e)) => {
                        tracing::warn!("cannot keep the session: {e}");
                        window.toast(&gettext(
                            "Signed in, but the session cannot be kept for next time",
                        ));
                    }
                    Err(e) => tracing::error!("session task failed: {e}"),
                }
            }
        ));
    }

    fn set_connect_busy(&self, busy: bool) {
        let imp = self.imp();
        imp.connect_spinner.set_visible(busy);
        imp.connect_spinner.set_spinning(busy);
        for name in ["sign-in", "register"] {
            if let Some(action) = self
                .lookup_action(name)
                .and_downcast::<gtk::gio::SimpleAction>()
            {
                action.set_enabled(!busy);
            }
        }
    }

    fn show_connect_error(&self, message: Option<&str>) {
        let label = &self.imp().connect_error;
        label.set_visible(message.is_some());
        label.set_label(message.unwrap_or_default());
    }
}
