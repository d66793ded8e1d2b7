//! What the running camera is doing, in rows: store mode, viewers, and the upload state
//! (uploading, queued, spool use, dropped) from `eyrie_camera`'s `StorageStatus`.

use std::cell::OnceCell;

use adw::prelude::*;
use eyrie_protocol::api::RecordingPolicy;

use crate::i18n::{freplace, gettext, ngettext_f};
use eyrie_camera::node::NodeStatus as Status;
use gettextrs::ngettext;

#[derive(Default)]
pub struct StatusRows {
    store_mode: OnceCell<adw::ActionRow>,
    viewers: OnceCell<adw::ActionRow>,
    upload: OnceCell<adw::ActionRow>,
    spool: OnceCell<adw::ActionRow>,
    dropped: OnceCell<adw::ActionRow>,
}

/// `ngettext` with named placeholders.
fn plural(one: &str, many: &str, n: u32, args: &[(&str, &str)]) -> String {
    freplace(ngettext(one, many, n), args)
}

fn row(title: &str) -> adw::ActionRow {
    let row = adw::ActionRow::builder().title(title).subtitle("—").build();
    row.add_css_class("property");
    row
}

fn store_mode_text(mode: RecordingPolicy) -> String {
    match mode {
        RecordingPolicy::Continuous => gettext("Recording all the time"),
        RecordingPolicy::Event => gettext("Recording events only"),
        RecordingPolicy::None => gettext("Not recording"),
    }
}

/// Bytes as a person reads them (1 decimal, binary units).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl StatusRows {
    pub fn build(&self) -> adw::PreferencesGroup {
        let group = adw::PreferencesGroup::builder()
            .title(gettext("Status"))
            .build();
        let rows = [
            (&self.store_mode, gettext("Store Mode")),
            (&self.viewers, gettext("Watching Now")),
            (&self.upload, gettext("Upload")),
            (&self.spool, gettext("Waiting on Disk")),
            (&self.dropped, gettext("Dropped")),
        ];
        for (cell, title) in rows {
            let r = row(&title);
            group.add(&r);
            let _ = cell.set(r);
        }
        group
    }

    pub fn show(&self, s: &Status) {
        let set = |cell: &OnceCell<adw::ActionRow>, text: &str| {
            if let Some(r) = cell.get() {
                r.set_subtitle(text);
            }
        };
        set(
            &self.viewers,
            &plural(
                "{n} person",
                "{n} people",
                s.viewers as u32,
                &[("n", &s.viewers.to_string())],
            ),
        );
        let Some(st) = &s.storage else {
            let off = gettext("Cloud recording is off");
            set(&self.store_mode, &off);
            set(&self.upload, s.storage_error.as_deref().unwrap_or(&off));
            return;
        };
        let mode = if st.paused {
            gettext("Paused (privacy mode)")
        } else {
            store_mode_text(st.store_mode)
        };
        set(&self.store_mode, &mode);
        let upload = if st.uploading {
            ngettext_f(
                "Uploading; {n} recording uploaded so far",
                "Uploading; {n} recordings uploaded so far",
                st.uploaded,
                &[("n", &st.uploaded.to_string())],
            )
        } else if st.queued > 0 {
            gettext("Waiting to upload")
        } else {
            ngettext_f(
                "Up to date; {n} recording uploaded",
                "Up to date; {n} recordings uploaded",
                st.uploaded,
                &[("n", &st.uploaded.to_string())],
            )
        };
        let upload = match &st.last_error {
            Some(e) if st.queued > 0 => format!("{upload} ({e})"),
            _ => upload,
        };
        set(&self.upload, &upload);
        set(
            &self.spool,
            &plural(
                "{n} segment queued, {size}",
                "{n} segments queued, {size}",
                st.queued as u32,
                &[
                    ("n", &st.queued.to_string()),
                    ("size", &human_bytes(st.bytes_behind)),
                ],
            ),
        );
        set(
            &self.dropped,
            &if st.dropped == 0 {
                gettext("Nothing")
            } else {
                plural(
                    "{n} segment, {size}",
                    "{n} segments, {size}",
                    st.dropped as u32,
                    &[
                        ("n", &st.dropped.to_string()),
                        ("size", &human_bytes(st.dropped_bytes)),
                    ],
                )
            },
        );
    }
}

/// The status for test reports.
pub fn json(s: &Status) -> serde_json::Value {
    serde_json::json!({
        "viewers": s.viewers,
        "privacy": s.privacy,
        "storage": s.storage.as_ref().map(eyrie_camera::control::status_json),
        "storage_error": s.storage_error,
    })
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn bytes_read_like_a_person_reads_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
