//! The device pickers follow what is plugged in.
//!
//! One started `gst::DeviceMonitor` (video and audio sources; with PipeWire running its
//! provider lists the PipeWire cameras and hides the V4L2 devices it already serves) posts
//! `device-added` / `device-removed` on its bus; each rebuilds the lists. The person's
//! choice is kept as the `--source` value it stands for (`pipewire:<node name>`,
//! `v4l2:/dev/videoN`), so a camera that vanishes and comes back is selected again — and
//! the engine, whose capture waits for the same camera, is not restarted for it.
//!
//! ```text
//!  DeviceMonitor::start ─► bus: device-added / device-removed ─► refresh_devices
//!     ─► video row: [Test Pattern, PipeWire cameras…, V4L2 webcams…] (choice kept by source)
//! ```

use adw::prelude::*;
use adw::subclass::prelude::*;
use eyrie_camera::capture::Source;
use eyrie_camera::capture::pipewire::PipeWireNode;
use gstreamer as gst;
use gstreamer::prelude::{DeviceExt, DeviceMonitorExt, DeviceMonitorExtManual};
use gtk::glib;

use super::EyrieCameraModeWindow;
use crate::gui::test_hooks;
use crate::i18n::gettext;

/// The running monitor; dropping it stops the monitor and removes the bus watch.
pub struct DeviceWatch {
    monitor: gst::DeviceMonitor,
    _watch: Option<gst::bus::BusWatchGuard>,
}

impl Drop for DeviceWatch {
    fn drop(&mut self) {
        self.monitor.stop();
    }
}

/// The source a device stands for.
pub fn source_of(device: &gst::Device) -> Source {
    if let Some(node) = PipeWireNode::from_device(device) {
        return Source::PipeWire(Some(node.name));
    }
    let props = device.properties();
    let path = props.as_ref().and_then(|p| {
        ["api.v4l2.path", "device.path"]
            .iter()
            .find_map(|k| p.get::<String>(*k).ok())
    });
    Source::V4l2(path.map(Into::into))
}

impl EyrieCameraModeWindow {
    /// Start the device monitor and fill the pickers.
    pub(super) fn watch_devices(&self) {
        let monitor = gst::DeviceMonitor::new();
        monitor.add_filter(Some("Video/Source"), None);
        monitor.add_filter(Some("Audio/Source"), None);
        let watch = monitor.bus().add_watch_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            #[upgrade_or]
            glib::ControlFlow::Break,
            move |_, msg| {
                if matches!(
                    msg.view(),
                    gst::MessageView::DeviceAdded(_) | gst::MessageView::DeviceRemoved(_)
                ) {
                    window.refresh_devices();
                }
                glib::ControlFlow::Continue
            }
        ));
        if let Err(e) = monitor.start() {
            tracing::warn!("no device monitor ({e}); listing the devices once");
        }
        self.imp().monitor.replace(Some(DeviceWatch {
            monitor,
            _watch: watch.ok(),
        }));
        self.refresh_devices();
    }

    /// Rebuild the lists from what the monitor sees now, keeping the chosen camera.
    fn refresh_devices(&self) {
        let imp = self.imp();
        let devices = match imp.monitor.borrow().as_ref() {
            Some(w) => w.monitor.devices(),
            None => return,
        };
        let (mut video, audio): (Vec<_>, Vec<_>) = devices
            .into_iter()
            .partition(|d| d.device_class().contains("Video"));
        // PipeWire cameras first: PipeWire is the first choice.
        video.sort_by_key(|d| PipeWireNode::from_device(d).is_none());
        let mut video_names = vec![gettext("Test Pattern")];
        video_names.extend(video.iter().map(|d| d.display_name().to_string()));
        let mut audio_names = vec![gettext("Default Microphone")];
        audio_names.extend(audio.iter().map(|d| d.display_name().to_string()));
        let vrefs: Vec<&str> = video_names.iter().map(String::as_str).collect();
        let arefs: Vec<&str> = audio_names.iter().map(String::as_str).collect();
        let sources: Vec<String> = video.iter().map(|d| source_of(d).to_string()).collect();
        imp.video_devices.replace(video);
        imp.audio_devices.replace(audio);
        let chosen = imp.chosen.borrow().clone();
        let selected = match chosen.as_deref() {
            // Never chosen yet: prefer a real camera when there is one.
            None => u32::from(!sources.is_empty()),
            Some(c) => sources
                .iter()
                .position(|s| s == c)
                .map_or(0, |i| i as u32 + 1),
        };
        imp.updating.set(true);
        if let Some(row) = self.ui().video_row.get() {
            row.set_model(Some(&gtk::StringList::new(&vrefs)));
            row.set_selected(selected);
        }
        if let Some(row) = self.ui().audio_row.get() {
            row.set_model(Some(&gtk::StringList::new(&arefs)));
        }
        imp.updating.set(false);
        if test_hooks::enabled() {
            test_hooks::report(
                "camera-mode-devices",
                &serde_json::json!({
                    "video": sources,
                    "selected": selected.checked_sub(1).and_then(|i| sources.get(i as usize)),
                }),
            );
        }
    }

    /// The selected webcam, or `None` for the test pattern.
    pub(super) fn selected_video_device(&self) -> Option<gst::Device> {
        let selected = self.ui().video_row.get()?.selected() as usize;
        selected
            .checked_sub(1)
            .and_then(|i| self.imp().video_devices.borrow().get(i).cloned())
    }

    /// The engine's source for the selected device.
    pub(super) fn selected_source(&self) -> Source {
        self.selected_video_device()
            .map_or(Source::Test, |d| source_of(&d))
    }

    /// Keep the selected camera as the person's choice (the engine starts with it).
    pub(super) fn remember_choice(&self) {
        let source = self.selected_source().to_string();
        self.imp().chosen.replace(Some(source));
    }
}
