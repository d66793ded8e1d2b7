//! The one shape of the window's small forms: a message dialog with a question, one input
//! (or a group of them), a line under it for what is wrong with the input, and Cancel
//! beside one suggested action that stays off until the input is good. The add-camera
//! dialog and the recovery-key dialog both use it.

use adw::prelude::*;

use super::EyrieWindow;
use crate::i18n::gettext;

/// A form over `window`: `heading`, `body`, the `input` widget, and the responses
/// "cancel" and `action` (labelled `action_label`, suggested, off at first). Returns the
/// dialog, not yet presented, and the error line under the input (hidden until set).
pub(super) fn form_dialog(
    window: &EyrieWindow,
    heading: &str,
    body: &str,
    input: &impl IsA<gtk::Widget>,
    (action, action_label): (&str, &str),
) -> (adw::MessageDialog, gtk::Label) {
    let dialog = adw::MessageDialog::new(Some(window), Some(heading), Some(body));
    let error = gtk::Label::builder()
        .wrap(true)
        .xalign(0.0)
        .visible(false)
        .build();
    error.add_css_class("error");
    let column = gtk::Box::new(gtk::Orientation::Vertical, 6);
    column.append(input);
    column.append(&error);
    dialog.set_extra_child(Some(&column));
    dialog.add_responses(&[("cancel", &gettext("_Cancel")), (action, action_label)]);
    dialog.set_response_appearance(action, adw::ResponseAppearance::Suggested);
    dialog.set_response_enabled(action, false);
    dialog.set_default_response(Some(action));
    dialog.set_close_response("cancel");
    (dialog, error)
}
