//! Rows bound to the app's GSettings keys, shared by the Preferences window and the
//! kiosk's own (PIN-locked) preferences: each is bound with `Settings::bind`, so a change
//! is written at once and whatever watches the key follows.

use adw::prelude::*;
use gtk::gio;

/// An on/off row bound to `key`. The switch is the row's activatable widget, which
/// libadwaita labels with the row's title (a label of its own would be read twice).
pub(crate) fn switch_row(
    settings: &gio::Settings,
    key: &str,
    title: &str,
    subtitle: &str,
) -> adw::ActionRow {
    let switch = gtk::Switch::builder().valign(gtk::Align::Center).build();
    settings.bind(key, &switch, "active").build();
    let row = adw::ActionRow::builder()
        .title(title)
        .activatable_widget(&switch)
        .build();
    if !subtitle.is_empty() {
        row.set_subtitle(subtitle);
    }
    row.add_suffix(&switch);
    row
}

/// A row of whole seconds bound to the `u` key `key` (its range from the schema).
pub(crate) fn seconds_row(settings: &gio::Settings, key: &str, title: &str) -> adw::ActionRow {
    let (min, max) = key_range(settings, key).unwrap_or((1, 3600));
    let spin = gtk::SpinButton::with_range(f64::from(min), f64::from(max), 1.0);
    spin.set_valign(gtk::Align::Center);
    spin.update_property(&[gtk::accessible::Property::Label(title)]);
    settings
        .bind(key, &spin.adjustment(), "value")
        .mapping(|v, _| v.get::<u32>().map(|u| f64::from(u).to_value()))
        .set_mapping(|v, _| v.get::<f64>().ok().map(|f| (f.round() as u32).to_variant()))
        .build();
    let row = adw::ActionRow::builder().title(title).build();
    row.add_suffix(&spin);
    row
}

/// The range of a `u` key, as the schema gives it.
pub(crate) fn key_range(settings: &gio::Settings, key: &str) -> Option<(u32, u32)> {
    let schema = settings.settings_schema()?;
    // `(sv)`: ("range", <(min, max)>) for a key with a <range>.
    let range = schema.key(key).range();
    if range.child_value(0).str() != Some("range") {
        return None;
    }
    range.child_value(1).as_variant()?.get::<(u32, u32)>()
}

/// The drop-down arrow of a combo row only decorates the row a screen reader already
/// names: hidden from assistive technologies (GTK 4.8 would call it "GtkImage").
pub(crate) fn hide_decoration(root: &gtk::Widget) {
    let mut stack = vec![root.clone()];
    while let Some(widget) = stack.pop() {
        if widget.is::<gtk::Image>() {
            widget.update_state(&[gtk::accessible::State::Hidden(true)]);
        }
        let mut child = widget.first_child();
        while let Some(c) = child {
            child = c.next_sibling();
            stack.push(c);
        }
    }
}
