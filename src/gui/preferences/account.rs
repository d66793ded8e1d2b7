//! The "Account" page: which cloud this computer uses and who is signed in (read-only; the
//! connect page changes them), and Sign Out.

use adw::prelude::*;
use gtk::glib;

use super::EyrieApplication;
use crate::i18n::gettext;

pub(super) fn page(
    app: &EyrieApplication,
    window: &adw::PreferencesWindow,
) -> adw::PreferencesPage {
    let page = adw::PreferencesPage::builder()
        .title(gettext("Account"))
        .icon_name("avatar-default-symbolic")
        .build();
    let group = adw::PreferencesGroup::new();
    page.add(&group);
    let Some(session) = app.session() else {
        group.set_description(Some(&gettext(
            "Not signed in. Connect to a cloud from the main window first.",
        )));
        return page;
    };
    // The link's CA pin (`#ca=sha256:…`) is for the app, not for reading.
    let address = session
        .server
        .split_once('#')
        .map_or(session.server.as_str(), |(a, _)| a);
    let cloud = adw::ActionRow::builder()
        .title(gettext("Cloud"))
        .subtitle(address)
        .build();
    let user = adw::ActionRow::builder()
        .title(gettext("Signed in as"))
        .subtitle(session.email.as_str())
        .build();
    group.add(&cloud);
    group.add(&user);

    let sign_out = gtk::Button::builder()
        .label(gettext("_Sign Out"))
        .use_underline(true)
        .halign(gtk::Align::Start)
        .css_classes(["destructive-action", "pill"])
        .build();
    let actions = adw::PreferencesGroup::new();
    actions.add(&sign_out);
    page.add(&actions);
    sign_out.connect_clicked(glib::clone!(
        #[weak]
        app,
        #[weak]
        window,
        move |_| {
            if let Some(main) = app.main_window() {
                let _ = WidgetExt::activate_action(&main, "win.sign-out", None);
            }
            window.close();
        }
    ));
    page
}
