//! The timeline window's widgets, built in code: header with "Back to Live", the picture
//! with a hint and a spinner over it, the controls row, the ruler, today's events and the
//! clip list,
//! wired to the window's actions (actions.rs) and methods.

use adw::prelude::*;
use adw::subclass::prelude::*;
use eyrie_protocol::api::Device;
use gtk::glib;

use super::{EyrieRuler, EyrieTimelineWindow, RATES, clips, events};
use crate::i18n::{gettext, gettext_f};

fn icon_button(icon: &str, tooltip: &str) -> gtk::Button {
    let b = gtk::Button::from_icon_name(icon);
    b.set_tooltip_text(Some(tooltip));
    // Icon-only: the tooltip's words are its name for screen readers.
    b.update_property(&[gtk::accessible::Property::Label(tooltip)]);
    b
}

impl EyrieTimelineWindow {
    pub(super) fn build_ui(&self, device: &Device) {
        let imp = self.imp();
        let header = adw::HeaderBar::new();
        header.set_title_widget(Some(&adw::WindowTitle::new(
            &device.name,
            &gettext("Recordings"),
        )));
        let live = gtk::Button::with_label(&gettext("Back to Live"));
        live.set_tooltip_text(Some(&gettext("Close the timeline and watch live")));
        live.add_css_class("suggested-action");
        live.connect_clicked(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move |_| window.close()
        ));
        header.pack_start(&live);

        // The picture, with a hint or a spinner over it.
        let picture = gtk::Picture::builder()
            .content_fit(gtk::ContentFit::Contain)
            .hexpand(true)
            .vexpand(true)
            .build();
        // Letterboxed on black like the live view, never on the window's light colour.
        picture.add_css_class("live-picture");
        let alt = gettext_f("Recorded video of {name}", &[("name", &device.name)]);
        picture.set_alternative_text(Some(&alt));
        // GTK 4.8 makes the alternative text a description only; it is the name too.
        picture.update_property(&[gtk::accessible::Property::Label(&alt)]);
        let hint = gtk::Label::new(Some(&gettext(
            "Click the timeline to play from that moment",
        )));
        hint.add_css_class("dim-label");
        hint.set_wrap(true);
        let spinner = gtk::Spinner::builder()
            .width_request(32)
            .height_request(32)
            .visible(false)
            .build();
        let centre = gtk::Box::new(gtk::Orientation::Vertical, 12);
        // Light text and spinner over the black picture.
        centre.add_css_class("video-overlay");
        centre.set_halign(gtk::Align::Center);
        centre.set_valign(gtk::Align::Center);
        centre.append(&spinner);
        centre.append(&hint);
        let overlay = gtk::Overlay::new();
        overlay.set_child(Some(&picture));
        overlay.add_overlay(&centre);
        let frame = gtk::Frame::new(None);
        frame.set_child(Some(&overlay));

        // Controls.
        let prev = icon_button("go-first-symbolic", &gettext("Previous Event"));
        let step = icon_button("go-next-symbolic", &gettext("Next Frame"));
        let play = icon_button("media-playback-pause-symbolic", &gettext("Pause"));
        let next = icon_button("go-last-symbolic", &gettext("Next Event"));
        let labels: Vec<String> = RATES.iter().map(|r| format!("{r}×")).collect();
        let rate =
            gtk::DropDown::from_strings(&labels.iter().map(String::as_str).collect::<Vec<_>>());
        rate.set_tooltip_text(Some(&gettext("Playback Speed")));
        rate.update_property(&[gtk::accessible::Property::Label(&gettext("Playback Speed"))]);
        let time = gtk::Label::new(None);
        time.add_css_class("numeric");
        time.set_width_chars(20);
        let zoom_out = icon_button("zoom-out-symbolic", &gettext("Zoom Out"));
        let zoom_in = icon_button("zoom-in-symbolic", &gettext("Zoom In"));
        let earlier = icon_button("go-previous-symbolic", &gettext("Earlier"));
        let later = icon_button("go-next-symbolic", &gettext("Later"));
        let clip = gtk::Button::with_label(&gettext("Create Clip"));
        clip.set_tooltip_text(Some(&gettext(
            "Shift-drag on the timeline to select a range first",
        )));
        let controls = gtk::Box::new(gtk::Orientation::Horizontal, 6);
        for w in [
            prev.upcast_ref::<gtk::Widget>(),
            step.upcast_ref(),
            play.upcast_ref(),
            next.upcast_ref(),
            rate.upcast_ref(),
            time.upcast_ref(),
        ] {
            controls.append(w);
        }
        let spacer = gtk::Box::new(gtk::Orientation::Horizontal, 0);
        spacer.set_hexpand(true);
        controls.append(&spacer);
        for w in [
            earlier.upcast_ref::<gtk::Widget>(),
            zoom_out.upcast_ref(),
            zoom_in.upcast_ref(),
            later.upcast_ref(),
            clip.upcast_ref(),
        ] {
            controls.append(w);
        }

        let ruler = EyrieRuler::new();
        let main = crate::gui::padded_column(6, 6, 6);
        main.append(&frame);
        main.append(&controls);
        main.append(&ruler);

        let clip_list = clips::ClipList::new(self);
        let event_list = events::EventList::new(self);
        let side = gtk::Box::new(gtk::Orientation::Vertical, 0);
        side.append(event_list.widget());
        side.append(clip_list.widget());
        let paned = gtk::Paned::new(gtk::Orientation::Horizontal);
        paned.set_start_child(Some(&main));
        paned.set_end_child(Some(&side));
        paned.set_resize_end_child(false);
        paned.set_shrink_end_child(false);
        paned.set_position(720);

        let toasts = adw::ToastOverlay::new();
        toasts.set_child(Some(&paned));
        let content = gtk::Box::new(gtk::Orientation::Vertical, 0);
        content.append(&header);
        content.append(&toasts);
        toasts.set_vexpand(true);
        self.set_content(Some(&content));

        // Wiring: the buttons activate the window's actions (what D-Bus reaches too).
        for (button, action) in [
            (&prev, "win.previous-event"),
            (&next, "win.next-event"),
            (&step, "win.step"),
            (&play, "win.play-pause"),
            (&zoom_in, "win.zoom-in"),
            (&zoom_out, "win.zoom-out"),
            (&earlier, "win.earlier"),
            (&later, "win.later"),
            (&clip, "win.create-clip"),
        ] {
            button.set_action_name(Some(action));
        }
        rate.connect_selected_notify(glib::clone!(
            #[weak(rename_to = w)]
            self,
            move |d| {
                let r = RATES.get(d.selected() as usize).copied().unwrap_or(1.0);
                if let Some(p) = w.imp().player.borrow().as_ref() {
                    p.set_rate(r);
                }
            }
        ));
        ruler.connect_seek(glib::clone!(
            #[weak(rename_to = w)]
            self,
            move |t| w.seek(t)
        ));
        ruler.connect_selection(glib::clone!(
            #[weak(rename_to = w)]
            self,
            move |sel| w.set_clip_enabled(sel.is_some())
        ));
        ruler.connect_view(glib::clone!(
            #[weak(rename_to = w)]
            self,
            move |_, _| w.reload_ruler(false)
        ));
        ruler.connect_hover_marker(glib::clone!(
            #[weak(rename_to = w)]
            self,
            move |m| w.load_hover_snapshot(m)
        ));

        let _ = imp.picture.set(picture);
        let _ = imp.hint.set(hint);
        let _ = imp.spinner.set(spinner);
        let _ = imp.ruler.set(ruler);
        let _ = imp.time_label.set(time);
        let _ = imp.play_button.set(play);
        let _ = imp.clip_button.set(clip);
        let _ = imp.toasts.set(toasts);
        let _ = imp.clips.set(clip_list);
        let _ = imp.events.set(event_list);
    }
}

/// A titled side list of the timeline (today's events, clips): a heading, a boxed list
/// with `empty` as its placeholder, scrolled, in a 260-px column.
pub(super) fn side_list(title: &str, empty: &str) -> (gtk::Box, gtk::Label, gtk::ListBox) {
    let heading = gtk::Label::new(Some(title));
    heading.add_css_class("heading");
    heading.set_halign(gtk::Align::Start);
    let list = gtk::ListBox::new();
    list.add_css_class("boxed-list");
    list.set_selection_mode(gtk::SelectionMode::None);
    let placeholder = gtk::Label::new(Some(empty));
    placeholder.set_wrap(true);
    placeholder.add_css_class("dim-label");
    placeholder.set_margin_top(12);
    placeholder.set_margin_bottom(12);
    placeholder.set_margin_start(12);
    placeholder.set_margin_end(12);
    list.set_placeholder(Some(&placeholder));
    let scrolled = gtk::ScrolledWindow::builder()
        .hscrollbar_policy(gtk::PolicyType::Never)
        .vexpand(true)
        .child(&list)
        .build();
    let root = crate::gui::padded_column(6, 6, 6);
    root.set_width_request(260);
    root.append(&heading);
    root.append(&scrolled);
    (root, heading, list)
}
