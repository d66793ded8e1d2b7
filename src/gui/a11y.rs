//! Accessible names GTK 4.8 gets wrong, put right for every window the app shows.
//!
//! Two things a screen reader would otherwise say (seen over AT-SPI, `tests/app_a11y.rs`):
//!
//! - A button with a mnemonic (`_Sign In`) is named "_Sign In Sign In": GTK 4.8 sets the
//!   button's accessible label to the raw label *and* names it by its child label. Resetting
//!   the accessible label leaves the child's text, "Sign In" (GTK 4.10 does this itself).
//! - The "Show Text" toggle of an `AdwPasswordEntryRow` has only a tooltip; it gets that
//!   as its name.
//! - The big icon of an `AdwStatusPage` is an unnamed image ("GtkImage"); it only
//!   decorates the page's title, so it is hidden from assistive technologies.
//!
//! [`watch_toplevels`] fixes each window (dialogs too) when it is mapped; widgets built
//! later inside a shown window (the live view, the timeline) call [`fix_tree`] themselves.
//! Icon-only buttons get their names where they are made (`accessibility` in the .ui
//! files, `Property::Label` in code), not here.

use gtk::prelude::*;

/// Fix every toplevel window when it is mapped, now and later.
pub fn watch_toplevels() {
    let toplevels = gtk::Window::toplevels();
    let watch = |list: &gtk::gio::ListModel, from: u32, added: u32| {
        for i in from..from + added {
            if let Some(window) = list.item(i).and_downcast::<gtk::Window>() {
                window.connect_map(|w| fix_tree(w.upcast_ref()));
            }
        }
    };
    watch(&toplevels, 0, toplevels.n_items());
    toplevels.connect_items_changed(move |list, from, _removed, added| watch(list, from, added));
}

/// Fix `root` and everything below it.
pub fn fix_tree(root: &gtk::Widget) {
    let mut stack = vec![root.clone()];
    while let Some(widget) = stack.pop() {
        fix_widget(&widget);
        let mut child = widget.first_child();
        while let Some(c) = child {
            child = c.next_sibling();
            stack.push(c);
        }
    }
}

fn fix_widget(widget: &gtk::Widget) {
    if let Some(button) = widget.downcast_ref::<gtk::Button>() {
        if button.uses_underline() && button.label().is_some() {
            button.reset_property(gtk::AccessibleProperty::Label);
        } else if button.label().is_none()
            && widget
                .ancestor(adw::PasswordEntryRow::static_type())
                .is_some()
            && let Some(tooltip) = widget.tooltip_text()
        {
            button.update_property(&[gtk::accessible::Property::Label(&tooltip)]);
        }
    } else if widget.is::<gtk::Image>()
        && widget.ancestor(adw::StatusPage::static_type()).is_some()
        && widget.ancestor(gtk::Button::static_type()).is_none()
    {
        widget.update_state(&[gtk::accessible::State::Hidden(true)]);
    }
}
