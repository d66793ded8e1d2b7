//! The camera-mode window's widgets: preview, pairing code, devices, the owner's switches
//! and the status rows.

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::glib;

use super::EyrieCameraModeWindow;
use super::engine::Command;
use crate::i18n::gettext;

/// Seconds recorded by "Record Event Now".
const RECORD_NOW: std::time::Duration = std::time::Duration::from_secs(10);

pub(super) fn switch_row(
    title: &str,
    subtitle: &str,
    active: bool,
) -> (adw::ActionRow, gtk::Switch) {
    let switch = gtk::Switch::builder()
        .active(active)
        .valign(gtk::Align::Center)
        .build();
    switch.update_property(&[gtk::accessible::Property::Label(title)]);
    let row = adw::ActionRow::builder()
        .title(title)
        .subtitle(subtitle)
        .activatable_widget(&switch)
        .build();
    row.add_suffix(&switch);
    (row, switch)
}

impl EyrieCameraModeWindow {
    /// Header, preview, pairing code and devices; returns the column for the rest.
    pub(super) fn build_ui(&self) -> gtk::Box {
        let ui = self.ui();
        let header = adw::HeaderBar::new();
        header.set_title_widget(Some(&adw::WindowTitle::new(
            &gettext("Camera Mode"),
            &gettext("This computer is a camera"),
        )));

        let picture = gtk::Picture::builder()
            .content_fit(gtk::ContentFit::Contain)
            .height_request(240)
            .hexpand(true)
            .build();
        picture.add_css_class("live-picture");
        picture.set_alternative_text(Some(&gettext("Preview of this computer’s camera")));
        let frame = gtk::Frame::builder().child(&picture).build();
        frame.add_css_class("view");

        // The pairing code, large, while the camera waits to be added.
        let pairing = adw::PreferencesGroup::builder()
            .title(gettext("Add This Camera"))
            .description(gettext(
                "In the Eyrie app on your phone or computer, choose “Add a Camera” and enter this code.",
            ))
            .visible(false)
            .build();
        let code = gtk::Label::builder()
            .selectable(true)
            .margin_top(12)
            .margin_bottom(12)
            .build();
        code.add_css_class("title-1");
        code.update_property(&[gtk::accessible::Property::Label(&gettext("Pairing code"))]);
        pairing.add(&code);

        let state = adw::ActionRow::builder().title(gettext("Camera")).build();
        let devices = adw::PreferencesGroup::builder()
            .title(gettext("Devices"))
            .build();
        let video_row = adw::ComboRow::builder().title(gettext("Webcam")).build();
        let audio_row = adw::ComboRow::builder()
            .title(gettext("Microphone"))
            .subtitle(gettext("The camera records the default microphone"))
            .sensitive(false)
            .build();
        devices.add(&state);
        devices.add(&video_row);
        devices.add(&audio_row);
        video_row.connect_selected_notify(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move |_| {
                if !window.imp().updating.get() {
                    window.start_engine();
                }
            }
        ));

        let column = crate::gui::padded_column(18, 18, 12);
        column.append(&frame);
        column.append(&pairing);
        column.append(&devices);
        let clamp = adw::Clamp::builder()
            .maximum_size(720)
            .child(&column)
            .build();
        let scrolled = gtk::ScrolledWindow::builder()
            .hscrollbar_policy(gtk::PolicyType::Never)
            .vexpand(true)
            .child(&clamp)
            .build();
        let content = gtk::Box::new(gtk::Orientation::Vertical, 0);
        content.append(&header);
        content.append(&scrolled);
        let toasts = adw::ToastOverlay::new();
        toasts.set_child(Some(&content));
        self.set_content(Some(&toasts));
        let _ = ui.picture.set(picture);
        let _ = ui.video_row.set(video_row);
        let _ = ui.audio_row.set(audio_row);
        let _ = ui.pairing_group.set(pairing);
        let _ = ui.code_label.set(code);
        let _ = ui.state_row.set(state);
        column
    }

    /// The owner's switches and the status rows.
    pub(super) fn build_controls(&self, column: &gtk::Box) {
        let ui = self.ui();
        let controls = adw::PreferencesGroup::builder()
            .title(gettext("Recording"))
            .build();
        let (privacy_row, privacy) = switch_row(
            &gettext("Privacy Mode"),
            &gettext("Pause: no live video, no recording, microphone muted"),
            false,
        );
        let (audio_row, record_audio) = switch_row(
            &gettext("Record Sound"),
            &gettext("Recordings keep the microphone’s sound"),
            true,
        );
        record_audio.set_sensitive(false);
        let record_now = gtk::Button::builder()
            .label(gettext("Record Event Now"))
            .valign(gtk::Align::Center)
            .sensitive(false)
            .build();
        let record_row = adw::ActionRow::builder()
            .title(gettext("Manual Event"))
            .subtitle(gettext(
                "Record the next ten seconds, with the seconds before",
            ))
            .build();
        record_row.add_suffix(&record_now);
        controls.add(&privacy_row);
        controls.add(&audio_row);
        controls.add(&record_row);

        privacy.connect_active_notify(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move |sw| {
                if !window.imp().updating.get() {
                    window.send(Command::Privacy(sw.is_active()));
                }
            }
        ));
        record_audio.connect_active_notify(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move |sw| {
                if !window.imp().updating.get() {
                    window.send(Command::RecordAudio(sw.is_active()));
                }
            }
        ));
        record_now.connect_clicked(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move |_| window.send(Command::RecordNow(RECORD_NOW))
        ));

        column.append(&controls);
        column.append(&ui.status.build());
        let _ = ui.privacy.set(privacy);
        let _ = ui.record_audio.set(record_audio);
        let _ = ui.record_now.set(record_now);
    }
}
